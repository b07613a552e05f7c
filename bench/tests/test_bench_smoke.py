"""A smoke run of the benchmark at tiny scale: every stage runs and the report, ratios and plots are written.

The benchmark itself is not part of `make test`; this is. It starts its own Kafka, Redis, services and
PostgreSQL on free loopback ports, as `make bench` does.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from antoan_bench.__main__ import main
from antoan_bench.province import SCALES, expected_contacts, generate

pytestmark = pytest.mark.integration


def test_province_is_reproducible_from_its_seed() -> None:
    # Given the tiny scale and one seed
    scale = SCALES["tiny"]
    # When the province is drawn twice at the same instant
    first = generate(scale, seed=7)
    second = generate(scale, seed=7, now=first.now)
    # Then both draws are the same, with every kind of venue and more check-ins than visits (exits, duplicates)
    assert first.visits == second.visits
    assert first.scans == second.scans
    assert len({v.category for v in first.venues}) == 9
    assert len(first.scans) > len(first.visits)


def test_reference_contacts_include_everyone_overlapping_a_window() -> None:
    # Given a drawn province and its busiest person as a case
    province = generate(SCALES["tiny"], seed=3)
    case = max(range(len(province.people)), key=lambda p: sum(v.person == p for v in province.visits))
    since = province.visits[0].start
    # When the reference contacts are computed over the whole history
    contacts = expected_contacts(province, case, since, province.now)
    # Then someone is found, never the case itself
    assert contacts
    assert case not in contacts


@pytest.mark.timeout(900)
@pytest.mark.skipif(shutil.which("java") is None, reason="the benchmark's own Kafka needs java")
def test_tiny_benchmark_writes_the_report_ratios_and_plots(tmp_path: Path) -> None:
    # Given a tiny scale with a short single-scan stage
    # When the benchmark runs end to end
    code = main(["--scale", "tiny", "--out", str(tmp_path), "--state-dir", str(tmp_path / "state")])
    # Then it exits cleanly and writes JSON, a Markdown table with the baselines, and both plots, and
    # PostgreSQL's contacts agree with the reference answer
    assert code == 0
    latest = tmp_path / "latest"
    report = json.loads((latest / "report.json").read_text())
    assert report["ingest_batch"]["accepted"] > 0
    assert report["kafka_ceiling"]["records_per_s"] > 0
    assert report["postgres"]["agrees_with_reference"] is True
    # (how many F1 arrive within the stage's timeout depends on the machine's load; a wrong one never may)
    assert report["exposure"]["count"] == 2
    assert all(case["unexpected_f1"] == 0 for case in report["exposure"]["cases"])
    table = (latest / "report.md").read_text()
    assert "Antoan / PostgreSQL" in table and "Antoan / ceiling" in table
    assert (latest / "throughput.png").stat().st_size > 0
    assert (latest / "latency.png").stat().st_size > 0
