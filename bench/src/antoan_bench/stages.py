"""The measured stages: batch ingest (7 days of history), single scans at a fixed rate with occupancy probes,
the tracer's progress and lag, and case confirmed -> all F1 on `exposures.v1`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from antoan_bench.infra import BenchStack
from antoan_bench.province import Province, Scale, checkin_body, expected_contacts, rfc3339
from antoan_localstack.simulate import APPS, Venue
from antoan_shared import codec, topics
from antoan_shared.settings import ServiceSettings

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 5.0


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (nearest rank) of `values`, or None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def latency_summary(values_ms: list[float]) -> dict[str, float | int | None]:
    return {
        "count": len(values_ms),
        "p50_ms": _round(percentile(values_ms, 50)),
        "p99_ms": _round(percentile(values_ms, 99)),
        "max_ms": _round(max(values_ms) if values_ms else None),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class Timeline:
    """Counts per second since a start, for the throughput plot."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.buckets: Counter[int] = Counter()

    def add(self, n: int, at: float | None = None) -> None:
        self.buckets[int((at or time.monotonic()) - self.start)] += n

    def series(self) -> list[tuple[int, int]]:
        return sorted(self.buckets.items())


# --------------------------------------------------------------------------------------------------
# batch ingest: the history


@dataclass
class BatchOutcome:
    items: int = 0
    accepted: int = 0
    rejected: int = 0
    errors: int = 0
    seconds: float = 0.0
    request_ms: list[float] = field(default_factory=list)
    person_keys: dict[str, str] = field(default_factory=dict)
    rejections: Counter[str] = field(default_factory=Counter)

    @property
    def per_s(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0


def encode_history(province: Province, venue_qrs: list[str], batch_size: int = 1000) -> list[tuple[bytes, list[str]]]:
    """The history's scans as ready request bodies of `batch_size` items (encoding is not part of the timing)."""
    out = []
    scans = province.scans
    for i in range(0, len(scans), batch_size):
        chunk = scans[i : i + batch_size]
        items = [checkin_body(province, venue_qrs, s) for s in chunk]
        out.append((json.dumps({"items": items}).encode(), [it["person_id"] for it in items]))
    return out


async def _post_batches(
    url: str, batches: list[tuple[bytes, list[str]]], clients: int, timeline: Timeline
) -> BatchOutcome:
    outcome = BatchOutcome(items=sum(len(p) for _, p in batches))
    queue: asyncio.Queue[tuple[bytes, list[str]]] = asyncio.Queue()
    for b in batches:
        queue.put_nowait(b)
    started = time.monotonic()
    next_report = started + PROGRESS_EVERY_S
    done = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal done, next_report
        while not queue.empty():
            body, persons = queue.get_nowait()
            for attempt in range(5):
                sent = time.monotonic()
                try:
                    async with session.post(url, data=body, headers={"content-type": "application/json"}) as resp:
                        answer = await resp.json()
                        status = resp.status
                except (aiohttp.ClientError, TimeoutError) as exc:
                    log.warning("batch failed (%r), retrying", exc)
                    await asyncio.sleep(0.5 * (attempt + 1))
                    continue
                if status >= 500:
                    log.warning("batch answered %d, retrying", status)
                    await asyncio.sleep(0.5 * (attempt + 1))
                    continue
                outcome.request_ms.append((time.monotonic() - sent) * 1000)
                break
            else:
                outcome.errors += len(persons)
                continue
            if status not in (202, 207):
                outcome.errors += len(persons)
                log.warning("batch refused: %d %s", status, str(answer)[:300])
                continue
            outcome.accepted += int(answer["accepted"])
            outcome.rejected += int(answer["rejected"])
            timeline.add(int(answer["accepted"]))
            for r in answer["results"]:
                if r["status"] == 202:
                    outcome.person_keys[persons[r["index"]]] = r["result"]["person_key"]
                else:
                    outcome.rejections[r.get("error", {}).get("code", str(r["status"]))] += 1
            done += len(persons)
            now = time.monotonic()
            if now >= next_report:
                next_report = now + PROGRESS_EVERY_S
                log.info(
                    "  history: %d/%d check-ins sent, %.0f/s",
                    done,
                    outcome.items,
                    outcome.accepted / (now - started),
                )

    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(clients)))
    outcome.seconds = time.monotonic() - started
    return outcome


