"""The benchmark's own checks: the drawn province and its reference answer, the records it writes straight
onto `checkins.v1`, and a smoke run at tiny scale (every stage runs and the report, ratios and plots are
written).

The benchmark itself is not part of `make test`; the smoke run is. It starts its own Kafka, Redis, services
and PostgreSQL on free loopback ports, as `make bench` does. Speed is what the benchmark shows, never what a
test asserts: the smoke run checks that each stage ran and measured something, and that no F1 is wrong.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from antoan_bench import kafka_io, stages
from antoan_bench.__main__ import main
from antoan_bench.province import (
    SCALES,
    expected_contacts,
    flood,
    generate,
    hot_venue_day,
    to_ms,
)
from antoan_bench.stages import case_interval, pick_cases
from antoan_localstack import stack
from antoan_localstack.simulate import Venue
from antoan_shared import codec
from antoan_shared.events import CheckInRecorded


def test_province_is_reproducible_from_its_seed() -> None:
    # Given the tiny scale and one seed
    scale = SCALES["tiny"]
    # When the province is drawn twice at the same instant
    first = generate(scale, seed=7)
    second = generate(scale, seed=7, now=first.now)
    # Then both draws are the same, with every kind of venue and more check-ins than visits (exits, duplicates)
    for a, b in ((first.visits, second.visits), (first.scans, second.scans)):
        for name in a.__dataclass_fields__:
            assert np.array_equal(getattr(a, name), getattr(b, name))
    assert len({v.category for v in first.venues}) == 9
    assert len(first.scans) > len(first.visits)


def test_a_persons_visits_never_overlap_and_scans_come_in_time_order() -> None:
    # Given a drawn province
    province = generate(SCALES["tiny"], seed=5)
    v = province.visits
    # When its visits are ordered by person and start
    order = np.lexsort((v.start, v.person))
    same_person = v.person[order][1:] == v.person[order][:-1]
    # Then each of a person's visits starts after the one before ended, and the scans are in time order,
    # a retry right after the scan it repeats
    assert (v.start[order][1:][same_person] > v.end[order][:-1][same_person]).all()
    assert (np.diff(province.scans.at) >= 0).all()
    assert province.scans.retry.any()
    assert not province.scans.published().retry.any()


def test_reference_contacts_are_everyone_overlapping_a_window_by_brute_force() -> None:
    # Given a drawn province and a few of its busiest people as cases
    province = generate(SCALES["tiny"], seed=3)
    _, since, until = case_interval(province)
    since_ms, until_ms = to_ms(since), to_ms(until)
    v = province.visits
    for case in pick_cases(province, 3, seed=3):
        # When the reference contacts are computed
        contacts = expected_contacts(province, case, since, until)
        # Then they are exactly what a scan of every pair of visits finds (SPEC §3.4, bounds inclusive)
        windows = [
            (int(v.venue[i]), max(int(v.start[i]) - 3_600_000, since_ms), int(v.end[i]) + 3_600_000)
            for i in range(len(v))
            if v.person[i] == case and v.end[i] >= since_ms and v.start[i] <= until_ms
        ]
        brute: dict[int, int] = {}
        for i in range(len(v)):
            person = int(v.person[i])
            for venue, lo, hi in windows:
                if person != case and v.venue[i] == venue and v.start[i] <= hi and v.end[i] >= lo:
                    at = max(int(v.start[i]), lo)
                    brute[person] = min(brute.get(person, at), at)
        assert contacts
        assert contacts == brute


def test_checkins_written_straight_onto_the_topic_are_what_ingest_publishes() -> None:
    # Given the flood's scans, venues and people
    population = flood(SCALES["tiny"], seed=1)
    venue_ids = [f"{i:08x}-0000-4000-8000-000000000000" for i in range(len(population.venues))]
    keys = [f"{i:064x}" for i in range(len(population.people))]
    # When they are encoded for checkins.v1
    chunks = list(kafka_io.encode_checkins(population.scans, venue_ids, keys, kafka_io.EventIds()))
    records = [record for chunk in chunks for record in chunk]
    # Then every record decodes to the event ingest would publish for that scan, keyed by its venue, with an
    # event id of its own
    assert len(records) == len(population.scans) == SCALES["tiny"].flood_checkins
    for i in (0, len(records) // 2, len(records) - 1):
        key, value = records[i]
        event = codec.decode_event(value)
        assert isinstance(event, CheckInRecorded)
        assert key == event.venue_id.encode() == venue_ids[population.scans.venue[i]].encode()
        assert event.person_key == keys[population.scans.person[i]]
        assert event.direction == ("out" if population.scans.out[i] else "in")
        assert to_ms(event.scanned_at) == population.scans.at[i]
        again = CheckInRecorded.model_validate_json(codec.encode_event(event))
        assert again == event
    assert len({codec.decode_event(value).event_id for _, value in records}) == len(records)


def test_the_hot_venue_day_is_over_before_the_run() -> None:
    # Given the hot venue's day drawn now
    now = datetime.now(UTC)
    people, visits, scans = hot_venue_day(500, seed=2, now=now)
    # Then every visitor scanned in and out, one venue, all of it before now
    assert len(people) == len(visits) == 500
    assert len(scans) == 1000 and int(scans.out.sum()) == 500
    assert (visits.venue == 0).all()
    assert int(visits.end.max()) < to_ms(now)


def test_the_warm_up_is_sent_by_people_the_timed_batches_do_not_have() -> None:
    venues = [Venue(venue_id=f"v{i}", qr=f"qr{i}", capacity=10 + i) for i in range(5)]

    def people(batches: list[tuple[bytes, list[str]]]) -> set[str]:
        return {person for _, persons in batches for person in persons}

    timed = stages.ingest_batches(venues, 3_000, 38)
    warmup = stages.ingest_batches(venues, 2_000, 43, first_serial=stages.WARMUP_SERIAL)
    assert sum(len(persons) for _, persons in warmup) == 2_000
    assert people(timed) and people(warmup) and not people(timed) & people(warmup)


@pytest.mark.integration
@pytest.mark.timeout(900)
@pytest.mark.skipif(shutil.which("java") is None, reason="the benchmark's own Kafka needs java")
def test_tiny_benchmark_writes_the_report_ratios_and_plots(tmp_path: Path) -> None:
    # Given a tiny scale
    # When the benchmark runs end to end
    code = main(["--scale", "tiny", "--out", str(tmp_path), "--state-dir", str(tmp_path / "state")])
    # Then it exits cleanly and writes JSON, a Markdown table with the baselines, and the plots, and
    # PostgreSQL's contacts agree with the reference answer
    assert code == 0
    latest = tmp_path / "latest"
    report = json.loads((latest / "report.json").read_text())
    assert report["ingest_batch"]["accepted"] > 0
    assert report["ingest_batch"]["person_keys_agree"] is True
    # The warm-up went first, untimed, and the report says so
    assert report["ingest_batch"]["warmup"]["accepted"] == 1_000
    # PostgreSQL's table holds every visit, the bulk by COPY and the rest by timed batches
    assert 0 < report["postgres"]["timed_rows"] < report["history"]["visits"]
    assert report["postgres"]["rows"] == report["history"]["visits"]
    assert "after a warm-up of 1,000 check-ins" in (latest / "report.md").read_text()
    assert report["kafka_ceiling"]["records_per_s"] > 0
    assert report["postgres"]["agrees_with_reference"] is True
    # The tracer flood ran: the tracer cleared it at some rate, the plain consumer read the same records
    flood = report["flood"]
    assert flood["records"] == 2_000
    assert flood["tracer"]["per_s"] is not None and flood["tracer"]["per_s"] > 0
    assert flood["plain"]["records"] == 2_000 and flood["plain"]["per_s"] > 0
    assert report["hot_venue"]["tracer"]["per_s"] is not None and report["hot_venue"]["tracer"]["per_s"] > 0
    # (how many F1 arrive within the stage's timeout depends on the machine's load; a wrong one never may)
    assert report["exposure"]["count"] == 2
    assert all(case["unexpected_f1"] == 0 for case in report["exposure"]["cases"])
    assert all(case["v2_unexpected_f1"] in (0, None) for case in report["exposure"]["cases"])
    assert report["tracer"]["state_on_disk_mb"]["end"] is not None
    # Single scans were sent by scanload, ingest alone and end to end, every one answered
    for stage in ("ingest_single_alone", "ingest_single"):
        single = report[stage]
        assert single["generator"].startswith("scanload")
        assert single["sent"] == single["accepted"] + single["failed"] > 0
        assert single["latency"]["count"] == single["accepted"]
    # and the stages that measure a bar were profiled
    assert report["profiles"]["ingest batch"]["ingest"]["samples"] > 0
    assert report["profiles"]["tracer flood"]["tracer"]["samples"] > 0
    table = (latest / "report.md").read_text()
    assert "Antoan / PostgreSQL" in table and "Antoan / ceiling" in table and "tracer flood" in table
    assert "Where the CPU went" in table
    for plot in ("throughput.png", "latency.png", "flood.png"):
        assert (latest / plot).stat().st_size > 0


def _still_running(marker: str) -> list[str]:
    """Command lines of this machine's processes that mention `marker` (the run's own state directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if entry.name.isdigit() and marker in cmdline:
            found.append(cmdline[:200])
    return found


