"""Nobody plants someone else's contact details: the vault keeps every claim with its source and time.

Issue 12's finding: the identity vault kept the first value written for a person, so whoever declared first
with someone's number decided the name and phone the health authority saw. Now every value claimed is kept
beside the others with who claimed it (health authority, venue staff from a personal QR, the venue owner,
the person themselves) and when; the health authority sees all of them, and the summary value of a detail
is the most trusted source's. A person's record is bounded (`MAX_CLAIMS`).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from antoan_ingest.adapters.vault import MAX_CLAIMS
from antoan_localstack.testing import RunningServices

pytestmark = [pytest.mark.integration, pytest.mark.shared_services]

CCCD = "038099001777"
PERSONAL_QR = f"{CCCD}|Nguyễn Văn An|01/02/1990|CCCD|Q777|"


def declare(services: RunningServices, name: str, phone: str) -> None:
    body = {"kind": "domestic", "person_id": CCCD, "contact": {"full_name": name, "phone": phone}}
    answer = httpx.post(f"{services.ingest}/v1/declarations", json=body)
    assert answer.status_code == 202, answer.text


def search(services: RunningServices) -> dict[str, Any]:
    answer = httpx.post(
        f"{services.ingest}/v1/persons/search",
        headers={"authorization": f"Bearer {services.ha_token}"},
        json={"kind": "cccd", "value": CCCD, "purpose": "kiểm tra nguồn thông tin"},
    )
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def test_a_planted_name_neither_wins_nor_hides_the_real_one(running_services: RunningServices) -> None:
    # Given someone who declares first with another person's CCCD and a name and phone of their choosing
    declare(running_services, "Kẻ Mạo Danh", "0999000111")
    # When venue staff then scan that person's own chip-card QR at a venue
    venue = httpx.post(
        f"{running_services.ingest}/v1/venues",
        json={"name": "Phòng khám Đa khoa", "category": "hospital", "province_code": "38", "capacity": 80},
    ).json()
    scanned = httpx.post(
        f"{running_services.ingest}/v1/checkins",
        headers={"authorization": f"Bearer {venue['api_key']}"},
        json={"person_qr": PERSONAL_QR, "direction": "in", "app": "venue-scanner"},
    )
    assert scanned.status_code == 202, scanned.text
    # Then the health authority sees the staff's reading as the name, and every claim with its source and time
    found = search(running_services)
    assert found["contact"]["full_name"] == "Nguyễn Văn An"
    names = {(c["value"], c["source"]) for c in found["claims"] if c["field"] == "full_name"}
    assert names == {("Nguyễn Văn An", "venue_staff"), ("Kẻ Mạo Danh", "self_declared")}
    assert all(c["claimed_at"] for c in found["claims"])
    # And a later self-declared value is one more claim, overwriting nothing
    declare(running_services, "Người Khác", "0999000222")
    again = search(running_services)
    assert again["contact"]["full_name"] == "Nguyễn Văn An"
    assert {c["value"] for c in again["claims"] if c["field"] == "full_name"} == {
        "Nguyễn Văn An",
        "Kẻ Mạo Danh",
        "Người Khác",
    }
    # (the same value declared again is not a new claim)
    declare(running_services, "Người Khác", "0999000222")
    assert len(search(running_services)["claims"]) == len(again["claims"])


def test_a_persons_record_is_bounded(running_services: RunningServices) -> None:
    person = "0916000900"
    for n in range(MAX_CLAIMS + 10):
        body = {"kind": "domestic", "person_id": person, "contact": {"full_name": f"Tên giả số {n}"}}
        assert httpx.post(f"{running_services.ingest}/v1/declarations", json=body).status_code == 202
    answer = httpx.post(
        f"{running_services.ingest}/v1/persons/search",
        headers={"authorization": f"Bearer {running_services.ha_token}"},
        json={"kind": "phone", "value": person, "purpose": "kiểm tra giới hạn"},
    ).json()
    assert len(answer["claims"]) == MAX_CLAIMS
    assert "Tên giả số 0" in {c["value"] for c in answer["claims"]}  # the earliest are kept
