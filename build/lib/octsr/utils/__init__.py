"""Small helpers for the entry points."""
