"""The read model behind the tracer's HTTP reads: a case's contacts and a venue's visitor history, in Redis.

It is fed from the tracer's public topics, not from its state stores, so any worker answers any request and
Redis can be emptied at any time (SPEC §2: a read model rebuilt from the topics):
- `visits.v1` (venue-keyed): a hash per venue and day of the visit's start, field visit_id. The latest
  record of a visit replaces it (a late `out` shortened it, it closed); a withdrawn one removes it.
- `exposures.v2` (contact-keyed): a hash per case, field person_key. The latest record per (case, person)
  replaces the contact; a withdrawal removes it.
- `cases.v1` (ingest's): marks the case as known, so a case with no contacts is not taken for an unknown one.

Every write is a field set or deleted (never a whole value read and written back), so an event costs the
same at a venue with 50 visits a day and one with 50,000. Each batch goes to Redis in one pipeline, and the
batch's input positions are written after its records: those positions, not the consumer group's commits,
say where to resume, so a Redis emptied (or a prefix deleted) is noticed and rebuilt from the topics.
Retention (SPEC §3.7) is exact at read time; keys expire a day after it to free the memory.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import redis
from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from redis.client import Pipeline
from redis.typing import EncodableT, FieldT

from antoan_shared import codec, topics
from antoan_shared.events import CaseConfirmed, Event, ExposureChanged, VisitClosed, utc_now
from antoan_shared.kafka import EventPublisher, make_consumer, publish_dead_letter
from antoan_tracer.settings import TracerSettings

log = logging.getLogger(__name__)

# The topics the read model is built from, each keyed so that the records it must apply in order share a
# partition (a venue's visits; a contact's records, and so every (case, person)).
INPUTS: tuple[topics.TopicSpec, ...] = (topics.VISITS, topics.EXPOSURES_V2, topics.CASES)
# What a contact carries besides its person_key (the fields of `exposures.v2` the health authority reads).
CONTACT_FIELDS = frozenset({"degree", "venue_id", "window_start", "window_end", "exposed_at", "source_person_key"})
# Slack past the retention period before a key expires: reads filter exactly, expiry only frees memory.
EXPIRY_SLACK = timedelta(days=1)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def visit_day(moment: datetime) -> date:
    """The day a visit's key is filed under: the UTC day of its start, whatever offset a time is given in."""
    return moment.astimezone(UTC).date()


def days_between(first: datetime, last: datetime) -> list[date]:
    """The UTC days from `first`'s to `last`'s, both included."""
    day, end = visit_day(first), visit_day(last)
    days = []
    while day <= end:
        days.append(day)
        day += timedelta(days=1)
    return days


