"""Shared helpers every capability calls: storage (what a data file is) and redaction (what a secret is)."""
