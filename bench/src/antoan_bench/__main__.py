"""`python -m antoan_bench` (`make bench`): the whole benchmark, one run, one report."""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import logging
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

from antoan_bench import infra, pgbaseline, report, stages
from antoan_bench.province import SCALES, Scale, generate
from antoan_localstack import stack
from antoan_localstack.simulate import register_venues
from antoan_localstack.testing import wait_for

log = logging.getLogger("antoan_bench")
CHECKIN_RECORD_BYTES = 420  # about the size of a CheckInRecorded event on checkins.v1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m antoan_bench", description=__doc__)
    p.add_argument("--scale", choices=sorted(SCALES), default="default")
    p.add_argument("--visits-per-day", type=int, help="override the scale's visits per day")
    p.add_argument("--days", type=int, help="days of history (SPEC §6: 7)")
    p.add_argument("--single-rate", type=float, help="single-scan requests per second")
    p.add_argument("--single-seconds", type=float, help="length of the single-scan stage")
    p.add_argument("--cases", type=int, help="cases confirmed against the history")
    p.add_argument("--seed", type=int, default=38)
    p.add_argument("--out", type=Path, default=stack.repo_root() / "bench" / "results")
    p.add_argument("--state-dir", type=Path, help="where the benchmark's stack keeps its state (default .run/bench-*)")
    return p.parse_args(argv)


def scale_from(args: argparse.Namespace) -> Scale:
    overrides = {
        "visits_per_day": args.visits_per_day,
        "days": args.days,
        "single_rate": args.single_rate,
        "single_seconds": args.single_seconds,
        "cases": args.cases,
    }
    return dataclasses.replace(SCALES[args.scale], **{k: v for k, v in overrides.items() if v is not None})


