"""A service's background loops: threads that start their work again after an outage, until stopped."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


class RestartingThread(threading.Thread):
    """A daemon thread that runs `_run_once` until stopped, starting it again `retry_after_s` after one of
    `restart_on` (an outage: the broker gone, a rebalance cut short). `_run_once` returns when asked to stop
    (`_stop_requested`)."""

    restart_on: tuple[type[BaseException], ...] = (Exception,)
    retry_after_s = 1.0

    def __init__(self, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self._stop_requested = threading.Event()

    def stop(self) -> None:
        self._stop_requested.set()

    def run(self) -> None:
        while not self._stop_requested.is_set():
            try:
                self._run_once()
            except self.restart_on:
                log.warning("%s interrupted; it starts again", self.name, exc_info=True)
                self._stop_requested.wait(self.retry_after_s)

    def _run_once(self) -> None:
        raise NotImplementedError
