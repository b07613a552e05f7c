"""Runs a worker's stream processing as child processes, starts each again when it stops, stops them on request.

Each child is one Quix Streams application in the worker's consumer group, with a state directory of its own
(`TRACER_DATA_DIR/stream-<n>`): the group shares the partitions among every child of every worker, and a
partition that moves is restored from its changelog, as between workers.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType

log = logging.getLogger("antoan_tracer")

# Tells a stream process its supervisor's pid, so that it dies with it (`antoan_tracer.stream`).
SUPERVISOR_PID_VAR = "ANTOAN_TRACER_SUPERVISOR_PID"


class StreamSupervisor:
    def __init__(
        self, data_dir: Path, processes: int = 1, restart_delay_s: float = 3.0, stop_timeout_s: float = 30.0
    ) -> None:
        self._data_dir = data_dir
        self._restart_delay_s = restart_delay_s
        self._stop_timeout_s = stop_timeout_s
        self._slots: list[subprocess.Popen[bytes] | None] = [None] * processes
        self._due: list[float] = [0.0] * processes  # when a stopped slot may start again
        self._stopping = threading.Event()

    def alive(self) -> bool:
        """Every stream process runs."""
        return all(process is not None and process.poll() is None for process in self._slots)

    def stop(self, _signal: int | None = None, _frame: FrameType | None = None) -> None:
        self._stopping.set()
        for process in self._slots:
            if process is not None and process.poll() is None:
                process.terminate()  # Quix stops cleanly on SIGTERM: it finishes the message, commits, closes

    def _start(self, slot: int) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            SUPERVISOR_PID_VAR: str(os.getpid()),
            "TRACER_DATA_DIR": str(self._data_dir / f"stream-{slot}"),
        }
        return subprocess.Popen([sys.executable, "-m", "antoan_tracer.stream"], env=env)

    def run(self) -> int:
        """Until SIGTERM or SIGINT (call from the main thread): the stream processes, each started again
        whenever it stops. Quix stops on a failed transaction (the broker gone, the group rebalanced under it);
        nothing it did since its last commit counts, and its state is restored from disk and the changelogs."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        while not self._stopping.is_set():
            for slot, process in enumerate(self._slots):
                code = None if process is None else process.poll()
                if process is not None and code is None:
                    continue  # running
                if process is not None:
                    log.error(
                        "stream processing stopped; it starts again",
                        extra={"stream": slot, "exit_code": code, "in_s": self._restart_delay_s},
                    )
                    self._slots[slot] = None
                    self._due[slot] = time.monotonic() + self._restart_delay_s
                if time.monotonic() >= self._due[slot] and not self._stopping.is_set():
                    self._slots[slot] = self._start(slot)
            self._stopping.wait(0.2)
        deadline = time.monotonic() + self._stop_timeout_s
        for process in self._slots:
            if process is None:
                continue
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return 0
