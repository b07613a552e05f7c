"""The risk engine: projects the topics into the Redis read model, re-evaluates the levels that the news
touches (or that age past a threshold), and publishes level changes on venue-risk.v1 and area-risk.v1.

Exactly-once towards Redis: the engine keeps its input offsets in Redis, written in the same transaction
as the state they produced, so after a crash it resumes from the state's own offsets and every event is
applied once. Towards Kafka it is at-least-once: changes are published and acknowledged before the
transaction, so a crash in between republishes the same level (a duplicate record on a compacted topic,
which consumers dedupe by content; levels are never lost).

When the read model is missing (Redis emptied, or a first start) the engine rebuilds it: it reads back what
it last published (so an unchanged level is not published again), replays every input topic from the
beginning without evaluating, and then evaluates every venue and area once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition  # type: ignore[import-untyped,unused-ignore]

from antoan_safety_map.adapters.read_model import AreaRecord, StateStore, VenueRecord
from antoan_safety_map.domain.area_risk import AreaFacts, areas_of_case, assess_area
from antoan_safety_map.domain.levels import Finding, Level, RiskPolicy
from antoan_safety_map.domain.venue_risk import CasePresence, VenueFacts, assess_venue
from antoan_safety_map.settings import SafetyMapSettings
from antoan_shared import codec, topics
from antoan_shared.events import (
    AreaDefined,
    AreaRiskChanged,
    CaseConfirmed,
    Event,
    OccupancyChanged,
    Reason,
    VenueCleared,
    VenueExposureRecorded,
    VenueRiskChanged,
    VenueSelfAssessed,
    VenueState,
    utc_now,
)
from antoan_shared.kafka import (
    EventPublisher,
    RecordMetadata,
    make_reader,
    partitions_of,
    publish_dead_letter,
    read_to_end,
    records_of,
)

log = logging.getLogger(__name__)

INPUTS: tuple[topics.TopicSpec, ...] = (
    topics.VENUE_REGISTRY,
    topics.OCCUPANCY,
    topics.VENUE_EXPOSURES,
    topics.CASES,
    topics.VENUE_ASSESSMENTS,
    topics.VENUE_CLEARANCES,
    topics.AREAS,
)
OUTPUTS: tuple[topics.TopicSpec, ...] = (topics.VENUE_RISK, topics.AREA_RISK)
BATCH = 5000  # records read at once


def _reasons(findings: Iterable[Finding]) -> tuple[Reason, ...]:
    return tuple(Reason(code=f.code, detail={**f.detail, "level": int(f.level)}) for f in findings)


def _offset_key(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


@dataclass
class Batch:
    """The records one batch of events reads and changes, loaded in a few round trips."""

    store: StateStore
    venues: dict[str, VenueRecord] = field(default_factory=dict)
    areas: dict[str, AreaRecord] = field(default_factory=dict)
    dirty_venues: set[str] = field(default_factory=set)
    dirty_areas: set[str] = field(default_factory=set)
    touched_venues: set[str] = field(default_factory=set)
    touched_areas: set[str] = field(default_factory=set)
    new_cases: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    memberships: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict)
    # area -> (parent before this batch, parent now)
    parent_moves: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    due: dict[str, float | None] = field(default_factory=dict)
    pruned_areas: set[str] = field(default_factory=set)
    offsets: dict[str, int] = field(default_factory=dict)
    changes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    occupancy_changes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def load_venues(self, venue_ids: Iterable[str]) -> None:
        missing = [v for v in venue_ids if v not in self.venues]
        found = self.store.venues(missing)
        for venue_id in missing:
            self.venues[venue_id] = found.get(venue_id) or VenueRecord(venue_id=venue_id)

    def load_areas(self, codes: Iterable[str]) -> None:
        missing = [c for c in codes if c and c not in self.areas]
        found = self.store.areas(missing)
        for code in missing:
            self.areas[code] = found.get(code) or AreaRecord(area_code=code)

    def with_ancestors(self, codes: Iterable[str]) -> set[str]:
        """The areas and every area above them (ward -> district -> province), as far as area data says."""
        named = [code for code in codes if code]
        generation, loaded = named, set[str]()
        while generation:  # load the parents one generation at a time
            self.load_areas(generation)
            loaded.update(generation)
            generation = [p for code in generation if (p := self.areas[code].parent_code) and p not in loaded]
        return areas_of_case(named, {code: self.areas[code].parent_code for code in loaded})

    def subtree(self, code: str) -> set[str]:
        """The area and every area below it, counting this batch's changes of parent."""
        found: set[str] = set()
        generation = {code}
        while generation:
            found |= generation
            children = self.store.children(generation)
            for child, (before, now) in self.parent_moves.items():
                if before in generation:
                    children.discard(child)
                if now in generation:
                    children.add(child)
            generation = children - found
        return found

    def venue(self, venue_id: str) -> VenueRecord:
        self.load_venues([venue_id])
        return self.venues[venue_id]

    def area(self, code: str) -> AreaRecord:
        self.load_areas([code])
        return self.areas[code]

    def put_venue(self, record: VenueRecord) -> None:
        self.venues[record.venue_id] = record
        self.dirty_venues.add(record.venue_id)

    def put_area(self, record: AreaRecord) -> None:
        self.areas[record.area_code] = record
        self.dirty_areas.add(record.area_code)


