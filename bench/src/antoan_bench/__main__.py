"""`python -m antoan_bench` (`make bench`): the whole benchmark, one run, one report."""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import itertools
import logging
import math
import os
import platform
import shutil
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from antoan_bench import infra, kafka_io, pgbaseline, profiling, province, report, stages
from antoan_bench.province import SCALES, Scale, generate
from antoan_localstack import stack
from antoan_localstack.simulate import Venue, VenueDraft, register_venues
from antoan_shared import topics

log = logging.getLogger("antoan_bench")
CHECKIN_RECORD_BYTES = 480  # about the size of a CheckInRecorded event on checkins.v1
HOT_FRESH_PERSON = 99_000_000  # fresh people at the hot venue: numbers past its day's visitors


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m antoan_bench", description=__doc__)
    p.add_argument(
        "--scale",
        choices=sorted(SCALES),
        default="default",
        help="tiny: the smoke test's; default: what fits `make bench` into 20 minutes; national: SPEC §6",
    )
    p.add_argument("--visits-per-day", type=int, help="override the scale's visits per day (SPEC §6: 500,000)")
    p.add_argument("--days", type=int, help="days of history (SPEC §6: 7)")
    p.add_argument("--flood", type=int, dest="flood_checkins", help="check-ins of the tracer flood (30,000)")
    p.add_argument("--hot-visits", type=int, help="visits of the hot venue's day (8,000)")
    p.add_argument("--ingest-checkins", type=int, help="check-ins through ingest's batch endpoint")
    p.add_argument("--single-rate", type=float, help="single-scan requests per second")
    p.add_argument("--single-seconds", type=float, help="length of the single-scan stage")
    p.add_argument("--cases", type=int, help="cases confirmed against the history")
    p.add_argument("--history-timeout", type=float, help="give the tracer this long to clear the history (s)")
    p.add_argument("--seed", type=int, default=38)
    p.add_argument("--out", type=Path, default=stack.repo_root() / "bench" / "results")
    p.add_argument("--state-dir", type=Path, help="where the benchmark's stack keeps its state (default .run/bench-*)")
    p.add_argument("--keep-state", action="store_true", help="keep the stack's state and logs after a good run too")
    return p.parse_args(argv)


def scale_from(args: argparse.Namespace) -> Scale:
    names = ("visits_per_day", "days", "flood_checkins", "hot_visits", "ingest_checkins", "single_rate")
    overrides = {name: getattr(args, name) for name in (*names, "single_seconds", "cases")}
    return dataclasses.replace(SCALES[args.scale], **{k: v for k, v in overrides.items() if v is not None})


def _machine() -> str:
    return f"{platform.node() or 'host'}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}"


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def register_all(ingest: str, drafts: list[VenueDraft], clients: int = 8) -> list[Venue]:
    """Registers venues through ingest (`POST /v1/venues`), a few at once, in order."""
    size = max(1, math.ceil(len(drafts) / clients))
    chunks = [drafts[i : i + size] for i in range(0, len(drafts), size)]

    def register(chunk: list[VenueDraft]) -> list[Venue]:
        with httpx.Client(timeout=30, trust_env=False) as client:
            return register_venues(client, ingest, chunk, threading.Event())

    with concurrent.futures.ThreadPoolExecutor(max_workers=clients) as pool:
        return list(itertools.chain.from_iterable(pool.map(register, chunks)))


