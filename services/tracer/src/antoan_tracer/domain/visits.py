"""Visits, built per person from their scans in `scanned_at` order (SPEC §3.3).

With `dwell(V)` the venue's default stay and at most one open visit per person:
- `in` at V at t: if the open visit is at V and began less than dwell(V) before t, the scan is a duplicate.
  Otherwise the open visit, if any, closes at min(t, its start + dwell) and a visit at V opens at t.
- `out` at V at t: if the open visit is at V and began at most 12 h before t, it closes at t. Otherwise the
  visit [t − dwell(V), t] is recorded and the open visit, if any, is left as it is.
- a visit still open after the person's last scan closes at start + dwell (automatic check-out).

Visits are a pure function of the set of scans, so a late scan (an offline phone uploading hours later) is
handled by building again with it in its place: everything derived follows from the difference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from antoan_shared.events import Direction

MAX_STAY_BEFORE_OUT = timedelta(hours=12)

Dwell = Callable[[str], timedelta]  # venue_id -> the venue category's default stay
ClosedBy = Literal["checkout", "auto_checkout", "moved", "out_only"]


@dataclass(frozen=True, order=True)
class Scan:
    scanned_at: datetime
    event_id: str  # ties at the same instant are broken by event id, so the order is total
    venue_id: str
    direction: Direction


@dataclass(frozen=True)
class Visit:
    visit_id: str  # the event id of the scan that opened it (or, for an out-only visit, recorded it)
    venue_id: str
    start: datetime
    end: datetime
    closed_by: ClosedBy
    open: bool = False  # still open after the person's last scan: `end` is its automatic check-out


def build_visits(scans: Iterable[Scan], dwell: Dwell) -> list[Visit]:
    """Every visit of one person, in the order they were recorded."""
    visits: list[Visit] = []
    open_scan: Scan | None = None
    seen: set[str] = set()
    for scan in sorted(scans):
        if scan.event_id in seen:  # the same event delivered twice
            continue
        seen.add(scan.event_id)
        stay = dwell(scan.venue_id)
        if scan.direction is Direction.IN:
            if (
                open_scan is not None
                and open_scan.venue_id == scan.venue_id
                and scan.scanned_at - open_scan.scanned_at < stay
            ):
                continue  # a duplicate scan on the way in
            if open_scan is not None:
                visits.append(_close(open_scan, scan.scanned_at, dwell))
            open_scan = scan
        elif (
            open_scan is not None
            and open_scan.venue_id == scan.venue_id
            and scan.scanned_at - open_scan.scanned_at <= MAX_STAY_BEFORE_OUT
        ):
            visits.append(Visit(open_scan.event_id, scan.venue_id, open_scan.scanned_at, scan.scanned_at, "checkout"))
            open_scan = None
        else:
            visits.append(Visit(scan.event_id, scan.venue_id, scan.scanned_at - stay, scan.scanned_at, "out_only"))
    if open_scan is not None:
        auto = open_scan.scanned_at + dwell(open_scan.venue_id)
        visits.append(Visit(open_scan.event_id, open_scan.venue_id, open_scan.scanned_at, auto, "auto_checkout", True))
    return visits


def _close(open_scan: Scan, at: datetime, dwell: Dwell) -> Visit:
    auto = open_scan.scanned_at + dwell(open_scan.venue_id)
    if at < auto:
        return Visit(open_scan.event_id, open_scan.venue_id, open_scan.scanned_at, at, "moved")
    return Visit(open_scan.event_id, open_scan.venue_id, open_scan.scanned_at, auto, "auto_checkout")


def open_visit(visits: Iterable[Visit]) -> Visit | None:
    """The person's open visit, if any (there is at most one)."""
    return next((visit for visit in visits if visit.open), None)


def present_at(visit: Visit, now: datetime) -> bool:
    """Whether an open visit counts in its venue's occupancy now: begun, and less than dwell ago."""
    return visit.open and visit.start <= now < visit.end
