"""Nobody checks in from afar: poster codes go only to the venue's key holder, a venue may take only the
rotating code of its entrance screen, and a rotating code binds the visit to when it was on the screen.

Issue 12's finding: venue ids are public (the GeoJSON), `GET /v1/venues/{id}/qr.png` needed no key, so
anyone could decode any venue's poster and check made-up people in from anywhere (13 of 13 accepted, the
venue turned orange on the public map); a valid rotating code was accepted with `scanned_at` 1, 7 and 20
days back, while a genuine offline scan uploaded after the code's three minutes was refused and lost.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from antoan_ingest.domain import qr
from antoan_localstack.testing import RunningServices, wait_for
from antoan_shared import events

pytestmark = [pytest.mark.integration, pytest.mark.shared_services]
# What these tests check is who may do what, not how fast: a request may wait on a loaded machine (a poster's
# PDF drawn while the suite's other workers run took longer than httpx's default 5 s once).
TIMEOUT = 30.0


def register(services: RunningServices, **fields: Any) -> dict[str, str]:
    body = {"name": "Bệnh viện Đa khoa tỉnh", "category": "hospital", "province_code": "38", "capacity": 500}
    answer = httpx.post(f"{services.ingest}/v1/venues", json={**body, **fields}, timeout=TIMEOUT)
    assert answer.status_code == 201, answer.text
    venue: dict[str, str] = answer.json()
    return venue


def scan(services: RunningServices, code: str, person: str, scanned_at: datetime | None = None) -> httpx.Response:
    body: dict[str, Any] = {"venue_qr": code, "person_id": person, "direction": "in", "app": "pc-covid"}
    if scanned_at is not None:
        body["scanned_at"] = scanned_at.isoformat()
    return httpx.post(f"{services.ingest}/v1/checkins", json=body, timeout=TIMEOUT)


def rotating_code(services: RunningServices, venue_id: str, expires_at: datetime) -> str:
    """A rotating code as the venue's screen showed it (signed with the stack's own QR secret)."""
    key_id = services.env.get("ANTOAN_QR_KEY_ID", "k1")
    return qr.rotating_qr({key_id: services.env["ANTOAN_QR_SECRET"].encode()}, key_id, venue_id, expires_at)


def code_of(answer: httpx.Response) -> tuple[int, str]:
    return answer.status_code, answer.json()["error"]["code"]


def test_poster_codes_are_only_for_the_key_holder(running_services: RunningServices) -> None:
    venue = register(running_services)
    for image in ("qr.png", "qr.svg", "poster.pdf"):
        url = f"{running_services.ingest}/v1/venues/{venue['venue_id']}/{image}"
        assert httpx.get(url, timeout=TIMEOUT).status_code == 401, image
        assert (
            httpx.get(url, headers={"authorization": "Bearer vk_someone-elses"}, timeout=TIMEOUT).status_code == 403
        ), image
        assert (
            httpx.get(url, headers={"authorization": f"Bearer {venue['api_key']}"}, timeout=TIMEOUT).status_code == 200
        ), image


def test_a_venue_can_take_only_its_screen_code(running_services: RunningServices) -> None:
    venue = register(running_services, rotating_qr_only=True)
    owner = {"authorization": f"Bearer {venue['api_key']}"}
    # The printed poster's code, photographed and sent from anywhere, is refused
    assert code_of(scan(running_services, venue["qr"], "0915000001")) == (403, "rotating_qr_required")
    # The screen's code is taken
    screen = httpx.get(
        f"{running_services.ingest}/v1/venues/{venue['venue_id']}/qr/rotating", headers=owner, timeout=TIMEOUT
    )
    assert scan(running_services, screen.json()["qr"], "0915000001").status_code == 202
    # Staff scanning at the door with the venue's key still work
    staff = {"person_id": "0915000002", "direction": "in", "app": "venue-scanner"}
    assert (
        httpx.post(f"{running_services.ingest}/v1/checkins", json=staff, headers=owner, timeout=TIMEOUT).status_code
        == 202
    )
    # And the owner can switch the rule off and on
    url = f"{running_services.ingest}/v1/venues/{venue['venue_id']}"
    assert httpx.patch(url, json={"rotating_qr_only": False}, headers=owner).json()["rotating_qr_only"] is False
    # (a scan served by another ingest process is checked against the change once its directory has read it)
    wait_for(
        lambda: scan(running_services, venue["qr"], "0915000003").status_code == 202,
        timeout=10,
        what="the poster's code taken again",
    )


def test_a_rotating_code_binds_the_visit_to_when_it_showed(running_services: RunningServices) -> None:
    venue = register(running_services)
    now = events.utc_now()
    # A code that left the screen ten minutes ago (it showed for the three minutes before that)
    code = rotating_code(running_services, venue["venue_id"], now - timedelta(minutes=10))
    # An offline scan made while it showed, uploaded now, is taken
    assert scan(running_services, code, "0915000010", scanned_at=now - timedelta(minutes=11)).status_code == 202
    # A visit claimed for days before the code showed is refused
    for days in (1, 7, 20):
        backdated = scan(running_services, code, "0915000011", scanned_at=now - timedelta(days=days))
        assert code_of(backdated) == (400, "scanned_at_outside_qr_validity"), days
    # A scan said to be now, long after the code expired, is refused
    assert code_of(scan(running_services, code, "0915000012")) == (400, "qr_expired")
