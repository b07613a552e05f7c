"""The safety map's rules (SPEC §3.6): pure functions of facts and a moment, no I/O."""
