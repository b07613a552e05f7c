"""Runs a worker's stream processing as a child process, starts it again when it stops, stops it on request."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from types import FrameType

from antoan_tracer.stream import SUPERVISOR_PID_VAR

log = logging.getLogger("antoan_tracer")


class StreamSupervisor:
    def __init__(self, restart_delay_s: float = 3.0, stop_timeout_s: float = 30.0) -> None:
        self._restart_delay_s = restart_delay_s
        self._stop_timeout_s = stop_timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()

    def alive(self) -> bool:
        process = self._process
        return process is not None and process.poll() is None

    def stop(self, _signal: int | None = None, _frame: FrameType | None = None) -> None:
        self._stopping.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()  # Quix stops cleanly on SIGTERM: it finishes the message, commits, closes

    def run(self) -> int:
        """Until SIGTERM or SIGINT (call from the main thread): the stream process, started again whenever it
        stops. Quix stops on a failed transaction (the broker gone, the group rebalanced under it); nothing it
        did since its last commit counts, and its state is restored from disk and the changelogs."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        env = {**os.environ, SUPERVISOR_PID_VAR: str(os.getpid())}
        while not self._stopping.is_set():
            self._process = subprocess.Popen([sys.executable, "-m", "antoan_tracer.stream"], env=env)
            code = self._process.wait()
            if self._stopping.is_set():
                break
            log.error(
                "stream processing stopped; it starts again",
                extra={"exit_code": code, "in_s": self._restart_delay_s},
            )
            self._stopping.wait(self._restart_delay_s)
        if self._process is not None:
            try:
                self._process.wait(self._stop_timeout_s)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        return 0
