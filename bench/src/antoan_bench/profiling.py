"""What a service does with its CPU during a stage: py-spy samples it (and its worker processes) without pausing
it, and the samples are summed by the package and the function they were in.

Only the thread holding the GIL is sampled: the Python work. Time in native code called from Python (uvloop,
httptools, librdkafka's produce) counts to the Python frame that called it. Sampling at 50 Hz with
`--nonblocking` costs the sampled process next to nothing (py-spy reads its memory from
outside); py-spy's own CPU shows in the stage's table as the benchmark's.
"""

from __future__ import annotations

import contextlib
import logging
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

RATE_HZ = 50
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")
_PACKAGE = re.compile(r"(?:site-packages|dist-packages)/(?P<package>[A-Za-z0-9_]+)")
_OURS = re.compile(r"/(?P<package>antoan_[a-z_]+)/")
_STDLIB = re.compile(r"/lib/python3\.\d+/(?P<module>[A-Za-z0-9_]+)")


@dataclass
class Profile:
    service: str
    samples: int = 0
    by_package: Counter[str] = field(default_factory=Counter)
    by_function: Counter[str] = field(default_factory=Counter)

    def summary(self, top: int = 8) -> dict[str, Any]:
        def share(counter: Counter[str]) -> list[list[Any]]:
            return [[name, round(100 * n / self.samples, 1)] for name, n in counter.most_common(top)]

        return {
            "service": self.service,
            "samples": self.samples,
            "rate_hz": RATE_HZ,
            "by_package_pct": share(self.by_package) if self.samples else [],
            "by_function_pct": share(self.by_function) if self.samples else [],
        }


def package_of(path: str) -> str:
    """The package a source file belongs to: a site-package's name, ours (antoan_*), or the standard library's
    module (`stdlib:asyncio`)."""
    if found := _PACKAGE.search(path):
        return found["package"]
    if found := _OURS.search(path):
        return found["package"]
    if found := _STDLIB.search(path):
        return f"stdlib:{found['module']}"
    return path.rsplit("/", 1)[-1] or "?"


def parse(raw: str, service: str) -> Profile:
    """py-spy's raw (collapsed) output: a stack per line, frames by `;`, then its sample count; each sample is
    put on the frame it was in (self time)."""
    out = Profile(service)
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        leaf = stack.rsplit(";", 1)[-1]
        if leaf.startswith("process "):
            continue  # a process with no Python frame sampled
        n = int(count)
        out.samples += n
        match = _FRAME.match(leaf)
        function, path = (match["function"], match["file"]) if match else (leaf, "")
        package = package_of(path)
        out.by_package[package] += n
        out.by_function[f"{function} ({package})"] += n
    return out


@contextlib.contextmanager
def sampled(pid: int | None, service: str, output: Path, result: dict[str, Any]) -> Iterator[None]:
    """Samples `pid` and its child processes while the block runs; the summary goes into `result[service]`.
    Without py-spy, or without the right to trace (ptrace), the stage runs unprofiled and says so."""
    spy = Path(sys.executable).with_name("py-spy")
    if pid is None or not spy.exists():
        result[service] = {"service": service, "error": "py-spy not available"}
        yield
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    # --gil: only the thread holding the GIL is sampled, so a thread waiting (on a lock, in librdkafka, in
    # epoll) does not count as work.
    cmd = [str(spy), "record", "--pid", str(pid), "--subprocesses", "--nonblocking", "--gil", "--full-filenames"]
    cmd += ["--rate", str(RATE_HZ), "--format", "raw", "--output", str(output)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, stderr = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, stderr = proc.communicate()
        if output.exists():
            result[service] = parse(output.read_text(), service).summary()
        else:
            log.warning("py-spy wrote no profile of %s: %s", service, stderr.strip()[-300:])
            result[service] = {"service": service, "error": (stderr.strip() or "no output")[-300:]}
