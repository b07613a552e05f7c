"""Instants as integer microseconds since the epoch: exact (datetimes have microseconds), cheap to compare and
to store, and ordered as text once zero-padded (`sortable`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICRO = timedelta(microseconds=1)


def to_us(at: datetime) -> int:
    return (at - EPOCH) // MICRO


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def us_of(span: timedelta) -> int:
    return span // MICRO


def sortable(us: int) -> str:
    """Fixed width, so that text order is time order (until the year 5138)."""
    return f"{us:017d}"
