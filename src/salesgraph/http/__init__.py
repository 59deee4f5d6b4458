"""HTTP-level concerns that sit in front of the GraphQL endpoint (idempotency keys)."""
