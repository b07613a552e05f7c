"""The person stage: everything keyed by one person (SPEC §3.3–3.5), as a pure step over a `Store`.

A person's state is small and bounded by the person's own activity, never by a venue's or a case's size:
- `p`: one value (read once per message) holding their scans within the retention period (at most
  `max_scans`; visits follow from them, visits.py) with the visit builder's state after the last of them (a
  scan that comes last, the usual case, is built from there), their retention due time, and the cases they spread in,
  one role per case: degree 0 as the case itself, degree k as an F(k) who spreads to F(k+1) from their
  exposure time on (only while k < the maximum degree);
- `m|<case>|<match>`: every contact match the venues found for them in a case (one per overlapping pair of
  their visit and a spreader's window), as the venue stage last said it;
- `b|<case>`: their exposure in the case as last published (with a sequence number);
- `q`: their quarantine (first and last update, missed-update alerts already raised).

Results are a function of the current data, not of the order it came in: a person's exposure in a case is
the best of their current matches (lowest degree, then earliest), recomputed whenever a match comes or
goes; their role in the case follows from it, and their windows from their role and visits. Whatever
changes is published as the difference (upsert or removal), so late data corrects and withdraws what it
must, down the chain: a withdrawn F1's windows are removed, which removes the F2 matches they made.
"""

from __future__ import annotations

import uuid
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from itertools import islice
from typing import Any

from antoan_shared import topics
from antoan_shared.events import (
    CaseConfirmed,
    CheckInRecorded,
    DeclarationKind,
    DeclarationSubmitted,
    ExposureChanged,
    ExposureDetected,
    QuarantineAlertRaised,
    VenueExposureRecorded,
    utc_now,
)
from antoan_tracer.domain.exposure import Interval, case_interval, spreader_windows
from antoan_tracer.domain.outputs import Out, VisitRecord
from antoan_tracer.domain.store import PARTITION_KEY, Store, Stores, prefix_stop
from antoan_tracer.domain.times import from_us, sortable, to_us, us_of
from antoan_tracer.domain.visits import Dwell, Visit, VisitBuilder, build_visit_rows
from antoan_tracer.domain.visits import VisitRow as BuiltVisit

_DERIVED_IDS = uuid.UUID("0c8f5f0e-3f0e-4a53-9b51-6c1a2d7a4e21")
_ALERT_IDS = uuid.UUID("a4d1c0de-7b2f-4c55-8f3e-5e9f6f1b2c3d")
MAX_MARKED = 64  # missed-update alerts remembered per person (a 14-day quarantine with hourly updates needs 14*24)

# A visit as the person stage keeps it: [venue_id, start, end, open, closed_by]; times in µs.
VisitRow = list[Any]
# A spreader's window: [case_id, degree, venue_id, start, end].
WindowRow = list[Any]
# An exposure: [degree, exposed_at, venue_id, window_start, window_end, source_person_key]; lists compare
# in that order, so the best exposure is the least (lowest degree, then earliest, then a stable tie-break).
ExposureRow = list[Any]


def derived_id(*parts: object) -> str:
    """Event ids derived from what an event says, so that the same decision always has the same id."""
    return str(uuid.uuid5(_DERIVED_IDS, "|".join(str(part) for part in parts)))


# --- the messages of the person inbox --------------------------------------------------------------


def window_lane(degree: int) -> topics.TopicSpec:
    """Where a spreader's window goes: a case's own straight to the venue inbox; a contact's (it finds contacts
    of the next degree, many more of them) through the contact-window lane, which the relay admits into the
    venue inbox while the stages keep up. A window's changes all take the same lane, so they stay in order."""
    return topics.TRACER_VENUE_INBOX if degree == 0 else topics.TRACER_CONTACT_WINDOWS


def scan_message(event: CheckInRecorded) -> dict[str, Any]:
    return {
        "k": "scan",
        "id": event.event_id,
        "v": event.venue_id,
        "t": to_us(event.scanned_at),
        "d": event.direction.value,
    }


def case_message(event: CaseConfirmed) -> dict[str, Any]:
    interval = case_interval(event.tested_at, event.onset_at, event.isolated_at, event.confirmed_at)
    assert interval.until is not None
    return {"k": "case", "c": event.case_id, "f": to_us(interval.start), "u": to_us(interval.until)}


def declaration_message(event: DeclarationSubmitted) -> dict[str, Any] | None:
    """Only what quarantine needs; other declarations do not enter the tracer's state."""
    if event.kind not in (DeclarationKind.ENTRY, DeclarationKind.QUARANTINE_DAILY):
        return None
    return {
        "k": "decl",
        "id": event.event_id,
        "kind": event.kind.value,
        "t": to_us(event.declared_at),
        "temp": event.temperature_c,
        "sym": [s.value for s in event.symptoms],
    }


