"""The measured stages.

Each stage measures one part and keeps the others idle where it can, and says what else ran (the report
lists every stage with the CPU time each component used during it):
- ingest's batch endpoint, with the tracer stopped;
- the tracer alone (ingest idle): a flood of check-ins written straight onto `checkins.v1`, beside a plain
  consumer reading the same records; one hot venue's busy day, then fresh scans there timed to `occupancy.v1`;
  the history (`--visits-per-day` × `--days`) written straight onto the topic;
- case confirmed (through ingest) -> all F1 on `exposures.v1` (and the exact `exposures.v2`);
- end to end: single scans through ingest at a fixed rate while an occupancy probe times scan -> occupancy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import httpx
import numpy as np

from antoan_bench import infra, kafka_io, loadgen
from antoan_bench.infra import BenchStack
from antoan_bench.province import (
    HOT_PREFIX,
    LIVE_PREFIX,
    PROBE_PREFIX,
    Province,
    Scale,
    expected_contacts,
    phone,
    rfc3339,
    to_ms,
)
from antoan_ingest.domain.identity import normalise_person_id, person_key
from antoan_localstack.simulate import APPS, Venue
from antoan_shared import topics
from antoan_shared.events import ExposureChanged, ExposureDetected, OccupancyChanged
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


def person_keys(pepper: str, people: list[str]) -> list[str]:
    """The pseudonyms ingest puts on the topics for `people` (its own rule, with the stack's pepper)."""
    secret = pepper.encode()
    return [person_key(secret, normalise_person_id(p)) for p in people]


# --------------------------------------------------------------------------------------------------
# what ran during each stage


@dataclass
class StageRecord:
    name: str
    start: float  # seconds since the start of the run
    end: float
    measures: str
    others: str  # what else ran, and what was idle
    cpu_s: dict[str, float | None]  # CPU seconds each component used during the stage
    load_1m: float  # the machine's load average at the stage's end: anything above the benchmark's own shows
    stolen_s: float | None = None  # CPU seconds the hypervisor gave to other machines while this one wanted them


class StageLog:
    """Every stage's span, what it measures, what else ran, and the CPU time of every component in it."""

    def __init__(self, t0: float, pids: Callable[[], dict[str, int | None]]) -> None:
        self.t0 = t0
        self.pids = pids
        self.records: list[StageRecord] = []

    def _cpu(self) -> dict[str, tuple[int | None, float | None]]:
        out = {name: (pid, infra.cpu_seconds(pid)) for name, pid in self.pids().items()}
        own = os.times()
        out["benchmark"] = (os.getpid(), own.user + own.system)
        return out

    @contextlib.contextmanager
    def __call__(self, name: str, measures: str, others: str) -> Iterator[None]:
        before = self._cpu()
        stolen = infra.stolen_seconds()
        start = time.monotonic()
        log.info("stage: %s", name)
        try:
            yield
        finally:
            after = self._cpu()
            stolen_after = infra.stolen_seconds()
            cpu: dict[str, float | None] = {}
            for component, (pid, used) in after.items():
                was_pid, was = before.get(component, (None, None))
                if used is None:
                    cpu[component] = None
                elif was_pid == pid and was is not None:
                    cpu[component] = round(used - was, 1)
                else:  # started during the stage
                    cpu[component] = round(used, 1)
            self.records.append(
                StageRecord(
                    name=name,
                    start=round(start - self.t0, 1),
                    end=round(time.monotonic() - self.t0, 1),
                    measures=measures,
                    others=others,
                    cpu_s=cpu,
                    load_1m=round(os.getloadavg()[0], 1),
                    stolen_s=None if stolen is None or stolen_after is None else round(stolen_after - stolen, 1),
                )
            )

    def spans(self) -> dict[str, tuple[float, float]]:
        return {r.name: (r.start, r.end) for r in self.records}


# --------------------------------------------------------------------------------------------------
# batch ingest


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


WARMUP_SERIAL = 5_000_000  # the warm-up's people: numbers past the timed batches' and below the live scans'


def ingest_batches(
    venues: list[Venue],
    count: int,
    seed: int,
    batch_size: int = 1000,
    late_share: float = 0.05,
    first_serial: int = 1,
) -> list[tuple[bytes, list[str]]]:
    """`count` check-ins for the batch endpoint as ready request bodies (encoding is not part of the timing):
    people of their own (numbered from `first_serial`) entering the province's venues within the last minutes
    (some uploaded up to an hour late, after the history's end: they never touch a benchmark case's windows),
    2 % sent twice."""
    rng = random.Random(seed + 4)
    weights = [v.capacity for v in venues]
    now = datetime.now(UTC)
    items: list[dict[str, str]] = []
    serial = first_serial - 1
    while len(items) < count:
        serial += 1
        venue = rng.choices(venues, weights=weights)[0]
        late = rng.random() < late_share
        scanned = now - timedelta(minutes=rng.uniform(5, 60) if late else rng.uniform(0, 2))
        item = {
            "venue_qr": venue.qr,
            "person_id": phone(LIVE_PREFIX, serial),
            "direction": "in",
            "scanned_at": rfc3339(scanned),
            "app": rng.choice(APPS),
            "client_event_id": f"batch-{seed}-{serial}",
        }
        items.append(item)
        if rng.random() < 0.02 and len(items) < count:
            items.append(item)  # a client retry of the same scan: accepted again, published once
    return [
        (json.dumps({"items": chunk}).encode(), [it["person_id"] for it in chunk])
        for chunk in (items[i : i + batch_size] for i in range(0, len(items), batch_size))
    ]


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
                    "  batch ingest: %d/%d check-ins sent, %.0f/s",
                    done,
                    outcome.items,
                    outcome.accepted / (now - started),
                )

    # A connection per batch, as phones and scanners each upload on their own: kept-alive connections would
    # stay with whichever ingest process accepted them first, so a few clients could load one process alone.
    connector = aiohttp.TCPConnector(limit=clients, force_close=True)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(clients)))
    outcome.seconds = time.monotonic() - started
    return outcome