def load_history(
    bs: BenchStack, batches: list[tuple[bytes, list[str]]], clients: int, timeline: Timeline
) -> BatchOutcome:
    return asyncio.run(_post_batches(f"{bs.ingest}/v1/checkins/batch", batches, clients, timeline))


# --------------------------------------------------------------------------------------------------
# single scans at a fixed rate, with occupancy probes


@dataclass
class SingleOutcome:
    rate: float
    seconds: float = 0.0
    sent: int = 0
    accepted: int = 0
    failed: int = 0
    latency_ms: list[float] = field(default_factory=list)
    occupancy_ms: list[float] = field(default_factory=list)
    occupancy_timeouts: int = 0

    @property
    def achieved_per_s(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0


def live_bodies(province: Province, venues: list[Venue], scale: Scale, seed: int) -> list[bytes]:
    """Live scans by a population of its own (numbers 03…), a few uploaded late by offline phones.

    Late uploads are at most an hour old, and the history ends HISTORY_GAP before now, so live visits never
    reach into a benchmark case's exposure windows.
    """
    rng = random.Random(seed + 1)
    count = int(scale.single_rate * scale.single_seconds)
    weights = [v.capacity for v in venues]
    now = datetime.now(UTC)
    bodies = []
    for i in range(count):
        venue = rng.choices(venues, weights=weights)[0]
        late = rng.random() < scale.late_share
        scanned = now - timedelta(minutes=rng.uniform(5, 60)) if late else now
        body = {
            "venue_qr": venue.qr,
            "person_id": f"03{rng.randrange(10**8):08d}",
            "direction": "in",
            "scanned_at": rfc3339(scanned + timedelta(seconds=i / scale.single_rate)),
            "app": rng.choice(APPS),
            "client_event_id": f"live-{seed}-{i}",
        }
        bodies.append(json.dumps(body).encode())
    return bodies


async def _single_scans(
    bs: BenchStack, bodies: list[bytes], rate: float, probe_venue: Venue, probe_rate: float, timeline: Timeline
) -> SingleOutcome:
    outcome = SingleOutcome(rate=rate)
    url = f"{bs.ingest}/v1/checkins"
    headers = {"content-type": "application/json"}
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    async def one(session: aiohttp.ClientSession, body: bytes, due: float) -> None:
        try:
            async with session.post(url, data=body, headers=headers) as resp:
                await resp.read()
                ok = resp.status == 202
        except (aiohttp.ClientError, TimeoutError):
            ok = False
        if ok:
            now = loop.time()
            # From the moment the request was due, so a client falling behind shows as latency.
            outcome.latency_ms.append((now - due) * 1000)
            outcome.accepted += 1
            timeline.add(1)
        else:
            outcome.failed += 1

    async def probe(session: aiohttp.ClientSession) -> None:
        """A fresh person enters the probe venue; time from 202 to the safety map showing them."""
        n = 0
        occupancy_url = f"{bs.safety_map}/v1/venues/{probe_venue.venue_id}/occupancy"
        while not stop.is_set():
            n += 1
            body = {"venue_qr": probe_venue.qr, "person_id": f"07{n:08d}", "direction": "in", "app": "pc-covid"}
            async with session.post(url, json=body) as resp:
                await resp.read()
                if resp.status != 202:
                    log.warning("probe check-in refused: %d", resp.status)
                    n -= 1
                    await asyncio.sleep(1 / probe_rate)
                    continue
            accepted = loop.time()
            deadline = accepted + 30
            while True:
                async with session.get(occupancy_url) as resp:
                    current = int((await resp.json()).get("current", 0)) if resp.status == 200 else 0
                if current >= n:
                    outcome.occupancy_ms.append((loop.time() - accepted) * 1000)
                    break
                if loop.time() > deadline:
                    outcome.occupancy_timeouts += 1
                    break
                await asyncio.sleep(0.005)
            await asyncio.sleep(max(0.0, 1 / probe_rate - (loop.time() - accepted)))

    connector = aiohttp.TCPConnector(limit=512)
    timeout = aiohttp.ClientTimeout(total=30)
    async with (
        aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
        aiohttp.ClientSession(timeout=timeout) as probe_session,
    ):
        probing = asyncio.create_task(probe(probe_session))
        tasks = []
        start = loop.time()
        next_report = time.monotonic() + PROGRESS_EVERY_S
        for i, body in enumerate(bodies):
            due = start + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(session, body, due)))
            outcome.sent += 1
            if time.monotonic() >= next_report:
                next_report = time.monotonic() + PROGRESS_EVERY_S
                log.info(
                    "  single scans: %d sent, %d accepted, %d occupancy probes",
                    outcome.sent,
                    outcome.accepted,
                    len(outcome.occupancy_ms),
                )
        await asyncio.gather(*tasks)
        outcome.seconds = loop.time() - start
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(probing, timeout=35)
    return outcome