def match_message(case_id: str, match_id: str, exposure: ExposureRow | None) -> dict[str, Any]:
    return {"k": "match", "c": case_id, "m": match_id, "x": exposure}


def tick_message(now_us: int) -> dict[str, Any]:
    return {"k": "tick", "t": now_us}


# --- the step --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonRules:
    dwell: Dwell
    buffer: timedelta
    retention: timedelta
    max_degree: int = 2
    max_scans: int = 2000
    fever_celsius: float = 37.5
    quarantine_days: int = 14
    update_interval: timedelta = timedelta(days=1)


class PersonStage:
    def __init__(self, rules: PersonRules, clock: Callable[[], int]) -> None:
        self.rules = rules
        self.clock = clock  # now, in µs
        self._buffer = rules.buffer
        self._retention = us_of(rules.retention)
        self._every = us_of(rules.update_interval)

    def handle(self, stores: Stores, person: str, message: dict[str, Any]) -> list[Out]:
        kind = message["k"]
        if kind == "tick":
            return self.on_tick(stores, message["t"])
        store = stores.of(person)
        if kind == "scan":
            return self.on_scan(stores, store, person, message)
        if kind == "match":
            return self.on_match(store, person, message["c"], message["m"], message["x"])
        if kind == "case":
            return self.on_case(store, person, message["c"], message["f"], message["u"])
        if kind == "decl":
            return self.on_declaration(stores, store, person, message)
        raise ValueError(f"unknown person message {kind!r}")

    # --- scans and visits ----------------------------------------------------------------------------

    def on_scan(self, stores: Stores, store: Store, person: str, message: dict[str, Any]) -> list[Out]:
        record = self._record(store)
        scans: list[list[Any]] = record["s"]
        event_id = message["id"]
        if any(scan[1] == event_id for scan in scans):
            return []  # the same event again (a client's retry published twice): counted once
        cutoff = self.clock() - self._retention
        if message["t"] < cutoff:
            return []  # older than the retention period: forgotten already
        scan = [message["t"], event_id, message["v"], message["d"]]
        at = bisect_right(scans, scan)  # where insort puts it
        scans.insert(at, scan)
        kept = self._bounded(scans, cutoff)
        if len(kept) == len(scans):
            # The visits that close before the new scan are the same with it and without it: only the visits from
            # the new scan on are built, with it and without it, from the builder's state where it goes.
            prefix = self._builder_at(record, at)
            without, with_it = prefix.fork(), prefix.fork()
            without.feed(islice(scans, at + 1, None))
            with_it.feed(islice(scans, at, None))
            # the other visits, and their windows (one per visit), are unchanged
            before, after = self._visit_dict(without.rows()), self._visit_dict(with_it.rows())
            record["b"] = [*self._marks(scans, len(scans)), *with_it.saved()]
        else:  # older scans left too: the visits before the new one change as well
            del scans[at]
            before = self.visits(scans)
            builder = VisitBuilder(self._dwell_us)
            builder.feed(kept)
            after = self._visit_dict(builder.rows())
            record["s"], record["b"] = kept, [*self._marks(kept, len(kept)), *builder.saved()]
        self._schedule_retention(stores, record, person)
        self._save(store, record)
        return self._visits_changed(record["r"], person, before, after)

    @staticmethod
    def _record(store: Store) -> dict[str, Any]:
        """The person's scans (`s`), roles (`r`) and retention due time (`rd`): one value, read once per message.
        With them, `b`: the scans it was built from (`_marks`) and the visit builder's state after the last of them,
        so that a scan coming after all the others (the usual case) costs the same however many the person has."""
        return store.get("p") or {"s": [], "r": {}, "rd": None}

    @staticmethod
    def _marks(scans: list[list[Any]], count: int) -> list[Any]:
        """Of the first `count` scans: how many, and the first's and the last's event ids. A tracer from before `b`
        keeps it as it is while it changes the scans, and every change it can make (scans added, the oldest
        leaving) changes one of these: a `b` that does not match the scans is not used."""
        return [count, scans[0][1], scans[count - 1][1]] if count else [0, "", ""]

    def _builder_at(self, record: dict[str, Any], at: int) -> VisitBuilder:
        """A builder in its state after the person's first `at` scans (the new one is at `at` in `s`)."""
        saved, scans = record.get("b"), record["s"]
        if saved is not None and at == len(scans) - 1 and saved[:3] == self._marks(scans, at):
            return VisitBuilder.resume(self._dwell_us, saved[3:])
        builder = VisitBuilder(self._dwell_us)  # a late scan, or a record from before `b`: from the first scan
        builder.feed(islice(scans, at))
        return builder

    @staticmethod
    def _save(store: Store, record: dict[str, Any]) -> None:
        if record["s"] or record["r"]:
            store.set("p", record)
        else:
            store.delete("p")

    def _bounded(self, scans: list[list[Any]], cutoff: int) -> list[list[Any]]:
        """The scans within the retention period, at most `max_scans` of them (the list itself when all are)."""
        if (not scans or scans[0][0] >= cutoff) and len(scans) <= self.rules.max_scans:
            return scans  # in time order: the first is the oldest
        kept = [scan for scan in scans if scan[0] >= cutoff]
        return kept[-self.rules.max_scans :]

    def visits(self, scans: list[list[Any]]) -> dict[str, VisitRow]:
        return self._visit_dict(build_visit_rows(scans, self._dwell_us))

    @staticmethod
    def _visit_dict(rows: Iterable[BuiltVisit]) -> dict[str, VisitRow]:
        return {
            visit_id: [venue, start, end, is_open, closed_by]
            for visit_id, venue, start, end, closed_by, is_open in rows
        }

    def _dwell_us(self, venue_id: str) -> int:
        return us_of(self.rules.dwell(venue_id))

    def _visits_changed(
        self,
        roles: dict[str, list[Any]],
        person: str,
        before: dict[str, VisitRow],
        after: dict[str, VisitRow],
    ) -> list[Out]:
        """What changed between the visits `before` and `after` (visits in neither are unchanged)."""
        outs: list[Out] = []
        for visit_id, visit in after.items():
            if before.get(visit_id) != visit:
                venue, start, end, is_open, _closed_by = visit
                outs.append(
                    Out(
                        topics.TRACER_VENUE_INBOX,
                        venue,
                        {"k": "visit", "i": visit_id, "p": person, "s": start, "e": end, "o": is_open},
                    )
                )
                outs.append(self._visit_event(person, visit_id, visit, withdrawn=False))
        for visit_id, visit in before.items():
            if visit_id not in after:
                outs.append(Out(topics.TRACER_VENUE_INBOX, visit[0], {"k": "visit", "i": visit_id, "x": 1}))
                outs.append(self._visit_event(person, visit_id, visit, withdrawn=True))
        if roles:
            outs += self._windows_changed(
                person, self.windows(person, before, roles), self.windows(person, after, roles)
            )
        return outs

    @staticmethod
    def _visit_event(person: str, visit_id: str, visit: VisitRow, *, withdrawn: bool) -> Out:
        venue, start, end, is_open, closed_by = visit
        event = VisitRecord(
            event_id=f"{visit_id}.{end}.{int(is_open)}{int(withdrawn)}",  # names the visit and its shape
            occurred_at=utc_now(),
            venue_id=venue,
            person_key=person,
            visit_id=visit_id,
            visit_start=from_us(start),
            visit_end=from_us(end),
            closed_by=closed_by,
            withdrawn=withdrawn,
            open=is_open and not withdrawn,
        )
        return Out(topics.VISITS, venue, event)

    # --- windows -------------------------------------------------------------------------------------

    def windows(self, person: str, visits: dict[str, VisitRow], roles: dict[str, list[Any]]) -> dict[str, WindowRow]:
        """The person's windows in every case they spread in, by a window id stable across changes."""
        if not roles or not visits:
            return {}
        as_visits = [
            Visit(visit_id, venue, from_us(start), from_us(end), closed_by, is_open)
            for visit_id, (venue, start, end, is_open, closed_by) in visits.items()
        ]
        found: dict[str, WindowRow] = {}
        for case_id, (degree, since, until, _source) in roles.items():
            interval = Interval(from_us(since), None if until is None else from_us(until))
            for window in spreader_windows(f"{case_id}|{person}", as_visits, interval, self._buffer):
                found[window.window_id] = [case_id, degree, window.venue_id, to_us(window.start), to_us(window.end)]
        return found

    @staticmethod
    def _windows_changed(person: str, before: dict[str, WindowRow], after: dict[str, WindowRow]) -> list[Out]:
        outs: list[Out] = []
        for window_id, window in after.items():
            if before.get(window_id) == window:
                continue
            case_id, degree, venue, start, end = window
            outs.append(
                Out(
                    window_lane(degree),
                    venue,
                    {"k": "win", "i": window_id, "c": case_id, "p": person, "g": degree, "s": start, "e": end},
                )
            )
            if degree == 0:  # the case's own presence: public, without person data
                outs.append(
                    Out(
                        topics.VENUE_EXPOSURES,
                        venue,
                        VenueExposureRecorded(
                            event_id=derived_id("venue", window_id, start, end),
                            producer="tracer",
                            case_id=case_id,
                            venue_id=venue,
                            spreader_degree=0,
                            window_start=from_us(start),
                            window_end=from_us(end),
                        ),
                    )
                )
        for window_id, window in before.items():
            if window_id not in after:
                outs.append(Out(window_lane(window[1]), window[2], {"k": "win", "i": window_id, "x": 1}))
        return outs

    def _role_windows(
        self, record: dict[str, Any], person: str, case_id: str, role: list[Any] | None, new_role: list[Any] | None
    ) -> list[Out]:
        """What changing the person's role in one case changes in their windows."""
        visits = self.visits(record["s"])
        before = self.windows(person, visits, {case_id: role}) if role else {}
        after = self.windows(person, visits, {case_id: new_role}) if new_role else {}
        return self._windows_changed(person, before, after)

    # --- cases, matches, exposure --------------------------------------------------------------------

    def on_case(self, store: Store, person: str, case_id: str, since: int, until: int) -> list[Out]:
        record = self._record(store)
        roles: dict[str, list[Any]] = record["r"]
        role = [0, since, until, None]
        if roles.get(case_id) == role:
            return []
        outs = self._role_windows(record, person, case_id, roles.get(case_id), role)
        roles[case_id] = role
        self._save(store, record)
        return outs + self._settle(store, record, person, case_id)

    def on_match(
        self, store: Store, person: str, case_id: str, match_id: str, exposure: ExposureRow | None
    ) -> list[Out]:
        key = f"m|{case_id}|{match_id}"
        if store.get(key) == exposure:
            return []
        if exposure is None:
            store.delete(key)
        else:
            store.set(key, exposure)
        return self._settle(store, self._record(store), person, case_id)

    def best_exposure(self, store: Store, case_id: str, roles: dict[str, list[Any]]) -> ExposureRow | None:
        role = roles.get(case_id)
        if role is not None and role[0] == 0:
            return None  # the case is nobody's contact in their own case
        prefix = f"m|{case_id}|"
        return min((exposure for _, exposure in store.scan(prefix, prefix_stop(prefix))), default=None)

    def _settle(self, store: Store, record: dict[str, Any], person: str, case_id: str) -> list[Out]:
        """Publish the person's exposure in the case if it changed, and follow it with their role."""
        roles: dict[str, list[Any]] = record["r"]
        outs: list[Out] = []
        best = self.best_exposure(store, case_id, roles)
        known = store.get(f"b|{case_id}")
        if (known[1] if known else None) != best:
            sequence = known[0] + 1 if known else 1
            store.set(f"b|{case_id}", [sequence, best])
            outs += self._exposure_events(person, case_id, best)
        role = roles.get(case_id)
        if role is not None and role[0] == 0:
            return outs
        new_role = [best[0], best[1], None, best[5]] if best is not None and best[0] < self.rules.max_degree else None
        if new_role != role:
            outs += self._role_windows(record, person, case_id, role, new_role)
            if new_role is None:
                roles.pop(case_id, None)
            else:
                roles[case_id] = new_role
            self._save(store, record)
        return outs

    @staticmethod
    def _exposure_events(person: str, case_id: str, best: ExposureRow | None) -> list[Out]:
        # exposures.v2 needs no derived ids: exactly-once publishes each decision once, and one decision can
        # repeat another's content (withdrawn, found again, withdrawn again).
        if best is None:
            withdrawal = ExposureChanged(producer="tracer", case_id=case_id, person_key=person, withdrawn=True)
            return [Out(topics.EXPOSURES_V2, person, withdrawal)]
        degree, exposed_at, venue, start, end, source = best
        fields: dict[str, Any] = {
            "producer": "tracer",
            "case_id": case_id,
            "person_key": person,
            "degree": degree,
            "venue_id": venue,
            "window_start": from_us(start),
            "window_end": from_us(end),
            "exposed_at": from_us(exposed_at),
            "source_person_key": source,
        }
        return [
            Out(topics.EXPOSURES_V2, person, ExposureChanged(**fields)),
            # v1 for the transition: its readers keep the lowest degree (then the earliest) they have seen.
            Out(
                topics.EXPOSURES,
                person,
                ExposureDetected(
                    event_id=derived_id(case_id, person, degree, from_us(exposed_at).isoformat()), **fields
                ),
            ),
        ]

    # --- quarantine ----------------------------------------------------------------------------------

    def on_declaration(self, stores: Stores, store: Store, person: str, message: dict[str, Any]) -> list[Out]:
        quarantine: dict[str, Any] = store.get("q") or {}
        at = message["t"]
        quarantine["since"] = min(quarantine.get("since", at), at)
        last = quarantine["last"] = max(quarantine.get("last", at), at)
        store.set("q", quarantine)
        self._schedule(stores, last + self._every + 1, "q", person)
        if message["kind"] != DeclarationKind.QUARANTINE_DAILY.value:
            return []
        if message["temp"] is not None and message["temp"] >= self.rules.fever_celsius:
            return [self._alert(person, "fever", {"temperature_c": message["temp"]}, message["id"])]
        if message["sym"]:
            return [self._alert(person, "symptom", {"symptoms": message["sym"]}, message["id"])]
        return []

    @staticmethod
    def _alert(person: str, reason: str, detail: dict[str, Any], dedupe: str) -> Out:
        return Out(
            topics.ALERTS,
            person,
            QuarantineAlertRaised(
                event_id=str(uuid.uuid5(_ALERT_IDS, f"{person}|{reason}|{dedupe}")),
                producer="tracer",
                person_key=person,
                reason=reason,
                detail=detail,
            ),
        )

    def _missed_update(self, stores: Stores, person: str, now: int) -> list[Out]:
        store = stores.of(person)
        quarantine = store.get("q")
        if not quarantine:
            return []
        since, last = quarantine["since"], quarantine["last"]
        if now >= since + us_of(timedelta(days=self.rules.quarantine_days)):
            return []  # the quarantine is over
        overdue = now - last
        if overdue <= self._every:
            self._schedule(stores, last + self._every + 1, "q", person)
            return []
        missed = overdue // self._every
        day = f"{from_us(last).isoformat()}+{missed}"
        self._schedule(stores, last + (missed + 1) * self._every + 1, "q", person)
        marked: list[str] = quarantine.get("marked", [])
        if day in marked:
            return []
        quarantine["marked"] = [*marked, day][-MAX_MARKED:]
        store.set("q", quarantine)
        return [self._alert(person, "missed_update", {"last_update_at": from_us(last).isoformat()}, day)]

    # --- the clock: due entries of the partition -------------------------------------------------------

    @staticmethod
    def _schedule(stores: Stores, at: int, what: str, person: str) -> None:
        stores.of(PARTITION_KEY).set(f"d|{sortable(at)}|{what}|{person}", 1)

    def _schedule_retention(self, stores: Stores, record: dict[str, Any], person: str) -> None:
        if not record["s"]:
            return
        due = record["s"][0][0] + self._retention + 1
        if record["rd"] != due:
            record["rd"] = due
            self._schedule(stores, due, "r", person)

    def on_tick(self, stores: Stores, now: int) -> list[Out]:
        partition = stores.of(PARTITION_KEY)
        outs: list[Out] = []
        for key, _ in partition.scan("d|", f"d|{sortable(now + 1)}"):
            partition.delete(key)
            _, _, what, person = key.split("|", 3)
            if what == "q":
                outs += self._missed_update(stores, person, now)
            elif what == "r":
                outs += self._forget_old(stores, person, now)
        return outs

    def _forget_old(self, stores: Stores, person: str, now: int) -> list[Out]:
        """Retention (SPEC §3.7) with no new scan: what is older than the period leaves the state."""
        store = stores.of(person)
        record = self._record(store)
        record["rd"] = None
        cutoff = now - self._retention
        scans: list[list[Any]] = record["s"]
        kept = self._bounded(scans, cutoff)
        outs: list[Out] = []
        if len(kept) != len(scans):
            before = self.visits(scans)
            record["s"] = kept
            record.pop("b", None)  # the builder's state after the last scan, rebuilt by the next scan
            outs = self._visits_changed(record["r"], person, before, self.visits(kept))
        roles: dict[str, list[Any]] = record["r"]
        ended = [case for case, role in roles.items() if role[0] == 0 and role[2] is not None and role[2] < cutoff]
        for case_id in ended:
            outs += self._role_windows(record, person, case_id, roles.pop(case_id), None)
        for key, (_, best) in list(store.scan("b|", prefix_stop("b|"))):
            if best is None or best[1] < cutoff:
                store.delete(key)  # an exposure past the retention period, or long withdrawn
        self._schedule_retention(stores, record, person)
        self._save(store, record)
        quarantine = store.get("q")
        if quarantine and quarantine["last"] < cutoff:
            store.delete("q")
        return outs
