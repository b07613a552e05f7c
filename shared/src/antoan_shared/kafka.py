"""Kafka helpers: the idempotent acks=all publisher (confluent-kafka), consumers and idempotent topic creation
(kafka-python)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, cast

from confluent_kafka import KafkaException, Producer  # type: ignore[import-untyped,unused-ignore]
from kafka import KafkaAdminClient, KafkaConsumer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from antoan_shared import codec
from antoan_shared.events import DeadLettered, Event
from antoan_shared.settings import ServiceSettings
from antoan_shared.topics import DEAD_LETTERS, TopicSpec

log = logging.getLogger(__name__)


class WrongWriterError(RuntimeError):
    """A service tried to write a topic owned by another service (each topic has one writer)."""


@dataclass(frozen=True)
class RecordMetadata:
    """Where the broker put an acknowledged record."""

    topic: str
    partition: int
    offset: int


class DeliveryFailedError(KafkaError):  # type: ignore[misc]  # kafka-python is untyped
    """The broker did not acknowledge a record (its error, or no answer within the delivery timeout)."""


class _BatchWaiter:
    """The outcomes of a batch of records, settled into the asyncio loop once, when the last one is known:
    one thread hop per batch instead of one per record."""

    def __init__(self, loop: asyncio.AbstractEventLoop, size: int) -> None:
        self._loop = loop
        self.outcomes: list[RecordMetadata | BaseException | None] = [None] * size
        self._remaining = size
        self._lock = threading.Lock()
        self.done: asyncio.Future[None] = loop.create_future()
        if size == 0:
            self.done.set_result(None)

    def settle(self, index: int, outcome: RecordMetadata | BaseException) -> None:
        with self._lock:
            self.outcomes[index] = outcome
            self._remaining -= 1
            last = self._remaining == 0
        if last:
            self._loop.call_soon_threadsafe(_finish, self.done)


def _finish(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)


def _outcome(error: Any, message: Any) -> RecordMetadata | BaseException:
    if error is not None:
        return DeliveryFailedError(str(error))
    return RecordMetadata(message.topic(), message.partition(), message.offset())


class EventPublisher:
    """Publishes events of one service: acks=all, idempotent producer, keys from the topic registry.

    The producer is confluent-kafka's (librdkafka): records are queued without blocking and sent by
    librdkafka's own threads; a thread of this publisher serves delivery reports. `publish` returns only once
    the broker acknowledged the record, so an HTTP 202 after it means the event is durable on the in-sync
    replicas. Keys are hashed with murmur2, as kafka-python and Java clients hash them, so a key's records
    stay on the partition earlier clients put them on.
    """

    def __init__(self, settings: ServiceSettings, service: str, **producer_overrides: Any) -> None:
        self._settings = settings
        self._service = service
        config: dict[str, Any] = {
            **settings.librdkafka_config(),
            "client.id": f"antoan-{service}",
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
            "batch.size": 1024 * 1024,
            "partitioner": "murmur2_random",
            # With the broker gone a request is answered 503 (retry with the same client_event_id) within
            # ~17 s, before a client gives up on its own: librdkafka fails a record it could not deliver in
            # message.timeout.ms, whether or not a leader is known.
            "request.timeout.ms": 10_000,
            "message.timeout.ms": 15_000,
        }
        config.update(producer_overrides)
        self._ack_timeout_s = int(config["message.timeout.ms"]) / 1000 + 2
        self._producer = Producer(config)
        self._warmed = False
        # Monotonic times of the last acknowledged and the last failed delivery (readiness).
        self._last_ack = 0.0
        self._last_failure = 0.0
        self._closing = threading.Event()
        self._reports = threading.Thread(target=self._serve_reports, name=f"{service}-delivery-reports", daemon=True)
        self._reports.start()

    def _serve_reports(self) -> None:
        while not self._closing.is_set():
            self._producer.poll(0.05)

    def _check_writer(self, spec: TopicSpec) -> None:
        if spec.writer != self._service:
            raise WrongWriterError(f"{spec.name} is written by {spec.writer}, not {self._service}")

    def _produce(self, spec: TopicSpec, event: Event, on_delivery: Callable[[Any, Any], None]) -> None:
        topic = self._settings.topic(spec)
        key, value = codec.encode_key(spec, event), codec.encode_event(event)
        try:
            self._producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
        except BufferError:
            # The local queue is full (the broker slower than the callers): wait a little for room, once.
            self._producer.poll(0.5)
            self._producer.produce(topic, value=value, key=key, on_delivery=on_delivery)

    def _note(self, outcome: RecordMetadata | BaseException) -> None:
        if isinstance(outcome, BaseException):
            self._last_failure = time.monotonic()
        else:
            self._last_ack = time.monotonic()

    def send(self, spec: TopicSpec, event: Event) -> Future[RecordMetadata]:
        """Queue one event; the returned future settles when the broker acknowledges it (or refuses)."""
        self._check_writer(spec)
        future: Future[RecordMetadata] = Future()

        def delivered(error: Any, message: Any) -> None:
            outcome = _outcome(error, message)
            self._note(outcome)
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

        self._produce(spec, event, delivered)
        return future

    def send_many(self, spec: TopicSpec, batch: Iterable[Event]) -> list[Future[RecordMetadata]]:
        return [self.send(spec, event) for event in batch]

    async def publish(self, spec: TopicSpec, event: Event) -> RecordMetadata:
        [outcome] = await self.publish_many_settled(spec, [event])
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def publish_many(self, spec: TopicSpec, batch: Sequence[Event]) -> list[RecordMetadata]:
        outcomes = await self.publish_many_settled(spec, batch)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return cast(list[RecordMetadata], outcomes)

    async def publish_many_settled(
        self, spec: TopicSpec, batch: Sequence[Event]
    ) -> list[RecordMetadata | BaseException]:
        """Publish a batch; each event's outcome (its metadata, or the error) in order, none raised."""
        self._check_writer(spec)
        waiter = _BatchWaiter(asyncio.get_running_loop(), len(batch))
        for index, event in enumerate(batch):

            def delivered(error: Any, message: Any, index: int = index) -> None:
                outcome = _outcome(error, message)
                self._note(outcome)
                waiter.settle(index, outcome)

            try:
                self._produce(spec, event, delivered)
            except (BufferError, KafkaException) as exc:
                waiter.settle(index, DeliveryFailedError(f"not queued: {exc}"))
        # librdkafka reports every record within message.timeout.ms; this bound is only a safety net.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(waiter.done), self._ack_timeout_s)
        missing = DeliveryFailedError(f"no acknowledgement within {self._ack_timeout_s:.0f} s")
        return [missing if outcome is None else outcome for outcome in waiter.outcomes]

    def publish_sync(self, spec: TopicSpec, event: Event, timeout: float = 30.0) -> RecordMetadata:
        return self.send(spec, event).result(timeout=timeout)

    def warm_up(self, specs: Iterable[TopicSpec]) -> None:
        """Connect and fetch the topics' metadata now, so the first request does not pay for it."""
        for spec in specs:
            self._producer.list_topics(self._settings.topic(spec), timeout=10)
        self._warmed = True
        self._last_ack = time.monotonic()

    def flush(self, timeout: float | None = None) -> None:
        self._producer.flush(-1 if timeout is None else timeout)

    def connected(self) -> bool:
        """Metadata was fetched and the latest delivery outcome was an acknowledgement."""
        return self._warmed and self._last_ack >= self._last_failure

    def close(self, timeout: float = 10.0) -> None:
        self._producer.flush(timeout)
        self._closing.set()
        self._reports.join(timeout)


