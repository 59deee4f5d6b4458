"""SQL access for BI tools: the `reporting` schema's views and the roles that read them."""
