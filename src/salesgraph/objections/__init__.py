"""Objections customers raise, the responses given, and the workspace's response library."""