def load_batches(
    bs: BenchStack, batches: list[tuple[bytes, list[str]]], clients: int, timeline: Timeline
) -> BatchOutcome:
    return asyncio.run(_post_batches(f"{bs.ingest}/v1/checkins/batch", batches, clients, timeline))


# --------------------------------------------------------------------------------------------------
# single scans at a fixed rate, with occupancy probes (end to end)


@dataclass
class SingleOutcome:
    rate: float
    seconds: float = 0.0
    sent: int = 0
    unsent: int = 0
    accepted: int = 0
    failed: int = 0
    latency_ms: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    service_ms: list[float] = field(default_factory=list)  # from when each was sent, not when it was due
    occupancy_ms: list[float] = field(default_factory=list)
    occupancy_timeouts: int = 0
    probes_sent: int = 0

    @property
    def achieved_per_s(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "generator": loadgen.GENERATOR,
            "rate": self.rate,
            "seconds": round(self.seconds, 1),
            "sent": self.sent,
            "unsent": self.unsent,
            "accepted": self.accepted,
            "failed": self.failed,
            "statuses": self.statuses,
            "achieved_per_s": round(self.achieved_per_s),
            "latency": latency_summary(self.latency_ms),
            "latency_from_sent": latency_summary(self.service_ms),
        }


