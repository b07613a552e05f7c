"""antoan_safety_map."""
