"""Occupancy of one venue (SPEC §3.3), walking-skeleton rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from antoan_shared.events import Direction
from antoan_tracer.domain.occupancy import apply_scan, current_occupancy, drop_expired

T0 = datetime(2021, 9, 1, 8, 0, tzinfo=UTC)
DWELL = timedelta(minutes=60)


def test_a_scan_in_makes_one_person_present() -> None:
    present = apply_scan({}, "a", Direction.IN, T0)
    assert current_occupancy(present, T0, DWELL) == 1


def test_a_second_scan_in_by_the_same_person_is_still_one_person() -> None:
    present = apply_scan(apply_scan({}, "a", Direction.IN, T0), "a", Direction.IN, T0 + timedelta(minutes=5))
    assert current_occupancy(present, T0 + timedelta(minutes=6), DWELL) == 1


def test_a_scan_out_ends_the_presence() -> None:
    present = apply_scan(apply_scan({}, "a", Direction.IN, T0), "a", Direction.OUT, T0 + timedelta(minutes=5))
    assert current_occupancy(present, T0 + timedelta(minutes=6), DWELL) == 0


def test_an_older_scan_arriving_late_does_not_undo_a_newer_one() -> None:
    present = apply_scan({}, "a", Direction.IN, T0 + timedelta(minutes=10))
    present = apply_scan(present, "a", Direction.OUT, T0)
    assert current_occupancy(present, T0 + timedelta(minutes=11), DWELL) == 1


def test_presence_ends_automatically_after_the_dwell_time() -> None:
    present = apply_scan({}, "a", Direction.IN, T0)
    assert current_occupancy(present, T0 + DWELL - timedelta(seconds=1), DWELL) == 1
    assert current_occupancy(present, T0 + DWELL, DWELL) == 0
    assert drop_expired(present, T0 + DWELL, DWELL) == {}


def test_a_scan_in_the_future_does_not_count_yet() -> None:
    present = apply_scan({}, "a", Direction.IN, T0 + timedelta(minutes=2))
    assert current_occupancy(present, T0, DWELL) == 0
