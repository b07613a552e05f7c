"""When a scan is accepted (SPEC §3.3)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from antoan_ingest.domain.checkins import ScannedAtOutOfRangeError, check_scanned_at, checkin_event_id, uuid5_text

NOW = datetime(2021, 9, 1, 8, 0, tzinfo=UTC)
SKEW = timedelta(minutes=5)
RETENTION = timedelta(days=21)


@pytest.mark.parametrize("offset", [timedelta(minutes=5), timedelta(0), -timedelta(days=21)])
def test_scans_within_the_window_are_accepted_bounds_included(offset: timedelta) -> None:
    check_scanned_at(NOW + offset, NOW, SKEW, RETENTION)


@pytest.mark.parametrize("offset", [timedelta(minutes=5, seconds=1), -timedelta(days=21, seconds=1)])
def test_scans_outside_the_window_are_refused(offset: timedelta) -> None:
    with pytest.raises(ScannedAtOutOfRangeError):
        check_scanned_at(NOW + offset, NOW, SKEW, RETENTION)


def test_a_retry_with_the_same_client_event_id_is_the_same_event() -> None:
    assert checkin_event_id("pk", "c-1") == checkin_event_id("pk", "c-1")
    assert checkin_event_id("pk", "c-1") != checkin_event_id("pk", "c-2")
    assert checkin_event_id("pk", "c-1") != checkin_event_id("other", "c-1")


def test_without_a_client_event_id_every_scan_is_new() -> None:
    assert checkin_event_id("pk", None) != checkin_event_id("pk", None)


@given(st.binary(min_size=16, max_size=16), st.text())
def test_derived_ids_are_the_standard_uuid5(namespace: bytes, name: str) -> None:
    assert uuid5_text(namespace, name) == str(uuid.uuid5(uuid.UUID(bytes=namespace), name))
