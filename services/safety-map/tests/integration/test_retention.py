"""Retention in the read model: a case's presence older than the retention period leaves Redis (SPEC §3.7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis

from antoan_localstack.client import Antoan, new_person
from antoan_localstack.testing import RunningServices, wait_for

pytestmark = pytest.mark.integration

RETENTION_S = 90


@pytest.fixture(scope="module")
def services_env() -> dict[str, str]:
    # A retention of seconds, visits of a minute and no buffer, so a presence ages out while the test waits.
    return {
        "ANTOAN_RETENTION_SECONDS": str(RETENTION_S),
        "ANTOAN_DWELL_MINUTES": "1",
        "ANTOAN_EXPOSURE_BUFFER_MINUTES": "0",
    }


def test_a_case_presence_older_than_the_retention_period_is_forgotten(
    antoan: Antoan, running_services: RunningServices
) -> None:
    # Given a venue a case visited 65 s ago, for the one-minute dwell: red. The presence ended 5 s ago and
    # leaves 85 s after the check-in; a just-started stack (its stream processing still creating its
    # changelog topics) once took over 30 s to show it, hence the minute's wait within those 85 s.
    venue = antoan.register_venue()
    person = new_person()
    antoan.check_in(venue, person, at=datetime.now(UTC) - timedelta(seconds=65))
    case = antoan.confirm_case(person, tested_at=datetime.now(UTC))
    antoan.wait_venue_level(venue["venue_id"], 4, reason="case_present_72h", timeout=60)
    client = redis.Redis.from_url(running_services.servers.redis_url)
    key = f"{running_services.env['SAFETY_MAP_REDIS_PREFIX']}venue:{venue['venue_id']}"
    raw = client.get(key)
    assert raw is not None and case["case_id"].encode() in raw
    # When the retention period has passed since the presence ended
    # Then the venue is green again and the read model no longer holds the case
    antoan.wait_venue_level(venue["venue_id"], 1, timeout=RETENTION_S + 60)
    stored = wait_for(lambda: client.get(key), what="the venue's record")
    assert case["case_id"].encode() not in stored
    client.close()
