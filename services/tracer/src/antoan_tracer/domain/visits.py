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
from typing import Any, Literal

from antoan_shared.events import Direction
from antoan_tracer.domain.times import from_us, to_us, us_of

MAX_STAY_BEFORE_OUT = timedelta(hours=12)
_MAX_STAY_US = us_of(MAX_STAY_BEFORE_OUT)

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
    rows = [(to_us(s.scanned_at), s.event_id, s.venue_id, s.direction.value) for s in scans]
    return [
        Visit(visit_id, venue, from_us(start), from_us(end), closed_by, is_open)
        for visit_id, venue, start, end, closed_by, is_open in build_visit_rows(rows, lambda v: us_of(dwell(v)))
    ]


ScanRow = tuple[int, str, str, str] | list[Any]  # (scanned_at µs, event_id, venue_id, "in" | "out")
VisitRow = tuple[str, str, int, int, ClosedBy, bool]  # (visit_id, venue_id, start µs, end µs, closed_by, open)


def build_visit_rows(scans: Iterable[ScanRow], dwell_us: Callable[[str], int]) -> list[VisitRow]:
    """`build_visits` on instants as integer microseconds: the stream steps' form (no datetimes built)."""
    builder = VisitBuilder(dwell_us)
    builder.feed(sorted(scans))
    return builder.rows()


class VisitBuilder:
    """The rules above as a machine fed scans in order, which can be forked: the person stage feeds a person's
    scans up to where a new one goes once, then the rest with and without it, instead of building every visit
    twice (the visits that end before the new scan are the same either way).

    Each venue's stay is looked up once per build (the venue's category, then its stay, were most of a build)."""

    __slots__ = ("_dwell_us", "_stays", "is_open", "open_at", "open_id", "open_venue", "seen", "visits")

    def __init__(self, dwell_us: Callable[[str], int]) -> None:
        self._dwell_us = dwell_us
        self._stays: dict[str, int] = {}
        self.visits: list[VisitRow] = []  # the visits closed so far, in the order they were recorded
        self.open_at = 0
        self.open_id = self.open_venue = ""
        self.is_open = False
        self.seen: set[str] = set()

    def fork(self) -> VisitBuilder:
        """A builder in this one's state that records only the visits closed from now on."""
        other = VisitBuilder(self._dwell_us)
        other._stays = self._stays
        other.open_at, other.open_id, other.open_venue, other.is_open = (
            self.open_at,
            self.open_id,
            self.open_venue,
            self.is_open,
        )
        other.seen = set(self.seen)
        return other

    def saved(self) -> list[Any]:
        """What `resume` needs to go on from here: the open visit, if any (JSON-able, for a person's record)."""
        return [self.open_at, self.open_id, self.open_venue, self.is_open]

    @classmethod
    def resume(cls, dwell_us: Callable[[str], int], saved: list[Any]) -> VisitBuilder:
        """A builder in the state `saved` left, which records only the visits closed from now on. The scans fed
        before are not remembered, so it must be fed none of them again (a person's stored scans are unique)."""
        builder = cls(dwell_us)
        builder.open_at, builder.open_id, builder.open_venue, builder.is_open = saved
        return builder

    def _stay(self, venue: str) -> int:
        found = self._stays.get(venue)
        if found is None:
            found = self._stays[venue] = self._dwell_us(venue)
        return found

    def feed(self, scans: Iterable[ScanRow]) -> None:
        """Scans in `scanned_at` order (then event id), after every scan fed before."""
        visits, stay, seen = self.visits, self._stay, self.seen
        open_at, open_id, open_venue, is_open = self.open_at, self.open_id, self.open_venue, self.is_open
        for at, event_id, venue, direction in scans:
            if event_id in seen:  # the same event delivered twice
                continue
            seen.add(event_id)
            if direction == "in":
                if is_open and open_venue == venue and at - open_at < stay(venue):
                    continue  # a duplicate scan on the way in
                if is_open:
                    auto = open_at + stay(open_venue)
                    if at < auto:
                        visits.append((open_id, open_venue, open_at, at, "moved", False))
                    else:
                        visits.append((open_id, open_venue, open_at, auto, "auto_checkout", False))
                open_at, open_id, open_venue, is_open = at, event_id, venue, True
            elif is_open and open_venue == venue and at - open_at <= _MAX_STAY_US:
                visits.append((open_id, venue, open_at, at, "checkout", False))
                is_open = False
            else:
                visits.append((event_id, venue, at - stay(venue), at, "out_only", False))
        self.open_at, self.open_id, self.open_venue, self.is_open = open_at, open_id, open_venue, is_open

    def rows(self) -> list[VisitRow]:
        """The visits closed so far and the open one, if any (its automatic check-out as its end)."""
        if not self.is_open:
            return list(self.visits)
        end = self.open_at + self._stay(self.open_venue)
        return [*self.visits, (self.open_id, self.open_venue, self.open_at, end, "auto_checkout", True)]


def open_visit(visits: Iterable[Visit]) -> Visit | None:
    """The person's open visit, if any (there is at most one)."""
    return next((visit for visit in visits if visit.open), None)


def present_at(visit: Visit, now: datetime) -> bool:
    """Whether an open visit counts in its venue's occupancy now: begun, and less than dwell ago."""
    return visit.open and visit.start <= now < visit.end
