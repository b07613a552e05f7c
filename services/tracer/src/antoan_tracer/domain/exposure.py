"""Exposure windows and contacts (SPEC §3.4).

A spreader with an infectious interval [from, until] spreads at each of their visits that ends at or after
`from` and starts at or before `until`. The window there is [max(visit start − buffer, from), visit end +
buffer]. A contact is any other person with a visit at that venue overlapping the window, bounds
inclusive; their exposure time is max(their visit start, window start), the earliest one counting.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from antoan_tracer.domain.visits import Visit

CASE_LOOKBACK = timedelta(hours=48)
DEFAULT_BUFFER = timedelta(minutes=60)


@dataclass(frozen=True)
class Interval:
    """When a spreader spreads; `until` None for no end (an F1 spreads from their exposure on)."""

    start: datetime
    until: datetime | None

    def covers(self, visit: Visit) -> bool:
        return visit.end >= self.start and (self.until is None or visit.start <= self.until)


@dataclass(frozen=True)
class Window:
    """A spreader's presence window at a venue."""

    window_id: str
    venue_id: str
    start: datetime
    end: datetime


def case_interval(
    tested_at: datetime, onset_at: datetime | None, isolated_at: datetime | None, confirmed_at: datetime
) -> Interval:
    """A case spreads from (symptom onset, else test) − 48 h until isolation, else confirmation."""
    return Interval((onset_at or tested_at) - CASE_LOOKBACK, isolated_at or confirmed_at)


def spreader_windows(
    scope: str, visits: Iterable[Visit], interval: Interval, buffer: timedelta = DEFAULT_BUFFER
) -> Iterator[Window]:
    """The windows of one spreader's visits within their interval; ids are stable within `scope`."""
    for visit in visits:
        if interval.covers(visit):
            yield Window(
                f"{scope}|{visit.visit_id}",
                visit.venue_id,
                max(visit.start - buffer, interval.start),
                visit.end + buffer,
            )


def overlaps(visit_start: datetime, visit_end: datetime, window: Window) -> bool:
    """Bounds inclusive: the visit starts at or before the window's end and ends at or after its start."""
    return visit_start <= window.end and visit_end >= window.start


def exposure_time(visit_start: datetime, window: Window) -> datetime:
    return max(visit_start, window.start)


@dataclass(frozen=True)
class CaseExposure:
    """How one person is exposed in one case: what gets reported."""

    degree: int
    exposed_at: datetime
    venue_id: str
    window_start: datetime
    window_end: datetime
    source_person_key: str

    def improves_on(self, current: CaseExposure | None) -> bool:
        """A lower degree, or the same degree exposed earlier (the earliest one counts)."""
        if current is None:
            return True
        return (self.degree, self.exposed_at) < (current.degree, current.exposed_at)


def trace_case(
    case_person_key: str,
    interval: Interval,
    visits_by_person: dict[str, list[Visit]],
    buffer: timedelta = DEFAULT_BUFFER,
    max_degree: int = 2,
) -> dict[str, CaseExposure]:
    """Everyone exposed in one case, each once at their lowest degree, from a complete set of visits.

    The one-shot form of what the tracer computes incrementally: F1s are the contacts of the case; the
    contacts of each F(k) from their exposure time on, with no end, are F(k+1), leaving out the case and
    anyone already found at a lower degree.
    """
    found: dict[str, CaseExposure] = {}
    spreaders = {case_person_key: interval}
    excluded = {case_person_key}
    for degree in range(1, max_degree + 1):
        level: dict[str, CaseExposure] = {}
        for spreader, spreads in spreaders.items():
            for window in spreader_windows(spreader, visits_by_person.get(spreader, []), spreads, buffer):
                for person, visits in visits_by_person.items():
                    if person in excluded:
                        continue
                    for visit in visits:
                        if visit.venue_id == window.venue_id and overlaps(visit.start, visit.end, window):
                            exposure = CaseExposure(
                                degree,
                                exposure_time(visit.start, window),
                                window.venue_id,
                                window.start,
                                window.end,
                                spreader,
                            )
                            if exposure.improves_on(level.get(person)):
                                level[person] = exposure
        found.update(level)
        excluded |= level.keys()
        spreaders = {person: Interval(exposure.exposed_at, None) for person, exposure in level.items()}
    return found
