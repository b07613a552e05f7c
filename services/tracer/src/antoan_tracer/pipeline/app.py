"""The tracer's Quix Streams application: one dataframe per input, each step a call into `domain/`.

    checkins.v1 ──► to_person ─┐
    cases.v1 ─────► to_person ─┼─► tracer.person-inbox.v2 ──► PersonStage ─┬─► tracer.venue-inbox.v2 ──► VenueStage
    declarations.v1 ► to_person┘            ▲                                │   visits.v1, exposures.v1/v2,        │
                                            │                                │   venue-exposures.v1, alerts.v1      │
                                            └──────────── contact matches ◄──┴──────────────────────────────────────┘
                                                                                 occupancy.v1 ◄─┘

`checkins.v1` is keyed by venue (one venue's scans in order) but visits are a person's, so scans are
re-keyed by person onto the person inbox, where the person's cases and quarantine declarations join them:
one partition, one order, one state for everything about a person. What happens at venues goes to the
venue inbox, keyed by venue; contact matches come back to the person inbox, keyed by the contact.

Exactly-once (Kafka transactions) is a setting: a crash never doubles a count or loses a change, so the
stages need no revisions, tombstones or replay checks of their own.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from quixstreams import Application, message_context
from quixstreams.kafka.configuration import ConnectionConfig
from quixstreams.models import TopicConfig
from quixstreams.models.topics import Topic
from quixstreams.state.base import State

from antoan_shared import codec, topics
from antoan_shared.events import CaseConfirmed, CheckInRecorded, DeadLettered, DeclarationSubmitted, Event
from antoan_shared.topics import TopicSpec
from antoan_tracer.domain.outputs import Out, VisitRecord
from antoan_tracer.domain.person import (
    PersonRules,
    PersonStage,
    case_message,
    declaration_message,
    scan_message,
)
from antoan_tracer.domain.times import EPOCH, us_of
from antoan_tracer.domain.venue import VenueStage
from antoan_tracer.pipeline.quix_store import QuixStores
from antoan_tracer.settings import STREAM_INPUTS, TracerSettings, tracer_topics

log = logging.getLogger(__name__)


def now_us() -> int:
    return time.time_ns() // 1000


def encode_out(out: Out) -> bytes:
    """A step's `Out` as its record's value: an event as the contract's JSON, a compact internal message as JSON."""
    if isinstance(out.value, VisitRecord):
        return out.value.encode()
    if isinstance(out.value, Event):
        return codec.encode_event(out.value)
    return orjson.dumps(out.value)


class Emitter:
    """Publishes a step's outputs through the application's producer, inside the checkpoint's transaction, as
    `to_topic` does: each record keyed by its `Out`, with the timestamp and headers of the message that led to
    it. Quix's `apply(expand=True).to_topic(...)` does the same through a row, a serialization context and two
    serializer calls per record; in a profile of a stream process loading the benchmark's history those
    layers took about a tenth of its main thread, more than the records' own encoding.

    The records go straight to librdkafka's producer with Quix's own delivery callback (which records the
    offsets and keeps the first error for the checkpoint to raise), and the producer is polled once per
    message rather than after every record: Quix's two wrappers around `produce` (a keyword dict filtered per
    record, a `poll(0)` per record) were most of the Python in the stream process's `produce`."""

    def __init__(self, app: Application, names: dict[str, str]) -> None:
        self._internal = app._producer
        self._names = names  # the registry's topic name -> this deployment's (namespaced) name

    def __call__(self, outs: list[Out], timestamp: int, headers: Any) -> None:
        if not outs:
            return
        internal, names = self._internal, self._names
        internal._raise_for_error()  # type: ignore[no-untyped-call]  # as Quix's produce does: a failed delivery stops the step
        producer = internal._producer._producer  # librdkafka's handle (Quix makes it on first use)
        on_delivery = internal._on_delivery
        for out in outs:
            topic, key, value = names[out.spec.name], out.key.encode(), encode_out(out)
            try:
                if headers:
                    producer.produce(topic, value, key, timestamp=timestamp, headers=headers, on_delivery=on_delivery)
                else:
                    producer.produce(topic, value, key, timestamp=timestamp, on_delivery=on_delivery)
            except BufferError:  # librdkafka's queue is full: Quix's produce polls and tries again
                internal.produce(topic=topic, value=value, key=key, headers=headers or None, timestamp=timestamp)
        producer.poll(0)


