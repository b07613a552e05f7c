"""antoan_shared."""