def apply_event(batch: Batch, event: Event) -> None:
    """Fold one input event into the read model. Every branch is idempotent and keeps the newest news, so a
    replay after a crash or a rebuild changes nothing it already did."""
    if isinstance(event, VenueState):
        venue = batch.venue(event.venue_id)
        if venue.state_at is not None and event.occurred_at < venue.state_at:
            return
        before = venue.area_codes()
        fields = event.model_dump(include=set(VenueRecord.model_fields) & set(type(event).model_fields))
        venue = venue.model_copy(update={**fields, "known": True, "state_at": event.occurred_at})
        batch.memberships[venue.venue_id] = (batch.memberships.get(venue.venue_id, (before, ()))[0], venue.area_codes())
        batch.put_venue(venue)
        batch.touched_venues.add(venue.venue_id)
        if venue.lat is not None and venue.lon is not None:  # a deactivated venue says so (`active`)
            batch.changes.append(("venue", venue.feature()))
    elif isinstance(event, OccupancyChanged):
        venue = batch.venue(event.venue_id)
        if venue.occupancy_as_of is not None and event.as_of < venue.occupancy_as_of:
            return
        venue = venue.model_copy(update={"current": event.current, "occupancy_as_of": event.as_of})
        batch.put_venue(venue)
        batch.touched_venues.add(venue.venue_id)
        batch.occupancy_changes[venue.venue_id] = venue.occupancy()
    elif isinstance(event, VenueExposureRecorded):
        if event.spreader_degree != 0:
            return  # an F1's presence is traced for F2s, but only a confirmed case sets a venue's level
        venue = batch.venue(event.venue_id)
        known = venue.case_presences.get(event.case_id)
        if known is None or event.window_end > known[0]:
            presences = {**venue.case_presences, event.case_id: (event.window_end, event.occurred_at)}
            starts = {**venue.case_presence_starts, event.case_id: event.window_start}
            batch.put_venue(venue.model_copy(update={"case_presences": presences, "case_presence_starts": starts}))
            batch.touched_venues.add(venue.venue_id)
    elif isinstance(event, VenueSelfAssessed):
        venue = batch.venue(event.venue_id)
        if venue.assessed_at is None or event.assessed_at >= venue.assessed_at:
            update = {"self_assessment_score": event.score, "assessed_at": event.assessed_at}
            batch.put_venue(venue.model_copy(update=update))
            batch.touched_venues.add(venue.venue_id)
    elif isinstance(event, VenueCleared):
        venue = batch.venue(event.venue_id)
        if venue.cleared_at is None or event.cleared_at > venue.cleared_at:
            batch.put_venue(venue.model_copy(update={"cleared_at": event.cleared_at}))
            batch.touched_venues.add(venue.venue_id)
    elif isinstance(event, AreaDefined):
        area = batch.area(event.area_code)
        if area.defined_at is not None and event.occurred_at < area.defined_at:
            return
        fields = event.model_dump(include=set(AreaRecord.model_fields) & set(AreaDefined.model_fields))
        old_parent = batch.parent_moves.get(area.area_code, (area.parent_code, None))[0]
        batch.parent_moves[area.area_code] = (old_parent, event.parent_code)
        batch.put_area(area.model_copy(update={**fields, "defined": True, "defined_at": event.occurred_at}))
        # Its own level, and those of the areas above it before and after (their case counts include it).
        batch.touched_areas |= batch.with_ancestors([event.area_code, old_parent or "", event.parent_code or ""])
    elif isinstance(event, CaseConfirmed):
        # A case is kept under the areas it names; an area counts the cases of every area below it when it
        # is evaluated, so the roll-up does not depend on area data arriving before the cases.
        named = [code for code in (event.ward_code, event.district_code, event.province_code) if code]
        for code in named:
            batch.new_cases[code][event.case_id] = event.confirmed_at.timestamp()
        batch.touched_areas |= batch.with_ancestors(named)


