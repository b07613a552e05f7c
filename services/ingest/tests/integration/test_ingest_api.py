"""The ingest API through the real broker and Redis (SPEC §3.1–3.3, §3.5, §4.1, §7)."""

from __future__ import annotations

import asyncio
import io
import json
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image

from antoan_ingest.app import create_app
from antoan_ingest.domain.qr import rotating_qr, static_qr
from antoan_ingest.settings import IngestSettings
from antoan_localstack.testing import RunningServices, Servers, TopicReader, wait_for
from antoan_shared import events, topics

pytestmark = [pytest.mark.integration, pytest.mark.shared_services]


@pytest.fixture(scope="module")
def client(running_services: RunningServices) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running_services.ingest, timeout=15) as session:
        yield session


def register(client: httpx.Client, **fields: Any) -> dict[str, str]:
    body = {"name": "Bệnh viện Đa khoa tỉnh Thanh Hóa", "category": "hospital", "capacity": 500, **fields}
    response = client.post("/v1/venues", json=body)
    assert response.status_code == 201, response.text
    venue: dict[str, str] = response.json()
    return venue


def scan(client: httpx.Client, **body: Any) -> httpx.Response:
    key = body.pop("api_key", None)
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return client.post("/v1/checkins", json={"app": "pc-covid", **body}, headers=headers)


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


def checkins_at(running_services: RunningServices, venue_id: str, expected: int) -> list[events.CheckInRecorded]:
    reader = TopicReader(running_services.settings(), topics.CHECKINS)
    try:

        def mine(batch: list[events.Event]) -> list[events.CheckInRecorded]:
            return [e for e in batch if isinstance(e, events.CheckInRecorded) and e.venue_id == venue_id]

        reader.wait_until(lambda batch: len(mine(batch)) >= expected, what=f"{expected} check-ins at {venue_id}")
        reader.read(timeout_ms=500)  # and nothing more arrives
        return mine(reader.events)
    finally:
        reader.close()


# --- people -------------------------------------------------------------------------------------


def test_three_spellings_of_a_phone_number_are_one_person(
    client: httpx.Client, running_services: RunningServices
) -> None:
    venue = register(client)
    keys = set()
    for spelling in ("0912345678", "+84912345678", "84912345678"):
        response = scan(client, venue_qr=venue["qr"], person_id=spelling)
        assert response.status_code == 202, response.text
        keys.add(response.json()["person_key"])
    assert len(keys) == 1
    # And the health authority finds the person's number behind the key
    [key] = keys
    found = client.get(f"/v1/persons/{key}", headers={"authorization": f"Bearer {running_services.ha_token}"})
    assert found.status_code == 200, found.text
    assert found.json()["contact"]["phone"] == "+84912345678"


def test_contact_details_need_the_token_and_every_read_is_audited(
    client: httpx.Client, running_services: RunningServices
) -> None:
    venue = register(client)
    key = scan(client, venue_qr=venue["qr"], person_id="0987000111").json()["person_key"]
    assert error_code(client.get(f"/v1/persons/{key}")) == "token_required"
    wrong = client.get(f"/v1/persons/{key}", headers={"authorization": "Bearer not-the-token"})
    assert (wrong.status_code, error_code(wrong)) == (403, "invalid_token")
    ok = client.get(f"/v1/persons/{key}", headers={"authorization": f"Bearer {running_services.ha_token}"})
    assert ok.status_code == 200
    reader = TopicReader(running_services.settings(), topics.AUDIT)
    try:
        audit = reader.wait_until(
            lambda batch: any(isinstance(e, events.PersonalDataRead) and key in e.person_keys for e in batch),
            what="the audit record of the read",
        )
    finally:
        reader.close()
    assert any(e.actor == "health-authority" for e in audit if isinstance(e, events.PersonalDataRead))


# --- QR codes -----------------------------------------------------------------------------------