def connection(settings: TracerSettings) -> ConnectionConfig:
    login = settings.sasl_login()
    if login is None:
        return ConnectionConfig(bootstrap_servers=settings.kafka_bootstrap)
    return ConnectionConfig(
        bootstrap_servers=settings.kafka_bootstrap,
        security_protocol="sasl_plaintext",
        sasl_mechanism=settings.kafka_sasl_mechanism,
        sasl_username=login[0],
        sasl_password=login[1],
    )


def person_rules(settings: TracerSettings, dwell: Callable[[str], timedelta]) -> PersonRules:
    return PersonRules(
        dwell=dwell,
        buffer=settings.exposure_buffer,
        retention=settings.retention,
        max_degree=settings.max_degree,
        max_scans=settings.max_scans_per_person,
        fever_celsius=settings.fever_celsius,
        quarantine_days=settings.quarantine_days,
        update_interval=timedelta(seconds=settings.quarantine_update_interval_s),
    )


def dead_letter(error: Exception, raw: bytes) -> Out:
    context = message_context()
    log.error("undecodable record sent to dead letters", extra={"topic": context.topic})
    return Out(
        topics.DEAD_LETTERS["tracer"],
        context.topic,
        DeadLettered(
            producer="tracer",
            source_topic=context.topic,
            source_partition=context.partition,
            source_offset=context.offset,
            value=raw.decode(errors="replace"),
            error=str(error)[:2000],
        ),
    )


def to_person(spec: TopicSpec) -> Callable[[bytes], list[Out]]:
    """An input topic's records as messages of the person inbox (what cannot be decoded: dead letters)."""

    def step(raw: bytes) -> list[Out]:
        try:
            event = codec.decode_for_topic(spec, raw)
            message = inbox_message(event)
        except (codec.DecodeError, ValueError, OverflowError) as exc:
            # A poison record (undecodable, or a value no rule can compute with) is set aside, never retried.
            return [dead_letter(exc, raw)]
        person = getattr(event, "person_key", "")
        return [] if message is None else [Out(topics.TRACER_PERSON_INBOX, person, message)]

    return step


# The instants the stages compute with: after the epoch (the state's time-ordered keys are unsigned) and far
# enough from datetime's end that adding a retention period, a dwell or a buffer never overflows.
EARLIEST_US = 0
LATEST_US = us_of(datetime(5000, 1, 1, tzinfo=UTC) - EPOCH)
INSTANT_FIELDS = ("t", "f", "u")


def inbox_message(event: Event) -> dict[str, Any] | None:
    """An input event as the person inbox's message; ValueError/OverflowError for an instant out of range."""
    if isinstance(event, CheckInRecorded):
        message: dict[str, Any] | None = scan_message(event)
    elif isinstance(event, CaseConfirmed):
        message = case_message(event)
        log.info("case confirmed", extra={"case_id": event.case_id})
    elif isinstance(event, DeclarationSubmitted):
        message = declaration_message(event)
    else:
        return None
    for field in INSTANT_FIELDS:
        instant = message.get(field) if message else None
        if isinstance(instant, int) and not EARLIEST_US <= instant < LATEST_US:
            raise ValueError(f"instant {field!r} is outside the years 1970 to 4999 the tracer computes in")
    return message


