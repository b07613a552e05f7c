"""antoan_ingest."""
