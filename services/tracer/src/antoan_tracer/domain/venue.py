"""One venue's state in the tracer: its visits, the spreader windows seen there, who is present.

Matching runs both ways, so the order in which a window and a visit arrive does not matter: a new window
is matched against the stored visits, and a new (or late) visit against the stored windows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from antoan_tracer.domain.exposure import CaseExposure, Window, exposure_time, overlaps


@dataclass(frozen=True)
class StoredVisit:
    person_key: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class StoredWindow:
    window: Window
    case_id: str
    spreader_key: str
    spreader_degree: int


@dataclass(frozen=True)
class Contact:
    person_key: str
    case_id: str
    exposure: CaseExposure


def contact_of(visit: StoredVisit, stored: StoredWindow) -> Contact | None:
    """The contact a visit makes with a window, if it overlaps and is not the spreader's own."""
    if visit.person_key == stored.spreader_key or not overlaps(visit.start, visit.end, stored.window):
        return None
    return Contact(
        visit.person_key,
        stored.case_id,
        CaseExposure(
            stored.spreader_degree + 1,
            exposure_time(visit.start, stored.window),
            stored.window.venue_id,
            stored.window.start,
            stored.window.end,
            stored.spreader_key,
        ),
    )


@dataclass
class Presence:
    """People whose open visit is at this venue: person_key -> (start, automatic check-out, revision)."""

    people: dict[str, tuple[datetime, datetime, int]] = field(default_factory=dict)

    def apply(self, person_key: str, start: datetime | None, until: datetime | None, revision: int) -> bool:
        """Record where the person's open visit is; stale news (a lower revision) changes nothing."""
        known = self.people.get(person_key)
        if known is not None and known[2] > revision:
            return False
        if start is None or until is None:
            return self.people.pop(person_key, None) is not None
        self.people[person_key] = (start, until, revision)
        return known != (start, until, revision)

    def occupancy(self, now: datetime) -> int:
        """Open visits here that began at or before now, less than dwell ago."""
        return sum(1 for start, until, _ in self.people.values() if start <= now < until)

    def forget_ended(self, now: datetime) -> None:
        self.people = {key: value for key, value in self.people.items() if value[1] > now}

    def to_json(self) -> dict[str, Any]:
        return {key: [s.isoformat(), u.isoformat(), r] for key, (s, u, r) in self.people.items()}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Presence:
        return cls(
            {
                key: (datetime.fromisoformat(s), datetime.fromisoformat(u), int(r))
                for key, (s, u, r) in (data or {}).items()
            }
        )


def visits_to_json(visits: dict[str, StoredVisit]) -> dict[str, Any]:
    return {vid: [v.person_key, v.start.isoformat(), v.end.isoformat()] for vid, v in visits.items()}


def visits_from_json(data: dict[str, Any] | None) -> dict[str, StoredVisit]:
    return {
        vid: StoredVisit(person, datetime.fromisoformat(start), datetime.fromisoformat(end))
        for vid, (person, start, end) in (data or {}).items()
    }


def windows_to_json(windows: dict[str, StoredWindow]) -> dict[str, Any]:
    return {
        wid: [
            w.case_id,
            w.spreader_key,
            w.spreader_degree,
            w.window.venue_id,
            w.window.start.isoformat(),
            w.window.end.isoformat(),
        ]
        for wid, w in windows.items()
    }


def windows_from_json(data: dict[str, Any] | None) -> dict[str, StoredWindow]:
    return {
        wid: StoredWindow(
            Window(wid, venue, datetime.fromisoformat(start), datetime.fromisoformat(end)), case, spreader, degree
        )
        for wid, (case, spreader, degree, venue, start, end) in (data or {}).items()
    }
