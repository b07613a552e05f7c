"""Worker processes that never outlive the process that started them."""

from __future__ import annotations

import ctypes
import logging
import os
import signal

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1


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
