"""The native open-loop load generator for single scans: `bench/scanload` (Go, standard library only), built
once per source version into the user cache. It POSTs one body per request; request i is due at
`start + i / rate` whatever the answers (open loop: a request whose turn comes while every connection waits gets
a new one), and its result carries when it was sent and when its answer was read, so the latency reported here
is counted from when the request was *due*, which corrects for coordinated omission: a generator or a service
that fell behind shows as latency, not as a lower rate.

It runs on the two cores the benchmark measures, so its own cost per request is taken from the services: about
100 µs of CPU a request against vegeta's 170 (docs/decisions/0004), which the benchmark used before.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from antoan_localstack import stack

log = logging.getLogger(__name__)

GENERATOR = "scanload (bench/scanload), open loop; latency from when each request was due"
PROGRESS_EVERY_S = 5.0


def scanload_source() -> Path:
    return stack.repo_root() / "bench" / "scanload"


def ensure_scanload() -> Path:
    """The scanload binary, built with `go build` from `bench/scanload` into the cache on first use of each
    version of its source. Built into a temporary directory beside the cache and renamed into place once
    complete, under a lock, as the Kafka jars are."""
    source = scanload_source()
    digest = hashlib.sha256()
    for name in ("go.mod", "main.go"):
        digest.update((source / name).read_bytes())
    base = stack.cache_dir() / f"scanload-{digest.hexdigest()[:16]}"
    binary = base / "scanload"
    if binary.is_file():
        return binary
    with stack.file_lock(base / ".lock"):
        if binary.is_file():
            return binary
        go = shutil.which("go")
        if go is None:
            raise RuntimeError("the single-scan stage needs Go (https://go.dev/dl/) to build bench/scanload once")
        log.info("building bench/scanload with go build (first run of this version only)…")
        tmp = Path(tempfile.mkdtemp(prefix="bin.", suffix=".partial", dir=base))
        try:
            proc = subprocess.run(
                [go, "build", "-trimpath", "-o", str(tmp / "scanload"), "."],
                cwd=source,
                env={**os.environ, "CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"},
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0 or not (tmp / "scanload").is_file():
                raise RuntimeError(f"go build of bench/scanload failed:\n{proc.stderr[-2000:]}")
            (tmp / "scanload").rename(binary)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return binary


@dataclass
class Attack:
    rate: float
    seconds: float = 0.0  # from the first request due to the last answer
    sent: int = 0
    unsent: int = 0  # due but with no result: the generator stopped before it sent them
    accepted: int = 0
    failed: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    latency_ms: list[float] = field(default_factory=list)  # from when each accepted request was due
    service_ms: list[float] = field(default_factory=list)  # from when each was sent
    answered_at: list[float] = field(default_factory=list)  # epoch seconds of each accepted answer

    @property
    def achieved_per_s(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0


def read_results(lines: list[str], rate: float, accepted_code: int = 202, intended: int = 0) -> Attack:
    """scanload's results, each request's latency counted from when it was due (`seq / rate` after the start);
    of `intended` requests, those with no result line were never sent."""
    out = Attack(rate=rate)
    rows = [line.split() for line in lines if line.strip()]
    if not rows or rows[0][0] != "start_unix_ns":
        out.unsent = intended
        return out
    start_s = int(rows[0][1]) / 1e9
    finished_ns = 0
    for seq_text, sent_text, done_text, status, error in rows[1:]:
        seq, sent_ns, done_ns = int(seq_text), int(sent_text), int(done_text)
        finished_ns = max(finished_ns, done_ns)
        code = status if status != "0" else error[:60]
        out.statuses[code] = out.statuses.get(code, 0) + 1
        if status == str(accepted_code):
            out.accepted += 1
            out.latency_ms.append((done_ns - seq / rate * 1e9) / 1e6)
            out.service_ms.append((done_ns - sent_ns) / 1e6)
            out.answered_at.append(start_s + done_ns / 1e9)
        else:
            out.failed += 1
    out.sent = len(rows) - 1
    out.unsent = max(0, intended - out.sent)
    out.seconds = finished_ns / 1e9
    return out


def attack(
    url: str,
    bodies: list[bytes],
    rate: float,
    workdir: Path,
    alongside: Callable[[], Awaitable[None]] | None = None,
    timeout_s: float = 30.0,
) -> Attack:
    """POST each body once to `url` at `rate` per second with scanload; `alongside` runs meanwhile on this
    process's event loop (and is cancelled at the end if still running)."""
    binary = ensure_scanload()
    workdir.mkdir(parents=True, exist_ok=True)
    if any(b"\n" in body for body in bodies):
        raise ValueError("scanload takes one body per line: a body may not hold a newline")
    source = workdir / "bodies.jsonl"
    results = workdir / "results.txt"
    source.write_bytes(b"".join(body + b"\n" for body in bodies))
    parts = urlsplit(url)
    cmd = [
        str(binary),
        f"-addr={parts.netloc}",
        f"-path={parts.path or '/'}",
        f"-bodies={source}",
        f"-rate={rate}",
        f"-timeout={timeout_s:.0f}s",
        f"-out={results}",
    ]
    returncode, stderr = asyncio.run(_run(cmd, len(bodies) / rate, alongside))
    if returncode != 0:
        raise RuntimeError(f"scanload failed ({returncode}): {stderr[-2000:]}")
    return read_results(results.read_text().splitlines(), rate, intended=len(bodies))


async def _run(cmd: list[str], seconds: float, alongside: Callable[[], Awaitable[None]] | None) -> tuple[int, str]:
    side = asyncio.ensure_future(alongside()) if alongside is not None else None
    started = time.monotonic()
    # One thread: on the two cores it shares with what it measures, a second one only adds the Go
    # scheduler's hand-offs between threads (measured: 96 µs of CPU a request with one, 124 with two).
    env = {**os.environ, "GOMAXPROCS": "1"}
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    errors = asyncio.ensure_future(proc.stderr.read())
    progress, logged = "", started
    async for line in proc.stdout:
        progress = line.decode().strip()
        if time.monotonic() - logged >= PROGRESS_EVERY_S:
            logged = time.monotonic()
            log.info("  single scans (scanload): %.0f s of %.0f, %s", logged - started, seconds, progress)
    returncode = await proc.wait()
    stderr = (await errors).decode()
    if side is not None:
        side.cancel()
        await asyncio.gather(side, return_exceptions=True)
    return returncode, stderr
