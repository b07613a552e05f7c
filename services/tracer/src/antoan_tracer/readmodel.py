"""The read model behind the tracer's HTTP reads: a case's contacts and a venue's visitor history, in Redis.

It is fed from the tracer's public topics, not from its state stores, so any worker answers any request and
Redis can be emptied at any time (SPEC §2: a read model rebuilt from the topics):
- `visits.v1` (venue-keyed): a hash per venue and day of the visit's start, field visit_id. The latest
  record of a visit replaces it (a late `out` shortened it, it closed); a withdrawn one removes it.
- `exposures.v2` (contact-keyed): a hash per case, field person_key. The latest record per (case, person)
  replaces the contact; a withdrawal removes it.
- `cases.v1` (ingest's): marks the case as known, so a case with no contacts is not taken for an unknown one.
- `alerts.v1`: a hash per alert (the alert, and once acknowledged by whom and when) and an index by time,
  for the health-authority console; at most `max_alerts`, each within the retention period.
- `audit.v1` (ingest's): the newest `max_audit_entries` reads of personal data, within the topic's retention.

Contact and alert changes are also published on one Redis channel (`live_channel`), for the console's live
streams (`antoan_shared.live`): a contact as it now stands (or withdrawn), an alert when first stored.

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
from typing import Any, cast

import redis
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Message, TopicPartition
from redis.client import Pipeline
from redis.typing import EncodableT, FieldT

from antoan_shared import codec, topics
from antoan_shared.events import (
    CaseConfirmed,
    Event,
    ExposureChanged,
    PersonalDataRead,
    QuarantineAlertRaised,
    VisitClosed,
    utc_now,
)
from antoan_shared.kafka import EventPublisher, Partition, publish_dead_letter
from antoan_shared.live import change_message
from antoan_tracer.settings import TracerSettings

log = logging.getLogger(__name__)

# The topics the read model is built from, each keyed so that the records it must apply in order share a
# partition (a venue's visits; a contact's records, and so every (case, person)).
INPUTS: tuple[topics.TopicSpec, ...] = (
    topics.VISITS,
    topics.EXPOSURES_V2,
    topics.CASES,
    topics.ALERTS,
    topics.AUDIT,
)
# What a contact carries besides its person_key (the fields of `exposures.v2` the health authority reads).
CONTACT_FIELDS = frozenset({"degree", "venue_id", "window_start", "window_end", "exposed_at", "source_person_key"})
# A contact as the live stream shows it: the list's item without contact details, and whether it is withdrawn.
LIVE_CONTACT_FIELDS = CONTACT_FIELDS | {"person_key", "withdrawn"}
AUDIT_RETENTION = timedelta(days=topics.AUDIT.retained_days or 400)
# Alerts read per round trip while filtering by status.
ALERT_PAGE = 200
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
        self._longest_visit = settings.longest_visit  # a settings property that computes it on every read

    # --- keys -------------------------------------------------------------------------------------

    def visits_key(self, venue_id: str, day: date) -> str:
        return f"{self._prefix}visits:{venue_id}:{day.isoformat()}"

    def contacts_key(self, case_id: str) -> str:
        return f"{self._prefix}contacts:{case_id}"

    def case_key(self, case_id: str) -> str:
        return f"{self._prefix}case:{case_id}"

    def alert_key(self, alert_id: str) -> str:
        return f"{self._prefix}alert:{alert_id}"

    @property
    def alerts_key(self) -> str:
        """The alerts' index: alert_id scored by when it was raised (ms)."""
        return f"{self._prefix}alerts"

    @property
    def audit_key(self) -> str:
        """The audit entries (JSON, so a replayed record is the same member) scored by when read (ms)."""
        return f"{self._prefix}audit"

    @property
    def live_channel(self) -> str:
        return f"{self._prefix}live"

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
        new_alerts: list[tuple[int, dict[str, Any]]] = []  # (the position of its HSETNX, the alert)
        expiring: dict[str, int] = {}  # a venue-day's expiry, set once per batch however many visits it gets
        for event in events:
            if isinstance(event, VisitClosed):
                self._visit(pipe, event, now, expiring)
            elif isinstance(event, ExposureChanged):
                self._exposure(pipe, event)
            elif isinstance(event, CaseConfirmed):
                self._case(pipe, event, now)
            elif isinstance(event, QuarantineAlertRaised):
                new_alerts.extend(self._alert(pipe, event, now))
            elif isinstance(event, PersonalDataRead):
                self._audit(pipe, event, now)
        for key, at_ms in expiring.items():
            pipe.pexpireat(key, at_ms)
        if positions:
            mapping: dict[FieldT, EncodableT] = {field: offset for field, offset in positions.items()}
            pipe.hset(self.positions_key, mapping=mapping)
        done = pipe.execute()
        # An alert is announced once, when first stored: a replayed record must not show an acknowledged
        # alert as a new one.
        announced = [alert for position, alert in new_alerts if done[position]]
        if announced:
            pipe = self._client.pipeline(transaction=False)
            for alert in announced:
                pipe.publish(self.live_channel, change_message("alert", alert))
            pipe.execute()

    def _visit(self, pipe: Pipeline, event: VisitClosed, now: datetime, expiring: dict[str, int]) -> None:
        # Records written before visits had ids: one visit per person and start.
        visit_id = event.visit_id or f"{event.person_key}@{event.visit_start.isoformat()}"
        settings = self._settings
        start_day = visit_day(event.visit_start)
        # A visit's start is the scan that opened it, so it stays on its day; only an out-only visit's start
        # (its `out` minus the venue's dwell time) can move, when the dwell time changes. The days it could
        # have been filed under before lose it, so the latest record stays the only one. (A visit's id is the
        # event id of the scan that opened or, out-only, recorded it: an id is out-only in every record.)
        spread = self._longest_visit
        if event.closed_by == "out_only" or not event.visit_id:
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
        expiring[key] = int(expires.timestamp() * 1000)

    def _exposure(self, pipe: Pipeline, event: ExposureChanged) -> None:
        key = self.contacts_key(event.case_id)
        if event.withdrawn:
            pipe.hdel(key, event.person_key)
        else:
            pipe.hset(key, event.person_key, codec.dumps(event.model_dump(mode="json", include=set(CONTACT_FIELDS))))
            pipe.expire(key, self._lifetime)
        self._mark_case(pipe, event.case_id, event.occurred_at)
        # Published as written: a replay publishes the same states again, in the same order, ending the same.
        live = event.model_dump(mode="json", include=set(LIVE_CONTACT_FIELDS))
        pipe.publish(self.live_channel, change_message("contact", live, case_id=event.case_id))

    def _alert(self, pipe: Pipeline, event: QuarantineAlertRaised, now: datetime) -> list[tuple[int, dict[str, Any]]]:
        """Stores the alert unless past the retention period; returns where its HSETNX stands, and the alert."""
        if event.occurred_at + self._settings.retention <= now:
            return []
        alert = {
            "alert_id": event.event_id,
            "person_key": event.person_key,
            "reason": event.reason,
            "detail": event.detail,
            "raised_at": event.occurred_at.isoformat(),
        }
        key = self.alert_key(event.event_id)
        position = len(pipe)
        pipe.hsetnx(key, "alert", codec.dumps(alert))  # an acknowledgement stored beside it stays
        pipe.expire(key, self._lifetime)
        self._keep_newest(pipe, self.alerts_key, event.event_id, event.occurred_at, now, self._settings.retention)
        return [(position, {**alert, "acknowledged_at": None, "acknowledged_by": None})]

    def _audit(self, pipe: Pipeline, event: PersonalDataRead, now: datetime) -> None:
        entry = {
            "audit_id": event.event_id,
            "actor": event.actor,
            "resource": event.resource,
            "person_keys": list(event.person_keys),
            "purpose": event.purpose,
            "read_at": event.occurred_at.isoformat(),
        }
        self._keep_newest(pipe, self.audit_key, codec.dumps(entry).decode(), event.occurred_at, now, AUDIT_RETENTION)

    def _keep_newest(self, pipe: Pipeline, key: str, member: str, at: datetime, now: datetime, kept: timedelta) -> None:
        """Adds a member to a time index, which keeps its newest members only: those of the last `kept`, and
        at most the index's bound (`max_alerts`, `max_audit_entries`)."""
        cutoff = now - kept
        bound = self._settings.max_alerts if key == self.alerts_key else self._settings.max_audit_entries
        pipe.zadd(key, {member: _ms(at)})
        pipe.zremrangebyscore(key, "-inf", f"({_ms(cutoff)}")
        pipe.zremrangebyrank(key, 0, -bound - 1)
        pipe.expire(key, kept + EXPIRY_SLACK)  # written less often than that, it holds nothing still read

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

    def acknowledge_alert(self, alert_id: str, actor: str) -> dict[str, Any] | None:
        """Records the first acknowledgement of an alert (later ones change nothing) and announces it; the
        alert as it now stands, or None if the read model has no such alert."""
        key = self.alert_key(alert_id)
        if not self._client.hexists(key, "alert"):
            return None
        acknowledgement = {"acknowledged_at": utc_now().isoformat(), "acknowledged_by": actor}
        first = self._client.hsetnx(key, "ack", codec.dumps(acknowledgement))
        alert = _alert_view(self._client.hgetall(key))
        if alert is not None and first:
            self._client.publish(self.live_channel, change_message("alert", alert))
        return alert

    def positions(self, fields: Sequence[str]) -> dict[str, int | None]:
        """The stored next offset of each "topic:partition" (None: nothing of it is in the read model)."""
        if not fields:
            return {}
        stored = self._client.hmget(self.positions_key, list(fields))
        return {field: None if raw is None else int(raw) for field, raw in zip(fields, stored, strict=True)}

    # --- reads ------------------------------------------------------------------------------------

    def case_known(self, case_id: str) -> bool:
        """Whether the tracer has heard of the case (confirmed, or with contacts)."""
        return bool(self._client.exists(self.case_key(case_id), self.contacts_key(case_id)))

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

    def alerts(self, status: str, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` alerts within the retention period, of `status` (open, acknowledged or all).

        The index is read newest first, a page per round trip, and holds at most `max_alerts`: the work of a
        read is bounded even when few alerts have the status asked for."""
        cutoff = _ms(utc_now() - self._settings.retention)
        found: list[dict[str, Any]] = []
        for start in range(0, self._settings.max_alerts, ALERT_PAGE):
            ids = cast(
                "list[bytes]",
                self._client.zrevrangebyscore(self.alerts_key, "+inf", cutoff, start=start, num=ALERT_PAGE),
            )
            if not ids:
                break
            pipe = self._client.pipeline(transaction=False)
            for alert_id in ids:
                pipe.hgetall(self.alert_key(_text(alert_id)))
            for stored in pipe.execute():
                alert = _alert_view(stored)
                if alert is not None and status in ("all", "acknowledged" if alert["acknowledged_at"] else "open"):
                    found.append(alert)
                    if len(found) == limit:
                        return found
        return found

    def audit(self, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` reads of personal data within the audit's retention, newest first."""
        cutoff = _ms(utc_now() - AUDIT_RETENTION)
        entries = cast("list[bytes]", self._client.zrevrangebyscore(self.audit_key, "+inf", cutoff, start=0, num=limit))
        return [codec.loads(entry) for entry in entries]

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


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _alert_view(stored: Mapping[Any, Any]) -> dict[str, Any] | None:
    """An alert's hash as the console reads it (None: expired, or only an acknowledgement left)."""
    if b"alert" not in stored:
        return None
    acknowledgement = codec.loads(stored[b"ack"]) if b"ack" in stored else {}
    return {
        **codec.loads(stored[b"alert"]),
        "acknowledged_at": acknowledgement.get("acknowledged_at"),
        "acknowledged_by": acknowledgement.get("acknowledged_by"),
    }


def _field(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


class ReadModelFollower(threading.Thread):
    """Feeds the ReadModel from `visits.v1`, `exposures.v2` and `cases.v1` on a thread.

    Workers share the partitions through one consumer group (`settings.group_id("tracer", "read-model")`),
    and read only committed records: the tracer writes its topics in transactions (exactly-once), and an
    aborted record must not show. Where to read from is the read model's own: each partition assigned starts
    at the position stored in Redis with its records (from the beginning when there is none), and a position
    that no longer matches what this worker last wrote (Redis emptied, or another worker took the partition
    over meanwhile) sends the partition back to the stored one. The group's commits follow the writes, for
    lag monitoring only.

    The consumer is confluent-kafka's (librdkafka), as the stream's and the relay's are: kafka-python 3.0.12's
    group member sometimes never rejoined after a rebalance, and the read model stopped with it.

    An undecodable record goes to the tracer's dead-letter topic (`publisher`) and is skipped. When Redis or
    Kafka fails, the consumer is closed and the follow starts over from the stored positions after a pause:
    nothing is committed for work not done.
    """

    def __init__(
        self,
        settings: TracerSettings,
        read_model: ReadModel,
        publisher: EventPublisher,
        poll_timeout_ms: int = 200,
        check_interval_s: float = 5.0,
        retry_after_s: float = 2.0,
        batch: int = 2000,
    ) -> None:
        super().__init__(name="tracer-read-model", daemon=True)
        self._settings = settings
        self._read_model = read_model
        self._publisher = publisher
        self._specs = {settings.topic(spec): spec for spec in INPUTS}
        self.group_id = settings.group_id("tracer", "read-model")
        self.topic_names = list(self._specs)
        self._poll_timeout_s = poll_timeout_ms / 1000
        self._check_interval_s = check_interval_s
        self._retry_after_s = retry_after_s
        self._batch = batch
        self._stop_requested = threading.Event()
        # Set once the group gave this worker its partitions (possibly none: more workers than partitions).
        self.assigned = threading.Event()
        self.failed: BaseException | None = None
        self._healthy = False
        # Only touched on the follower's thread (the rebalance callbacks run inside `consume`).
        self._expected: dict[Partition, int | None] = {}  # the stored position as this worker left it
        self._to_move: set[Partition] = set()  # to be moved to their stored position (a seek not taken yet)

    def ready(self) -> bool:
        """Running, in its group, and its last round with Kafka and Redis went through."""
        return self.is_alive() and self.assigned.is_set() and self._healthy

    def stop(self) -> None:
        self._stop_requested.set()

    def run(self) -> None:
        while not self._stop_requested.is_set():
            try:
                self._follow()
            except (KafkaException, redis.RedisError, OSError):
                self._healthy = False
                log.exception("read model follower failed; starting over from the stored positions")
                self._stop_requested.wait(self._retry_after_s)
            except Exception as exc:  # a bug, not an outage: starting over would fail the same way
                self._healthy = False
                self.failed = exc
                log.exception("read model follower stopped")
                return

    def _follow(self) -> None:
        consumer = Consumer(
            {
                **self._settings.librdkafka_config(),
                "group.id": self.group_id,
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": 10_000,
                "fetch.wait.max.ms": 100,
            }
        )
        self._expected.clear()
        self._to_move.clear()
        consumer.subscribe(self.topic_names, on_assign=self._on_assign, on_revoke=self._on_revoke)
        try:
            checked = time.monotonic()
            while not self._stop_requested.is_set():
                polled = self._read(consumer)
                if time.monotonic() - checked > self._check_interval_s:
                    # With nothing arriving, a Redis emptied would not be noticed by the batches.
                    self._to_move |= self._verified(self._expected)
                    checked = time.monotonic()
                if polled:
                    self._to_move |= self._verified(polled)
                polled = self._without_moved(consumer, polled)
                if polled:
                    self._apply(polled)
                    self._commit(consumer, polled)
                self._healthy = True
        finally:
            self._healthy = False
            consumer.close()

    def _read(self, consumer: Consumer) -> dict[Partition, list[Message]]:
        polled: dict[Partition, list[Message]] = {}
        for message in consumer.consume(num_messages=self._batch, timeout=self._poll_timeout_s):
            error = message.error()
            if error is not None:
                if error.fatal():
                    raise KafkaException(error)
                log.warning("read model read error", extra={"error": str(error)})
                continue
            polled.setdefault((message.topic(), message.partition()), []).append(message)
        return polled

    def _verified(self, partitions: Iterable[Partition]) -> set[Partition]:
        """The partitions whose stored position is not the one this worker left: to be moved to it."""
        wanted = [tp for tp in partitions if tp in self._expected]
        stored = self._read_model.positions([_field(*tp) for tp in wanted])
        moved = set()
        for tp in wanted:
            if stored[_field(*tp)] != self._expected[tp]:
                log.warning(
                    "read model position changed under this worker; rereading the partition from it",
                    extra={"partition": _field(*tp), "left": self._expected[tp], "stored": stored[_field(*tp)]},
                )
                moved.add(tp)
        return moved

    def _without_moved(
        self, consumer: Consumer, polled: dict[Partition, list[Message]]
    ) -> dict[Partition, list[Message]]:
        """Moves the partitions to move to their stored positions (the beginning where none is stored) and
        drops what was read of them: it is read again from there. A seek librdkafka does not take yet (the
        partition not fetching yet) is tried again next round."""
        if not self._to_move:
            return polled
        moving = sorted(self._to_move)
        stored = self._read_model.positions([_field(*tp) for tp in moving])
        for tp in moving:
            position = stored[_field(*tp)]
            try:
                consumer.seek(TopicPartition(*tp, OFFSET_BEGINNING if position is None else position))
            except KafkaException as exc:
                log.info("read model seek deferred", extra={"partition": _field(*tp), "error": str(exc)})
                continue
            self._expected[tp] = position
            self._to_move.discard(tp)
        return {tp: records for tp, records in polled.items() if tp not in moving}

    def _apply(self, polled: dict[Partition, list[Message]]) -> None:
        batch: list[Event] = []
        positions: dict[str, int] = {}
        for tp, records in polled.items():
            for record in records:
                if (event := self._decode(record)) is not None:
                    batch.append(event)
            positions[_field(*tp)] = records[-1].offset() + 1
        self._read_model.record(batch, positions)
        for tp, records in polled.items():
            self._expected[tp] = records[-1].offset() + 1

    def _decode(self, record: Message) -> Event | None:
        try:
            return codec.decode_for_topic(self._specs[record.topic()], record.value())
        except codec.DecodeError as exc:
            publish_dead_letter(self._publisher, "tracer", record, str(exc))
            return None

    def _commit(self, consumer: Consumer, polled: dict[Partition, list[Message]]) -> None:
        offsets = [TopicPartition(*tp, records[-1].offset() + 1) for tp, records in polled.items()]
        try:
            consumer.commit(offsets=offsets, asynchronous=True)
        except KafkaException as exc:  # e.g. a rebalance under way: the stored positions are what counts
            log.warning("read model offsets not committed", extra={"error": str(exc)})

    def _on_assign(self, consumer: Consumer, assigned: list[TopicPartition]) -> None:
        """Each partition given starts at its stored position (read here, before any of its records)."""
        partitions = [(tp.topic, tp.partition) for tp in assigned]
        log.info("read model partitions assigned", extra={"partitions": sorted(_field(*tp) for tp in partitions)})
        stored = self._read_model.positions([_field(*tp) for tp in partitions])
        for tp in assigned:
            position = stored[_field(tp.topic, tp.partition)]
            tp.offset = OFFSET_BEGINNING if position is None else position
            self._expected[(tp.topic, tp.partition)] = position
        consumer.assign(assigned)
        self.assigned.set()

    def _on_revoke(self, consumer: Consumer, revoked: list[TopicPartition]) -> None:
        partitions = [(tp.topic, tp.partition) for tp in revoked]
        log.info("read model partitions revoked", extra={"partitions": sorted(_field(*tp) for tp in partitions)})
        for tp in partitions:
            self._expected.pop(tp, None)
            self._to_move.discard(tp)
        consumer.unassign()