def run(args: argparse.Namespace) -> dict[str, Any]:
    scale = scale_from(args)
    started_at = datetime.now(UTC)
    t0 = time.monotonic()
    state_dir = args.state_dir or stack.repo_root() / ".run" / f"bench-{os.getpid()}"
    log.info(
        "scale %s: %d visits/day x %d days, %d people, %d venues, seed %d",
        args.scale,
        scale.visits_per_day,
        scale.days,
        scale.people,
        scale.venues,
        args.seed,
    )
    start = time.monotonic()
    prov = generate(scale, args.seed)
    history = prov.scans.published()
    flood = province.flood(scale, args.seed, prov.now)
    hot_people, _, hot_scans = province.hot_venue_day(scale.hot_visits, args.seed, prov.now)
    log.info(
        "province drawn in %.1f s: %d visits, %d check-ins on the topic (%d people, %d venues)",
        time.monotonic() - start,
        len(prov.visits),
        len(history),
        len(prov.people),
        len(prov.venues),
    )
    timeline = stages.Timeline(t0)
    result: dict[str, Any] = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "machine": _machine(),
        "seed": args.seed,
        "scale_name": args.scale,
        "scale": {**dataclasses.asdict(scale), "people": scale.people, "venues": scale.venues},
        "history": {
            "visits": len(prov.visits),
            "checkins": len(history),
            "people": len(prov.people),
            "venues": len(prov.venues),
        },
    }
    try:
        # The benchmark's own Kafka clients close before the stack stops, however the run ends (an interrupted
        # run's clients would otherwise log the stopped broker's refusals until the process exits).
        with infra.running_stack(state_dir) as bs, contextlib.ExitStack() as clients:
            log_stage = stages.StageLog(t0, bs.pids)
            profiles: dict[str, dict[str, Any]] = {}
            result["profiles"] = profiles

            def profiled(stage: str, service: str) -> contextlib.AbstractContextManager[None]:
                out = profiles.setdefault(stage, {})
                raw = state_dir / "profiles" / f"{stage.replace(' ', '-').replace(',', '')}-{service}.txt"
                return profiling.sampled(bs.pids().get(service), service, raw, out)

            with log_stage(
                "setup",
                "– (venues registered through ingest, person keys computed)",
                "everything running, no traffic but the registrations",
            ):
                hot_draft = dataclasses.replace(
                    prov.venues[0], name="Benchmark hot venue", category="hospital", capacity=20_000
                )
                probe_draft = dataclasses.replace(prov.venues[0], name="Benchmark probe", capacity=1_000_000)
                registered = register_all(bs.ingest, [*prov.venues, *flood.venues, hot_draft, probe_draft])
                venues = registered[: len(prov.venues)]
                flood_venues = registered[len(prov.venues) : len(prov.venues) + len(flood.venues)]
                hot, probe = registered[-2:]
                pepper = bs.env["ANTOAN_PEPPER"]
                keys = stages.person_keys(pepper, prov.people)
                flood_keys = stages.person_keys(pepper, flood.people)
                hot_keys = stages.person_keys(pepper, hot_people)
            log.info("%d venues registered", len(registered))
            offsets = clients.enter_context(contextlib.closing(stages.tracer_offsets(bs)))
            writer = clients.enter_context(
                contextlib.closing(
                    kafka_io.CheckinWriter(bs.config.kafka_bootstrap, stages.topic_of(bs, topics.CHECKINS))
                )
            )
            ids = kafka_io.EventIds()
            with kafka_io.GroupSampler(kafka_io.GroupOffsets(**_offsets_args(offsets)), t0) as sampler:
                with log_stage(
                    "broker ceiling",
                    "Kafka's own producer (ProducerPerformance, acks=all)",
                    "services running, no traffic",
                ):
                    result["kafka_ceiling"] = infra.producer_ceiling(bs, scale.ceiling_records, CHECKIN_RECORD_BYTES)
                log.info("broker ceiling: %.0f records/s", result["kafka_ceiling"]["records_per_s"])

                # ingest alone: the tracer is stopped, so it does not compete for the cores.
                batches = stages.ingest_batches(venues, scale.ingest_checkins, args.seed)
                warmup_batches = stages.ingest_batches(
                    venues, scale.ingest_warmup, args.seed + 5, first_serial=stages.WARMUP_SERIAL
                )
                bs.stop_tracer()
                before_ingest = kafka_io.end_offsets(bs.config.kafka_bootstrap, writer.topic)
                with log_stage(
                    "ingest warm-up",
                    f"ingest's batch endpoint, {scale.ingest_warmup:,} check-ins by other people, not timed: "
                    "a started ingest's first requests (its broker and Redis connections, the broker's own "
                    "code paths) cost two or three times what later ones do",
                    "tracer stopped; safety map idle",
                ):
                    warmup = stages.load_batches(bs, warmup_batches, scale.batch_clients, timeline)
                log.info("ingest warm-up: %d accepted, %.0f check-ins/s", warmup.accepted, warmup.per_s)
                with (
                    log_stage(
                        "ingest batch",
                        f"ingest's batch endpoint, {scale.ingest_checkins:,} check-ins, {scale.batch_clients} clients",
                        "tracer stopped; safety map idle",
                    ),
                    profiled("ingest batch", "ingest"),
                ):
                    batch = stages.load_batches(bs, batches, scale.batch_clients, timeline)
                log.info("batch ingest: %d accepted, %.0f check-ins/s", batch.accepted, batch.per_s)
                alone_bodies = stages.live_bodies(venues, scale, args.seed + 7, label="alone")
                with (
                    log_stage(
                        "single scans, ingest alone",
                        f"POST /v1/checkins at {scale.single_rate:,.0f}/s by scanload (open loop)",
                        "tracer stopped; safety map idle",
                    ),
                    profiled("single scans, ingest alone", "ingest"),
                ):
                    single_alone = stages.single_scans(
                        bs, alone_bodies, scale.single_rate, None, scale.probe_rate, timeline, "alone"
                    )
                log.info(
                    "single scans, ingest alone: %.0f/s accepted, p99 %s ms",
                    single_alone.achieved_per_s,
                    stages.percentile(single_alone.latency_ms, 99),
                )
                after_ingest = kafka_io.end_offsets(bs.config.kafka_bootstrap, writer.topic)
                keys_agree = all(
                    stages.person_keys(pepper, [person])[0] == key
                    for person, key in list(batch.person_keys.items())[:200]
                )
                if not keys_agree:
                    raise RuntimeError("the benchmark's person keys differ from ingest's: its F1 reference is wrong")

                with log_stage(
                    "tracer restart",
                    "the tracer starting again and clearing ingest's batch and single scans",
                    "ingest idle",
                ):
                    restart = time.monotonic()
                    bs.start_tracer()
                    ready_s = time.monotonic() - restart
                    backlog = kafka_io.wait_cleared(
                        offsets,
                        restart,
                        before_ingest,
                        after_ingest,
                        timeout=max(180.0, scale.ingest_checkins / 200),
                        interval=0.2,
                        what="ingest's batch and single scans",
                    )
                log.info("tracer ready %.1f s after its start", ready_s)

                with (
                    profiled("tracer flood", "tracer"),
                    log_stage(
                        "tracer flood",
                        f"the tracer alone: {scale.flood_checkins:,} check-ins written straight onto checkins.v1, "
                        "then a plain consumer reading the same records",
                        "ingest idle (no requests); the safety map reads the tracer's output",
                    ),
                ):
                    flood_chunks = list(
                        kafka_io.encode_checkins(flood.scans, [v.venue_id for v in flood_venues], flood_keys, ids)
                    )
                    flood_out = stages.tracer_flood(
                        bs, writer, offsets, flood_chunks, timeout=max(120.0, scale.flood_checkins / 250)
                    )

                with log_stage(
                    "hot venue",
                    f"the tracer alone: one venue's day of {scale.hot_visits:,} visits (in and out) written "
                    "straight onto checkins.v1, then fresh scans there through ingest, timed to occupancy.v1",
                    "ingest idle but for the fresh scans; the safety map reads the tracer's output",
                ):
                    hot_chunks = list(kafka_io.encode_checkins(hot_scans, [hot.venue_id], hot_keys, ids))
                    hot_written, hot_cleared, _ = stages.write_backlog(
                        bs,
                        writer,
                        offsets,
                        hot_chunks,
                        timeout=max(120.0, len(hot_scans) / 250),
                        what="hot venue",
                    )
                    fresh = stages.fresh_scans_to_occupancy(bs, hot, scale.fresh_scans, HOT_FRESH_PERSON)

                # Waits for the tracer down to 1,000 check-ins/s; slower than that, the run goes on with the lag
                # left and says so.
                history_timeout = args.history_timeout or max(300.0, len(history) / 1000)
                # Encoded before the stage, so that the benchmark's own work does not compete with the tracer.
                start = time.monotonic()
                history_chunks = list(kafka_io.encode_checkins(history, [v.venue_id for v in venues], keys, ids))
                log.info("history encoded in %.1f s", time.monotonic() - start)
                with log_stage(
                    "history",
                    f"the tracer alone: {len(history):,} check-ins ({scale.days} days × "
                    f"{scale.visits_per_day:,} visits/day) written straight onto checkins.v1",
                    "ingest idle (no requests); the safety map reads the tracer's output",
                ):
                    hist_written, hist_cleared, _ = stages.write_backlog(
                        bs, writer, offsets, history_chunks, timeout=history_timeout, what="history", interval=0.5
                    )
                del history_chunks
                state_after_history = infra.dir_size_mb(bs.config.tracer_data_dir)
                log.info("tracer state on disk after the history: %s MiB", state_after_history)

                with log_stage(
                    "cases",
                    "case confirmed (POST /v1/cases) → all F1 on exposures.v1 (and exposures.v2 exact)",
                    "ingest: one request a case",
                ):
                    case_people = stages.pick_cases(prov, scale.cases, args.seed)
                    cases = stages.confirm_cases(bs, prov, case_people, keys, timeout=scale.case_timeout_s)

                bodies = stages.live_bodies(venues, scale, args.seed)
                with (
                    profiled("single scans", "ingest"),
                    profiled("single scans", "tracer"),
                    log_stage(
                        "single scans",
                        f"end to end: POST /v1/checkins at {scale.single_rate:,.0f}/s by scanload (open loop), "
                        "occupancy probes through the safety map",
                        "everything running: this is what it measures",
                    ),
                ):
                    single = stages.single_scans(
                        bs, bodies, scale.single_rate, probe, scale.probe_rate, timeline, "end-to-end"
                    )
                spans = log_stage.spans()
                live_max_lag = sampler.max_lag(*spans["single scans"])
                log.info(
                    "single scans: %.0f/s achieved, p99 %s ms",
                    single.achieved_per_s,
                    stages.percentile(single.latency_ms, 99),
                )
                samples = list(sampler.samples)
            clients.close()
            memory = {name: infra.peak_rss_mb(pid) for name, pid in bs.pids().items()}
            state_end = infra.dir_size_mb(bs.config.tracer_data_dir)

        with (
            log_stage("PostgreSQL", "the baseline: the same visits in one table with a GiST index", "Antoan stopped"),
            infra.running_postgres(state_dir) as pg,
        ):
            pg_out = pgbaseline.run_baseline(
                pg,
                prov,
                [v.venue_id for v in venues],
                case_people,
                scale.pg_queries,
                single_inserts=min(2000, int(scale.single_rate * 2)),
                seed=args.seed,
                timed_rows=scale.pg_timed_rows,
            )
    except KeyboardInterrupt:
        log.error("stopping on request; the stack's logs are kept in %s", state_dir / "logs")
        raise
    except BaseException:
        log.error("the run failed; the stack's logs are kept in %s", state_dir / "logs")
        raise
    if not args.keep_state:
        shutil.rmtree(state_dir, ignore_errors=True)

    case_ms = [c.seconds * 1000 for c in cases if c.seconds is not None]
    fresh_ms = [f.ms for f in fresh if f.ms is not None]
    result.update(
        {
            "stages": [dataclasses.asdict(r) for r in log_stage.records],
            "ingest_batch": {
                "items": batch.items,
                "accepted": batch.accepted,
                "rejected": batch.rejected,
                "rejections": dict(batch.rejections),
                "errors": batch.errors,
                "seconds": round(batch.seconds, 1),
                "per_s": round(batch.per_s),
                "clients": scale.batch_clients,
                "request": stages.latency_summary(batch.request_ms),
                "person_keys_agree": keys_agree,
                "warmup": {
                    "items": warmup.items,
                    "accepted": warmup.accepted,
                    "errors": warmup.errors,
                    "seconds": round(warmup.seconds, 1),
                    "per_s": round(warmup.per_s),
                },
            },
            "tracer_restart": {"ready_seconds": round(ready_s, 1), **_cleared(backlog)},
            "flood": {"venues": len(flood_venues), **flood_out.summary()},
            "hot_venue": {
                "visits": scale.hot_visits,
                "write_seconds": round(hot_written.seconds, 2),
                "tracer": hot_cleared.summary(),
                "fresh_scans": {
                    **stages.latency_summary(fresh_ms),
                    "timeouts": sum(1 for f in fresh if f.ms is None),
                    "ms": [None if f.ms is None else round(f.ms, 1) for f in fresh],
                },
            },
            "history_load": {
                "records": hist_written.records,
                "write_seconds": round(hist_written.seconds, 1),
                "write_per_s": round(hist_written.per_s),
                "timeout_seconds": history_timeout,
                **_cleared(hist_cleared),
            },
            "ingest_single": single.summary(),
            "ingest_single_alone": single_alone.summary(),
            "occupancy": {**stages.latency_summary(single.occupancy_ms), "timeouts": single.occupancy_timeouts},
            "tracer": {
                "max_lag": max((s.lag for s in samples), default=0),
                "live_max_lag": live_max_lag,
                "state_on_disk_mb": {"after_history": state_after_history, "end": state_end},
            },
            "exposure": {
                **stages.latency_summary(case_ms),
                "count": len(cases),
                "timeout_seconds": scale.case_timeout_s,
                "complete": all(c.seconds is not None for c in cases),
                "v2_exact": all(c.v2_seconds is not None for c in cases),
                "cases": [dataclasses.asdict(c) for c in cases],
            },
            "postgres": pg_out.summary(),
            "memory_peak_rss_mb": memory,
            "stage_spans": log_stage.spans(),
            "series": {
                "ingest_per_s": timeline.series(),
                "tracer_per_s": _rates(samples),
                "tracer_lag": [(s.at, s.lag) for s in samples],
            },
            "latencies_ms": {
                "single scan (ms)": [round(v, 2) for v in single.latency_ms],
                "single scan, ingest alone (ms)": [round(v, 2) for v in single_alone.latency_ms],
                "check-in → occupancy visible (ms)": [round(v, 2) for v in single.occupancy_ms],
                "PostgreSQL contacts query (ms)": [round(v, 2) for v in pg_out.query_ms],
            },
            "total_seconds": round(time.monotonic() - t0, 1),
        }
    )
    return result