def test_a_run_stopped_midway_stops_everything_it_started_and_says_so_quietly(tmp_path: Path) -> None:
    # Given a tiny run measuring its broker ceiling (a Java child running), its own Kafka clients open
    out = tmp_path / "out.log"
    state = tmp_path / "state"
    command = [
        sys.executable,
        "-m",
        "antoan_bench",
        "--scale",
        "tiny",
        "--out",
        str(tmp_path),
        "--state-dir",
        str(state),
    ]
    with out.open("w") as sink:
        run = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 240
        while "broker ceiling: ProducerPerformance" not in out.read_text():
            assert run.poll() is None, out.read_text()[-3000:]
            assert time.monotonic() < deadline, out.read_text()[-3000:]
            time.sleep(0.2)
        # When it is told to stop (SIGTERM, as a supervisor or `kill` would)
        run.send_signal(signal.SIGTERM)
        code = run.wait(timeout=180)
    finally:
        if run.poll() is None:
            run.kill()
    text = out.read_text()
    # Then it says it stopped on request (not that it failed) and exits 130
    assert code == 130, text[-3000:]
    assert "stopping on request" in text and "the run failed" not in text
    # And its own Kafka clients were closed before the broker stopped: none complains of it afterwards
    after_stop = text[text.index("stopping the benchmark's stack") :]
    assert "|FAIL|" not in after_stop, after_stop
    # And nothing it started is left: the broker and Redis refuse connections, no process mentions its state
    started = re.search(r"starting Kafka and Redis on ([\d.]+):(\d+), redis://([\d.]+):(\d+)/", text)
    assert started is not None, text[:2000]
    kafka_host, kafka_port, redis_host, redis_port = started.groups()
    assert not stack.port_in_use(int(kafka_port), kafka_host) and not stack.port_in_use(int(redis_port), redis_host)
    assert _still_running(str(state)) == []
