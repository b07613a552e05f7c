"""One person's state in the tracer and what each new fact changes (pure; the agents only move bytes).

The state is the person's scans (visits follow from them), the cases they spread in (their roles) and
the cases they were exposed in. Each `apply_*` returns the effects to publish, found by deriving
everything before and after the change and comparing: that is what makes late data and replays safe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from antoan_shared.events import Direction
from antoan_tracer.domain.exposure import CaseExposure, Interval, Window, spreader_windows
from antoan_tracer.domain.visits import Dwell, Scan, Visit, build_visits, open_visit


@dataclass(frozen=True)
class Role:
    """The person spreads in a case: degree 0 as the case, 1 as an F1 (who spreads to F2s), …"""

    case_id: str
    degree: int
    interval: Interval
    source_person_key: str | None


@dataclass(frozen=True)
class SpreadWindow:
    window: Window
    case_id: str
    degree: int


@dataclass
class Effects:
    changed_visits: list[Visit] = field(default_factory=list)
    removed_visits: list[Visit] = field(default_factory=list)
    closed_visits: list[Visit] = field(default_factory=list)  # new or changed closed visits, for visits.v1
    # (venue, open visit there or None): where the person's open visit moved
    presence: list[tuple[str, Visit | None]] = field(default_factory=list)
    windows: list[SpreadWindow] = field(default_factory=list)  # new or changed
    exposures: list[tuple[str, CaseExposure]] = field(default_factory=list)  # (case_id, newly lower degree)


@dataclass
class PersonState:
    person_key: str
    scans: list[Scan] = field(default_factory=list)
    roles: dict[str, Role] = field(default_factory=dict)
    exposures: dict[str, CaseExposure] = field(default_factory=dict)
    # Counts every change of this state; what is sent from it carries the count, so that the receiving
    # side can tell a replayed older message from a newer one.
    revision: int = 0

    # --- the three facts ----------------------------------------------------------------------------

    def apply_scan(self, scan: Scan, dwell: Dwell, buffer: timedelta, cutoff: datetime) -> Effects:
        if any(known.event_id == scan.event_id for known in self.scans):
            return Effects()  # a replayed event: already counted
        before = self._derive(dwell, buffer)
        self.scans.append(scan)
        self.scans.sort()
        self.revision += 1
        self._forget_before(cutoff)
        return self._compare(before, self._derive(dwell, buffer))

    def apply_case(self, case_id: str, interval: Interval, dwell: Dwell, buffer: timedelta) -> Effects:
        role = Role(case_id, 0, interval, None)
        if self.roles.get(case_id) == role:
            return Effects()
        before = self._derive(dwell, buffer)
        self.revision += 1
        self.roles[case_id] = role
        self.exposures.pop(case_id, None)  # the case is nobody's contact in their own case
        return self._compare(before, self._derive(dwell, buffer))

    def apply_contact(
        self, case_id: str, exposure: CaseExposure, max_degree: int, dwell: Dwell, buffer: timedelta
    ) -> Effects:
        role = self.roles.get(case_id)
        if role is not None and role.degree == 0:
            return Effects()  # the case itself
        current = self.exposures.get(case_id)
        if not exposure.improves_on(current):
            return Effects()
        before = self._derive(dwell, buffer)
        self.revision += 1
        self.exposures[case_id] = exposure
        if exposure.degree < max_degree:
            # An F(k) spreads from their (earliest) exposure on, with no end.
            self.roles[case_id] = Role(
                case_id, exposure.degree, Interval(exposure.exposed_at, None), exposure.source_person_key
            )
        elif role is not None:
            del self.roles[case_id]  # cannot happen with a lower degree arriving; kept for clarity
        effects = self._compare(before, self._derive(dwell, buffer))
        if current is None or exposure.degree < current.degree:
            effects.exposures.append((case_id, exposure))
        return effects

    # --- derivation ---------------------------------------------------------------------------------

    def visits(self, dwell: Dwell) -> list[Visit]:
        return build_visits(self.scans, dwell)

    def _derive(self, dwell: Dwell, buffer: timedelta) -> tuple[list[Visit], dict[str, SpreadWindow]]:
        visits = self.visits(dwell)
        windows = {
            spread.window_id: SpreadWindow(spread, role.case_id, role.degree)
            for role in self.roles.values()
            for spread in spreader_windows(f"{role.case_id}|{self.person_key}", visits, role.interval, buffer)
        }
        return visits, windows

    def _compare(
        self, before: tuple[list[Visit], dict[str, SpreadWindow]], after: tuple[list[Visit], dict[str, SpreadWindow]]
    ) -> Effects:
        (old_visits, old_windows), (new_visits, new_windows) = before, after
        effects = Effects()
        old_by_id = {visit.visit_id: visit for visit in old_visits}
        new_by_id = {visit.visit_id: visit for visit in new_visits}
        for visit_id, visit in new_by_id.items():
            if old_by_id.get(visit_id) != visit:
                effects.changed_visits.append(visit)
                if not visit.open:
                    effects.closed_visits.append(visit)
        effects.removed_visits = [visit for visit_id, visit in old_by_id.items() if visit_id not in new_by_id]
        was, now = open_visit(old_visits), open_visit(new_visits)
        if was != now:
            if was is not None and (now is None or now.venue_id != was.venue_id):
                effects.presence.append((was.venue_id, None))
            if now is not None:
                effects.presence.append((now.venue_id, now))
        effects.windows = [w for wid, w in new_windows.items() if old_windows.get(wid) != w]
        return effects

    def _forget_before(self, cutoff: datetime) -> None:
        """Retention: scans, exposures and finished roles older than the cutoff are dropped."""
        self.scans = [scan for scan in self.scans if scan.scanned_at >= cutoff]
        self.exposures = {case: e for case, e in self.exposures.items() if e.exposed_at >= cutoff}
        self.roles = {
            case: role
            for case, role in self.roles.items()
            if role.interval.until is None or role.interval.until >= cutoff or case in self.exposures
        }

    # --- storage ------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "scans": [[s.scanned_at.isoformat(), s.event_id, s.venue_id, s.direction.value] for s in self.scans],
            "roles": {
                case: [r.degree, r.interval.start.isoformat(), _iso(r.interval.until), r.source_person_key]
                for case, r in self.roles.items()
            },
            "exposures": {
                case: [
                    e.degree,
                    e.exposed_at.isoformat(),
                    e.venue_id,
                    e.window_start.isoformat(),
                    e.window_end.isoformat(),
                    e.source_person_key,
                ]
                for case, e in self.exposures.items()
            },
            "revision": self.revision,
        }

    @classmethod
    def from_json(cls, person_key: str, data: dict[str, Any] | None) -> PersonState:
        if not data:
            return cls(person_key)
        return cls(
            person_key,
            scans=[Scan(datetime.fromisoformat(at), eid, venue, Direction(d)) for at, eid, venue, d in data["scans"]],
            roles={
                case: Role(case, degree, Interval(datetime.fromisoformat(start), _dt(until)), source)
                for case, (degree, start, until, source) in data["roles"].items()
            },
            exposures={
                case: CaseExposure(
                    degree,
                    datetime.fromisoformat(at),
                    venue,
                    datetime.fromisoformat(ws),
                    datetime.fromisoformat(we),
                    source,
                )
                for case, (degree, at, venue, ws, we, source) in data["exposures"].items()
            },
            revision=data["revision"],
        )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)
