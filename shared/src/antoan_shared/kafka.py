"""Kafka helpers on confluent-kafka (librdkafka), the services' one Kafka client: the idempotent acks=all
publisher, consumers (group members and readers given their partitions), idempotent topic creation and the
dead-letter helper."""

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

from confluent_kafka import (  # type: ignore[import-untyped,unused-ignore]
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[import-untyped,unused-ignore]

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


class DeliveryFailedError(KafkaException):  # type: ignore[misc]  # confluent-kafka is untyped
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
            # A single scan waits for its acknowledgement before the 202, and publishes twice in a row (its vault
            # record, then the check-in): 1 ms halved an idle single scan's median (14.7 to 7.0 ms, bench tiny).
            # Under load batches still fill while a request is in flight.
            "linger.ms": 1,
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


Partition = tuple[str, int]  # (topic, partition)


def _consumer_config(settings: ServiceSettings, group_id: str, **overrides: Any) -> dict[str, Any]:
    """librdkafka settings of a consumer that commits only when told to (after the work is done)."""
    return {
        **settings.librdkafka_config(),
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        # Only what a transaction committed, as everything reading the tracer's topics reads (decision 0001).
        "isolation.level": "read_committed",
        # A consumer with nothing to read waits in the broker (a long fetch made by librdkafka's threads), so an
        # idle one costs ten small fetches a second. librdkafka's default of 500 ms held read_committed readers
        # back after each of the tracer's commits (antoan_tracer.pipeline.app), hence shorter.
        "fetch.wait.max.ms": 100,
        "topic.metadata.refresh.interval.ms": 30_000,
        # A member that died without leaving holds up a rebalance for up to this long (it is also the
        # rebalance timeout), so it is kept short: handlers here take milliseconds per batch.
        "max.poll.interval.ms": 30_000,
        "session.timeout.ms": 10_000,
        "heartbeat.interval.ms": 3_000,
        **overrides,
    }


def make_consumer(settings: ServiceSettings, specs: Sequence[TopicSpec], group_id: str, **overrides: Any) -> Consumer:
    """A member of the consumer group `group_id`, subscribed to the topics, committing only when told to."""
    consumer = Consumer(_consumer_config(settings, group_id, **overrides))
    names = [settings.topic(spec) for spec in specs]
    # A group joined before a new topic's partitions are in the client's metadata is assigned nothing
    # until the next metadata refresh: wait for them first.
    partitions_of(consumer, names, wait_s=30)
    consumer.subscribe(names)
    return consumer


def make_reader(settings: ServiceSettings, group_id: str, **overrides: Any) -> Consumer:
    """A consumer that is given its partitions (`assign`) and reads from where it is told: it never joins the group
    nor commits. librdkafka needs a group id all the same, and looks up its coordinator, so the id is one of the
    service's own (the ACLs grant each service its prefix). It reports each partition's end (`read_to_end`)."""
    # Metadata refreshed every 5 s rather than 30: a partition that lost its leader for a moment (a topic just
    # created, a broker restarting) is fetched again within seconds.
    config = {"enable.partition.eof": True, "topic.metadata.refresh.interval.ms": 5_000, **overrides}
    return Consumer(_consumer_config(settings, group_id, **config))


def partitions_of(consumer: Consumer, names: Sequence[str], wait_s: float = 0.0) -> list[TopicPartition]:
    """Every partition of the topics, waiting up to `wait_s` for those not in this client's metadata yet, each
    partition with its leader (just created, not created yet, or a leader being elected); a topic still
    missing then has none."""
    deadline = time.monotonic() + wait_s
    found: dict[str, list[int]] = {}
    while True:
        for name in [name for name in names if name not in found]:
            topic = consumer.list_topics(name, timeout=10).topics.get(name)
            # Each partition with its leader known to this client: a partition assigned while its leader is not
            # is not fetched until librdkafka's next regular metadata refresh (librdkafka#2917). A topic just
            # created by another service can be seen so for a moment; CI saw a venue directory miss a venue.
            if (
                topic is not None
                and topic.error is None
                and topic.partitions
                and all(p.leader >= 0 and p.error is None for p in topic.partitions.values())
            ):
                found[name] = sorted(topic.partitions)
        if len(found) == len(names) or time.monotonic() >= deadline:
            return [TopicPartition(name, p) for name in names for p in found.get(name, ())]
        time.sleep(0.2)


def records_of(messages: Iterable[Message], at_end: set[Partition] | None = None) -> list[Message]:
    """The records among what `consume` returned. A partition's end (a reader's) is noted in `at_end`, a fatal
    error raised; any other error is logged, as librdkafka recovers from it by itself (a broker gone, say)."""
    records = []
    for message in messages:
        error = message.error()
        if error is None:
            records.append(message)
        elif error.code() == KafkaError._PARTITION_EOF:
            if at_end is not None:
                at_end.add((message.topic(), message.partition()))
        elif error.fatal():
            raise KafkaException(error)
        else:
            log.warning("kafka read error", extra={"error": str(error)})
    return records


def watermarks(
    consumer: Consumer, partitions: Sequence[TopicPartition], timeout_s: float = 30.0
) -> dict[Partition, tuple[int, int]]:
    """Each partition's first offset and its end (the offset its next record will get; for a read_committed
    consumer, the end of what is committed). Asked again while the broker refuses (a leader not elected yet, or
    moving: a broker just started), for up to `timeout_s` in all.

    Two batched ListOffsets requests (the earliest, -2, and the latest, -1, which the protocol defines and
    librdkafka passes through, with the consumer's isolation level), not two per partition: a consumer that is
    fetching has a long-poll fetch in front of each request on its broker connection, so that one partition
    cost a whole `fetch.wait.max.ms`. Measured: 48 partitions took 27 s one by one on a consumer with an
    assignment (its fetch wait 500 ms), 1.0 s batched; the safety map's rebuild on an empty namespace took
    4.5-6.3 s, almost all of it in these waits."""
    deadline = time.monotonic() + timeout_s
    found: dict[Partition, tuple[int, int]] = {}
    waiting = [(tp.topic, tp.partition) for tp in partitions]
    while waiting:
        try:
            firsts, ends = (
                {(tp.topic, tp.partition): tp for tp in consumer.offsets_for_times(asked, timeout=10)}
                for asked in (
                    [TopicPartition(t, p, OFFSET_BEGINNING) for t, p in waiting],
                    [TopicPartition(t, p, OFFSET_END) for t, p in waiting],
                )
            )
        except KafkaException as exc:
            refused: Any = exc
        else:
            refused = None
            for partition in waiting:
                answers: list[Any] = [firsts.get(partition), ends.get(partition)]
                if all(a is not None and a.error is None and a.offset >= 0 for a in answers):
                    found[partition] = (int(answers[0].offset), int(answers[1].offset))
                    continue
                errors = [a.error for a in answers if a is not None and a.error is not None]
                refused = errors[0] if errors else f"no offsets for {partition}"
            waiting = [partition for partition in waiting if partition not in found]
        if not waiting:
            break
        if time.monotonic() > deadline:
            raise refused if isinstance(refused, KafkaException) else KafkaException(refused)
        log.info("watermarks not known yet", extra={"partitions": len(waiting), "error": str(refused)})
        time.sleep(0.5)
    return found


def read_to_end(
    reader: Consumer,
    partitions: Sequence[TopicPartition],
    handle: Callable[[list[Message]], None],
    stop: threading.Event | None = None,
    batch: int = 2000,
) -> int:
    """Reads the partitions from their beginning up to their ends as of now, handing `handle` the records in
    batches (with some written since, at times); returns how many. The reader stays on the partitions.

    A partition is read when a record at its end is, or when librdkafka says it reached the end: its last
    offsets may hold no record (a transaction's commit marker, aborted records)."""
    ends = {partition: end for partition, (first, end) in watermarks(reader, partitions).items() if end > first}
    reader.assign([TopicPartition(tp.topic, tp.partition, OFFSET_BEGINNING) for tp in partitions])
    handed = 0
    while ends and not (stop is not None and stop.is_set()):
        at_end: set[Partition] = set()
        records = records_of(reader.consume(num_messages=batch, timeout=0.2), at_end)
        for record in records:
            if record.offset() + 1 >= ends.get((record.topic(), record.partition()), 0):
                at_end.add((record.topic(), record.partition()))
        for partition in at_end:
            ends.pop(partition, None)
        if records:
            handle(records)
            handed += len(records)
    return handed


def ensure_topics(settings: ServiceSettings, specs: Iterable[TopicSpec], timeout_s: float = 30.0) -> None:
    """Create the topics that do not exist yet, with the registry's partitions and policies, and wait until every
    partition has a leader."""
    admin = AdminClient({**settings.librdkafka_config(), "client.id": "antoan-topic-admin"})
    topics = {
        settings.topic(spec): NewTopic(
            settings.topic(spec),
            num_partitions=spec.partitions,
            replication_factor=-1,  # the broker's default.replication.factor
            config=spec.broker_config(retention=settings.retention),
        )
        for spec in specs
    }
    names = list(topics)
    if not names:
        return
    wanted = [topics[name] for name, led in _leaders_known(admin, names, timeout_s).items() if led is None]
    if wanted:
        created = admin.create_topics(wanted, operation_timeout=timeout_s, request_timeout=timeout_s)
        for topic in wanted:
            try:
                created[topic.topic].result()
                log.info("topic created", extra={"topic": topic.topic, "partitions": topic.num_partitions})
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
                # another service created it in the meantime
    _wait_for_leaders(admin, names, timeout_s)


def _wait_for_leaders(admin: AdminClient, names: list[str], timeout_s: float) -> None:
    """Until every topic has its partitions, each with a leader. A client that reads the metadata of a topic
    just created on a busy broker may see it with no partitions and keep that until its next refresh (Faust
    then stops a table's agent: "changelog topic has 0 partitions")."""
    deadline = time.monotonic() + timeout_s
    while True:
        waiting = sorted(name for name, led in _leaders_known(admin, names, timeout_s).items() if not led)
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"no leader for every partition of {waiting} after {timeout_s:.0f} s")
        time.sleep(0.2)


def _leaders_known(admin: AdminClient, names: list[str], timeout_s: float) -> dict[str, bool | None]:
    """Per topic: whether it has partitions, each with a leader; None when it does not exist."""
    known: dict[str, bool | None] = {}
    for name, described in admin.describe_topics(TopicCollection(names), request_timeout=timeout_s).items():
        try:
            partitions = described.result().partitions
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise
            known[name] = None
            continue
        known[name] = bool(partitions) and all(p.leader is not None for p in partitions)
    return known


def publish_dead_letter(publisher: EventPublisher, service: str, record: Message, error: str) -> None:
    """Keep a record that `service` could not handle on its dead-letter topic, with the error."""
    log.error(
        "undecodable record sent to dead letters",
        extra={"topic": record.topic(), "partition": record.partition(), "offset": record.offset()},
    )
    key: bytes | None = record.key()
    raw: bytes = record.value() or b""
    publisher.publish_sync(
        DEAD_LETTERS[service],
        DeadLettered(
            producer=service,
            source_topic=record.topic(),
            source_partition=record.partition(),
            source_offset=record.offset(),
            key=key.decode(errors="replace") if key else None,
            value=raw.decode(errors="replace"),
            error=error[:2000],
        ),
    )