def live_bodies(venues: list[Venue], scale: Scale, seed: int, label: str = "live") -> list[bytes]:
    """Live scans by a population of their own, a few uploaded late by offline phones.

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
            "person_id": phone(LIVE_PREFIX, 10**7 + rng.randrange(9 * 10**7)),
            "direction": "in",
            "scanned_at": rfc3339(scanned + timedelta(seconds=i / scale.single_rate)),
            "app": rng.choice(APPS),
            "client_event_id": f"{label}-{seed}-{i}",
        }
        bodies.append(json.dumps(body).encode())
    return bodies


def single_scans(
    bs: BenchStack,
    bodies: list[bytes],
    rate: float,
    probe_venue: Venue | None,
    probe_rate: float,
    timeline: Timeline,
    label: str,
) -> SingleOutcome:
    """`bodies` POSTed to /v1/checkins at `rate` by scanload (open loop, latency from when each was due), with
    occupancy probes through the safety map alongside when `probe_venue` is given."""
    outcome = SingleOutcome(rate=rate)

    async def probe() -> None:
        """A fresh person enters the probe venue; time from 202 to the safety map showing them."""
        assert probe_venue is not None
        loop = asyncio.get_running_loop()
        url = f"{bs.ingest}/v1/checkins"
        occupancy_url = f"{bs.safety_map}/v1/venues/{probe_venue.venue_id}/occupancy"
        n = outcome.probes_sent
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            while True:
                n += 1
                body = {
                    "venue_qr": probe_venue.qr,
                    "person_id": phone(PROBE_PREFIX, n),
                    "direction": "in",
                    "app": "pc-covid",
                }
                async with session.post(url, json=body) as resp:
                    await resp.read()
                    if resp.status != 202:
                        log.warning("probe check-in refused: %d", resp.status)
                        n -= 1
                        await asyncio.sleep(1 / probe_rate)
                        continue
                outcome.probes_sent = n
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

    result = loadgen.attack(
        f"{bs.ingest}/v1/checkins",
        bodies,
        rate,
        bs.config.state_dir / "scanload" / label,
        alongside=probe if probe_venue is not None else None,
    )
    to_monotonic = time.monotonic() - time.time()
    for answered in result.answered_at:
        timeline.add(1, at=answered + to_monotonic)
    outcome.seconds = result.seconds
    outcome.sent = result.sent
    outcome.unsent = result.unsent
    outcome.accepted = result.accepted
    outcome.failed = result.failed
    outcome.statuses = result.statuses
    outcome.latency_ms = result.latency_ms
    outcome.service_ms = result.service_ms
    return outcome


# --------------------------------------------------------------------------------------------------
# the tracer alone: backlogs written straight onto checkins.v1


def tracer_offsets(bs: BenchStack) -> kafka_io.GroupOffsets:
    return tracer_offsets_at(bs.config.kafka_bootstrap, bs.namespace)


def tracer_offsets_at(bootstrap: str, namespace: str = "") -> kafka_io.GroupOffsets:
    """The tracer group's offsets on everything it reads: check-ins, its two inboxes, cases and declarations."""
    settings = ServiceSettings(kafka_bootstrap=bootstrap, topic_namespace=namespace)
    return kafka_io.GroupOffsets(
        bootstrap,
        settings.group_id("tracer"),
        settings.topic(topics.CHECKINS),
        [settings.topic(spec) for spec in topics.TRACER_INBOXES],
        [settings.topic(topics.CASES), settings.topic(topics.DECLARATIONS)],
    )


def topic_of(bs: BenchStack, spec: topics.TopicSpec) -> str:
    return spec.address(bs.namespace)


@dataclass
class FloodOutcome:
    written: kafka_io.WriteOutcome
    tracer: kafka_io.Cleared
    plain: kafka_io.PlainRead | None

    def summary(self) -> dict[str, Any]:
        tracer_rate = self.tracer.per_s
        return {
            "records": self.written.records,
            "write_seconds": round(self.written.seconds, 2),
            "write_per_s": round(self.written.per_s),
            "tracer": self.tracer.summary(),
            "plain": None
            if self.plain is None
            else {
                "records": self.plain.records,
                "seconds": round(self.plain.seconds, 2),
                "per_s": round(self.plain.per_s),
                "series": self.plain.series,
            },
            "tracer_to_plain": None
            if self.plain is None or tracer_rate is None
            else round(tracer_rate / self.plain.per_s, 4),
        }