def test_forged_altered_and_expired_codes_are_refused_each_with_its_own_code(
    client: httpx.Client, running_services: RunningServices
) -> None:
    venue = register(client)
    other = register(client, name="Trường THPT Chuyên Lam Sơn", category="school")
    secret = running_services.env["ANTOAN_QR_SECRET"].encode()
    now = events.utc_now()
    cases = {
        "forged": (static_qr({"k1": b"a guess"}, "k1", venue["venue_id"]), "invalid_qr_signature"),
        "altered": (venue["qr"].replace(venue["venue_id"], other["venue_id"]), "invalid_qr_signature"),
        # (expired beyond the devices' clock skew, five minutes)
        "expired": (rotating_qr({"k1": secret}, "k1", venue["venue_id"], now - timedelta(minutes=6)), "qr_expired"),
        "unknown key": (static_qr({"k9": secret}, "k9", venue["venue_id"]), "unknown_qr_key"),
        "not ours": ("https://example.com/menu", "invalid_qr_format"),
    }
    for name, (payload, code) in cases.items():
        response = scan(client, venue_qr=payload, person_id="0912000001")
        assert (response.status_code, error_code(response)) == (400, code), name
    # while a fresh rotating code from the venue's screen works
    rotating = client.get(
        f"/v1/venues/{venue['venue_id']}/qr/rotating", headers={"authorization": f"Bearer {venue['api_key']}"}
    )
    assert rotating.status_code == 200, rotating.text
    assert scan(client, venue_qr=rotating.json()["qr"], person_id="0912000001").status_code == 202


def test_the_poster_and_qr_images_are_served_to_the_owner(client: httpx.Client) -> None:
    venue = register(client, name="Siêu thị Co.opmart Thanh Hóa", category="supermarket")
    owner = {"authorization": f"Bearer {venue['api_key']}"}
    svg = client.get(f"/v1/venues/{venue['venue_id']}/qr.svg", headers=owner)
    png = client.get(f"/v1/venues/{venue['venue_id']}/qr.png", headers=owner)
    pdf = client.get(f"/v1/venues/{venue['venue_id']}/poster.pdf", headers=owner)
    assert svg.headers["content-type"] == "image/svg+xml" and b"<svg" in svg.content
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert client.get("/v1/venues/v_0000000000000000/poster.pdf").status_code == 404


def _decoded_qr(png: bytes) -> str:
    codes = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)), formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(codes) == 1
    text: str = codes[0].text
    return text


def test_a_venue_qr_opens_the_check_in_page_and_apps_may_send_the_page_or_the_token(client: httpx.Client) -> None:
    venue = register(client, name="Quán cà phê Phố Cổ", category="cafe", address="12 Lê Lợi")
    owner = {"authorization": f"Bearer {venue['api_key']}"}
    assert venue["qr_url"].endswith("/c/" + venue["qr"]) and venue["qr_url"].startswith("http")
    poster = client.get(f"/v1/venues/{venue['venue_id']}/qr.png", headers=owner)
    assert _decoded_qr(poster.content) == venue["qr_url"]
    screen = client.get(f"/v1/venues/{venue['venue_id']}/qr/rotating.png", headers=owner)
    assert screen.status_code == 200 and screen.headers["cache-control"] == "no-store"
    shown = _decoded_qr(screen.content)
    assert shown.startswith(venue["qr_url"].removesuffix(venue["qr"]) + "ANTOAN1.R.")
    # The page asks what the code names before the person checks in: the venue as the public knows it.
    for code, kind in ((venue["qr_url"], "static"), (venue["qr"], "static"), (shown.rsplit("/", 1)[1], "rotating")):
        named = client.get(f"/v1/venue-qr/{code.rsplit('/', 1)[-1]}")
        assert named.status_code == 200, named.text
        body = named.json()
        assert (body["venue_id"], body["name"], body["address"], body["kind"]) == (
            venue["venue_id"],
            "Quán cà phê Phố Cổ",
            "12 Lê Lợi",
            kind,
        )
        assert (body["expires_at"] is None) == (kind == "static")
        assert "api_key_hash" not in body and "owner_key" not in body
    for payload in (venue["qr_url"], shown, venue["qr"]):
        assert scan(client, venue_qr=payload, person_id="0912000002").status_code == 202, payload