def single_scans(
    bs: BenchStack, bodies: list[bytes], rate: float, probe_venue: Venue, probe_rate: float, timeline: Timeline
) -> SingleOutcome:
    return asyncio.run(_single_scans(bs, bodies, rate, probe_venue, probe_rate, timeline))


# --------------------------------------------------------------------------------------------------
# the tracer's progress: committed offsets of its consumer group against the topics' ends


@dataclass
class LagSample:
    at: float  # seconds since the sampler's start
    checkins_end: int
    checkins_committed: int
    lag: int  # over every topic the tracer's group reads (check-ins and its own re-keyed streams)


class LagSampler:
    """Samples the tracer's consumer lag once a second in a thread of its own."""

    def __init__(self, bs: BenchStack, start: float) -> None:
        self.settings = ServiceSettings(kafka_bootstrap=bs.config.kafka_bootstrap, topic_namespace=bs.namespace)
        self.group = self.settings.group_id("tracer")
        self.checkins = self.settings.topic(topics.CHECKINS)
        self.start = start
        self.samples: list[LagSample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lag-sampler", daemon=True)

    def __enter__(self) -> LagSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        from kafka import KafkaConsumer
        from kafka.admin import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap)
        consumer = KafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap, enable_auto_commit=False)
        try:
            while not self._stop.is_set():
                try:
                    self.samples.append(self._sample(admin, consumer))
                except Exception as exc:  # a sample missed is not a reason to stop sampling
                    log.debug("lag sample failed: %r", exc)
                    if not self.samples:
                        log.warning("lag sample failed: %r", exc)
                self._stop.wait(1.0)
        finally:
            admin.close()
            consumer.close()

    def _sample(self, admin: Any, consumer: Any) -> LagSample:
        from kafka import TopicPartition

        committed = {
            tp: max(0, meta.offset)  # -1: nothing committed yet, all of it is lag
            for tp, meta in admin.list_group_offsets({self.group: None}).get(self.group, {}).items()
        }
        # Every check-in partition, committed to or not: a tracer that has committed nothing yet is not
        # "caught up" with no lag.
        partitions = consumer.partitions_for_topic(self.checkins)
        if not partitions:
            raise RuntimeError(f"no metadata for {self.checkins} yet")
        checkin_tps = [TopicPartition(self.checkins, p) for p in partitions]
        tps = sorted(set(committed) | set(checkin_tps))
        ends = consumer.end_offsets(tps)
        return LagSample(
            at=round(time.monotonic() - self.start, 1),
            checkins_end=sum(ends[tp] for tp in checkin_tps),
            checkins_committed=sum(committed.get(tp, 0) for tp in checkin_tps),
            lag=sum(max(0, ends[tp] - committed.get(tp, 0)) for tp in tps),
        )

    def latest(self) -> LagSample | None:
        return self.samples[-1] if self.samples else None

    def wait_caught_up(self, produced: int, timeout: float) -> float | None:
        """Seconds until the tracer committed `produced` check-ins and has no lag left; None on timeout."""
        started = time.monotonic()
        next_report = started + PROGRESS_EVERY_S
        while time.monotonic() - started < timeout:
            s = self.latest()
            if s and s.checkins_committed >= produced and s.lag == 0:
                return time.monotonic() - started
            if time.monotonic() >= next_report:
                next_report = time.monotonic() + PROGRESS_EVERY_S
                if s:
                    log.info("  tracer: %d/%d check-ins committed, lag %d", s.checkins_committed, produced, s.lag)
            time.sleep(0.5)
        return None