class ReadModel:
    """Writes of the follower and reads of the HTTP API, over one synchronous Redis client (thread-safe)."""

    def __init__(self, client: redis.Redis, settings: TracerSettings) -> None:
        self._client = client
        self._settings = settings
        self._prefix = settings.redis_prefix

    # --- keys -------------------------------------------------------------------------------------

    def visits_key(self, venue_id: str, day: date) -> str:
        return f"{self._prefix}visits:{venue_id}:{day.isoformat()}"

    def contacts_key(self, case_id: str) -> str:
        return f"{self._prefix}contacts:{case_id}"

    def case_key(self, case_id: str) -> str:
        return f"{self._prefix}case:{case_id}"

    @property
    def positions_key(self) -> str:
        """Input positions ("topic:partition" -> next offset), written after the records they cover."""
        return f"{self._prefix}positions"

    # --- writes -----------------------------------------------------------------------------------

    def record_visits(self, events: Sequence[VisitClosed]) -> None:
        self.record(events)

    def record_exposures(self, events: Sequence[ExposureChanged]) -> None:
        self.record(events)

    def record_cases(self, events: Sequence[CaseConfirmed]) -> None:
        self.record(events)

    def record(self, events: Iterable[Event], positions: Mapping[str, int] | None = None) -> None:
        """Apply a batch in its order, in one pipeline; then, in the same round trip, the input positions.

        Redis runs a connection's commands in order, so a position is never stored before the records it
        covers. The pipeline is not a transaction (a crash may leave part of a batch applied): every write
        is idempotent and the latest record of a key wins, so replaying the batch gives the same state.
        """
        now = utc_now()
        pipe = self._client.pipeline(transaction=False)
        for event in events:
            if isinstance(event, VisitClosed):
                self._visit(pipe, event, now)
            elif isinstance(event, ExposureChanged):
                self._exposure(pipe, event)
            elif isinstance(event, CaseConfirmed):
                self._case(pipe, event, now)
        if positions:
            mapping: dict[FieldT, EncodableT] = {field: offset for field, offset in positions.items()}
            pipe.hset(self.positions_key, mapping=mapping)
        pipe.execute()

    def _visit(self, pipe: Pipeline, event: VisitClosed, now: datetime) -> None:
        # Records written before visits had ids: one visit per person and start.
        visit_id = event.visit_id or f"{event.person_key}@{event.visit_start.isoformat()}"
        settings = self._settings
        start_day = visit_day(event.visit_start)
        # A visit's start is the scan that opened it, so it stays on its day; only an out-only visit's start
        # (its `out` minus the venue's dwell time) can move, when the dwell time changes. The days it could
        # have been filed under before lose it, so the latest record stays the only one.
        spread = settings.longest_visit
        for day in days_between(event.visit_start - spread, event.visit_start + spread):
            if day != start_day:
                pipe.hdel(self.visits_key(event.venue_id, day), visit_id)
        key = self.visits_key(event.venue_id, start_day)
        if event.withdrawn:
            pipe.hdel(key, visit_id)
            return
        # The day's last visit ends at most `longest_visit` after midnight and is read until the retention
        # period has passed since; a day already past that is not stored at all.
        expires = datetime.combine(start_day + timedelta(days=1), datetime.min.time(), UTC)
        expires += spread + settings.retention + EXPIRY_SLACK
        if expires <= now:
            pipe.hdel(key, visit_id)
            return
        visit = {
            "person_key": event.person_key,
            "start": event.visit_start.isoformat(),
            "end": event.visit_end.isoformat(),
            "closed_by": event.closed_by,
            "open": event.open,
        }
        pipe.hset(key, visit_id, codec.dumps(visit))
        pipe.pexpireat(key, int(expires.timestamp() * 1000))

    def _exposure(self, pipe: Pipeline, event: ExposureChanged) -> None:
        key = self.contacts_key(event.case_id)
        if event.withdrawn:
            pipe.hdel(key, event.person_key)
        else:
            pipe.hset(key, event.person_key, codec.dumps(event.model_dump(mode="json", include=set(CONTACT_FIELDS))))
            pipe.expire(key, self._lifetime)
        self._mark_case(pipe, event.case_id, event.occurred_at)

    def _case(self, pipe: Pipeline, event: CaseConfirmed, now: datetime) -> None:
        # cases.v1 is kept forever: rebuilding from it must not bring back cases past the retention period.
        if event.confirmed_at + self._settings.retention + EXPIRY_SLACK > now:
            self._mark_case(pipe, event.case_id, event.occurred_at)

    def _mark_case(self, pipe: Pipeline, case_id: str, seen_at: datetime) -> None:
        key = self.case_key(case_id)
        pipe.set(key, codec.dumps({"known_since": seen_at.isoformat()}), nx=True)
        pipe.expire(key, self._lifetime)

    @property
    def _lifetime(self) -> timedelta:
        return self._settings.retention + EXPIRY_SLACK

    def positions(self, fields: Sequence[str]) -> dict[str, int | None]:
        """The stored next offset of each "topic:partition" (None: nothing of it is in the read model)."""
        if not fields:
            return {}
        stored = self._client.hmget(self.positions_key, list(fields))
        return {field: None if raw is None else int(raw) for field, raw in zip(fields, stored, strict=True)}

    # --- reads ------------------------------------------------------------------------------------

    def case_contacts(self, case_id: str) -> list[dict[str, Any]] | None:
        """The case's contacts within the retention period, F1 before F2, each by exposure time; None for a
        case the tracer has never heard of."""
        pipe = self._client.pipeline(transaction=False)
        pipe.exists(self.case_key(case_id))
        pipe.hgetall(self.contacts_key(case_id))
        known, raw = pipe.execute()
        if not known and not raw:
            return None
        cutoff = utc_now() - self._settings.retention
        contacts = []
        for person_key, value in raw.items():
            contact = {"person_key": _text(person_key), **codec.loads(value)}
            exposed_at = datetime.fromisoformat(contact["exposed_at"])
            if exposed_at >= cutoff:
                contacts.append((contact["degree"], exposed_at, contact["person_key"], contact))
        contacts.sort(key=lambda entry: entry[:3])
        return [entry[3] for entry in contacts]

    def venue_visits(self, venue_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """The venue's visits overlapping [start, end] and within the retention period, by start.

        Only the days a visit overlapping the range can have started on are read: a visit lasts at most
        `longest_visit`, so none that began earlier than that before `start` reaches it.
        """
        days = days_between(start - self._settings.longest_visit, end)
        pipe = self._client.pipeline(transaction=False)
        for day in days:
            pipe.hgetall(self.visits_key(venue_id, day))
        cutoff = utc_now() - self._settings.retention
        visits = []
        for stored in pipe.execute():
            for visit_id, value in stored.items():
                visit = codec.loads(value)
                visit_start = datetime.fromisoformat(visit["start"])
                visit_end = datetime.fromisoformat(visit["end"])
                if visit_start <= end and visit_end >= start and visit_end >= cutoff:
                    visits.append((visit_start, _text(visit_id), visit))
        visits.sort(key=lambda entry: entry[:2])
        return [
            {
                "visit_id": visit_id,
                "person_key": visit["person_key"],
                "start": visit["start"],
                "end": visit["end"],
                "open": visit["open"],
            }
            for _, visit_id, visit in visits
        ]

    def ping(self) -> bool:
        try:
            return bool(self._client.ping())
        except redis.RedisError:
            return False


def _field(tp: TopicPartition) -> str:
    return f"{tp.topic}:{tp.partition}"


class ReadModelFollower(threading.Thread):
    """Feeds the ReadModel from `visits.v1`, `exposures.v2` and `cases.v1` on a thread.

    Workers share the partitions through one consumer group (`settings.group_id("tracer", "read-model")`),
    and read only committed records: the tracer writes its topics in transactions (exactly-once), and an
    aborted record must not show. Where to read from is the read model's own: each partition resumes at the
    position stored in Redis with its records (from the beginning when there is none), and a position
    that no longer matches what this worker last wrote (Redis emptied, or another worker took the partition
    over meanwhile) sends the partition back to the stored one. The group's commits follow the writes, for
    lag monitoring only.

    An undecodable record goes to the tracer's dead-letter topic (`publisher`, a kafka-python publisher)
    and is skipped. When Redis or Kafka fails, the consumer is closed and the follow starts over from the
    stored positions after a pause: nothing is committed for work not done.
    """

    def __init__(
        self,
        settings: TracerSettings,
        read_model: ReadModel,
        publisher: EventPublisher,
        poll_timeout_ms: int = 200,
        check_interval_s: float = 5.0,
        retry_after_s: float = 2.0,
        rejoin_timeout_s: float = 12.0,
    ) -> None:
        super().__init__(name="tracer-read-model", daemon=True)
        self._settings = settings
        self._read_model = read_model
        self._publisher = publisher
        self._specs = {settings.topic(spec): spec for spec in INPUTS}
        self.group_id = settings.group_id("tracer", "read-model")
        self.topic_names = list(self._specs)
        self._poll_timeout_ms = poll_timeout_ms
        self._check_interval_s = check_interval_s
        self._retry_after_s = retry_after_s
        self._rejoin_timeout_s = rejoin_timeout_s
        # When the consumer last left its group's assignment (created, or its partitions revoked) without
        # being given partitions since; None while it holds an assignment (possibly empty).
        self._unassigned_since: float | None = None
        self._stop_requested = threading.Event()
        # Set once the group gave this worker its partitions (possibly none: more workers than partitions).
        self.assigned = threading.Event()
        self.failed: BaseException | None = None
        self._healthy = False
        # Both only touched on the follower's thread (the rebalance callbacks run inside `poll`).
        self._unpositioned: set[TopicPartition] = set()  # assigned, not yet moved to the stored position
        self._expected: dict[TopicPartition, int | None] = {}  # the stored position as this worker left it

    def ready(self) -> bool:
        """Running, in its group, and its last round with Kafka and Redis went through."""
        return self.is_alive() and self.assigned.is_set() and self._healthy

    def stop(self) -> None:
        self._stop_requested.set()

    def run(self) -> None:
        while not self._stop_requested.is_set():
            try:
                self._follow()
            except (KafkaError, redis.RedisError, OSError):
                self._healthy = False
                log.exception("read model follower failed; starting over from the stored positions")
                self._stop_requested.wait(self._retry_after_s)
            except Exception as exc:  # a bug, not an outage: starting over would fail the same way
                self._healthy = False
                self.failed = exc
                log.exception("read model follower stopped")
                return

    def _follow(self) -> None:
        self._unpositioned.clear()
        self._expected.clear()
        # The listener positions assigned partitions. (Given to the first subscription: unsubscribing and
        # subscribing again rebalanced the group at once, and kafka-python then sometimes never rejoined.)
        consumer = make_consumer(
            self._settings, INPUTS, self.group_id, listener=_Rebalance(self), isolation_level="read_committed"
        )
        self._unassigned_since = time.monotonic()
        try:
            checked = time.monotonic()
            while not self._stop_requested.is_set():
                polled = consumer.poll(timeout_ms=self._poll_timeout_ms)
                if self._rejoin_stalled():
                    return  # `run` starts over with a new consumer, from the stored positions
                polled = self._without_moved(consumer, polled, self._take_unpositioned())
                if time.monotonic() - checked > self._check_interval_s:
                    # With nothing arriving, a Redis emptied would not be noticed by the batches.
                    polled = self._without_moved(consumer, polled, self._verified(consumer.assignment()))
                    checked = time.monotonic()
                if polled:
                    polled = self._without_moved(consumer, polled, self._verified(polled))
                    self._apply(polled)
                    self._commit(consumer)
                self._healthy = True
        finally:
            self._healthy = False
            consumer.close(autocommit=False)

    def _rejoin_stalled(self) -> bool:
        """Whether the consumer has gone `rejoin_timeout_s` without an assignment since it started or lost one.

        kafka-python (3.0.12) sometimes never completes the rejoin after a rebalance revoked its partitions:
        the consumer then polls forever with nothing assigned, and the read model stops (seen in the suite
        under load: a case unknown for minutes). A group's rebalance takes a second or two; past the timeout
        the consumer is replaced, which joins afresh.
        """
        since = self._unassigned_since
        if since is None or time.monotonic() - since < self._rejoin_timeout_s:
            return False
        log.warning(
            "read model follower got no partitions after a rebalance; starting over with a new consumer",
            extra={"waited_s": round(time.monotonic() - since, 1)},
        )
        self._healthy = False
        return True

    def _take_unpositioned(self) -> set[TopicPartition]:
        taken, self._unpositioned = self._unpositioned, set()
        return taken

    def _verified(self, partitions: Iterable[TopicPartition]) -> set[TopicPartition]:
        """The partitions whose stored position is not the one this worker left: to be moved to it."""
        wanted = [tp for tp in partitions if tp.topic in self._specs]
        stored = self._read_model.positions([_field(tp) for tp in wanted])
        moved = set()
        for tp in wanted:
            if tp in self._expected and stored[_field(tp)] != self._expected[tp]:
                log.warning(
                    "read model position changed under this worker; rereading the partition from it",
                    extra={"partition": _field(tp), "left": self._expected[tp], "stored": stored[_field(tp)]},
                )
                del self._expected[tp]
                moved.add(tp)
        return moved

    def _without_moved(
        self, consumer: KafkaConsumer, polled: dict[TopicPartition, list[Any]], partitions: set[TopicPartition]
    ) -> dict[TopicPartition, list[Any]]:
        """Moves `partitions` to their stored positions (the beginning where none is stored) and drops what
        was polled of them: it is read again from there."""
        if not partitions:
            return polled
        stored = self._read_model.positions([_field(tp) for tp in partitions])
        for tp in partitions:
            position = stored[_field(tp)]
            if position is None:
                consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, position)
            self._expected[tp] = position
        return {tp: records for tp, records in polled.items() if tp not in partitions}

    def _apply(self, polled: dict[TopicPartition, list[Any]]) -> None:
        batch: list[Event] = []
        positions: dict[str, int] = {}
        for tp, records in polled.items():
            if not records:
                continue
            for record in records:
                if (event := self._decode(record)) is not None:
                    batch.append(event)
            positions[_field(tp)] = records[-1].offset + 1
        if not positions:
            return
        self._read_model.record(batch, positions)
        for tp in polled:
            if _field(tp) in positions:
                self._expected[tp] = positions[_field(tp)]

    def _decode(self, record: Any) -> Event | None:
        try:
            return codec.decode_for_topic(self._specs[record.topic], record.value)
        except codec.DecodeError as exc:
            publish_dead_letter(self._publisher, "tracer", record, str(exc))
            return None

    def _commit(self, consumer: KafkaConsumer) -> None:
        try:
            consumer.commit()
        except KafkaError as exc:  # e.g. a rebalance under way: the stored positions are what counts
            log.warning("read model offsets not committed", extra={"error": repr(exc)})

    def _on_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        assigned = list(assigned)
        log.info("read model partitions assigned", extra={"partitions": sorted(map(_field, assigned))})
        self._unassigned_since = None
        self._unpositioned.update(assigned)
        self.assigned.set()

    def _on_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        revoked = list(revoked)
        log.info("read model partitions revoked", extra={"partitions": sorted(map(_field, revoked))})
        self._unassigned_since = time.monotonic()
        for tp in revoked:
            self._unpositioned.discard(tp)
            self._expected.pop(tp, None)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc,unused-ignore]
    """Called inside `poll`: newly assigned partitions are positioned before their records are applied."""

    def __init__(self, follower: ReadModelFollower) -> None:
        self._follower = follower

    def on_partitions_revoked(self, revoked: Any) -> None:
        self._follower._on_revoked(revoked)

    def on_partitions_assigned(self, assigned: Any) -> None:
        self._follower._on_assigned(assigned)