def test_the_check_in_page_is_told_why_a_code_is_refused_with_the_check_ins_own_codes(client: httpx.Client) -> None:
    venue = register(client, name="Chợ Vườn Hoa", category="market")
    other = register(client, name="Chợ Điện Biên", category="market")
    altered = venue["qr"].replace(venue["venue_id"], other["venue_id"])
    assert (client.get(f"/v1/venue-qr/{altered}").status_code, error_code(client.get(f"/v1/venue-qr/{altered}"))) == (
        400,
        "invalid_qr_signature",
    )
    assert error_code(client.get("/v1/venue-qr/hello")) == "invalid_qr_format"
    owner = {"authorization": f"Bearer {venue['api_key']}"}
    assert client.patch(f"/v1/venues/{venue['venue_id']}", json={"rotating_qr_only": True}, headers=owner).is_success
    assert client.delete(f"/v1/venues/{other['venue_id']}", headers={"authorization": f"Bearer {other['api_key']}"})
    # (each ingest process's venue directory reads a change a moment after the one that took it)
    refused = {
        venue["qr"]: (403, "rotating_qr_required"),  # the venue takes only its screen's code now
        other["qr"]: (404, "venue_not_found"),  # deactivated
    }
    for token, (status, code) in refused.items():

        def answered(token: str = token, status: int = status) -> httpx.Response | None:
            response = client.get(f"/v1/venue-qr/{token}")
            return response if response.status_code == status else None

        assert error_code(wait_for(answered, timeout=10, what=f"{status} {code}")) == code


# --- check-ins ----------------------------------------------------------------------------------


def test_a_retried_client_event_id_is_one_event(client: httpx.Client, running_services: RunningServices) -> None:
    venue = register(client)
    body = {"venue_qr": venue["qr"], "person_id": "0912000002", "client_event_id": str(uuid.uuid4())}
    first = scan(client, **body, scanned_at=events.utc_now().isoformat())
    retry = scan(client, **body, scanned_at=first_scanned(first, running_services, venue["venue_id"]))
    assert first.status_code == retry.status_code == 202
    assert first.json()["event_id"] == retry.json()["event_id"]
    recorded = checkins_at(running_services, venue["venue_id"], expected=1)
    assert [e.event_id for e in recorded] == [first.json()["event_id"]]
    # the same client id for a different scan is a conflict, not a silent overwrite
    other = register(client)
    conflict = scan(client, **{**body, "venue_qr": other["qr"]})
    assert (conflict.status_code, error_code(conflict)) == (409, "client_event_id_conflict")


def test_a_scan_answered_by_the_shortcut_is_answered_as_the_route_answers_it(client: httpx.Client) -> None:
    # A single scan sent as application/json takes ingest's shortcut (SingleScanShortcut); the same scan
    # retried as application/merge+json, which FastAPI also reads as JSON, goes through the FastAPI route.
    venue = register(client)
    body = {"venue_qr": venue["qr"], "person_id": "0912000007", "app": "pc-covid", "client_event_id": str(uuid.uuid4())}
    content = json.dumps(body).encode()
    answers = [
        client.post("/v1/checkins", content=content, headers={"content-type": media_type})
        for media_type in ("application/json; charset=utf-8", "application/merge+json")
    ]
    shortcut, route = answers
    assert shortcut.status_code == route.status_code == 202, (shortcut.text, route.text)
    assert shortcut.content == route.content
    assert {k: v for k, v in shortcut.headers.items() if k != "date"} == {
        k: v for k, v in route.headers.items() if k != "date"
    }
    # A body the schema refuses is handed on to the route, whose answer names the problem
    refused = client.post(
        "/v1/checkins", content=json.dumps({**body, "app": "no-such-app"}), headers={"content-type": "application/json"}
    )
    assert (refused.status_code, error_code(refused)) == (422, "invalid_request")
    assert [problem["loc"] for problem in refused.json()["error"]["detail"]] == [["body", "app"]]


def recordings_of_single_scans(client: httpx.Client) -> tuple[float, float]:
    """(recordings, scans) of ingest's single-scan coalescer so far, summed over its processes."""
    metrics = client.get("/metrics").text
    found = dict(re.findall(r"^antoan_ingest_single_scans_per_recording_(count|sum) (\S+)$", metrics, re.M))
    return float(found.get("count", 0)), float(found.get("sum", 0))


