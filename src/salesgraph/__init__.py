"""salesgraph: a headless GraphQL backend for a company's sales process."""

__version__ = "0.1.0"
