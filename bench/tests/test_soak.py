"""`make soak`'s verdict from its samples and probes (no stack needed): when the tracer counts as keeping up."""

from __future__ import annotations

from pathlib import Path

from antoan_bench.soak import Probe, Sample, Soak, summarise, write


def soak(lags: list[int], probes: list[float | None]) -> Soak:
    run = Soak(started="2026-12-03T12:00:00+00:00", minutes=1)
    run.samples = [Sample(10.0 * i, lag, 0, lag, 0, True) for i, lag in enumerate(lags)]
    run.probes = [Probe(30.0 * i, "occupancy in", seconds) for i, seconds in enumerate(probes)]
    return run


def test_a_quiet_tracer_whose_probes_are_all_seen_kept_up() -> None:
    summary = summarise(soak([10, 400, 20], [1.2, 0.9]), max_lag=1_000, max_lag_seconds=30)
    assert summary["kept_up"] is True
    assert summary["lag_max"] == 400
    assert summary["probes"]["occupancy in"] == {"probes": 2, "seen": 2, "p50_s": 1.2, "max_s": 1.2}


def test_a_probe_never_seen_or_a_lag_held_too_long_is_falling_behind() -> None:
    assert summarise(soak([10, 20], [1.0, None]), max_lag=1_000, max_lag_seconds=30)["kept_up"] is False
    held = summarise(soak([10, 5_000, 6_000, 7_000, 8_000, 10], [1.0]), max_lag=1_000, max_lag_seconds=25)
    assert held["longest_above_max_lag_s"] == 30.0
    assert held["kept_up"] is False
    # a moment above the bar is not falling behind
    assert summarise(soak([10, 5_000, 10], [1.0]), max_lag=1_000, max_lag_seconds=25)["kept_up"] is True


def test_the_results_are_written_with_their_plot(tmp_path: Path) -> None:
    run = soak([10, 20], [1.0])
    write(tmp_path, run, summarise(run, 1_000, 30))
    assert (tmp_path / "soak.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "soak.csv").read_text().splitlines()[0] == "at_s,lag,checkins_lag,inbox_lag,relay_lag,ready"