def _machine() -> str:
    return f"{platform.node() or 'host'}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}"


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> dict[str, Any]:
    scale = scale_from(args)
    started_at = datetime.now(UTC)
    t0 = time.monotonic()
    state_dir = args.state_dir or stack.repo_root() / ".run" / f"bench-{os.getpid()}"
    spans: dict[str, tuple[float, float]] = {}

    def span(name: str, start: float) -> None:
        spans[name] = (round(start - t0, 1), round(time.monotonic() - t0, 1))

    log.info(
        "scale %s: %d visits/day x %d days, %d people, %d venues, seed %d",
        args.scale,
        scale.visits_per_day,
        scale.days,
        scale.people,
        scale.venues,
        args.seed,
    )
    province = generate(scale, args.seed)
    log.info("province drawn: %d visits, %d check-ins", len(province.visits), len(province.scans))
    timeline = stages.Timeline(t0)
    result: dict[str, Any] = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "machine": _machine(),
        "seed": args.seed,
        "scale_name": args.scale,
        "scale": {**dataclasses.asdict(scale), "people": scale.people, "venues": scale.venues},
        "history": {"visits": len(province.visits), "checkins": len(province.scans)},
    }
    try:
        with infra.running_stack(state_dir) as bs:
            with httpx.Client(timeout=30, trust_env=False) as client:
                registered = register_venues(client, bs.ingest, province.venues, threading.Event())
                probe_draft = dataclasses.replace(province.venues[0], name="Benchmark probe", capacity=1_000_000)
                [probe] = register_venues(client, bs.ingest, [probe_draft], threading.Event())
            venue_qrs = [v.qr for v in registered]
            venue_ids = [v.venue_id for v in registered]

            start = time.monotonic()
            result["kafka_ceiling"] = infra.producer_ceiling(bs, scale.ceiling_records, CHECKIN_RECORD_BYTES)
            span("broker ceiling", start)
            log.info("broker ceiling: %.0f records/s", result["kafka_ceiling"]["records_per_s"])

            batches = stages.encode_history(province, venue_qrs)
            with stages.LagSampler(bs, t0) as sampler:
                log.info(
                    "history: %d check-ins in %d batches, %d clients",
                    len(province.scans),
                    len(batches),
                    scale.batch_clients,
                )
                start = time.monotonic()
                batch = stages.load_history(bs, batches, scale.batch_clients, timeline)
                span("history (batch)", start)
                log.info("history loaded: %d accepted, %.0f check-ins/s", batch.accepted, batch.per_s)
                produced = _checkins_on_topic(sampler)
                caught_up = sampler.wait_caught_up(produced, timeout=max(600.0, 6 * batch.seconds))
                span("tracer catch-up", start)
                catch_up_per_s = produced / (time.monotonic() - start) if caught_up is not None else None
                log.info("tracer caught up: %s", f"{catch_up_per_s:.0f} check-ins/s" if catch_up_per_s else "no")

                start = time.monotonic()
                case_people = stages.pick_cases(province, scale.cases, args.seed)
                cases = stages.confirm_cases(bs, province, case_people, batch.person_keys)
                span("cases", start)
                bodies = stages.live_bodies(province, registered, scale, args.seed)
                log.info(
                    "single scans: %.0f/s for %.0f s, occupancy probes at %.0f/s",
                    scale.single_rate,
                    scale.single_seconds,
                    scale.probe_rate,
                )
                start = time.monotonic()
                single = stages.single_scans(bs, bodies, scale.single_rate, probe, scale.probe_rate, timeline)
                span("single scans", start)
                live_lags = [
                    s.lag for s in sampler.samples if spans["single scans"][0] <= s.at <= spans["single scans"][1]
                ]
                log.info(
                    "single scans: %.0f/s achieved, p99 %s ms",
                    single.achieved_per_s,
                    stages.percentile(single.latency_ms, 99),
                )

                samples = list(sampler.samples)
            memory = {
                name: infra.peak_rss_mb(bs.pid(name)) for name in (*stack.SERVICE_NAMES, stack.KAFKA, stack.REDIS)
            }

        with infra.running_postgres(state_dir) as pg:
            start = time.monotonic()
            pg_out = pgbaseline.run_baseline(
                pg,
                province,
                venue_ids,
                case_people,
                scale.pg_queries,
                single_inserts=min(2000, int(scale.single_rate * 2)),
                seed=args.seed,
            )
            span("PostgreSQL", start)
    except BaseException:
        log.error("the run failed; the stack's logs are kept in %s", state_dir / "logs")
        raise
    shutil.rmtree(state_dir, ignore_errors=True)

    case_ms = [c.seconds * 1000 for c in cases if c.seconds is not None]
    result.update(
        {
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
            },
            "ingest_single": {
                "rate": scale.single_rate,
                "seconds": round(single.seconds, 1),
                "sent": single.sent,
                "accepted": single.accepted,
                "failed": single.failed,
                "achieved_per_s": round(single.achieved_per_s),
                "latency": stages.latency_summary(single.latency_ms),
            },
            "occupancy": {**stages.latency_summary(single.occupancy_ms), "timeouts": single.occupancy_timeouts},
            "tracer": {
                "catch_up_per_s": None if catch_up_per_s is None else round(catch_up_per_s),
                "caught_up": caught_up is not None,
                "max_lag": max((s.lag for s in samples), default=0),
                "live_max_lag": max(live_lags, default=0),
            },
            "exposure": {
                **stages.latency_summary(case_ms),
                "count": len(cases),
                "complete": all(c.seconds is not None for c in cases),
                "cases": [dataclasses.asdict(c) for c in cases],
            },
            "postgres": pg_out.summary(),
            "memory_peak_rss_mb": memory,
            "stage_spans": spans,
            "series": {
                "ingest_per_s": timeline.series(),
                "tracer_per_s": _rates(samples),
                "tracer_lag": [(s.at, s.lag) for s in samples],
            },
            "latencies_ms": {
                "single scan (ms)": [round(v, 2) for v in single.latency_ms],
                "check-in → occupancy visible (ms)": [round(v, 2) for v in single.occupancy_ms],
                "PostgreSQL contacts query (ms)": [round(v, 2) for v in pg_out.query_ms],
            },
            "total_seconds": round(time.monotonic() - t0, 1),
        }
    )
    return result


def _checkins_on_topic(sampler: stages.LagSampler) -> int:
    """Records on checkins.v1 now, from a fresh sample (a retried scan is accepted again but published once)."""
    seen = len(sampler.samples)
    wait_for(lambda: len(sampler.samples) >= seen + 2, timeout=30, what="a fresh lag sample")
    latest = sampler.latest()
    assert latest is not None
    return latest.checkins_end


def _rates(samples: list[stages.LagSample]) -> list[tuple[float, float]]:
    out = []
    for a, b in itertools.pairwise(samples):
        if b.at > a.at:
            out.append((b.at, round((b.checkins_committed - a.checkins_committed) / (b.at - a.at), 1)))
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