def test_single_scans_arriving_together_are_recorded_together_each_with_its_own_answer(
    client: httpx.Client, running_services: RunningServices
) -> None:
    # Given 200 scans sent at once, every tenth with a person id that is no phone number or document number
    venue = register(client)
    bodies = [
        {"app": "pc-covid", "venue_qr": venue["qr"], "person_id": f"09120{n:05d}" if n % 10 else "12"}
        for n in range(200)
    ]
    before = recordings_of_single_scans(client)

    async def send_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=running_services.ingest, timeout=30) as session:
            return await asyncio.gather(*(session.post("/v1/checkins", json=body) for body in bodies))

    answers = asyncio.run(send_all())
    # Then each gets the answer it gets alone: the bad ones 400, the others 202 with an event of their own
    assert [a.status_code for a in answers] == [202 if n % 10 else 400 for n in range(200)]
    assert {error_code(a) for a in answers if a.status_code == 400} == {"invalid_person_id"}
    accepted = [a.json()["event_id"] for a in answers if a.status_code == 202]
    assert len(set(accepted)) == 180
    # And exactly those are on checkins.v1, once each
    recorded = checkins_at(running_services, venue["venue_id"], expected=180)
    assert sorted(e.event_id for e in recorded) == sorted(accepted)
    # And they were recorded in fewer recordings than scans (group commit), every scan in one
    after = recordings_of_single_scans(client)
    recordings, scans = after[0] - before[0], after[1] - before[1]
    assert scans == 200
    assert recordings < scans


def first_scanned(response: httpx.Response, running_services: RunningServices, venue_id: str) -> str:
    [event] = checkins_at(running_services, venue_id, expected=1)
    assert event.event_id == response.json()["event_id"]
    return event.scanned_at.isoformat()


def test_staff_scan_a_personal_qr_with_the_venue_key_and_not_without(
    client: httpx.Client, running_services: RunningServices
) -> None:
    venue = register(client)
    person_qr = "038099001234|Nguyễn Văn An|01/02/1990|CCCD|Q123|"
    without = scan(client, person_qr=person_qr, app="venue-scanner")
    assert (without.status_code, error_code(without)) == (401, "venue_key_required")
    wrong = scan(client, person_qr=person_qr, app="venue-scanner", api_key="vk_wrong")
    assert (wrong.status_code, error_code(wrong)) == (401, "invalid_venue_key")
    by_qr = scan(client, person_qr=person_qr, app="venue-scanner", api_key=venue["api_key"])
    on_behalf = scan(client, person_id="038099001234", app="staff", api_key=venue["api_key"])
    assert by_qr.status_code == on_behalf.status_code == 202, (by_qr.text, on_behalf.text)
    assert by_qr.json()["person_key"] == on_behalf.json()["person_key"]  # the document number is the person
    recorded = checkins_at(running_services, venue["venue_id"], expected=2)
    assert sorted(e.method.value for e in recorded) == ["person_qr", "staff"]
    bad = scan(client, person_qr="not|a|personal|code", app="venue-scanner", api_key=venue["api_key"])
    assert (bad.status_code, error_code(bad)) == (400, "invalid_person_qr")


def test_a_household_check_in_records_every_dependant(client: httpx.Client, running_services: RunningServices) -> None:
    venue = register(client)
    response = scan(client, venue_qr=venue["qr"], person_id="0912000003", dependants=["038012000001", "038015000002"])
    assert response.status_code == 202, response.text
    assert len(response.json()["dependants"]) == 2
    recorded = checkins_at(running_services, venue["venue_id"], expected=3)
    assert len({e.person_key for e in recorded}) == 3


def test_a_batch_with_bad_items_publishes_exactly_the_good_ones(
    client: httpx.Client, running_services: RunningServices
) -> None:
    venue = register(client)
    now = events.utc_now()
    items = [
        {"venue_qr": venue["qr"], "person_id": "0912000010", "app": "bluezone", "scanned_at": now.isoformat()},
        {"venue_qr": venue["qr"] + "x", "person_id": "0912000011", "app": "bluezone"},  # altered
        {"venue_qr": venue["qr"], "person_id": "0912000012", "app": "ncovi", "direction": "out"},
        {"venue_qr": venue["qr"], "person_id": "nobody", "app": "ncovi"},  # not an identifier
        {
            "venue_qr": venue["qr"],
            "person_id": "0912000013",
            "app": "tokhaiyte",
            "scanned_at": (now - timedelta(days=30)).isoformat(),  # beyond retention
        },
        {"venue_qr": venue["qr"], "person_id": "0912000014", "app": "pc-covid", "client_event_id": "offline-1"},
    ]
    response = client.post("/v1/checkins/batch", json={"items": items})
    assert response.status_code == 207, response.text
    answer = response.json()
    assert [r["status"] for r in answer["results"]] == [202, 400, 202, 400, 400, 202]
    assert [r.get("error", {}).get("code") for r in answer["results"]] == [
        None,
        "invalid_qr_signature",
        None,
        "invalid_person_id",
        "scanned_at_out_of_range",
        None,
    ]
    good = {r["result"]["event_id"] for r in answer["results"] if r["status"] == 202}
    recorded = checkins_at(running_services, venue["venue_id"], expected=3)
    assert {e.event_id for e in recorded} == good


