"""One person's state in the tracer and what each new fact changes (pure; the agents only move bytes).

The state is the person's scans (visits follow from them), the cases they spread in (their roles) and
the cases they were exposed in. Each `apply_*` returns the effects to publish, found by deriving
everything before and after the change and comparing: that is what makes late data and replays safe.
"""

from __future__ import annotations

from collections.abc import Sequence
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


@dataclass(frozen=True)
class ScanFact:
    scan: Scan


@dataclass(frozen=True)
class CaseFact:
    case_id: str
    interval: Interval


@dataclass(frozen=True)
class ContactFact:
    case_id: str
    exposure: CaseExposure


Fact = ScanFact | CaseFact | ContactFact


@dataclass(frozen=True)
class Rules:
    dwell: Dwell
    buffer: timedelta
    cutoff: datetime | None = None  # retention: what is older is forgotten
    max_degree: int = 2


@dataclass
class Effects:
    changed_visits: list[Visit] = field(default_factory=list)
    removed_visits: list[Visit] = field(default_factory=list)
    # (venue, open visit there or None): where the person's open visit moved
    presence: list[tuple[str, Visit | None]] = field(default_factory=list)
    windows: list[SpreadWindow] = field(default_factory=list)  # new or changed
    exposures: list[tuple[str, CaseExposure]] = field(default_factory=list)  # (case_id, best so far)

    @property
    def changed(self) -> bool:
        """Whether the state changed at all (then it is stored, even if nothing is to be sent)."""
        return self.state_changed or bool(self.changed_visits or self.removed_visits or self.windows)

    state_changed: bool = False


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

    def apply(self, facts: Sequence[Fact], rules: Rules) -> Effects:
        """Apply facts in order and return what changed, once for all of them.

        Facts that arrive together (an offline upload's in and out) are applied as one change, so that
        nothing is published for the moment in between (a visit that was open for a split second).
        """
        before = self._derive(rules.dwell, rules.buffer)
        changed = replayed = False
        reports: dict[str, CaseExposure] = {}
        for fact in facts:
            if isinstance(fact, ScanFact):
                recorded = self._record_scan(fact.scan, rules.cutoff)
                replayed |= not recorded
            elif isinstance(fact, CaseFact):
                recorded = self._record_case(fact.case_id, fact.interval)
                replayed |= not recorded
            else:
                recorded = self._record_contact(fact.case_id, fact.exposure, rules.max_degree)
                replayed |= self.exposures.get(fact.case_id) == fact.exposure and not recorded
                if recorded:
                    reports[fact.case_id] = fact.exposure
            changed |= recorded
        if not changed:
            # A fact seen before is a replay (after a crash, or a retry). What it caused the first time
            # may not have gone out before the crash, so everything that follows from the state goes out
            # again: every receiver drops what it already has (revisions, event ids).
            return self.current_effects(rules) if replayed else Effects()
        self.revision += 1
        effects = self._compare(before, self._derive(rules.dwell, rules.buffer))
        effects.state_changed = True
        # Each report is the person's best exposure in the case so far: a lower degree, or the same degree
        # found earlier than before (late data); the case's contact list keeps the best.
        effects.exposures = [(case_id, e) for case_id, e in reports.items() if self.exposures.get(case_id) == e]
        return effects

    def current_effects(self, rules: Rules) -> Effects:
        """Everything the state implies, as if it all were new."""
        visits, windows = self._derive(rules.dwell, rules.buffer)
        now = open_visit(visits)
        elsewhere = sorted({visit.venue_id for visit in visits} - ({now.venue_id} if now else set()))
        presence: list[tuple[str, Visit | None]] = [(venue, None) for venue in elsewhere]
        if now is not None:
            presence.append((now.venue_id, now))
        return Effects(
            changed_visits=visits,
            presence=presence,
            windows=list(windows.values()),
            exposures=list(self.exposures.items()),
        )

    def apply_scan(self, scan: Scan, dwell: Dwell, buffer: timedelta, cutoff: datetime) -> Effects:
        return self.apply([ScanFact(scan)], Rules(dwell, buffer, cutoff))

    def apply_case(self, case_id: str, interval: Interval, dwell: Dwell, buffer: timedelta) -> Effects:
        return self.apply([CaseFact(case_id, interval)], Rules(dwell, buffer))

    def apply_contact(
        self, case_id: str, exposure: CaseExposure, max_degree: int, dwell: Dwell, buffer: timedelta
    ) -> Effects:
        return self.apply([ContactFact(case_id, exposure)], Rules(dwell, buffer, max_degree=max_degree))

    def _record_scan(self, scan: Scan, cutoff: datetime | None) -> bool:
        if any(known.event_id == scan.event_id for known in self.scans):
            return False  # a replayed event: already counted
        self.scans.append(scan)
        self.scans.sort()
        if cutoff is not None:
            self._forget_before(cutoff)
        return True

    def _record_case(self, case_id: str, interval: Interval) -> bool:
        role = Role(case_id, 0, interval, None)
        if self.roles.get(case_id) == role:
            return False
        self.roles[case_id] = role
        self.exposures.pop(case_id, None)  # the case is nobody's contact in their own case
        return True

    def _record_contact(self, case_id: str, exposure: CaseExposure, max_degree: int) -> bool:
        role = self.roles.get(case_id)
        if role is not None and role.degree == 0:
            return False  # the case itself
        if not exposure.improves_on(self.exposures.get(case_id)):
            return False
        self.exposures[case_id] = exposure
        if exposure.degree < max_degree:
            # An F(k) spreads from their (earliest) exposure on, with no end.
            spreads = Interval(exposure.exposed_at, None)
            self.roles[case_id] = Role(case_id, exposure.degree, spreads, exposure.source_person_key)
        return True

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
        effects.removed_visits = [visit for visit_id, visit in old_by_id.items() if visit_id not in new_by_id]
        was, now = open_visit(old_visits), open_visit(new_visits)
        if was != now:
            if was is not None and (now is None or now.venue_id != was.venue_id):
                effects.presence.append((was.venue_id, None))
            if now is not None:
                effects.presence.append((now.venue_id, now))
        effects.windows = [w for wid, w in new_windows.items() if old_windows.get(wid) != w]
        return effects

    def forget_before(self, cutoff: datetime) -> bool:
        """Retention with no new scan (the periodic sweep); whether anything was dropped."""
        before = self.to_json()
        self._forget_before(cutoff)
        return self.to_json() != before

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
