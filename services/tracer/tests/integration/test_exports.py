"""CSV exports of the visitor history and of a case's contacts: safe to open in a spreadsheet (SPEC §7)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from antoan_localstack.testing import RunningServices, TopicReader, TracerWorker, wait_for
from antoan_shared import events, topics

pytestmark = pytest.mark.integration

VENUE_NAME = '=HYPERLINK("http://evil.example","Quán Phở Hà Nội")'
CASE, NEIGHBOUR, PRANKSTER = "0913200001", "0913200002", "0913200003"
NEIGHBOUR_NAME = "Nguyễn Thị Ánh Tuyết"
PRANKSTER_NAME = "=cmd|' /C calc'!A0"
PRANKSTER_ADDRESS = "-1 Lê Lợi, Thanh Hóa"


@pytest.fixture(scope="module")
def ingest(running_services: RunningServices) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running_services.ingest, timeout=15) as client:
        yield client


@pytest.fixture(scope="module")
def tracer(running_services: RunningServices) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running_services.tracer, timeout=15) as client:
        yield client


@pytest.fixture(scope="module")
def venue(ingest: httpx.Client) -> dict[str, str]:
    """A venue whose name is a formula, where the case, a neighbour and a prankster were together."""
    response = ingest.post("/v1/venues", json={"name": VENUE_NAME, "category": "restaurant", "capacity": 40})
    assert response.status_code == 201, response.text
    created: dict[str, str] = response.json()
    for person, direction, minutes_ago in (
        (CASE, "in", 50),
        (NEIGHBOUR, "in", 40),
        (PRANKSTER, "in", 30),
        (CASE, "out", 20),
    ):
        body = {
            "venue_qr": created["qr"],
            "person_id": person,
            "direction": direction,
            "app": "pc-covid",
            "scanned_at": (events.utc_now() - timedelta(minutes=minutes_ago)).isoformat(),
            "client_event_id": str(uuid.uuid4()),
        }
        assert ingest.post("/v1/checkins", json=body).status_code == 202
    return created


def ha(running_services: RunningServices) -> dict[str, str]:
    return {"authorization": f"Bearer {running_services.ha_token}"}


def parsed(response: httpx.Response) -> list[dict[str, str]]:
    """The rows of a CSV answer, after checking it is one: UTF-8 with a BOM, offered as a named download."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_a_venues_visitor_history_downloads_as_a_spreadsheet_safe_csv(
    tracer: httpx.Client, venue: dict[str, str]
) -> None:
    # Given a venue whose name is a formula, with three visits
    window = {
        "from": (events.utc_now() - timedelta(hours=2)).isoformat(),
        "to": (events.utc_now() + timedelta(minutes=1)).isoformat(),
    }
    key = {"authorization": f"Bearer {venue['api_key']}"}
    path = f"/v1/venues/{venue['venue_id']}/visits"

    def three_visits_one_closed() -> list[dict[str, Any]] | None:
        visits: list[dict[str, Any]] = tracer.get(path, params=window, headers=key).json().get("visits", [])
        lengths = sorted(datetime.fromisoformat(v["end"]) - datetime.fromisoformat(v["start"]) for v in visits)
        return visits if len(visits) == 3 and lengths[0] < timedelta(minutes=45) else None

    visits = wait_for(three_visits_one_closed, what="three visits, the case's checked out")
    # When the owner downloads it as CSV
    response = tracer.get(f"{path}.csv", params=window, headers=key)
    # Then it is the same history, one row per visit, offered as a file named after the venue
    rows = parsed(response)
    assert response.headers["content-disposition"] == f'attachment; filename="visits-{venue["venue_id"]}.csv"'
    assert [(r["visit_id"], r["person_key"], r["start"], r["end"]) for r in rows] == [
        (v["visit_id"], v["person_key"], v["start"], v["end"]) for v in visits
    ]
    # And the venue's name is shown as text, not run as a formula, its Vietnamese intact
    assert {r["venue_name"] for r in rows} == {"'" + VENUE_NAME}
    assert {r["venue_id"] for r in rows} == {venue["venue_id"]}
    # And the same checks guard it as the JSON history
    assert tracer.get(f"{path}.csv", params=window).status_code == 401
    bad = tracer.get(f"{path}.csv", params={"from": "yesterday"}, headers=key)
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_range"