def write_backlog(
    bs: BenchStack,
    writer: kafka_io.CheckinWriter,
    offsets: kafka_io.GroupOffsets,
    chunks: Any,
    timeout: float,
    what: str,
    interval: float = 0.05,
) -> tuple[kafka_io.WriteOutcome, kafka_io.Cleared, dict[int, int]]:
    """Writes a backlog straight onto checkins.v1 as fast as the producer goes, and times the tracer's group
    clearing it (from the first record written). Returns the write, the clearing and where the backlog began."""
    before = kafka_io.end_offsets(bs.config.kafka_bootstrap, writer.topic)
    written = writer.write(chunks, what)
    log.info("  %s: %d written in %.1f s (%.0f/s)", what, written.records, written.seconds, written.per_s)
    cleared = kafka_io.wait_cleared(
        offsets, written.started_at, before, written.ends, timeout=timeout, interval=interval, what=what
    )
    log.info(
        "  %s: read by the tracer %s, every stage's work done %s",
        what,
        f"in {cleared.read_seconds:.2f} s" if cleared.read_seconds else "not in time",
        f"in {cleared.seconds:.2f} s ({cleared.per_s or 0:.0f} check-ins/s)" if cleared.seconds else "not in time",
    )
    return written, cleared, before


def tracer_flood(
    bs: BenchStack, writer: kafka_io.CheckinWriter, offsets: kafka_io.GroupOffsets, chunks: Any, timeout: float
) -> FloodOutcome:
    """The flood, then a plain consumer of its own group reading exactly the same records."""
    written, cleared, before = write_backlog(bs, writer, offsets, chunks, timeout, "flood")
    plain = kafka_io.plain_consume(
        bs.config.kafka_bootstrap, writer.topic, f"{bs.namespace}.bench.plain", before, written.ends
    )
    log.info("  flood: the plain consumer read %d in %.2f s (%.0f/s)", plain.records, plain.seconds, plain.per_s)
    return FloodOutcome(written=written, tracer=cleared, plain=plain)


@dataclass
class FreshScan:
    person: str
    ms: float | None  # 202 -> occupancy.v1 showing it; None: not within the timeout


def fresh_scans_to_occupancy(
    bs: BenchStack, venue: Venue, count: int, first_person: int, timeout: float = 30
) -> list[FreshScan]:
    """`count` people enter `venue` one after another through ingest (its occupancy is 0 before); each is
    timed from ingest's 202 until `occupancy.v1` shows the venue with them in it."""
    out: list[FreshScan] = []
    with (
        httpx.Client(timeout=30, trust_env=False) as client,
        kafka_io.tail(bs.config.kafka_bootstrap, topic_of(bs, topics.OCCUPANCY)) as poll,
    ):
        for k in range(1, count + 1):
            person = phone(HOT_PREFIX, first_person + k)
            resp = client.post(
                f"{bs.ingest}/v1/checkins",
                json={"venue_qr": venue.qr, "person_id": person, "direction": "in", "app": "pc-covid"},
            )
            resp.raise_for_status()
            accepted = time.monotonic()
            seen = None
            while seen is None and time.monotonic() - accepted < timeout:
                for at, event in poll(0.05):
                    if isinstance(event, OccupancyChanged) and event.venue_id == venue.venue_id and event.current >= k:
                        seen = at
                        break
            ms = None if seen is None else (seen - accepted) * 1000
            log.info("  fresh scan %d at the hot venue: %s", k, f"{ms:.0f} ms" if ms is not None else "not seen")
            out.append(FreshScan(person=person, ms=ms))
    return out


# --------------------------------------------------------------------------------------------------
# case confirmed -> all F1 on exposures.v1 (and the exact exposures.v2)


@dataclass
class CaseOutcome:
    case_id: str
    person: str
    expected_f1: int
    found_f1: int
    seconds: float | None  # None: not every expected F1 arrived on exposures.v1 before the timeout
    unexpected_f1: int = 0  # on exposures.v1: people reported as F1 who are not
    v2_seconds: float | None = None  # until exposures.v2's F1 (latest per person, not withdrawn) were exactly right
    v2_unexpected_f1: int | None = None  # on exposures.v2 at the end of the wait


