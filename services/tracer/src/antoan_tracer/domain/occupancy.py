"""Live occupancy of one venue (SPEC §3.3), as a pure function of who is present since when.

Walking-skeleton scope: presence is kept per venue (the check-in stream's key). Moves between venues
close a visit elsewhere and need the per-person visit builder, which re-keys by person.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from antoan_shared.events import Direction

# person_key -> when their open visit at this venue began (ISO 8601), as stored in the table
Presence = Mapping[str, str]


def apply_scan(present: Presence, person_key: str, direction: Direction, scanned_at: datetime) -> dict[str, str]:
    """The presence after one scan; scans older than what is known about the person change nothing."""
    updated = dict(present)
    since = present.get(person_key)
    if since is not None and datetime.fromisoformat(since) > scanned_at:
        return updated
    if direction is Direction.IN:
        updated[person_key] = scanned_at.isoformat()
    else:
        updated.pop(person_key, None)
    return updated


def drop_expired(present: Presence, now: datetime, dwell: timedelta) -> dict[str, str]:
    """Automatic check-out: a visit still open `dwell` after it began is over."""
    return {key: since for key, since in present.items() if now - datetime.fromisoformat(since) < dwell}


def current_occupancy(present: Presence, now: datetime, dwell: timedelta) -> int:
    """People whose visit began at or before now and less than `dwell` ago."""
    count = 0
    for since in present.values():
        began = datetime.fromisoformat(since)
        if began <= now and now - began < dwell:
            count += 1
    return count
