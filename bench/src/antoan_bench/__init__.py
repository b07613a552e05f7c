"""Antoan benchmark harness."""
