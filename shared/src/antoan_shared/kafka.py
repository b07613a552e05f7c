"""kafka-python helpers: the idempotent acks=all publisher, consumers, and idempotent topic creation."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, KafkaTimeoutError, TopicAlreadyExistsError
from kafka.producer.future import FutureRecordMetadata, RecordMetadata

from antoan_shared import codec
from antoan_shared.events import DeadLettered, Event
from antoan_shared.settings import ServiceSettings
from antoan_shared.topics import DEAD_LETTERS, TopicSpec

log = logging.getLogger(__name__)


class WrongWriterError(RuntimeError):
    """A service tried to write a topic owned by another service (each topic has one writer)."""


def _settled(future: FutureRecordMetadata) -> asyncio.Future[RecordMetadata]:
    """Bridge a kafka-python future (settled on its I/O thread) into the running asyncio loop."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[RecordMetadata] = loop.create_future()

    def settle(result: RecordMetadata | None, error: BaseException | None) -> None:
        if waiter.done():
            return
        if error is not None:
            waiter.set_exception(error)
        else:
            waiter.set_result(cast(RecordMetadata, result))

    future.add_callback(lambda md: loop.call_soon_threadsafe(settle, md, None))
    future.add_errback(lambda exc: loop.call_soon_threadsafe(settle, None, exc))
    return waiter


class EventPublisher:
    """Publishes events of one service: acks=all, idempotent producer, keys from the topic registry.

    `publish` returns only once the broker acknowledged the record, so an HTTP 202 after it means the
    event is durable on the in-sync replicas.
    """

    def __init__(self, settings: ServiceSettings, service: str, **producer_overrides: Any) -> None:
        self._settings = settings
        self._service = service
        config: dict[str, Any] = {
            **settings.kafka_client_config(),
            "client_id": f"antoan-{service}",
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": 5,
            "batch_size": 256 * 1024,
            "max_block_ms": 10_000,
            # With the broker gone a request is answered 503 (retry with the same client_event_id) within
            # ~17 s, before a client gives up on its own.
            "request_timeout_ms": 10_000,
            "delivery_timeout_ms": 15_000,
        }
        config.update(producer_overrides)
        self._ack_timeout_s = config["delivery_timeout_ms"] / 1000 + 2
        self._config = config
        self._producer = KafkaProducer(**config)
        self._stale = False  # the producer missed an acknowledgement: replaced before the next send
        self._lock = threading.Lock()
        self._warmed = False
        # Monotonic times of the last acknowledged and the last failed delivery (readiness).
        self._last_ack = 0.0
        self._last_failure = 0.0

    def _check_writer(self, spec: TopicSpec) -> None:
        if spec.writer != self._service:
            raise WrongWriterError(f"{spec.name} is written by {spec.writer}, not {self._service}")

    def send(self, spec: TopicSpec, event: Event) -> FutureRecordMetadata:
        """Queue one event; the returned future settles when the broker acknowledges it."""
        self._check_writer(spec)
        future = self._current_producer().send(
            self._settings.topic(spec),
            key=codec.encode_key(spec, event),
            value=codec.encode_event(event),
        )
        future.add_callback(self._on_ack)
        future.add_errback(self._on_failure)
        return future

    def _current_producer(self) -> KafkaProducer:
        """The producer, replaced by a new one after a missed acknowledgement.

        kafka-python's idempotent producer can stay wedged when the broker returns while records it could
        not deliver are still queued. Those records were answered as failed (503: retry), so the old
        producer is closed without waiting and they are dropped: a retry publishes them again.
        """
        with self._lock:
            if self._stale:
                old, self._producer = self._producer, KafkaProducer(**self._config)
                self._stale = False
                log.warning("kafka producer replaced after a missed acknowledgement")
                threading.Thread(target=old.close, kwargs={"timeout": 0}, daemon=True).start()
            return self._producer

    async def _acknowledged(self, future: FutureRecordMetadata) -> RecordMetadata:
        """The broker's acknowledgement, or KafkaTimeoutError once the delivery timeout has passed.

        kafka-python expires queued records after delivery_timeout_ms, but not while it cannot find the
        partition's leader (the broker gone): without this bound a request would wait for its return.
        """
        try:
            return await asyncio.wait_for(_settled(future), self._ack_timeout_s)
        except TimeoutError:
            self._stale = True
            raise KafkaTimeoutError(f"no acknowledgement within {self._ack_timeout_s:.0f} s") from None

    def _on_ack(self, _: RecordMetadata) -> None:
        self._last_ack = time.monotonic()

    def _on_failure(self, _: BaseException) -> None:
        self._last_failure = time.monotonic()

    def send_many(self, spec: TopicSpec, batch: Iterable[Event]) -> list[FutureRecordMetadata]:
        return [self.send(spec, event) for event in batch]

    async def publish(self, spec: TopicSpec, event: Event) -> RecordMetadata:
        # send() may block (metadata, full buffer) so it runs off the event loop.
        future = await asyncio.to_thread(self.send, spec, event)
        return await self._acknowledged(future)

    async def publish_many(self, spec: TopicSpec, batch: Sequence[Event]) -> list[RecordMetadata]:
        futures = await asyncio.to_thread(self.send_many, spec, batch)
        return list(await asyncio.gather(*(self._acknowledged(f) for f in futures)))

    async def publish_many_settled(
        self, spec: TopicSpec, batch: Sequence[Event]
    ) -> list[RecordMetadata | BaseException]:
        """Publish a batch; each event's outcome (its metadata, or the error) in order, none raised."""
        try:
            futures = await asyncio.to_thread(self.send_many, spec, batch)
        except KafkaError as exc:  # e.g. metadata unavailable: nothing was queued
            return [exc] * len(batch)
        waits = (self._acknowledged(f) for f in futures)
        return list(await asyncio.gather(*waits, return_exceptions=True))

    def publish_sync(self, spec: TopicSpec, event: Event, timeout: float = 30.0) -> RecordMetadata:
        return self.send(spec, event).get(timeout=timeout)

    def warm_up(self, specs: Iterable[TopicSpec]) -> None:
        """Connect and fetch the topics' metadata now, so the first request does not pay for it."""
        for spec in specs:
            self._producer.partitions_for(self._settings.topic(spec))
        self._warmed = True
        self._last_ack = time.monotonic()

    def flush(self, timeout: float | None = None) -> None:
        self._current_producer().flush(timeout=timeout)

    def connected(self) -> bool:
        """Metadata was fetched and the latest delivery outcome was an acknowledgement."""
        return self._warmed and self._last_ack >= self._last_failure

    def close(self, timeout: float = 10.0) -> None:
        self._producer.close(timeout=timeout)


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
