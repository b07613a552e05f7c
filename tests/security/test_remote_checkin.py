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
from antoan_localstack.client import Antoan
from antoan_localstack.testing import wait_for
from antoan_shared import events

pytestmark = [pytest.mark.integration, pytest.mark.shared_services]


# Requests go through the `antoan` fixture's client, whose timeout (15 s) leaves room for a loaded machine: what
# these tests check is who may do what, not how fast (a poster's PDF took longer than httpx's default 5 s once).


def register(antoan: Antoan, **fields: Any) -> dict[str, str]:
    body = {"name": "Bệnh viện Đa khoa tỉnh", "category": "hospital", "province_code": "38", "capacity": 500}
    answer = antoan.http.post(f"{antoan.services.ingest}/v1/venues", json={**body, **fields})
    assert answer.status_code == 201, answer.text
    venue: dict[str, str] = answer.json()
    return venue


def scan(antoan: Antoan, code: str, person: str, scanned_at: datetime | None = None) -> httpx.Response:
    body: dict[str, Any] = {"venue_qr": code, "person_id": person, "direction": "in", "app": "pc-covid"}
    if scanned_at is not None:
        body["scanned_at"] = scanned_at.isoformat()
    return antoan.http.post(f"{antoan.services.ingest}/v1/checkins", json=body)


def rotating_code(antoan: Antoan, venue_id: str, expires_at: datetime) -> str:
    """A rotating code as the venue's screen showed it (signed with the stack's own QR secret)."""
    key_id = antoan.services.env.get("ANTOAN_QR_KEY_ID", "k1")
    return qr.rotating_qr({key_id: antoan.services.env["ANTOAN_QR_SECRET"].encode()}, key_id, venue_id, expires_at)


def code_of(answer: httpx.Response) -> tuple[int, str]:
    return answer.status_code, answer.json()["error"]["code"]


def test_poster_codes_are_only_for_the_key_holder(antoan: Antoan) -> None:
    venue = register(antoan)
    for image in ("qr.png", "qr.svg", "poster.pdf"):
        url = f"{antoan.services.ingest}/v1/venues/{venue['venue_id']}/{image}"
        assert antoan.http.get(url).status_code == 401, image
        assert antoan.http.get(url, headers={"authorization": "Bearer vk_someone-elses"}).status_code == 403, image
        assert antoan.http.get(url, headers={"authorization": f"Bearer {venue['api_key']}"}).status_code == 200, image


def test_a_venue_can_take_only_its_screen_code(antoan: Antoan) -> None:
    venue = register(antoan, rotating_qr_only=True)
    owner = {"authorization": f"Bearer {venue['api_key']}"}
    # The printed poster's code, photographed and sent from anywhere, is refused
    assert code_of(scan(antoan, venue["qr"], "0915000001")) == (403, "rotating_qr_required")
    # The screen's code is taken
    screen = antoan.http.get(f"{antoan.services.ingest}/v1/venues/{venue['venue_id']}/qr/rotating", headers=owner)
    assert scan(antoan, screen.json()["qr"], "0915000001").status_code == 202
    # Staff scanning at the door with the venue's key still work
    staff = {"person_id": "0915000002", "direction": "in", "app": "venue-scanner"}
    assert antoan.http.post(f"{antoan.services.ingest}/v1/checkins", json=staff, headers=owner).status_code == 202
    # And the owner can switch the rule off and on
    url = f"{antoan.services.ingest}/v1/venues/{venue['venue_id']}"
    assert antoan.http.patch(url, json={"rotating_qr_only": False}, headers=owner).json()["rotating_qr_only"] is False
    # (a scan served by another ingest process is checked against the change once its directory has read it)
    wait_for(
        lambda: scan(antoan, venue["qr"], "0915000003").status_code == 202,
        timeout=10,
        what="the poster's code taken again",
    )


def test_a_rotating_code_binds_the_visit_to_when_it_showed(antoan: Antoan) -> None:
    venue = register(antoan)
    now = events.utc_now()
    # A code that left the screen ten minutes ago (it showed for the three minutes before that)
    code = rotating_code(antoan, venue["venue_id"], now - timedelta(minutes=10))
    # An offline scan made while it showed, uploaded now, is taken
    assert scan(antoan, code, "0915000010", scanned_at=now - timedelta(minutes=11)).status_code == 202
    # A visit claimed for days before the code showed is refused
    for days in (1, 7, 20):
        backdated = scan(antoan, code, "0915000011", scanned_at=now - timedelta(days=days))
        assert code_of(backdated) == (400, "scanned_at_outside_qr_validity"), days
    # A scan said to be now, long after the code expired, is refused
    assert code_of(scan(antoan, code, "0915000012")) == (400, "qr_expired")