def stage_step(
    handle: Callable[[QuixStores, str, dict[str, Any]], list[Out]], emit: Emitter
) -> Callable[[bytes, str, int, Any, State[Any, Any]], None]:
    def step(raw: bytes, key: str, timestamp: int, headers: Any, state: State[Any, Any]) -> None:
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            emit([dead_letter(exc, raw)], timestamp, headers)
            return
        emit(handle(QuixStores(state, key), key, message), timestamp, headers)

    return step


def input_step(spec: TopicSpec, emit: Emitter) -> Callable[[bytes, Any, int, Any], None]:
    to_inbox = to_person(spec)

    def step(raw: bytes, _key: Any, timestamp: int, headers: Any) -> None:
        emit(to_inbox(raw), timestamp, headers)

    return step


def linger_ms(settings: TracerSettings) -> int:
    """How long the producer gathers records per partition before it sends them. Under exactly-once nothing is
    readable before the checkpoint's commit, which sends whatever is gathered at once, so waiting up to half
    the commit interval delays nothing and sends far fewer, larger requests. Measured on the 30,000-check-in
    flood, four interleaved runs of two floods each: the broker's CPU fell from 7.1 s to 4.0 s a flood and
    the tracer cleared 3,708/s on average against 3,317/s at 5 ms. Without transactions, records are
    readable as soon as they are sent: 5 ms."""
    if not settings.exactly_once:
        return 5
    return max(5, min(200, int(settings.commit_interval_s * 1000 / 2)))


def build(
    settings: TracerSettings, dwell: Callable[[str], timedelta], clock: Callable[[], int] = now_us
) -> Application:
    app = Application(
        broker_address=connection(settings),
        consumer_group=settings.group_id("tracer"),
        auto_offset_reset="earliest",
        commit_interval=settings.commit_interval_s,
        processing_guarantee="exactly-once" if settings.exactly_once else "at-least-once",
        state_dir=str(settings.data_dir),
        loglevel=None,  # the service's JSON logging (antoan_shared.logs) handles Quix's records too
        consumer_extra_config={
            "session.timeout.ms": int(settings.session_timeout_s * 1000),
            "heartbeat.interval.ms": 1000,
            "max.poll.interval.ms": 60_000,
            # The inboxes are read read_committed, so what one stage wrote becomes readable only once the
            # worker commits; librdkafka's default 500 ms wait for a fetch left the worker idle after each
            # commit. Measured on the flood (30,000 check-ins, one worker): 2,110/s at 500 ms, 2,858/s at 20.
            "fetch.wait.max.ms": 20,
        },
        # One transactional id per worker process, named after the group (the ACLs grant that prefix).
        producer_extra_config={
            "linger.ms": linger_ms(settings),
            "transactional.id": f"{settings.group_id('tracer')}-{uuid.uuid4()}",
        },
        consumer_poll_timeout=0.2,
    )

    def topic(spec: TopicSpec) -> Topic:
        return app.topic(
            settings.topic(spec),
            key_deserializer="str",
            value_deserializer="bytes",
            key_serializer="str",
            value_serializer="bytes",
            config=TopicConfig(
                num_partitions=spec.partitions,  # the inboxes' come from tracer_topics (TRACER_PARTITIONS)
                replication_factor=settings.replication_factor,
                extra_config=spec.broker_config(retention=settings.retention),
            ),
        )

    outputs = {spec.name: topic(spec) for spec in tracer_topics(settings)}  # declared (and created) up front
    emit = Emitter(app, {name: output.name for name, output in outputs.items()})

    for spec in STREAM_INPUTS:
        app.dataframe(topic(spec)).update(input_step(spec, emit), metadata=True)

    people = PersonStage(person_rules(settings, dwell), clock)
    venues = VenueStage(us_of(timedelta(minutes=settings.bucket_minutes)), clock)
    for spec, stage in ((topics.TRACER_PERSON_INBOX, people.handle), (topics.TRACER_VENUE_INBOX, venues.handle)):
        app.dataframe(outputs[spec.name]).update(stage_step(stage, emit), stateful=True, metadata=True)
    return app
