"""The benchmark's own Kafka clients (confluent-kafka, librdkafka): check-ins written straight onto
`checkins.v1`, a plain consumer as the tracer's yardstick, the tracer group's committed offsets, and readers of
the tracer's outputs.

Writing straight onto the topic is how a stage measures the tracer with ingest idle: the records are what
ingest publishes (`CheckInRecorded` JSON keyed by venue, the same partitioner as ingest's kafka-python
producer), only faster than ingest could accept them.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import (  # type: ignore[import-untyped, unused-ignore]
    Consumer,
    KafkaError,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[import-untyped, unused-ignore]

from antoan_bench.province import Scans, rfc3339_ms
from antoan_localstack.simulate import APPS
from antoan_shared import codec, topics
from antoan_shared.events import Event

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 5.0
ENCODE_CHUNK = 50_000

# What ingest publishes for a check-in (antoan_shared.events.CheckInRecorded, as pydantic serialises it), built
# as a string: building 5 million models would take longer than the tracer takes to read them. A unit test
# checks that a record decodes to the model with the same fields.
_DIRECTIONS = ("in", "out")


class EventIds:
    """Unique event ids of the run, shaped like UUIDs (a prefix of the run's own and a serial)."""

    def __init__(self) -> None:
        hexed = uuid.uuid4().hex
        self.prefix = f"{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}"
        self.next = 0

    def take(self, n: int) -> range:
        first = self.next
        self.next += n
        return range(first, first + n)


def encode_checkins(
    scans: Scans, venue_ids: list[str], person_keys: list[str], ids: EventIds
) -> Iterator[list[tuple[bytes, bytes]]]:
    """(key, value) of every scan as ingest would publish it, in chunks (a retry is written like any scan:
    pass `scans.published()` for what ingest would have published)."""
    for lo in range(0, len(scans), ENCODE_CHUNK):
        part = scans.take(slice(lo, lo + ENCODE_CHUNK))
        prefix = ids.prefix
        chunk = []
        for at, person, venue, out, app, serial in zip(
            rfc3339_ms(part.at),
            part.person.tolist(),
            part.venue.tolist(),
            part.out.tolist(),
            part.app.tolist(),
            ids.take(len(part)),
            strict=True,
        ):
            venue_id = venue_ids[venue]
            value = (
                f'{{"event_id":"{prefix}-{serial:012x}","type":"checkin.recorded","schema_version":1,'
                f'"occurred_at":"{at}","producer":"bench","venue_id":"{venue_id}",'
                f'"person_key":"{person_keys[person]}","direction":"{_DIRECTIONS[out]}","scanned_at":"{at}",'
                f'"app":"{APPS[app]}","method":"venue_qr","client_event_id":"{serial:032x}","declaration":null}}'
            )
            chunk.append((venue_id.encode(), value.encode()))
        yield chunk


@dataclass
class WriteOutcome:
    records: int = 0
    seconds: float = 0.0
    failed: int = 0
    started_at: float = 0.0  # time.monotonic() when the first record was handed to the producer
    ends: dict[int, int] = field(default_factory=dict)  # partition -> end offset once everything is acked

    @property
    def per_s(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


class CheckinWriter:
    """An acks=all idempotent producer onto `checkins.v1`, as fast as librdkafka goes."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._failed = 0
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "client.id": "antoan-bench",
                "acks": "all",
                "enable.idempotence": True,
                # Java's murmur2 partitioner, like ingest's kafka-python producer: a venue's records land on
                # the partition ingest would choose, so its scans from both stay in order.
                "partitioner": "murmur2_random",
                "linger.ms": 10,
                "batch.size": 1_000_000,
                "queue.buffering.max.messages": 1_000_000,
                "queue.buffering.max.kbytes": 1_048_576,
                "on_delivery": self._delivered,
                "delivery.report.only.error": True,
            }
        )

    def _delivered(self, err: Any, msg: Any) -> None:
        if err is not None:
            self._failed += 1
            if self._failed <= 5:
                log.warning("a check-in was not written: %s", err)

    def write(self, chunks: Iterable[list[tuple[bytes, bytes]]], what: str = "check-ins") -> WriteOutcome:
        """Writes every record, waits for every acknowledgement, and reads the topic's end offsets."""
        out = WriteOutcome()
        produce, poll = self._producer.produce, self._producer.poll
        topic = self.topic
        failed_before = self._failed
        out.started_at = started = time.monotonic()
        next_report = started + PROGRESS_EVERY_S
        for chunk in chunks:
            for key, value in chunk:
                while True:
                    try:
                        produce(topic, value, key)
                        break
                    except BufferError:
                        poll(0.01)
            poll(0)
            out.records += len(chunk)
            if time.monotonic() >= next_report:
                next_report = time.monotonic() + PROGRESS_EVERY_S
                log.info("  %s: %d written, %.0f/s", what, out.records, out.records / (time.monotonic() - started))
        left = self._producer.flush(120)
        out.seconds = time.monotonic() - started
        out.failed = self._failed - failed_before + left
        if out.failed:
            raise RuntimeError(f"{out.failed} of {out.records} {what} were not written to {topic}")
        out.ends = end_offsets(self.bootstrap, self.topic)
        return out

    def close(self) -> None:
        self._producer.flush(30)
        del self._producer  # librdkafka's producer has no close: dropping the last reference destroys it


# --------------------------------------------------------------------------------------------------
# offsets


def _admin(bootstrap: str) -> Any:
    return AdminClient({"bootstrap.servers": bootstrap})


def partitions_of(admin: Any, topic: str) -> list[int]:
    meta = admin.list_topics(topic=topic, timeout=10).topics.get(topic)
    if meta is None or meta.error is not None or not meta.partitions:
        return []
    return sorted(meta.partitions)


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    admin = _admin(bootstrap)
    return {tp[1]: end for tp, end in _ends(admin, [(topic, p) for p in partitions_of(admin, topic)]).items()}


def _ends(admin: Any, tps: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
    if not tps:
        return {}
    futures = admin.list_offsets({TopicPartition(t, p): OffsetSpec.latest() for t, p in tps}, request_timeout=10)
    return {(tp.topic, tp.partition): int(f.result().offset) for tp, f in futures.items()}


@dataclass(frozen=True)
class GroupSample:
    at: float  # seconds since the sampler's start
    checkins_committed: dict[int, int]  # partition -> committed offset (0 when nothing is committed yet)
    checkins_end: dict[int, int]
    inbox_lags: tuple[int, ...]  # records waiting in each of the tracer's own topics (person, venue inbox)
    other_lag: int  # cases, declarations: the group's other inputs

    @property
    def checkins_done(self) -> int:
        return sum(self.checkins_committed.values())

    @property
    def checkins_total(self) -> int:
        return sum(self.checkins_end.values())

    @property
    def checkins_lag(self) -> int:
        return sum(max(0, end - self.checkins_committed.get(p, 0)) for p, end in self.checkins_end.items())

    @property
    def inbox_lag(self) -> int:
        return sum(self.inbox_lags)

    @property
    def lag(self) -> int:
        return self.checkins_lag + self.inbox_lag + self.other_lag

    def cleared(self, target: dict[int, int]) -> bool:
        """Every check-in partition committed up to `target` (count every partition, committed to or not)."""
        return all(self.checkins_committed.get(p, 0) >= end for p, end in target.items())


class GroupOffsets:
    """The tracer's consumer group: its committed offsets against the ends of the topics it reads.

    Committed offsets are fetched by a consumer that never joins the group (it only asks, OffsetFetch, and
    does not wait for offsets of a transaction still open); end offsets by the admin API (ListOffsets).
    """

    def __init__(
        self,
        bootstrap: str,
        group: str,
        checkins_topic: str,
        inbox_topics: Iterable[str],
        other_topics: Iterable[str] = (),
    ) -> None:
        self.bootstrap = bootstrap
        self.group = group
        self.checkins = checkins_topic
        self.inboxes = tuple(inbox_topics)
        self.others = tuple(other_topics)
        self._admin = _admin(bootstrap)
        self._asker = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "enable.auto.commit": False,
                "isolation.level": "read_uncommitted",
            }
        )
        self._partitions: dict[str, list[int]] = {}

    def close(self) -> None:
        self._asker.close()
        self._admin = None  # librdkafka's admin client has no close: dropping the last reference destroys it

    @property
    def inbox_partitions(self) -> int:
        return sum(len(self._partitions.get(t, [])) for t in self.inboxes)

    def _tps(self) -> list[tuple[str, int]]:
        for topic in (self.checkins, *self.inboxes, *self.others):  # the inboxes are the tracer's to create
            if not self._partitions.get(topic):
                self._partitions[topic] = partitions_of(self._admin, topic)
        if not self._partitions[self.checkins]:
            raise RuntimeError(f"no metadata for {self.checkins} yet")
        return [(t, p) for t, ps in self._partitions.items() for p in ps]

    def sample(self, start: float) -> GroupSample:
        tps = self._tps()
        asked = self._asker.committed([TopicPartition(t, p) for t, p in tps], timeout=10)
        committed = {(tp.topic, tp.partition): max(0, int(tp.offset)) for tp in asked}  # < 0: nothing yet
        ends = _ends(self._admin, tps)
        inbox_lags = dict.fromkeys(self.inboxes, 0)
        other_lag = 0
        for tp in tps:
            lag = max(0, ends.get(tp, 0) - committed.get(tp, 0))
            if tp[0] in inbox_lags:
                inbox_lags[tp[0]] += lag
            elif tp[0] != self.checkins:
                other_lag += lag
        checkin_partitions = self._partitions[self.checkins]
        return GroupSample(
            at=round(time.monotonic() - start, 2),
            checkins_committed={p: committed.get((self.checkins, p), 0) for p in checkin_partitions},
            checkins_end={p: ends[(self.checkins, p)] for p in checkin_partitions},
            inbox_lags=tuple(inbox_lags.values()),
            other_lag=other_lag,
        )


@dataclass
class Cleared:
    """How long the tracer took to clear a backlog written onto checkins.v1.

    Two instants: when its group had committed every check-in partition up to the backlog's end (the
    check-ins read and re-keyed), and when its inboxes were drained as well (every stage's work done: visits,
    matches, occupancy). The second is the tracer's rate; the first only says how fast it reads.
    """

    records: int
    seconds: float | None  # until every stage's work was done (None: not within the wait)
    read_seconds: float | None  # until every check-in partition was committed up to the backlog's end
    lag_left: int = 0  # check-ins and inbox records not yet committed when the wait gave up
    # (s since the start, check-ins committed, records waiting in each of the tracer's inboxes)
    series: list[tuple[float, ...]] = field(default_factory=list)

    @property
    def per_s(self) -> float | None:
        return self.records / self.seconds if self.seconds else None

    @property
    def read_per_s(self) -> float | None:
        return self.records / self.read_seconds if self.read_seconds else None

    def summary(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "seconds": _round(self.seconds, 2),
            "per_s": _round(self.per_s),
            "read_seconds": _round(self.read_seconds, 2),
            "read_per_s": _round(self.read_per_s),
            "lag_left": self.lag_left,
            "series": self.series,
        }


def _round(value: float | None, digits: int = 0) -> float | None:
    if value is None:
        return None
    return round(value, digits) if digits else round(value)


def wait_cleared(
    offsets: GroupOffsets,
    started: float,
    before: dict[int, int],
    target: dict[int, int],
    timeout: float,
    interval: float = 0.05,
    what: str = "backlog",
    inbox_slack: int | None = None,
) -> Cleared:
    """Polls the group's offsets from `started` (time.monotonic()) until check-ins are committed up to
    `target` on every partition, then until its inboxes are drained. `before` is where the backlog began.

    A transactional writer leaves a commit marker after its records, which a consumer's committed offset may
    stay one short of: the inboxes count as drained with at most `inbox_slack` (one a partition) left. The
    instant is exact to a sample (`interval`) and, at the tail, to about one commit of the tracer.
    """
    records = sum(target.values()) - sum(before.values())
    first = sum(before.values())
    out = Cleared(records=records, seconds=None, read_seconds=None)
    next_report = time.monotonic() + PROGRESS_EVERY_S
    deadline = started + timeout
    sample = None
    while time.monotonic() < deadline:
        try:
            sample = offsets.sample(started)
        except Exception as exc:  # a sample missed is not a reason to stop waiting
            log.debug("offset sample failed: %r", exc)
            time.sleep(interval)
            continue
        done = sum(min(sample.checkins_committed.get(p, 0), end) for p, end in target.items()) - first
        out.series.append((sample.at, max(0, done), *sample.inbox_lags))
        if out.read_seconds is None and sample.cleared(target):
            out.read_seconds = time.monotonic() - started
        slack = offsets.inbox_partitions if inbox_slack is None else inbox_slack
        if out.read_seconds is not None and sample.inbox_lag <= slack:
            out.seconds = time.monotonic() - started
            return out
        if time.monotonic() >= next_report:
            next_report = time.monotonic() + PROGRESS_EVERY_S
            log.info("  tracer, %s: %d/%d check-ins committed, inbox lag %d", what, done, records, sample.inbox_lag)
        time.sleep(interval)
    if sample is not None:
        left = sum(max(0, end - sample.checkins_committed.get(p, 0)) for p, end in target.items())
        out.lag_left = left + sample.inbox_lag
    return out


class GroupSampler:
    """Samples the tracer group's offsets in a thread of its own for the whole run (the throughput plot)."""

    def __init__(self, offsets: GroupOffsets, start: float, interval: float = 1.0) -> None:
        self.offsets = offsets
        self.start = start
        self.interval = interval
        self.samples: list[GroupSample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="group-sampler", daemon=True)

    def __enter__(self) -> GroupSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)
        self.offsets.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append(self.offsets.sample(self.start))
            except Exception as exc:
                log.debug("offset sample failed: %r", exc)
            self._stop.wait(self.interval)

    def max_lag(self, since: float, until: float) -> int:
        return max((s.lag for s in self.samples if since <= s.at <= until), default=0)


