"""Worker processes: how many, never outliving the process that started them, and their heap once started."""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import signal

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1

# The cycle collector's thresholds once a service runs: the youngest objects collected after 50,000 net
# allocations (CPython's default: 700), each older generation after 20 collections of the one below (10).
GC_THRESHOLDS = (50_000, 20, 20)


def process_count(configured: int) -> int:
    """The worker processes a service runs: `configured`, or one per core when it is 0."""
    return configured or os.cpu_count() or 1


def die_with(parent_pid: int) -> None:
    """Ask the kernel for SIGKILL when `parent_pid` goes (Linux's parent-death signal), and go now if it already
    has: a SIGKILL of the parent then stops its workers too, and a restart finds the port free."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        log.warning("this platform cannot tie a worker process to its parent")
    if os.getppid() != parent_pid:
        raise SystemExit("the parent process is gone")


def settle_heap() -> None:
    """Once a process has started (modules imported, directories loaded): what it holds is taken out of the cycle
    collector's sight (`gc.freeze`), and collections come less often (`GC_THRESHOLDS`).

    Reference counting frees nearly everything a request makes; the collector is there for cycles. With the
    defaults, ingest's two workers spent about a quarter of their CPU in it during a run of batches (2.3 and
    2.6 s of 9.0 and 9.8 CPU-s, gen2 passes over the vault's and the directory's caches included), and a pass
    over the old generation is a pause every request in flight waits for. docs/decisions/0004 has the figures.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