def make_consumer(
    settings: ServiceSettings,
    specs: Sequence[TopicSpec],
    group_id: str | None,
    **overrides: Any,
) -> KafkaConsumer:
    """A consumer that commits only when told to (after the work is done)."""
    config: dict[str, Any] = {
        **settings.kafka_client_config(),
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_poll_records": 2000,
        "metadata_max_age_ms": 30_000,
        # A member that died without leaving holds up a rebalance for up to this long (it is also the
        # rebalance timeout), so it is kept short: handlers here take milliseconds per batch.
        "max_poll_interval_ms": 30_000,
        "session_timeout_ms": 10_000,
        "heartbeat_interval_ms": 3_000,
        "consumer_timeout_ms": float("inf"),
    }
    config.update(overrides)
    consumer = KafkaConsumer(**config)
    if group_id is not None:
        names = [settings.topic(spec) for spec in specs]
        # A group joined before a new topic's partitions are in the client's metadata is assigned nothing
        # until the next metadata refresh: wait for them first.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(consumer.partitions_for_topic(name) for name in names):
            time.sleep(0.1)
        consumer.subscribe(names)
    return consumer


def ensure_topics(settings: ServiceSettings, specs: Iterable[TopicSpec], timeout_s: float = 30.0) -> None:
    """Create the topics that do not exist yet, with the registry's partitions and policies."""
    _create_missing(
        settings,
        [
            NewTopic(
                name=settings.topic(spec),
                num_partitions=spec.partitions,
                replication_factor=-1,  # the broker's default.replication.factor
                topic_configs=spec.broker_config(retention=settings.retention),
            )
            for spec in specs
        ],
        timeout_s,
    )


def ensure_changelog_topics(
    settings: ServiceSettings, names: Iterable[str], partitions: int, replication_factor: int, timeout_s: float = 30.0
) -> None:
    """Create a stream processor's compacted changelog topics (named by the processor) before it starts."""
    _create_missing(
        settings,
        [NewTopic(name, partitions, replication_factor, topic_configs={"cleanup.policy": "compact"}) for name in names],
        timeout_s,
    )


