"""A started process's heap: frozen out of the cycle collector's sight, collected less often."""

from __future__ import annotations

import subprocess
import sys

from antoan_shared.processes import GC_THRESHOLDS

_CHILD = """
import gc
from antoan_shared.processes import settle_heap
loaded = [{"venue": str(i)} for i in range(1000)]  # what a service holds once started
settle_heap()
print(gc.get_freeze_count(), *gc.get_threshold())
"""


def test_a_settled_heap_is_frozen_and_collected_less_often() -> None:
    # In a process of its own: the test session's collector stays as it is.
    out = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, check=True).stdout.split()
    frozen, *thresholds = map(int, out)
    assert frozen >= 1000
    assert tuple(thresholds) == GC_THRESHOLDS
    assert GC_THRESHOLDS[0] > 700  # CPython's default
