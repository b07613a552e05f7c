"""A background loop starts its work again after an outage and ends when stopped."""

from __future__ import annotations

import threading

import pytest

from antoan_shared.threads import RestartingThread


class Flaky(RestartingThread):
    restart_on = (ConnectionError,)
    retry_after_s = 0.01

    def __init__(self, failures: int) -> None:
        super().__init__(name="flaky")
        self.failures = failures
        self.runs = 0
        self.working = threading.Event()

    def _run_once(self) -> None:
        self.runs += 1
        if self.runs <= self.failures:
            raise ConnectionError("broker gone")
        self.working.set()
        self._stop_requested.wait()


def test_an_outage_starts_the_work_again_and_stop_ends_it() -> None:
    thread = Flaky(failures=3)
    thread.start()
    assert thread.working.wait(5)
    assert thread.runs == 4
    thread.stop()
    thread.join(5)
    assert not thread.is_alive()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the bug is raised
def test_a_failure_that_is_not_an_outage_ends_the_thread() -> None:
    class Broken(Flaky):
        def _run_once(self) -> None:
            self.runs += 1
            raise ValueError("a bug")

    thread = Broken(failures=0)
    thread.start()
    thread.join(5)
    assert not thread.is_alive() and thread.runs == 1