# --------------------------------------------------------------------------------------------------
# case confirmed -> all F1 on exposures.v1


@dataclass
class CaseOutcome:
    case_id: str
    person: str
    expected_f1: int
    found_f1: int
    seconds: float | None  # None: not every expected F1 arrived before the timeout
    unexpected_f1: int = 0


def case_interval(province: Province) -> tuple[datetime, datetime, datetime]:
    """(tested_at, since, until) of every benchmark case: tested an hour ago, no onset, confirmed now."""
    tested_at = province.now - timedelta(hours=1)
    return tested_at, tested_at - timedelta(hours=48), province.now + timedelta(days=1)


def pick_cases(province: Province, count: int, seed: int) -> list[int]:
    """People with the most visits in the infectious interval (the interesting cases), drawn reproducibly."""
    _, since, _ = case_interval(province)
    visits = Counter(v.person for v in province.visits if v.end >= since)
    busy = [p for p, n in visits.most_common(max(count * 10, 20))]
    return random.Random(seed + 2).sample(busy, min(count, len(busy)))


@contextlib.contextmanager
def _exposure_reader(bs: BenchStack) -> Iterator[Any]:
    from kafka import KafkaConsumer, TopicPartition

    settings = ServiceSettings(kafka_bootstrap=bs.config.kafka_bootstrap, topic_namespace=bs.namespace)
    topic = settings.topic(topics.EXPOSURES)
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_end(*tps)
        for tp in tps:
            consumer.position(tp)
        yield consumer
    finally:
        consumer.close()


def confirm_cases(
    bs: BenchStack, province: Province, cases: list[int], person_keys: dict[str, str], timeout: float = 60
) -> list[CaseOutcome]:
    import httpx

    tested_at, since, until = case_interval(province)
    out = []
    with httpx.Client(timeout=30, trust_env=False) as client, _exposure_reader(bs) as reader:
        for n, case in enumerate(cases):
            expected = {person_keys[province.people[p]] for p in expected_contacts(province, case, since, until)}
            case_id = f"BENCH{n + 1}"
            started = time.monotonic()
            resp = client.post(
                f"{bs.ingest}/v1/cases",
                json={"person_id": province.people[case], "case_id": case_id, "tested_at": rfc3339(tested_at)},
                headers={"authorization": f"Bearer {bs.ha_token}"},
            )
            resp.raise_for_status()
            f1: set[str] = set()
            seconds = None
            while time.monotonic() - started < timeout:
                for records in reader.poll(timeout_ms=50).values():
                    for record in records:
                        event = codec.decode_event(record.value)
                        if getattr(event, "case_id", None) == case_id and getattr(event, "degree", 0) == 1:
                            f1.add(str(getattr(event, "person_key", "")))
                if expected <= f1:
                    seconds = time.monotonic() - started
                    break
            outcome = CaseOutcome(
                case_id=case_id,
                person=province.people[case],
                expected_f1=len(expected),
                found_f1=len(f1 & expected),
                seconds=seconds,
                unexpected_f1=len(f1 - expected),
            )
            log.info(
                "  case %s: %d/%d F1 in %s",
                case_id,
                outcome.found_f1,
                outcome.expected_f1,
                f"{seconds:.2f} s" if seconds is not None else f"more than {timeout:.0f} s",
            )
            out.append(outcome)
    return out
