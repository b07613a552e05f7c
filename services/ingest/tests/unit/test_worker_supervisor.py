"""The ingest supervisor's housekeeping, without a broker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from antoan_ingest.workers import METRICS_PREFIX, remove_stale_metrics_dirs


def test_metrics_directories_of_supervisors_that_are_gone_are_removed_and_the_others_kept(tmp_path: Path) -> None:
    # Given the metrics directory of a supervisor that was killed, one of a running supervisor, and another file
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)
    stale = tmp_path / f"{METRICS_PREFIX}{dead_pid}-abc123"
    live = tmp_path / f"{METRICS_PREFIX}{os.getpid()}-def456"
    other = tmp_path / "antoan-poster.png"
    for directory in (stale, live):
        directory.mkdir()
        (directory / "counter_1.db").write_bytes(b"\0" * 16)
    other.write_bytes(b"png")
    # When a new supervisor starts
    remove_stale_metrics_dirs(tmp_path)
    # Then only the dead supervisor's directory is gone
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name])
