"""A lead's timeline: everything that happened to it, from the domain events."""
