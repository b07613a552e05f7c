"""antoan_tracer."""
