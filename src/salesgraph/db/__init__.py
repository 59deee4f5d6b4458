"""Database layer: declarative base, engine, tenant-scoped sessions and the unit of work."""
