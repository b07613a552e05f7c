"""A retry is the same request whatever the server filled in.

Issue 12's finding: a retry with the same `client_event_id` but no `scanned_at` answered 409
`client_event_id_conflict`, because the server's own "now" was part of the comparison; an app that lets the
server date its scans could never retry safely.
"""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from antoan_localstack.testing import RunningServices, TopicReader
from antoan_shared import topics
from antoan_shared.events import CheckInRecorded

pytestmark = [pytest.mark.integration, pytest.mark.shared_services]


def test_a_retry_without_scanned_at_is_the_same_scan_not_a_conflict(running_services: RunningServices) -> None:
    with httpx.Client(base_url=running_services.ingest, timeout=15) as client:
        venue = client.post(
            "/v1/venues", json={"name": "Tiệm thuốc Hồng Phúc", "category": "shop", "capacity": 10}
        ).json()
        body = {
            "venue_qr": venue["qr"],
            "person_id": "0912000777",
            "app": "ncovi",
            "client_event_id": str(uuid.uuid4()),
        }
        first = client.post("/v1/checkins", json=body)
        time.sleep(1.1)  # the server's "now" has moved on
        retry = client.post("/v1/checkins", json=body)
        assert (first.status_code, retry.status_code) == (202, 202), retry.text
        assert retry.json()["event_id"] == first.json()["event_id"]
        # And a different scan under the same id is still a conflict
        other = client.post("/v1/checkins", json={**body, "direction": "out"})
        assert other.status_code == 409, other.text
    reader = TopicReader(running_services.settings(), topics.CHECKINS)

    def mine(events: list[object]) -> list[CheckInRecorded]:
        return [e for e in events if isinstance(e, CheckInRecorded) and e.venue_id == venue["venue_id"]]

    try:
        reader.wait_until(lambda events: bool(mine(events)), what="the scan on checkins.v1")
        time.sleep(1.0)  # and nothing more after it
        reader.read()
        assert len(mine(reader.events)) == 1
    finally:
        reader.close()