class RiskEngine(threading.Thread):
    """Runs the projection and the evaluation on one thread (one per deployment; HTTP instances scale)."""

    def __init__(
        self,
        settings: SafetyMapSettings,
        store: StateStore,
        publisher: EventPublisher,
        policy: RiskPolicy,
    ) -> None:
        super().__init__(name="risk-engine", daemon=True)
        self._settings = settings
        self._store = store
        self._publisher = publisher
        self._policy = policy
        self._retention = settings.retention
        self._stop_requested = threading.Event()
        self.ready = threading.Event()
        self.failed: BaseException | None = None
        self._specs = {settings.topic(spec): spec for spec in INPUTS}

    def stop(self) -> None:
        self._stop_requested.set()

    # --- the loop ----------------------------------------------------------------------------------

    def run(self) -> None:
        # A reader given every partition: the engine's position is the one stored in Redis, not a group's.
        consumer = make_reader(self._settings, self._settings.group_id("safety-map", "engine"))
        try:
            partitions = partitions_of(consumer, list(self._specs), wait_s=60)
            while not self._stop_requested.is_set():
                try:
                    self._serve(consumer, partitions)
                except Exception as exc:  # Kafka or Redis away: start over from the state's own offsets
                    self.ready.clear()
                    log.exception("risk engine error; resuming from the stored offsets")
                    self.failed = exc
                    self._stop_requested.wait(2.0)
        finally:
            consumer.close()

    def _serve(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if not self._store.is_complete():
            self._rebuild(consumer, partitions)
        self._assign_stored(consumer, partitions)
        self.ready.set()
        self.failed = None
        next_tick = 0.0
        while not self._stop_requested.is_set():
            records = records_of(consumer.consume(num_messages=BATCH, timeout=0.2))
            if records:
                self._handle(records, evaluate=True)
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + self._settings.tick_s
                if not self._store.is_complete():
                    log.warning("read model missing (Redis emptied?); rebuilding it from the topics")
                    self.ready.clear()
                    return  # _serve starts again with a rebuild
                self._evaluate_due()

    def _assign_stored(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Every partition from the offset stored with the state (the beginning where none is)."""
        stored = self._store.offsets()
        starts = []
        for tp in partitions:
            offset = stored.get(_offset_key(tp.topic, tp.partition), OFFSET_BEGINNING)
            starts.append(TopicPartition(tp.topic, tp.partition, offset))
        consumer.assign(starts)

    def _rebuild(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        started = time.monotonic()
        self._store.wipe()
        self._restore_published(consumer)
        replayed = read_to_end(
            consumer, partitions, lambda records: self._handle(records, evaluate=False), self._stop_requested, BATCH
        )
        if self._stop_requested.is_set():
            return
        venues, areas = self._evaluate_everything()
        self._store.mark_complete()
        log.info(
            "read model rebuilt from the topics",
            extra={
                "events": replayed,
                "venues": venues,
                "areas": areas,
                "seconds": round(time.monotonic() - started, 2),
            },
        )

    def _restore_published(self, consumer: Consumer) -> None:
        """Read back the levels last published, so that a rebuild publishes only real changes."""
        venues: dict[str, VenueRiskChanged] = {}
        areas: dict[str, AreaRiskChanged] = {}

        def keep_latest(records: list[Message]) -> None:
            for record in records:
                try:
                    event = codec.decode_event(record.value())
                except codec.DecodeError:
                    continue
                if isinstance(event, VenueRiskChanged):
                    venues[event.venue_id] = event
                elif isinstance(event, AreaRiskChanged):
                    areas[event.area_code] = event

        outputs = partitions_of(consumer, [self._settings.topic(spec) for spec in OUTPUTS], wait_s=30)
        read_to_end(consumer, outputs, keep_latest)
        batch = Batch(self._store)
        for venue_event in venues.values():
            batch.put_venue(VenueRecord(venue_id=venue_event.venue_id, **_published(venue_event)))
        for area_event in areas.values():
            batch.put_area(AreaRecord(area_code=area_event.area_code, **_published(area_event)))
        self._write(batch)

    # --- one batch -----------------------------------------------------------------------------------

    def _handle(self, records: list[Message], evaluate: bool) -> None:
        batch = Batch(self._store)
        decoded: list[Event] = []
        for record in records:
            try:
                decoded.append(codec.decode_for_topic(self._specs[record.topic()], record.value()))
            except codec.DecodeError as exc:
                publish_dead_letter(self._publisher, "safety-map", record, str(exc))
            batch.offsets[_offset_key(record.topic(), record.partition())] = record.offset() + 1
        batch.load_venues({e.venue_id for e in decoded if hasattr(e, "venue_id")})
        for event in decoded:
            apply_event(batch, event)
        if evaluate:
            self._evaluate(batch, batch.touched_venues, batch.touched_areas)
        else:
            batch.changes.clear()
            batch.occupancy_changes.clear()
        self._write(batch)

    def _evaluate_due(self) -> None:
        due = self._store.due(time.time())
        if not due:
            return
        batch = Batch(self._store)
        venues = {member[2:] for member in due if member.startswith("v:")}
        areas = {member[2:] for member in due if member.startswith("a:")}
        self._evaluate(batch, venues, areas)
        self._write(batch)

    def _evaluate_everything(self) -> tuple[int, int]:
        venue_ids = self._store.all_venue_ids()
        area_codes = self._store.all_area_codes()
        # Areas first, in one batch, so venues see their areas' levels.
        batch = Batch(self._store)
        self._evaluate(batch, (), area_codes, cascade=False)
        self._write(batch)
        for start in range(0, len(venue_ids), 2000):
            batch = Batch(self._store)
            self._evaluate(batch, venue_ids[start : start + 2000], ())
            self._write(batch)
        return len(venue_ids), len(area_codes)

    def _evaluate(
        self, batch: Batch, venue_ids: Iterable[str], area_codes: Iterable[str], cascade: bool = True
    ) -> None:
        now = utc_now()
        published: list[Future[RecordMetadata]] = []
        venues_to_assess = set(venue_ids)
        area_events = self._evaluate_areas(batch, sorted(set(area_codes)), now)
        if area_events:
            published += self._publisher.send_many(topics.AREA_RISK, area_events)
            if cascade:
                changed = [e.area_code for e in area_events]
                venues_to_assess |= self._store.venues_in_areas(changed)
        venue_events = self._evaluate_venues(batch, sorted(venues_to_assess), now)
        if venue_events:
            published += self._publisher.send_many(topics.VENUE_RISK, venue_events)
        for future in published:
            future.result(timeout=30)  # acknowledged before the state that records it is written

    def _evaluate_areas(self, batch: Batch, codes: Sequence[str], now: datetime) -> list[AreaRiskChanged]:
        if not codes:
            return []
        batch.load_areas(codes)
        since = (now - self._policy.area_window).timestamp()
        subtrees = {code: batch.subtree(code) for code in codes}
        stored = self._store.cases(set().union(*subtrees.values()), since)
        changed: list[AreaRiskChanged] = []
        for code in codes:
            area = batch.areas[code]
            batch.due[f"a:{code}"] = None
            batch.pruned_areas.add(code)
            if not area.defined:
                continue
            cases: dict[str, float] = {}  # a case naming both a ward and its district counts once
            for below in subtrees[code]:
                cases |= stored.get(below, {}) | batch.new_cases.get(below, {})
            times = list(cases.values())
            facts = AreaFacts(
                population=area.population,
                case_times=tuple(datetime.fromtimestamp(t, UTC) for t in times),
                vaccination_coverage=area.vaccination_coverage,
            )
            result = assess_area(facts, now, self._policy)
            batch.due[f"a:{code}"] = result.next_change_at.timestamp() if result.next_change_at else None
            reasons = _reasons(result.findings)
            if area.level == int(result.level) and area.reasons == reasons:
                continue
            event = AreaRiskChanged(
                producer="safety-map",
                area_code=code,
                area_kind=area.area_kind,
                name=area.name,
                level=int(result.level),
                color=result.level.color,
                reasons=reasons,
                cases_7d=result.cases_in_window,
                population=area.population,
                cases_per_100k=result.cases_per_100k,
                as_of=now,
            )
            batch.put_area(area.model_copy(update=_published(event)))
            batch.changes.append(("area-risk", batch.areas[code].risk()))
            changed.append(event)
        return changed

    def _evaluate_venues(self, batch: Batch, venue_ids: Sequence[str], now: datetime) -> list[VenueRiskChanged]:
        batch.load_venues(venue_ids)
        batch.load_areas({code for v in venue_ids for code in batch.venues[v].area_codes()})
        changed: list[VenueRiskChanged] = []
        for venue_id in venue_ids:
            venue = batch.venues[venue_id]
            batch.due[f"v:{venue_id}"] = None
            if not venue.known:
                continue
            forgotten = [case for case, (until, _) in venue.case_presences.items() if until < now - self._retention]
            if forgotten:  # past the retention period a case presence is forgotten (SPEC §3.7)
                kept = {case: p for case, p in venue.case_presences.items() if case not in forgotten}
                starts = {case: s for case, s in venue.case_presence_starts.items() if case not in forgotten}
                venue = venue.model_copy(update={"case_presences": kept, "case_presence_starts": starts})
                batch.put_venue(venue)
            area_levels = tuple(
                (code, area.area_kind, Level(area.level))
                for code in venue.area_codes()
                if (area := batch.areas[code]).defined and area.level is not None
            )
            facts = VenueFacts(
                capacity=venue.capacity,
                current=venue.current,
                case_presences=tuple(
                    CasePresence(until, at, venue.case_presence_starts.get(case))
                    for case, (until, at) in venue.case_presences.items()
                ),
                cleared_at=venue.cleared_at,
                self_assessment_score=venue.self_assessment_score,
                area_levels=area_levels,
            )
            result = assess_venue(facts, now, self._policy)
            oldest = min((until for until, _ in venue.case_presences.values()), default=None)
            forget_at = oldest + self._retention if oldest else None
            next_at = min((t for t in (result.next_change_at, forget_at) if t is not None), default=None)
            batch.due[f"v:{venue_id}"] = next_at.timestamp() if next_at else None
            reasons = _reasons(result.findings)
            if venue.level == int(result.level) and venue.reasons == reasons:
                continue
            event = VenueRiskChanged(
                producer="safety-map",
                venue_id=venue_id,
                level=int(result.level),
                color=result.level.color,
                reasons=reasons,
                as_of=now,
            )
            batch.put_venue(venue.model_copy(update=_published(event)))
            batch.changes.append(("venue-risk", batch.venues[venue_id].risk()))
            changed.append(event)
        return changed

    # --- writing -------------------------------------------------------------------------------------

    def _write(self, batch: Batch) -> None:
        """Everything the batch changed, and the offsets it reached, in one Redis transaction."""
        keys = self._store.keys
        pipe = self._store.client.pipeline(transaction=True)
        for venue_id in batch.dirty_venues:
            venue = batch.venues[venue_id]
            pipe.set(keys.venue(venue_id), venue.model_dump_json())
            if venue.known:
                pipe.sadd(keys.venues, venue_id)
                if venue.active and venue.lat is not None and venue.lon is not None:
                    pipe.geoadd(keys.geo, (venue.lon, venue.lat, venue_id))
                else:
                    pipe.zrem(keys.geo, venue_id)
        for venue_id, (before, after) in batch.memberships.items():
            for code in set(before) - set(after):
                pipe.srem(keys.area_venues(code), venue_id)
            for code in after:
                pipe.sadd(keys.area_venues(code), venue_id)
        for code, (old_parent, new_parent) in batch.parent_moves.items():
            if old_parent and old_parent != new_parent:
                pipe.srem(keys.area_children(old_parent), code)
            if new_parent:
                pipe.sadd(keys.area_children(new_parent), code)
        for code in batch.dirty_areas:
            area = batch.areas[code]
            pipe.set(keys.area(code), area.model_dump_json())
            if area.defined:
                pipe.sadd(keys.areas, code)
        horizon = time.time() - self._policy.area_window.total_seconds()
        for code, cases in batch.new_cases.items():
            pipe.zadd(keys.area_cases(code), cases)
        for code in batch.pruned_areas | set(batch.new_cases):
            pipe.zremrangebyscore(keys.area_cases(code), "-inf", horizon)
        for member, at in batch.due.items():
            if at is None:
                pipe.zrem(keys.due, member)
            else:
                pipe.zadd(keys.due, {member: at})
        if batch.offsets:
            pipe.hset(keys.offsets, mapping=cast(Any, batch.offsets))
        pipe.execute()
        self._announce(batch)

    def _announce(self, batch: Batch) -> None:
        """Live changes for the map's event stream (after they are durable): occupancy first, then the levels it
        changed, as they happened (one batch may hold both: the tracer's occupancy arrives in transactions)."""
        messages = [*(("occupancy", o) for o in batch.occupancy_changes.values()), *batch.changes]
        if not messages:
            return
        pipe = self._store.client.pipeline(transaction=False)
        for kind, data in messages:
            change: dict[str, Any] = {"kind": kind, "data": data}
            # Where a venue's change happens, so a stream of one view passes on only the changes inside it.
            venue = batch.venues.get(str(data.get("venue_id") or data.get("id") or ""))
            if venue is not None and venue.lon is not None and venue.lat is not None:
                change["at"] = [venue.lon, venue.lat]
            pipe.publish(self._store.keys.changes, json.dumps(change, ensure_ascii=False))
        pipe.execute()


def _published(event: VenueRiskChanged | AreaRiskChanged) -> dict[str, Any]:
    """The fields of a record that say what was last published for it."""
    fields: dict[str, Any] = {
        "level": event.level,
        "color": event.color,
        "reasons": event.reasons,
        "risk_as_of": event.as_of,
    }
    if isinstance(event, AreaRiskChanged):
        fields |= {"cases_7d": event.cases_7d, "cases_per_100k": event.cases_per_100k}
    return fields
