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
    revision: int = 0
    removed: bool = False  # kept as a tombstone, so a replayed older version cannot bring it back


@dataclass(frozen=True)
class StoredWindow:
    window: Window
    case_id: str
    spreader_key: str
    spreader_degree: int
    revision: int = 0


@dataclass(frozen=True)
class Contact:
    person_key: str
    case_id: str
    exposure: CaseExposure


def contact_of(visit: StoredVisit, stored: StoredWindow) -> Contact | None:
    """The contact a visit makes with a window, if it overlaps and is not the spreader's own."""
    if visit.removed or visit.person_key == stored.spreader_key or not overlaps(visit.start, visit.end, stored.window):
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
    """Where people's open visits stand at this venue: person_key -> (start, until, revision).

    A person who left is kept as a tombstone (start None, until the time they left) with the revision
    that said so: after a crash the stream is replayed, and an older "present" must not bring them back.
    """

    people: dict[str, tuple[datetime | None, datetime, int]] = field(default_factory=dict)

    def apply(
        self, person_key: str, start: datetime | None, until: datetime | None, revision: int, now: datetime
    ) -> bool:
        """Record where the person's open visit is; stale news (a lower revision) changes nothing."""
        known = self.people.get(person_key)
        if known is not None and known[2] > revision:
            return False
        if start is None or until is None:
            if known is not None and known[0] is None:
                return False  # already gone
            self.people[person_key] = (None, now, revision)
            return True
        entry = (start, until, revision)
        self.people[person_key] = entry
        return known != entry

    def occupancy(self, now: datetime) -> int:
        """Open visits here that began at or before now, less than dwell ago."""
        return sum(1 for start, until, _ in self.people.values() if start is not None and start <= now < until)

    def forget_before(self, horizon: datetime) -> None:
        """Entries (and tombstones) that ended before the horizon cannot matter any more."""
        self.people = {key: value for key, value in self.people.items() if value[1] > horizon}

    def to_json(self) -> dict[str, Any]:
        return {key: [_iso(s), u.isoformat(), r] for key, (s, u, r) in self.people.items()}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Presence:
        return cls(
            {
                key: (None if s is None else datetime.fromisoformat(s), datetime.fromisoformat(u), int(r))
                for key, (s, u, r) in (data or {}).items()
            }
        )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def visits_to_json(visits: dict[str, StoredVisit]) -> dict[str, Any]:
    return {
        vid: [v.person_key, v.start.isoformat(), v.end.isoformat(), v.revision, v.removed] for vid, v in visits.items()
    }


def visits_from_json(data: dict[str, Any] | None) -> dict[str, StoredVisit]:
    return {
        vid: StoredVisit(person, datetime.fromisoformat(start), datetime.fromisoformat(end), revision, removed)
        for vid, (person, start, end, revision, removed) in (data or {}).items()
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
            w.revision,
        ]
        for wid, w in windows.items()
    }


def windows_from_json(data: dict[str, Any] | None) -> dict[str, StoredWindow]:
    return {
        wid: StoredWindow(
            Window(wid, venue, datetime.fromisoformat(start), datetime.fromisoformat(end)),
            case,
            spreader,
            degree,
            revision,
        )
        for wid, (case, spreader, degree, venue, start, end, revision) in (data or {}).items()
    }
