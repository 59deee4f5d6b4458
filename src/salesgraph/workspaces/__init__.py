"""Workspaces (tenants), their members, teams and API keys."""