def _offsets_args(offsets: kafka_io.GroupOffsets) -> dict[str, Any]:
    """A second client on the same group for the sampler's thread (librdkafka handles are not shared)."""
    return {
        "bootstrap": offsets.bootstrap,
        "group": offsets.group,
        "checkins_topic": offsets.checkins,
        "inbox_topics": offsets.inboxes,
        "other_topics": offsets.others,
    }


def _cleared(c: kafka_io.Cleared) -> dict[str, Any]:
    return {k: v for k, v in c.summary().items() if k != "series"}


def _rates(samples: list[kafka_io.GroupSample]) -> list[tuple[float, float]]:
    """Check-ins committed per second between samples about a second apart (the flood's 20 Hz samples are
    in its own plot)."""
    out = []
    last = None
    for s in samples:
        if last is None or s.at - last.at >= 0.9:
            if last is not None:
                out.append((s.at, round((s.checkins_done - last.checkins_done) / (s.at - last.at), 1)))
            last = s
    return out


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stdout)
    for noisy in ("kafka", "antoan_localstack", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        result = run(args)
    except KeyboardInterrupt:
        log.error("interrupted; everything the benchmark started has been stopped")
        return 130
    stamp = result["started_at"].replace(":", "").replace("+0000", "Z")
    out_dir = args.out / f"{stamp}-{args.scale}"
    report.write(result, out_dir)
    latest = args.out / "latest"
    shutil.rmtree(latest, ignore_errors=True)
    shutil.copytree(out_dir, latest)
    print(report.markdown(result))  # the run's table, on the terminal that asked for it
    log.info("report written to %s (and %s); total %.0f s", out_dir, latest, result["total_seconds"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