# --------------------------------------------------------------------------------------------------
# reading


@dataclass
class PlainRead:
    records: int
    seconds: float
    series: list[tuple[float, int]]

    @property
    def per_s(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


def plain_consume(
    bootstrap: str, topic: str, group: str, start: dict[int, int], end: dict[int, int], timeout: float = 600
) -> PlainRead:
    """The yardstick: a consumer of its own group reads [start, end) of every partition with
    `consume(1000)` and decodes each value into its event (codec.decode_for_topic), nothing else."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    want = sum(max(0, end[p] - start.get(p, 0)) for p in end)
    count = 0
    series: list[tuple[float, int]] = [(0.0, 0)]
    try:
        consumer.assign([TopicPartition(topic, p, start.get(p, 0)) for p in sorted(end)])
        started = time.monotonic()
        deadline = started + timeout
        while count < want and time.monotonic() < deadline:
            for msg in consumer.consume(1000, 0.2):
                if msg.error() is not None or msg.offset() >= end[msg.partition()]:
                    continue
                codec.decode_for_topic(topics.CHECKINS, msg.value())
                count += 1
            series.append((round(time.monotonic() - started, 3), count))
        seconds = time.monotonic() - started
        consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    if count < want:
        raise RuntimeError(f"the plain consumer read {count} of {want} records within {timeout:.0f} s")
    return PlainRead(records=count, seconds=seconds, series=series)


@contextlib.contextmanager
def tail(bootstrap: str, topic: str) -> Iterator[Callable[[float], list[tuple[float, Event]]]]:
    """Reads `topic` from its current end (read_committed: what any downstream consumer sees of the tracer's
    transactions). Yields poll(timeout) -> [(time.monotonic() it was read, event)]."""
    admin = _admin(bootstrap)
    partitions = partitions_of(admin, topic)
    if not partitions:
        raise RuntimeError(f"{topic} does not exist")
    ends = _ends(admin, [(topic, p) for p in partitions])
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-tail-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "fetch.wait.max.ms": 10,
        }
    )
    consumer.assign([TopicPartition(topic, p, ends[(topic, p)]) for p in partitions])

    def poll(timeout: float) -> list[tuple[float, Event]]:
        out = []
        for msg in consumer.consume(1000, timeout):
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.debug("read error on %s: %s", topic, err)
                continue
            try:
                out.append((time.monotonic(), codec.decode_event(msg.value())))
            except codec.DecodeError:
                log.warning("undecodable record on %s", topic)
        return out

    try:
        yield poll
    finally:
        consumer.close()
