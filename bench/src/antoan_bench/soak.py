"""`make soak`: watch a running `make demo` for a while and say whether the tracer keeps up (issue 11).

It attaches to the local stack `make demo` (or `make up` with a load of your own) runs in `.run`, adds nothing
to the simulated province but probe venues of its own, and for `--minutes`:

- every `--sample-every` seconds, how far the tracer's consumer group is behind on everything it reads
  (check-ins, its two inboxes, cases and declarations), how far its contact-window relay is behind, and
  whether the tracer's `/readyz` says ready;
- every `--occupancy-every` seconds, a fresh person checked in at the first probe venue (ingest's 202) until
  the safety map's occupancy shows them, and checked out until it shows 0 again;
- every `--case-every` seconds, a new probe venue where two fresh people had overlapping visits, one of
  them confirmed as a case, until the tracer's `GET /v1/cases/{id}/contacts` lists exactly one F1 and no F2.

The probe venues are visited by the probes alone, so every count they wait for is exact. It writes
`soak.json`, `soak.csv` (the samples) and `soak.png` (lag and probe latencies over time) under
`bench/results/<time>-soak/`, and exits 1 if a probe timed out or the lag ever stayed above `--max-lag`
records for longer than `--max-lag-seconds`.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import random
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from antoan_bench import kafka_io, stages
from antoan_bench.province import rfc3339
from antoan_localstack import stack
from antoan_localstack.secrets import ensure_local_secrets
from antoan_shared import topics
from antoan_shared.settings import ServiceSettings

log = logging.getLogger("antoan_bench.soak")
PROBE_TIMEOUT_S = 60.0
_draw = random.SystemRandom()


def new_person() -> str:
    """A phone number of the probes' own: the demo's people are 09…, so 03… never meets one of them."""
    return f"03{_draw.randrange(10**8):08d}"


@dataclass
class Sample:
    at: float  # seconds since the soak's start
    lag: int | None  # the tracer's group, every input
    checkins_lag: int | None
    inbox_lag: int | None
    relay_lag: int | None  # contact windows waiting for the relay
    ready: bool


@dataclass
class Probe:
    at: float
    kind: str  # "occupancy in", "occupancy out", "contacts"
    seconds: float | None  # None: not seen within PROBE_TIMEOUT_S


@dataclass
class Soak:
    started: str
    minutes: float
    samples: list[Sample] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m antoan_bench.soak", description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--state-dir", type=Path, help="the running stack's state (default $ANTOAN_STATE_DIR or .run)")
    p.add_argument("--sample-every", type=float, default=10.0)
    p.add_argument("--occupancy-every", type=float, default=30.0)
    p.add_argument("--case-every", type=float, default=300.0)
    p.add_argument("--max-lag", type=int, default=1_000, help="records behind that count as falling behind")
    p.add_argument("--max-lag-seconds", type=float, default=30.0, help="how long the lag may stay above --max-lag")
    p.add_argument("--out", type=Path, default=stack.repo_root() / "bench" / "results")
    return p.parse_args(argv)


class Watcher:
    def __init__(self, cfg: stack.StackConfig, ha_token: str) -> None:
        self.cfg = cfg
        self.http = httpx.Client(timeout=10.0, trust_env=False)
        self.ha = {"Authorization": f"Bearer {ha_token}"}
        settings = ServiceSettings(kafka_bootstrap=cfg.kafka_bootstrap)
        self.group = stages.tracer_offsets_at(cfg.kafka_bootstrap)
        self.relay = kafka_io.GroupOffsets(
            cfg.kafka_bootstrap, settings.group_id("tracer", "relay"), settings.topic(topics.TRACER_CONTACT_WINDOWS), []
        )
        self.ingest = cfg.service_url("ingest")
        self.tracer = cfg.service_url("tracer")
        self.safety_map = cfg.service_url("safety-map")

    def close(self) -> None:
        self.group.close()
        self.relay.close()
        self.http.close()

    def register(self, name: str) -> dict[str, Any]:
        body = {
            "name": name,
            "category": "office",
            "province_code": "38",
            "district_code": "380",
            "ward_code": "14755",
            "lat": 19.80,
            "lon": 105.78,
            "capacity": 1000,
        }
        resp = self.http.post(f"{self.ingest}/v1/venues", json=body)
        resp.raise_for_status()
        venue: dict[str, Any] = resp.json()
        return venue

    def sample(self, start: float) -> Sample:
        lag = checkins_lag = inbox_lag = relay_lag = None
        try:
            s = self.group.sample(start)
            lag, checkins_lag, inbox_lag = s.lag, s.checkins_lag, s.inbox_lag
            relay_lag = self.relay.sample(start).checkins_lag
        except Exception as exc:  # a broker that does not answer is recorded, not fatal
            log.warning("lag sample failed: %r", exc)
        try:
            ready = self.http.get(f"{self.tracer}/readyz").status_code == 200
        except httpx.HTTPError:
            ready = False
        return Sample(round(time.monotonic() - start, 1), lag, checkins_lag, inbox_lag, relay_lag, ready)

    def scan(self, venue: dict[str, Any], person: str, direction: str, at: datetime | None = None) -> float:
        body = {"venue_qr": venue["qr"], "person_id": person, "direction": direction, "app": "pc-covid"}
        if at is not None:
            body["scanned_at"] = rfc3339(at)
        resp = self.http.post(f"{self.ingest}/v1/checkins", json=body)
        if resp.status_code != 202:
            raise RuntimeError(f"check-in refused: {resp.status_code} {resp.text[:200]}")
        return time.monotonic()

    def _until(self, since: float, reached: Any) -> float | None:
        while time.monotonic() - since < PROBE_TIMEOUT_S:
            try:
                if reached():
                    return round(time.monotonic() - since, 3)
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        return None

    def occupancy(self, venue_id: str) -> int | None:
        resp = self.http.get(f"{self.safety_map}/v1/venues/{venue_id}/occupancy")
        return int(resp.json()["current"]) if resp.status_code == 200 else None

    def occupancy_probe(self, venue: dict[str, Any]) -> tuple[float | None, float | None]:
        person = new_person()
        seen_in = self._until(self.scan(venue, person, "in"), lambda: self.occupancy(venue["venue_id"]) == 1)
        seen_out = self._until(self.scan(venue, person, "out"), lambda: self.occupancy(venue["venue_id"]) == 0)
        return seen_in, seen_out

    def contacts_probe(self) -> float | None:
        venue = self.register("Soak probe: contacts")  # one per probe: no earlier probe's visits overlap
        case, contact = new_person(), new_person()
        now = datetime.now(UTC)
        for person, came in ((case, now - timedelta(minutes=40)), (contact, now - timedelta(minutes=30))):
            self.scan(venue, person, "in", came)
            self.scan(venue, person, "out", now - timedelta(minutes=10))
        resp = self.http.post(
            f"{self.ingest}/v1/cases", json={"person_id": case, "tested_at": rfc3339(now)}, headers=self.ha
        )
        if resp.status_code != 202:
            raise RuntimeError(f"case refused: {resp.status_code} {resp.text[:200]}")
        confirmed, case_id = time.monotonic(), resp.json()["case_id"]

        def listed() -> bool:
            r = self.http.get(f"{self.tracer}/v1/cases/{case_id}/contacts", headers=self.ha)
            return r.status_code == 200 and (r.json()["f1"], r.json()["f2"]) == (1, 0)

        return self._until(confirmed, listed)


def run(args: argparse.Namespace) -> int:
    cfg = stack.StackConfig.from_env(args.state_dir)
    secrets = ensure_local_secrets()
    down = [name for name, pid in stack.running(cfg).items() if pid is None]
    if down:
        print(f"the stack in {cfg.state_dir} is not running ({', '.join(down)}): start `make demo`", file=sys.stderr)
        return 2
    stop = False

    def request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    out = args.out / f"{datetime.now(UTC).strftime('%Y-%m-%dT%H%M%SZ')}-soak"
    out.mkdir(parents=True, exist_ok=True)
    soak = Soak(started=datetime.now(UTC).isoformat(timespec="seconds"), minutes=args.minutes)
    watcher = Watcher(cfg, secrets["ANTOAN_HA_TOKEN"])
    try:
        occupancy_venue = watcher.register("Soak probe: occupancy")
        start = time.monotonic()
        next_sample = next_occupancy = start
        next_case = start + 30.0
        next_report = start + 60.0
        end = start + args.minutes * 60
        while not stop and time.monotonic() < end:
            now = time.monotonic()
            at = round(now - start, 1)
            try:
                if now >= next_sample:
                    soak.samples.append(watcher.sample(start))
                    next_sample = now + args.sample_every
                if now >= next_occupancy:
                    seen_in, seen_out = watcher.occupancy_probe(occupancy_venue)
                    soak.probes += [Probe(at, "occupancy in", seen_in), Probe(at, "occupancy out", seen_out)]
                    next_occupancy = now + args.occupancy_every
                if now >= next_case:
                    soak.probes.append(Probe(at, "contacts", watcher.contacts_probe()))
                    next_case = now + args.case_every
            except (httpx.HTTPError, RuntimeError) as exc:
                soak.errors.append(f"{at} s: {exc}")
                log.warning("probe failed: %s", exc)
            if now >= next_report:
                next_report = now + 60.0
                log.info("%s", progress(soak, at, args.minutes * 60))
            time.sleep(0.2)
    finally:
        watcher.close()
    summary = summarise(soak, args.max_lag, args.max_lag_seconds)
    write(out, soak, summary)
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    print(f"written to {out}")
    return 0 if summary["kept_up"] else 1


def progress(soak: Soak, at: float, total: float) -> str:
    last = soak.samples[-1] if soak.samples else None
    recent = [p for p in soak.probes if p.at >= at - 300]
    seen = [p.seconds for p in recent if p.seconds is not None]
    return (
        f"{at / 60:.0f}/{total / 60:.0f} min: lag {last.lag if last else '?'} "
        f"(relay {last.relay_lag if last else '?'}), ready {last.ready if last else '?'}; "
        f"probes in the last 5 min: {len(seen)}/{len(recent)} seen, slowest {max(seen, default=0):.2f} s"
    )


def _p(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarise(soak: Soak, max_lag: int, max_lag_seconds: float) -> dict[str, Any]:
    lags = [s.lag for s in soak.samples if s.lag is not None]
    longest_behind, behind_since = 0.0, None
    for s in soak.samples:
        if s.lag is not None and s.lag > max_lag:
            behind_since = s.at if behind_since is None else behind_since
            longest_behind = max(longest_behind, s.at - behind_since)
        else:
            behind_since = None
    kinds: dict[str, Any] = {}
    missed = 0
    for kind in ("occupancy in", "occupancy out", "contacts"):
        done = [p for p in soak.probes if p.kind == kind]
        seen = [p.seconds for p in done if p.seconds is not None]
        missed += len(done) - len(seen)
        kinds[kind] = {"probes": len(done), "seen": len(seen), "p50_s": _p(seen, 0.5), "max_s": max(seen, default=None)}
    summary = {
        "started": soak.started,
        "minutes": round(soak.samples[-1].at / 60, 1) if soak.samples else 0,
        "lag_samples": len(lags),
        "lag_max": max(lags, default=None),
        "lag_p99": _p([float(v) for v in lags], 0.99),
        "relay_lag_max": max((s.relay_lag for s in soak.samples if s.relay_lag is not None), default=None),
        "longest_above_max_lag_s": longest_behind,
        "not_ready_samples": sum(1 for s in soak.samples if not s.ready),
        "probes": kinds,
        "errors": soak.errors,
    }
    summary["kept_up"] = bool(lags) and missed == 0 and not soak.errors and longest_behind <= max_lag_seconds
    return summary


def write(out: Path, soak: Soak, summary: dict[str, Any]) -> None:
    (out / "soak.json").write_text(json.dumps({"summary": summary, **asdict(soak)}, indent=1, ensure_ascii=False))
    with (out / "soak.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["at_s", "lag", "checkins_lag", "inbox_lag", "relay_lag", "ready"])
        for s in soak.samples:
            w.writerow([s.at, s.lag, s.checkins_lag, s.inbox_lag, s.relay_lag, int(s.ready)])
    plot(out / "soak.png", soak)


def plot(path: Path, soak: Soak) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (lag_ax, probe_ax) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True)
    minutes = [s.at / 60 for s in soak.samples]
    lag_ax.plot(minutes, [s.lag or 0 for s in soak.samples], label="tracer group (all inputs)", linewidth=1)
    lag_ax.plot(minutes, [s.relay_lag or 0 for s in soak.samples], label="contact-window relay", linewidth=1)
    lag_ax.set_ylabel("records behind")
    lag_ax.set_title(f"make demo watched from {soak.started} (make soak)")
    lag_ax.legend(loc="upper right")
    for kind, marker in (("occupancy in", "o"), ("occupancy out", "x"), ("contacts", "s")):
        pts = [p for p in soak.probes if p.kind == kind]
        probe_ax.scatter(
            [p.at / 60 for p in pts],
            [p.seconds if p.seconds is not None else PROBE_TIMEOUT_S for p in pts],
            label=f"{kind} (ingest 202 → visible)",
            marker=marker,
            s=14,
        )
    probe_ax.set_ylabel("seconds")
    probe_ax.set_xlabel("minutes")
    probe_ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
