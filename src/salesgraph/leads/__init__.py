"""Leads and their append-only stage history."""