def test_a_scan_repeated_within_one_batch_is_one_event(client: httpx.Client, running_services: RunningServices) -> None:
    """An offline phone uploading the same scan twice in one batch: both answered as the one event, published once;
    its client_event_id reused there for another scan is a conflict, as across requests."""
    venue, other = register(client), register(client)
    at = events.utc_now().isoformat()
    same = {"venue_qr": venue["qr"], "person_id": "0912000015", "app": "pc-covid", "scanned_at": at}
    items = [
        {**same, "client_event_id": "twice-1"},
        {**same, "person_id": "0912000016", "client_event_id": "twice-1"},  # another person: their own id
        {**same, "client_event_id": "twice-1"},
        {**same, "venue_qr": other["qr"], "client_event_id": "twice-1"},  # the first's id, another scan
    ]
    response = client.post("/v1/checkins/batch", json={"items": items})
    assert response.status_code == 207, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == [202, 202, 202, 409]
    assert results[3]["error"]["code"] == "client_event_id_conflict"
    assert results[2]["result"] == results[0]["result"]
    assert results[1]["result"]["event_id"] != results[0]["result"]["event_id"]
    recorded = checkins_at(running_services, venue["venue_id"], expected=2)
    assert sorted(e.event_id for e in recorded) == sorted(r["result"]["event_id"] for r in results[:2])
    again = client.post("/v1/checkins/batch", json={"items": items[:1]})
    assert again.status_code == 202 and again.json()["results"][0]["result"] == results[0]["result"]


def test_scans_outside_the_time_window_are_refused(client: httpx.Client) -> None:
    venue = register(client)
    now = events.utc_now()
    future = scan(
        client, venue_qr=venue["qr"], person_id="0912000020", scanned_at=(now + timedelta(minutes=6)).isoformat()
    )
    skewed = scan(
        client, venue_qr=venue["qr"], person_id="0912000020", scanned_at=(now + timedelta(minutes=4)).isoformat()
    )
    naive = scan(client, venue_qr=venue["qr"], person_id="0912000020", scanned_at="2021-09-01T08:00:00")
    assert (future.status_code, error_code(future)) == (400, "scanned_at_out_of_range")
    assert skewed.status_code == 202
    assert (naive.status_code, error_code(naive)) == (422, "invalid_request")


def test_a_deactivated_venue_refuses_check_ins(client: httpx.Client) -> None:
    venue = register(client, capacity=20)
    auth = {"authorization": f"Bearer {venue['api_key']}"}
    updated = client.patch(f"/v1/venues/{venue['venue_id']}", json={"capacity": 35}, headers=auth)
    assert updated.status_code == 200 and updated.json()["capacity"] == 35
    other_key = register(client)["api_key"]
    refused = client.patch(
        f"/v1/venues/{venue['venue_id']}", json={"capacity": 1}, headers={"authorization": f"Bearer {other_key}"}
    )
    assert (refused.status_code, error_code(refused)) == (403, "invalid_venue_key")
    assert client.delete(f"/v1/venues/{venue['venue_id']}", headers=auth).status_code == 200
    response = scan(client, venue_qr=venue["qr"], person_id="0912000030")
    assert (response.status_code, error_code(response)) == (404, "venue_not_found")


# --- declarations and cases -----------------------------------------------------------------------