def _create_missing(settings: ServiceSettings, topics: list[NewTopic], timeout_s: float) -> None:
    admin = KafkaAdminClient(
        **settings.kafka_client_config(),
        client_id="antoan-topic-admin",
        request_timeout_ms=int(timeout_s * 1000),
    )
    try:
        existing = set(admin.list_topics())
        wanted = [topic for topic in topics if topic.name not in existing]
        for topic in wanted:
            try:
                admin.create_topics([topic], timeout_ms=int(timeout_s * 1000))
                log.info("topic created", extra={"topic": topic.name, "partitions": topic.num_partitions})
            except TopicAlreadyExistsError:
                pass  # another service created it in the meantime
        _wait_for_leaders(admin, [topic.name for topic in topics], timeout_s)
    finally:
        admin.close()


def _wait_for_leaders(admin: KafkaAdminClient, names: list[str], timeout_s: float) -> None:
    """Until every topic has its partitions, each with a leader. A client that reads the metadata of a topic
    just created on a busy broker may see it with no partitions and keep that until its next refresh (Faust
    then stops a table's agent: "changelog topic has 0 partitions")."""
    deadline = time.monotonic() + timeout_s
    while True:
        ready = {
            topic["name"]
            for topic in admin.describe_topics(names)
            if not topic["error_code"] and topic["partitions"] and all(p["leader_id"] >= 0 for p in topic["partitions"])
        }
        waiting = sorted(set(names) - ready)
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"no leader for every partition of {waiting} after {timeout_s:.0f} s")
        time.sleep(0.2)


@dataclass(frozen=True)
class Consumed:
    spec: TopicSpec
    event: Event
    partition: int
    offset: int


class ConsumerLoop(threading.Thread):
    """Polls topics on a thread, hands decoded events to a handler, commits after it returns.

    A record that cannot be decoded goes to the service's dead-letter topic with the error, so a bad
    record is neither lost nor allowed to stop the stream. If the handler raises, nothing is committed
    and the loop stops loudly: the group will redeliver from the last committed offset.
    """

    def __init__(
        self,
        settings: ServiceSettings,
        service: str,
        specs: Sequence[TopicSpec],
        handler: Callable[[list[Consumed]], None],
        publisher: EventPublisher,
        purpose: str = "main",
        poll_timeout_ms: int = 200,
    ) -> None:
        super().__init__(name=f"consumer-{service}-{purpose}", daemon=True)
        self._settings = settings
        self._service = service
        self._specs = {settings.topic(spec): spec for spec in specs}
        self._handler = handler
        self._publisher = publisher
        self._group_id = settings.group_id(service, purpose)
        self._poll_timeout_ms = poll_timeout_ms
        self._stop_requested = threading.Event()
        self.assigned = threading.Event()
        self.failed: BaseException | None = None

    def stop(self) -> None:
        self._stop_requested.set()

    def run(self) -> None:
        consumer = make_consumer(self._settings, list(self._specs.values()), self._group_id)
        try:
            while not self._stop_requested.is_set():
                polled = consumer.poll(timeout_ms=self._poll_timeout_ms)
                if consumer.assignment():
                    self.assigned.set()
                if not polled:
                    continue
                batch = [item for records in polled.values() for r in records if (item := self._decode(r))]
                if batch:
                    self._handler(batch)
                consumer.commit()
        except (KafkaError, Exception) as exc:
            self.failed = exc
            log.exception("consumer loop stopped", extra={"group": self._group_id})
        finally:
            consumer.close(autocommit=False)

    def _decode(self, record: Any) -> Consumed | None:
        spec = self._specs[record.topic]
        try:
            return Consumed(spec, codec.decode_for_topic(spec, record.value), record.partition, record.offset)
        except codec.DecodeError as exc:
            self._dead_letter(record, str(exc))
            return None

    def _dead_letter(self, record: Any, error: str) -> None:
        publish_dead_letter(self._publisher, self._service, record, error)


def publish_dead_letter(publisher: EventPublisher, service: str, record: Any, error: str) -> None:
    """Keep a record that `service` could not handle on its dead-letter topic, with the error."""
    log.error(
        "undecodable record sent to dead letters",
        extra={"topic": record.topic, "partition": record.partition, "offset": record.offset},
    )
    raw = record.value or b""
    publisher.publish_sync(
        DEAD_LETTERS[service],
        DeadLettered(
            producer=service,
            source_topic=record.topic,
            source_partition=record.partition,
            source_offset=record.offset,
            key=record.key.decode(errors="replace") if record.key else None,
            value=raw.decode(errors="replace"),
            error=error[:2000],
        ),
    )