def test_a_cases_contacts_download_as_a_spreadsheet_safe_csv_and_the_read_is_audited(
    ingest: httpx.Client, tracer: httpx.Client, running_services: RunningServices, venue: dict[str, str]
) -> None:
    # Given contacts who left contact details in a declaration, one of them formulas
    for person, contact in (
        (NEIGHBOUR, {"full_name": NEIGHBOUR_NAME, "phone": "+84913200002"}),
        (PRANKSTER, {"full_name": PRANKSTER_NAME, "address": PRANKSTER_ADDRESS}),
    ):
        body = {"kind": "domestic", "person_id": person, "contact": contact}
        assert ingest.post("/v1/declarations", json=body).status_code == 202
    # And the case confirmed
    case_id = "BN" + uuid.uuid4().hex[:8]
    now = events.utc_now()
    body = {"person_id": CASE, "case_id": case_id, "tested_at": now.isoformat(), "onset_at": now.isoformat()}
    assert ingest.post("/v1/cases", json=body, headers=ha(running_services)).status_code == 202
    path = f"/v1/cases/{case_id}/contacts"

    def both_contacts() -> list[dict[str, Any]] | None:
        response = tracer.get(path, headers=ha(running_services))
        listed: list[dict[str, Any]] = response.json().get("contacts", []) if response.status_code == 200 else []
        return listed if len(listed) == 2 and all(c["contact"] for c in listed) else None

    listed = wait_for(both_contacts, timeout=60, what="both contacts with their details")
    audit = TopicReader(running_services.settings(), topics.AUDIT)
    try:
        purpose = f"contacts of case {case_id}"

        def read_since(moment: datetime) -> events.PersonalDataRead | None:
            found = [e for e in audit.read() if isinstance(e, events.PersonalDataRead) and e.purpose == purpose]
            return next((e for e in found if e.occurred_at >= moment), None)

        asked_at = events.utc_now()
        # When the health authority downloads them as CSV
        response = tracer.get(f"{path}.csv", headers=ha(running_services))
        rows = parsed(response)
        # Then the read is audited like the JSON one: a lookup of these people, for this case
        audited = wait_for(lambda: read_since(asked_at), what="the CSV read on audit.v1")
        assert set(audited.person_keys) == {c["person_key"] for c in listed}
    finally:
        audit.close()
    # And the file is the same list, named after the case, formulas shown as text, Vietnamese intact
    assert response.headers["content-disposition"] == f'attachment; filename="contacts-{case_id}.csv"'
    by_key = {r["person_key"]: r for r in rows}
    assert [r["person_key"] for r in rows] == [c["person_key"] for c in listed]
    names = {r["contact_full_name"] for r in rows}
    assert names == {NEIGHBOUR_NAME, "'" + PRANKSTER_NAME}
    [prankster] = [r for r in rows if r["contact_full_name"].startswith("'")]
    assert prankster["contact_address"] == "'" + PRANKSTER_ADDRESS
    [neighbour] = [r for r in rows if r["contact_full_name"] == NEIGHBOUR_NAME]
    assert neighbour["contact_phone"] == "'+84913200002"  # a leading + would be read as a formula too
    for row in rows:
        assert row["case_id"] == case_id
        assert row["degree"] == "1"
        assert row["venue_id"] == venue["venue_id"]
        assert row["window_start"] == by_key[row["person_key"]]["window_start"]
    # And nobody else gets it
    assert tracer.get(f"{path}.csv").status_code == 401
    wrong = tracer.get(f"{path}.csv", headers={"authorization": "Bearer not-the-token"})
    assert wrong.status_code == 403
    assert wrong.json()["error"]["code"] == "invalid_token"


def test_a_csv_is_the_same_file_whichever_worker_is_asked(
    running_services: RunningServices, venue: dict[str, str]
) -> None:
    # Given a second tracer worker in the group: one of the two forwards the request to the other
    second = TracerWorker(running_services, "tracer-2")
    try:
        second.wait_ready()
        window = {
            "from": (events.utc_now() - timedelta(hours=2)).isoformat(),
            "to": (events.utc_now() + timedelta(minutes=1)).isoformat(),
        }
        key = {"authorization": f"Bearer {venue['api_key']}"}
        path = f"/v1/venues/{venue['venue_id']}/visits.csv"

        def answered(base: str) -> httpx.Response | None:
            response = httpx.get(base + path, params=window, headers=key, timeout=15)
            return response if response.status_code == 200 and len(parsed(response)) == 3 else None

        # When each worker is asked for the venue's visits as CSV
        first = wait_for(lambda: answered(running_services.tracer), timeout=60, what="the first worker's CSV")
        other = wait_for(lambda: answered(second.url), timeout=60, what="the second worker's CSV")
        # Then both give the same file, BOM, type and download name included (forwarding keeps them)
        assert first.content == other.content
        for header in ("content-type", "content-disposition"):
            assert first.headers[header] == other.headers[header]
    finally:
        second.stop()
