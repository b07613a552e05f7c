"""The native open-loop load generator for single scans: vegeta (Go), pinned, built once into the user cache.

A Python client at 2,000 requests/s takes a good part of a core, which on this two-core machine is the CPU the
stage measures; vegeta takes a few per cent. vegeta is open-loop: it sends at the rate asked whatever the
answers (new workers are started while the others wait), and each result carries its sequence number, so the
latency reported here is counted from when the request was *due* (`start + seq / rate`) to its answer, which
corrects for coordinated omission: a generator that fell behind shows as latency, not as a lower rate.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from antoan_localstack import stack

log = logging.getLogger(__name__)

VEGETA_MODULE = "github.com/tsenart/vegeta/v12"
VEGETA_VERSION = "v12.13.0"
PROGRESS_EVERY_S = 5.0


def ensure_vegeta() -> Path:
    """The vegeta binary, built with `go install` from the Go module proxy into the cache on first use.

    Built into a temporary directory beside the cache and renamed into place once complete, under a lock, as
    the Kafka jars are."""
    base = stack.cache_dir() / f"vegeta-{VEGETA_VERSION}"
    binary = base / "vegeta"
    if binary.is_file():
        return binary
    with stack.file_lock(base / ".lock"):
        if binary.is_file():
            return binary
        go = shutil.which("go")
        if go is None:
            raise RuntimeError("the single-scan stage needs Go (https://go.dev/dl/) to build vegeta once")
        log.info("building vegeta %s with go install (first run only)…", VEGETA_VERSION)
        tmp = Path(tempfile.mkdtemp(prefix="bin.", suffix=".partial", dir=base))
        try:
            proc = subprocess.run(
                [go, "install", f"{VEGETA_MODULE}@{VEGETA_VERSION}"],
                env={**os.environ, "GOBIN": str(tmp), "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"},
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0 or not (tmp / "vegeta").is_file():
                raise RuntimeError(f"go install {VEGETA_MODULE}@{VEGETA_VERSION} failed:\n{proc.stderr[-2000:]}")
            (tmp / "vegeta").rename(binary)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return binary


@dataclass
class Attack:
    rate: float
    seconds: float = 0.0  # from the first request due to the last answer
    sent: int = 0
    unsent: int = 0  # due within the duration but never sent: the generator fell behind (starved of CPU)
    accepted: int = 0
    failed: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    latency_ms: list[float] = field(default_factory=list)  # from when each accepted request was due
    service_ms: list[float] = field(default_factory=list)  # from when each was sent (vegeta's own figure)
    answered_at: list[float] = field(default_factory=list)  # epoch seconds of each accepted answer

    @property
    def achieved_per_s(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0


def _targets(url: str, bodies: list[bytes]) -> str:
    header = {"Content-Type": ["application/json"]}
    return "".join(
        json.dumps({"method": "POST", "url": url, "body": base64.b64encode(body).decode(), "header": header}) + "\n"
        for body in bodies
    )


def _timestamp(text: str) -> float:
    """An RFC 3339 time with up to nanoseconds, as epoch seconds (microsecond precision is plenty here)."""
    head, _, rest = text.partition(".")
    if not rest:
        return datetime.fromisoformat(text).timestamp()
    digits = len(rest) - len(rest.lstrip("0123456789"))
    fraction, zone = rest[:digits], rest[digits:]
    return datetime.fromisoformat(f"{head}.{fraction[:6].ljust(6, '0')}{zone}").timestamp()


def read_results(lines: list[str], rate: float, accepted_code: int = 202, intended: int = 0) -> Attack:
    """vegeta's results (`vegeta encode -to json`), each request's latency counted from when it was due; of
    `intended` requests, those with no result were never sent (vegeta stops at the end of its duration)."""
    out = Attack(rate=rate)
    results = [json.loads(line) for line in lines if line.strip()]
    if not results:
        out.unsent = intended
        return out
    started = min(_timestamp(r["timestamp"]) - r["seq"] / rate for r in results)
    finished = started
    for r in results:
        sent = _timestamp(r["timestamp"])
        answered = sent + r["latency"] / 1e9
        finished = max(finished, answered)
        code = str(r["code"]) if r["code"] else (r.get("error") or "no answer")[:60]
        out.statuses[code] = out.statuses.get(code, 0) + 1
        if r["code"] == accepted_code:
            out.accepted += 1
            out.latency_ms.append((answered - (started + r["seq"] / rate)) * 1000)
            out.service_ms.append(r["latency"] / 1e6)
            out.answered_at.append(answered)
        else:
            out.failed += 1
    out.sent = len(results)
    out.unsent = max(0, intended - out.sent)
    out.seconds = finished - started
    return out


def attack(
    url: str,
    bodies: list[bytes],
    rate: float,
    workdir: Path,
    alongside: Callable[[], Awaitable[None]] | None = None,
    timeout_s: float = 30.0,
) -> Attack:
    """POST each body once to `url` at `rate` per second with vegeta; `alongside` runs meanwhile on this
    process's event loop (and is cancelled at the end if still running)."""
    vegeta = ensure_vegeta()
    workdir.mkdir(parents=True, exist_ok=True)
    targets = workdir / "targets.jsonl"
    results = workdir / "results.bin"
    targets.write_text(_targets(url, bodies))
    seconds = len(bodies) / rate
    cmd = [
        str(vegeta),
        "attack",
        "-format=json",
        f"-targets={targets}",
        f"-rate={round(rate)}/1s",
        f"-duration={seconds:.3f}s",
        f"-timeout={timeout_s:.0f}s",
        "-http2=false",
        "-max-body=0",
        "-name=single-scans",
        f"-output={results}",
    ]
    returncode, stderr = asyncio.run(_run(cmd, seconds, results, alongside))
    if returncode != 0:
        raise RuntimeError(f"vegeta attack failed ({returncode}): {stderr[-2000:]}")
    encoded = subprocess.run(
        [str(vegeta), "encode", "-to=json", str(results)], capture_output=True, text=True, check=True
    ).stdout
    return read_results(encoded.splitlines(), rate, intended=len(bodies))


async def _run(
    cmd: list[str], seconds: float, results: Path, alongside: Callable[[], Awaitable[None]] | None
) -> tuple[int, str]:
    side = asyncio.ensure_future(alongside()) if alongside is not None else None
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(*cmd, stderr=asyncio.subprocess.PIPE)
    while True:
        try:
            await asyncio.wait_for(proc.wait(), timeout=PROGRESS_EVERY_S)
            break
        except TimeoutError:
            size = os.path.getsize(results) if os.path.exists(results) else 0  # noqa: ASYNC240  (a stat)
            log.info(
                "  single scans (vegeta): %.0f s of %.0f, %d KiB of results",
                time.monotonic() - started,
                seconds,
                size // 1024,
            )
    stderr = (await proc.stderr.read()).decode() if proc.stderr else ""
    if side is not None:
        side.cancel()
        await asyncio.gather(side, return_exceptions=True)
    return proc.returncode or 0, stderr