def test_every_kind_of_declaration_is_published_without_identifiers(
    client: httpx.Client, running_services: RunningServices
) -> None:
    today = events.utc_now().date()
    declarations = [
        {"kind": "domestic", "person_id": "0912000040", "symptoms": ["cough"], "places_visited": ["Chợ Vườn Hoa"]},
        {
            "kind": "entry",
            "person_id": "C1234567",
            "nationality": "VN",
            "flight_or_vehicle": "VN52",
            "seat": "12A",
            "origin": "Tokyo",
            "border_gate": "Nội Bài",
            "arrival_date": today.isoformat(),
            "travel_history_14d": ["JP"],
            "quarantine_address": "Khách sạn Mường Thanh, Sầm Sơn",
            "contact": {"full_name": "Trần Thị Bình", "phone": "0912000041"},
        },
        {
            "kind": "domestic_move",
            "person_id": "0912000042",
            "vehicle": "36B-123.45",
            "route_from": "Hà Nội",
            "route_to": "Thanh Hóa",
            "travel_date": (today + timedelta(days=1)).isoformat(),
        },
        {"kind": "quarantine_daily", "person_id": "0912000043", "temperature_c": 37.8, "declared_by": "0912000044"},
    ]
    accepted = []
    for body in declarations:
        response = client.post("/v1/declarations", json=body)
        assert response.status_code == 202, response.text
        accepted.append(response.json())
    reader = TopicReader(running_services.settings(), topics.DECLARATIONS)
    try:
        ids = {a["event_id"] for a in accepted}
        published = reader.wait_until(lambda b: ids <= {e.event_id for e in b}, what="the declarations")
    finally:
        reader.close()
    mine = [e for e in published if e.event_id in ids and isinstance(e, events.DeclarationSubmitted)]
    by_kind = {e.kind.value: e for e in mine}
    assert set(by_kind) == {"domestic", "entry", "domestic_move", "quarantine_daily"}
    # Free text stays off the topic (in the vault, by the declaration's event id); dates travel
    assert "flight_or_vehicle" not in by_kind["entry"].details
    assert by_kind["entry"].details["arrival_date"] == today.isoformat()
    assert by_kind["quarantine_daily"].temperature_c == 37.8
    assert by_kind["quarantine_daily"].submitted_by_key is not None
    text = " ".join(e.model_dump_json() for e in mine)
    assert "C1234567" not in text and "Trần Thị Bình" not in text and "0912000041" not in text


def test_only_the_health_authority_confirms_cases(client: httpx.Client, running_services: RunningServices) -> None:
    body = {
        "person_id": "0912000050",
        "tested_at": events.utc_now().isoformat(),
        "case_id": "BN" + uuid.uuid4().hex[:6],
    }
    assert error_code(client.post("/v1/cases", json=body)) == "token_required"
    auth = {"authorization": f"Bearer {running_services.ha_token}"}
    first = client.post("/v1/cases", json=body, headers=auth)
    again = client.post("/v1/cases", json=body, headers=auth)
    assert first.status_code == again.status_code == 202, first.text
    assert first.json() == again.json() and first.json()["case_id"] == body["case_id"]
    reader = TopicReader(running_services.settings(), topics.CASES)
    try:
        cases = reader.wait_until(
            lambda b: any(isinstance(e, events.CaseConfirmed) and e.case_id == body["case_id"] for e in b),
            what="the case on cases.v1",
        )
    finally:
        reader.close()
    mine = [e for e in cases if isinstance(e, events.CaseConfirmed) and e.case_id == body["case_id"]]
    assert len({e.event_id for e in mine}) == 1  # the retry is the same event
    assert mine[0].person_key == first.json()["person_key"]


def test_a_declaration_without_a_kind_or_with_an_unknown_one_is_told_the_allowed_kinds(client: httpx.Client) -> None:
    allowed = ["domestic", "entry", "domestic_move", "quarantine_daily"]
    for body in ({"person_id": "0912000045"}, {"kind": "vaccination", "person_id": "0912000045"}):
        # Given a declaration that does not say which kind it is, or names a kind there is not
        # When it is sent
        response = client.post("/v1/declarations", json=body)
        # Then it is refused with the one error shape, and the problem lists every kind there is
        assert (response.status_code, error_code(response)) == (422, "invalid_request"), response.text
        [problem] = response.json()["error"]["detail"]
        assert problem["allowed"] == allowed
        assert all(kind in problem["msg"] for kind in allowed)
        assert "kind" in response.json()["error"]["message"]