def case_interval(province: Province) -> tuple[datetime, datetime, datetime]:
    """(tested_at, since, until) of every benchmark case: tested an hour ago, no onset, confirmed now."""
    tested_at = province.now - timedelta(hours=1)
    return tested_at, tested_at - timedelta(hours=48), province.now + timedelta(days=1)


def pick_cases(province: Province, count: int, seed: int) -> list[int]:
    """People with the most visits in the infectious interval (the interesting cases), drawn reproducibly."""
    _, since, _ = case_interval(province)
    v = province.visits
    visits = np.bincount(v.person[v.end >= to_ms(since)], minlength=len(province.people))
    busy = np.argsort(-visits, kind="stable")[: max(count * 10, 20)]
    busy = busy[visits[busy] > 0]
    return sorted(random.Random(seed + 2).sample([int(p) for p in busy], min(count, len(busy))))


def confirm_cases(
    bs: BenchStack, province: Province, cases: list[int], keys: list[str], timeout: float = 60
) -> list[CaseOutcome]:
    tested_at, since, until = case_interval(province)
    bootstrap = bs.config.kafka_bootstrap
    out = []
    with contextlib.ExitStack() as stack:
        client = stack.enter_context(httpx.Client(timeout=30, trust_env=False))
        read_v1 = stack.enter_context(kafka_io.tail(bootstrap, topic_of(bs, topics.EXPOSURES)))
        try:
            read_v2: Callable[[float], list[tuple[float, Any]]] | None = stack.enter_context(
                kafka_io.tail(bootstrap, topic_of(bs, topics.EXPOSURES_V2))
            )
        except RuntimeError:
            read_v2 = None
            log.warning("no exposures.v2 topic: only exposures.v1 is checked")
        for n, case in enumerate(cases):
            expected = {keys[p] for p in expected_contacts(province, case, since, until)}
            case_id = f"BENCH{n + 1}"
            started = time.monotonic()
            resp = client.post(
                f"{bs.ingest}/v1/cases",
                json={"person_id": province.people[case], "case_id": case_id, "tested_at": rfc3339(tested_at)},
                headers={"authorization": f"Bearer {bs.ha_token}"},
            )
            resp.raise_for_status()
            f1: set[str] = set()
            v2_state: dict[str, ExposureChanged] = {}
            seconds = v2_seconds = None
            while time.monotonic() - started < timeout:
                for at, event in read_v1(0.02):
                    if isinstance(event, ExposureDetected) and event.case_id == case_id and event.degree == 1:
                        f1.add(event.person_key)
                        if seconds is None and expected <= f1:
                            seconds = at - started
                for at, event in read_v2(0.0) if read_v2 is not None else []:
                    if isinstance(event, ExposureChanged) and event.case_id == case_id:
                        v2_state[event.person_key] = event
                        if v2_seconds is None and _v2_f1(v2_state) == expected:
                            v2_seconds = at - started
                if seconds is not None and (read_v2 is None or v2_seconds is not None):
                    break
            outcome = CaseOutcome(
                case_id=case_id,
                person=province.people[case],
                expected_f1=len(expected),
                found_f1=len(f1 & expected),
                seconds=seconds,
                unexpected_f1=len(f1 - expected),
                v2_seconds=v2_seconds,
                v2_unexpected_f1=None if read_v2 is None else len(_v2_f1(v2_state) - expected),
            )
            log.info(
                "  case %s: %d/%d F1 on exposures.v1 in %s (%d unexpected); exposures.v2 exact %s",
                case_id,
                outcome.found_f1,
                outcome.expected_f1,
                f"{seconds:.2f} s" if seconds is not None else f"more than {timeout:.0f} s",
                outcome.unexpected_f1,
                f"in {v2_seconds:.2f} s" if v2_seconds is not None else "not within the wait",
            )
            out.append(outcome)
    return out


def _v2_f1(state: dict[str, ExposureChanged]) -> set[str]:
    return {person for person, e in state.items() if not e.withdrawn and e.degree == 1}