# --- one error shape --------------------------------------------------------------------------------


def test_the_root_and_unknown_paths_answer_a_json_not_found(client: httpx.Client) -> None:
    for path in ("/", "/v1/nothing-here", "/v2/venues", "/apidocs/no-such-file.js"):
        # When a path the service does not have is asked for
        response = client.get(path)
        # Then the answer is a 404 in the one error shape, pointing at the documentation
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/json"
        assert error_code(response) == "not_found", response.text
        assert "/docs" in response.json()["error"]["message"]


def test_a_method_a_path_does_not_take_answers_405_in_the_error_shape_with_allow(client: httpx.Client) -> None:
    # When a path is called with a method it does not take
    response = client.put("/v1/checkins", json={})
    # Then the answer is a 405 in the one error shape, and says which methods it takes
    assert (response.status_code, error_code(response)) == (405, "method_not_allowed"), response.text
    assert response.headers["allow"] == "POST"
    assert "POST" in response.json()["error"]["message"]


def test_the_api_documentation_is_served_from_the_service_itself(client: httpx.Client) -> None:
    # When the documentation pages are asked for
    for path in ("/docs", "/redoc"):
        page = client.get(path)
        # Then they load nothing from elsewhere, as their policy and their script sources say
        assert page.status_code == 200, path
        assert "http" not in page.headers["content-security-policy"]
        assert "cdn" not in page.text and "https://" not in page.text
        assert "/apidocs/vendor/" in page.text


# --- abuse --------------------------------------------------------------------------------------


def test_an_oversized_body_is_refused_with_413(client: httpx.Client) -> None:
    response = client.post(
        "/v1/checkins", content=b"{" + b" " * 200_000 + b"}", headers={"content-type": "application/json"}
    )
    assert (response.status_code, error_code(response)) == (413, "body_too_large")


def test_a_client_over_its_rate_is_told_to_slow_down(servers: Servers, namespace: str) -> None:
    # Given an ingest instance allowing each client 1 request a second with bursts of 3
    settings = IngestSettings(
        kafka_bootstrap=servers.kafka_bootstrap,
        redis_url=servers.redis_url,
        topic_namespace=namespace,
        pepper="p" * 32,
        qr_secret="q" * 32,
        ha_token="h" * 32,
        rate_limit_per_s=1,
        rate_limit_burst=3,
    )
    app = create_app(settings)
    with TestClient(app) as local:
        # (once its venue directory is loaded: before that an unknown venue is a 503, not a 404)
        wait_for(lambda: local.get("/readyz").status_code == 200, what="ingest ready")
        flood = {"authorization": "Bearer flood"}
        # When one client sends 4 requests at once
        statuses = [local.get("/v1/venues/v_0000000000000000", headers=flood).status_code for _ in range(4)]
        # Then the burst is served and the rest refused, while another client is still served
        assert statuses == [404, 404, 404, 429]
        refused = local.get("/v1/venues/v_0000000000000000", headers=flood)
        assert error_code(refused) == "rate_limited"
        assert refused.headers["retry-after"] == "1"
        # (a client is its address until a check accepts its credential: a made-up token is no new client)
        assert local.get("/v1/venues/v_0000000000000000", headers={"authorization": "Bearer other"}).status_code == 429
        elsewhere = TestClient(app, client=("198.51.100.7", 50000))
        elsewhere.portal = local.portal  # the same app on the same event loop (its Redis connections live there)
        assert elsewhere.get("/v1/venues/v_0000000000000000", headers=flood).status_code == 404
        assert local.get("/healthz", headers=flood).status_code == 200  # health checks are never limited


def test_metrics_count_accepted_and_refused_check_ins(client: httpx.Client) -> None:
    venue = register(client)
    assert scan(client, venue_qr=venue["qr"], person_id="0912000060").status_code == 202
    assert scan(client, venue_qr=venue["qr"] + "x", person_id="0912000060").status_code == 400
    metrics = client.get("/metrics").text
    assert 'antoan_ingest_checkins_accepted_total{method="venue_qr"}' in metrics
    assert 'antoan_ingest_checkins_rejected_total{code="invalid_qr_signature"}' in metrics
    assert "antoan_ingest_broker_ack_seconds_bucket" in metrics
