"""The tracer's HTTP reads over a real read model on a real Redis, with a stand-in for ingest's identity vault
served on loopback: who may read what, the answers' shape, the CSV exports, and the server's thread."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import redis
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from antoan_localstack.testing import Servers, free_port, wait_for
from antoan_shared.events import CaseConfirmed, ExposureChanged, VenueCategory, VenueRegistered, VisitClosed
from antoan_shared.venues import VenueDirectory, api_key_hash
from antoan_shared.web import BodySizeLimit
from antoan_tracer.api import LOOKUP_CHUNK, create_api, serve_in_thread
from antoan_tracer.readmodel import ReadModel
from antoan_tracer.settings import TracerSettings

pytestmark = pytest.mark.integration

HA_TOKEN = "h" * 32
HA = {"Authorization": f"Bearer {HA_TOKEN}"}
VENUE_KEY = "venue-key-of-the-hall"
OWNER = {"Authorization": f"Bearer {VENUE_KEY}"}
VENUE_NAME = '=HYPERLINK("http://evil.example","Quán Phở Hà Nội")'
NOW = datetime.now(UTC).replace(microsecond=0)


def person(n: int | str) -> str:
    return hashlib.sha256(f"person-{n}".encode()).hexdigest()


@dataclass
class Vault:
    """A stand-in for ingest's `POST /v1/persons/lookup`, with ingest's 64 KiB body limit."""

    url: str
    contacts: dict[str, dict[str, str]] = field(default_factory=dict)
    asked: list[list[str]] = field(default_factory=list)
    purposes: set[str] = field(default_factory=set)


@pytest.fixture(scope="module")
def vault() -> Iterator[Vault]:
    port = free_port()
    stand_in = Vault(f"http://127.0.0.1:{port}")
    app = FastAPI()

    @app.post("/v1/persons/lookup")
    async def lookup(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {HA_TOKEN}":
            return JSONResponse({"error": {"code": "invalid_token", "message": "no"}}, status_code=403)
        body = await request.json()
        stand_in.asked.append(body["person_keys"])
        stand_in.purposes.add(body["purpose"])
        found = {key: stand_in.contacts[key] for key in body["person_keys"] if key in stand_in.contacts}
        return JSONResponse({"contacts": found})

    server = uvicorn.Server(
        uvicorn.Config(BodySizeLimit(app, default_limit=64 * 1024), host="127.0.0.1", port=port, log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=10, what="the vault stand-in")
    yield stand_in
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def settings(servers: Servers, namespace: str, vault: Vault) -> TracerSettings:
    return TracerSettings(
        environment="test",
        kafka_bootstrap=servers.kafka_bootstrap,
        redis_url=servers.redis_url,
        topic_namespace=namespace,
        redis_prefix=f"{namespace}:tracer:",
        ha_token=HA_TOKEN,
        ingest_url=vault.url,
    )


@pytest.fixture
def read_model(settings: TracerSettings) -> Iterator[ReadModel]:
    client = redis.Redis.from_url(settings.redis_url)
    yield ReadModel(client, settings)
    keys = list(client.scan_iter(match=settings.redis_prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def venues() -> VenueDirectory:
    directory = VenueDirectory()
    for venue_id, name, key in (("hall", VENUE_NAME, VENUE_KEY), ("other", "Nhà văn hóa", "another-key")):
        directory.put(
            VenueRegistered(
                producer="ingest",
                venue_id=venue_id,
                name=name,
                category=VenueCategory.RESTAURANT,
                capacity=40,
                api_key_hash=api_key_hash(key),
            )
        )
    directory.loaded.set()
    return directory


@dataclass
class Readiness:
    checks: dict[str, bool] = field(default_factory=lambda: {"kafka": True, "redis": True})

    async def __call__(self) -> dict[str, bool]:
        return dict(self.checks)


@pytest.fixture
def readiness() -> Readiness:
    return Readiness()


@pytest.fixture
def api(
    settings: TracerSettings, read_model: ReadModel, venues: VenueDirectory, readiness: Readiness
) -> Iterator[TestClient]:
    with TestClient(create_api(settings, read_model, venues, readiness)) as client:
        yield client


def exposure(case_id: str, who: str, degree: int = 1, minutes_ago: int = 60, **fields: Any) -> ExposureChanged:
    if fields.get("withdrawn"):
        return ExposureChanged(producer="tracer", case_id=case_id, person_key=person(who), **fields)
    exposed_at = NOW - timedelta(minutes=minutes_ago)
    return ExposureChanged(
        producer="tracer",
        case_id=case_id,
        person_key=person(who),
        degree=degree,
        venue_id="hall",
        window_start=exposed_at - timedelta(minutes=10),
        window_end=exposed_at + timedelta(minutes=50),
        exposed_at=exposed_at,
        source_person_key=person("case"),
    )


def visit(visit_id: str, minutes_ago: int, minutes: int, who: str = "a", open: bool = False) -> VisitClosed:
    start = NOW - timedelta(minutes=minutes_ago)
    return VisitClosed(
        producer="tracer",
        venue_id="hall",
        person_key=person(who),
        visit_id=visit_id,
        visit_start=start,
        visit_end=start + timedelta(minutes=minutes),
        closed_by="auto_checkout" if open else "checkout",
        open=open,
    )


def window(start_ago: int = 180, end_ago: int = -1) -> dict[str, str]:
    return {
        "from": (NOW - timedelta(minutes=start_ago)).isoformat(),
        "to": (NOW - timedelta(minutes=end_ago)).isoformat(),
    }


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


def rows_of(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


# --- a case's contacts -------------------------------------------------------------------------------


def test_a_cases_contacts_need_the_health_authoritys_token(api: TestClient, read_model: ReadModel) -> None:
    # Given a case with a contact
    read_model.record_exposures([exposure("BN1", "a")])
    for path in ("/v1/cases/BN1/contacts", "/v1/cases/BN1/contacts.csv"):
        # When it is asked for without a token, or with another one (a venue's key)
        without = api.get(path)
        wrong = api.get(path, headers=OWNER)
        # Then each is refused with its code
        assert (without.status_code, error_code(without)) == (401, "token_required")
        assert (wrong.status_code, error_code(wrong)) == (403, "invalid_token")
        # While the health authority's token reads it
        assert api.get(path, headers=HA).status_code == 200


def test_an_unknown_case_is_not_found_and_a_confirmed_one_without_contacts_is_an_empty_list(
    api: TestClient, read_model: ReadModel
) -> None:
    # Given a case confirmed with no contacts
    read_model.record_cases(
        [CaseConfirmed(producer="ingest", case_id="BN2", person_key=person("case"), tested_at=NOW, confirmed_at=NOW)]
    )
    # When both it and a case never heard of are asked for
    known = api.get("/v1/cases/BN2/contacts", headers=HA)
    unknown = api.get("/v1/cases/BN404/contacts", headers=HA)
    unknown_csv = api.get("/v1/cases/BN404/contacts.csv", headers=HA)
    # Then the first is an empty list, the other a 404 with its code
    assert known.status_code == 200
    assert known.json() == {"case_id": "BN2", "contacts": [], "f1": 0, "f2": 0, "contact_details_available": True}
    assert (unknown.status_code, error_code(unknown)) == (404, "case_not_found")
    assert (unknown_csv.status_code, error_code(unknown_csv)) == (404, "case_not_found")


def test_a_cases_contacts_come_with_their_details_and_a_withdrawn_one_leaves_the_list(
    api: TestClient, read_model: ReadModel, vault: Vault
) -> None:
    # Given a case with an F1 (details in the vault), an F2 (none) and an F1 later withdrawn
    vault.contacts[person("f1")] = {"full_name": "Nguyễn Thị Ánh Tuyết", "phone": "+84913200002"}
    read_model.record_exposures(
        [exposure("BN3", "f2", degree=2, minutes_ago=90), exposure("BN3", "f1"), exposure("BN3", "gone")]
    )
    read_model.record_exposures([exposure("BN3", "gone", withdrawn=True)])
    # When the health authority reads them
    answer = api.get("/v1/cases/BN3/contacts", headers=HA).json()
    # Then the two who are contacts are listed, F1 first, the F1 with the vault's details
    assert [(c["person_key"], c["degree"]) for c in answer["contacts"]] == [(person("f1"), 1), (person("f2"), 2)]
    assert answer["contacts"][0]["contact"] == vault.contacts[person("f1")]
    assert answer["contacts"][1]["contact"] is None
    assert (answer["f1"], answer["f2"], answer["contact_details_available"]) == (1, 1, True)
    assert answer["contacts"][0]["source_person_key"] == person("case")
    # And the vault was told why
    assert "contacts of case BN3" in vault.purposes


def test_thousands_of_contacts_are_looked_up_in_chunks_the_vault_accepts(
    api: TestClient, read_model: ReadModel, vault: Vault
) -> None:
    # Given a case with 1,234 contacts, every one with details in the vault
    people = [person(f"crowd-{n}") for n in range(1234)]
    vault.contacts.update({key: {"full_name": f"Người {n}"} for n, key in enumerate(people)})
    read_model.record_exposures([exposure("BN4", f"crowd-{n}") for n in range(1234)])
    vault.asked.clear()
    # When the health authority reads them
    answer = api.get("/v1/cases/BN4/contacts", headers=HA).json()
    # Then they were looked up in chunks of at most 500 keys (under the vault's 64 KiB body limit), once each
    assert sorted(len(chunk) for chunk in vault.asked) == [234, LOOKUP_CHUNK, LOOKUP_CHUNK]
    assert sorted(key for chunk in vault.asked for key in chunk) == sorted(people)
    # And every contact has its details
    assert len(answer["contacts"]) == 1234
    assert all(c["contact"] for c in answer["contacts"])
    assert answer["contact_details_available"] is True


def test_contacts_are_listed_without_details_when_the_vault_cannot_be_reached(
    settings: TracerSettings, read_model: ReadModel, venues: VenueDirectory, readiness: Readiness
) -> None:
    # Given a case with a contact, and ingest not answering
    read_model.record_exposures([exposure("BN5", "a")])
    nowhere = settings.model_copy(update={"ingest_url": f"http://127.0.0.1:{free_port()}"})
    with TestClient(create_api(nowhere, read_model, venues, readiness)) as api:
        # When the health authority reads them
        response = api.get("/v1/cases/BN5/contacts", headers=HA)
    # Then the contact is listed, saying its details are not available
    assert response.status_code == 200
    answer = response.json()
    assert [c["person_key"] for c in answer["contacts"]] == [person("a")]
    assert answer["contacts"][0]["contact"] is None
    assert answer["contact_details_available"] is False


def test_a_cases_contacts_download_as_a_spreadsheet_safe_csv(
    api: TestClient, read_model: ReadModel, vault: Vault
) -> None:
    # Given contacts whose details are formulas
    vault.contacts[person("prankster")] = {"full_name": "=cmd|' /C calc'!A0", "address": "-1 Lê Lợi, Thanh Hóa"}
    vault.contacts[person("neighbour")] = {"full_name": "Nguyễn Văn An", "phone": "+84913200002"}
    read_model.record_exposures([exposure("BN6", "prankster", minutes_ago=30), exposure("BN6", "neighbour")])
    # When they are downloaded as CSV
    response = api.get("/v1/cases/BN6/contacts.csv", headers=HA)
    rows = rows_of(response)
    # Then the file is the list, named after the case, every formula shown as text, Vietnamese intact
    assert response.headers["content-disposition"] == 'attachment; filename="contacts-BN6.csv"'
    assert [r["person_key"] for r in rows] == [person("neighbour"), person("prankster")]
    assert rows[0]["contact_full_name"] == "Nguyễn Văn An"
    assert rows[0]["contact_phone"] == "'+84913200002"
    assert rows[1]["contact_full_name"] == "'=cmd|' /C calc'!A0"
    assert rows[1]["contact_address"] == "'-1 Lê Lợi, Thanh Hóa"
    assert {(r["case_id"], r["degree"], r["venue_id"]) for r in rows} == {("BN6", "1", "hall")}
    assert list(rows[0]) == [
        "case_id",
        "person_key",
        "degree",
        "exposed_at",
        "venue_id",
        "window_start",
        "window_end",
        "source_person_key",
        "contact_full_name",
        "contact_phone",
        "contact_identifier",
        "contact_address",
        "contact_birth_date",
    ]


# --- a venue's visitor history --------------------------------------------------------------------------


def test_a_venues_history_needs_its_own_key_and_a_valid_range(api: TestClient, read_model: ReadModel) -> None:
    read_model.record_visits([visit("v", 60, 30)])
    for path in ("/v1/venues/hall/visits", "/v1/venues/hall/visits.csv"):
        # Given the venue's history asked for without a key, with another venue's, or by the health authority
        without = api.get(path, params=window())
        another = api.get(path, params=window(), headers={"Authorization": "Bearer another-key"})
        authority = api.get(path, params=window(), headers=HA)
        # Then each is refused with its code
        assert (without.status_code, error_code(without)) == (401, "venue_key_required")
        assert (another.status_code, error_code(another)) == (403, "invalid_venue_key")
        assert (authority.status_code, error_code(authority)) == (403, "invalid_venue_key")
        # And a venue that does not exist is not found
        missing = api.get(path.replace("hall", "nowhere"), params=window(), headers=OWNER)
        assert (missing.status_code, error_code(missing)) == (404, "venue_not_found")
        # And a range that is unreadable, without a time zone, backwards, too long or beyond any datetime is refused
        naive = {"from": "2024-01-01T00:00:00", "to": "2024-01-01T01:00:00"}
        too_long = {"from": (NOW - timedelta(days=30)).isoformat(), "to": NOW.isoformat()}
        first_hour = {"from": "0001-01-01T00:00:00Z", "to": "0001-01-01T01:00:00Z"}  # was a 500 (overflow)
        for params in ({"from": "yesterday", "to": "today"}, naive, window(0, 60), too_long, first_hour):
            bad = api.get(path, params=params, headers=OWNER)
            assert (bad.status_code, error_code(bad)) == (400, "invalid_range"), params
        # While the owner reads it
        assert api.get(path, params=window(), headers=OWNER).status_code == 200


def test_a_venues_history_lists_the_visits_overlapping_the_range_as_they_now_stand(
    api: TestClient, read_model: ReadModel
) -> None:
    # Given a visit recorded open and then closed by a check-out, one still open, and one long before
    read_model.record_visits(
        [
            visit("left", 30, 60, open=True),
            visit("left", 30, 20),
            visit("inside", 5, 60, who="b", open=True),
            visit("long-ago", 600, 60, who="c"),
        ]
    )
    # When the owner reads the last three hours
    params = window(180, -1)
    response = api.get("/v1/venues/hall/visits", params=params, headers=OWNER)
    # Then both visits of the range are listed by start, the first as its check-out closed it
    assert response.status_code == 200
    answer = response.json()
    assert (answer["venue_id"], answer["from"], answer["to"]) == ("hall", params["from"], params["to"])
    assert answer["visits"] == [
        {
            "visit_id": "left",
            "person_key": person("a"),
            "start": (NOW - timedelta(minutes=30)).isoformat(),
            "end": (NOW - timedelta(minutes=10)).isoformat(),
            "open": False,
        },
        {
            "visit_id": "inside",
            "person_key": person("b"),
            "start": (NOW - timedelta(minutes=5)).isoformat(),
            "end": (NOW + timedelta(minutes=55)).isoformat(),
            "open": True,
        },
    ]


def test_a_venues_history_downloads_as_a_spreadsheet_safe_csv(api: TestClient, read_model: ReadModel) -> None:
    # Given a venue whose name is a formula, with two visits
    read_model.record_visits([visit("one", 50, 30), visit("two", 40, 20, who="b")])
    # When the owner downloads its history as CSV
    response = api.get("/v1/venues/hall/visits.csv", params=window(), headers=OWNER)
    rows = rows_of(response)
    # Then it is the same history as the JSON one, offered as a file named after the venue
    assert response.headers["content-disposition"] == 'attachment; filename="visits-hall.csv"'
    visits = api.get("/v1/venues/hall/visits", params=window(), headers=OWNER).json()["visits"]
    assert [(r["visit_id"], r["person_key"], r["start"], r["end"]) for r in rows] == [
        (v["visit_id"], v["person_key"], v["start"], v["end"]) for v in visits
    ]
    assert list(rows[0]) == ["venue_id", "venue_name", "visit_id", "person_key", "start", "end"]
    # And the venue's name is shown as text, not run as a formula, its Vietnamese intact
    assert {(r["venue_id"], r["venue_name"]) for r in rows} == {("hall", "'" + VENUE_NAME)}


def test_a_range_in_vietnam_time_is_read_even_when_its_plus_was_not_encoded(
    api: TestClient, read_model: ReadModel
) -> None:
    # Given a visit an hour ago, and the last three hours written in Vietnam time (+07:00)
    read_model.record_visits([visit("v", 60, 30)])
    vietnam = timezone(timedelta(hours=7))
    start, end = (NOW - timedelta(hours=3)).astimezone(vietnam), NOW.astimezone(vietnam)
    for path in ("/v1/venues/hall/visits", "/v1/venues/hall/visits.csv"):
        # When the owner sends them with the `+` encoded, and pasted as written (a query string's `+` is a space)
        encoded = api.get(path, params={"from": start.isoformat(), "to": end.isoformat()}, headers=OWNER)
        pasted = api.get(f"{path}?from={start.isoformat()}&to={end.isoformat()}", headers=OWNER)
        assert "+07:00" in str(pasted.request.url)
        # Then both read the same period, with the visit in it
        assert encoded.status_code == pasted.status_code == 200, pasted.text
        assert encoded.content == pasted.content
    answer = api.get(f"/v1/venues/hall/visits?from={start.isoformat()}&to={end.isoformat()}", headers=OWNER).json()
    assert (answer["from"], answer["to"]) == (start.isoformat(), end.isoformat())
    assert [v["visit_id"] for v in answer["visits"]] == ["v"]


def test_a_venues_history_without_a_range_is_the_last_24_hours(api: TestClient, read_model: ReadModel) -> None:
    # Given visits 23 hours ago, an hour ago, and 26 hours ago (ended 25 hours ago)
    read_model.record_visits([visit("recent", 23 * 60, 30), visit("now", 60, 30), visit("old", 26 * 60, 60)])
    # When the owner asks without from and to, or with only one of them
    before = datetime.now(UTC)
    answer = api.get("/v1/venues/hall/visits", headers=OWNER).json()
    after = datetime.now(UTC)
    only_to = api.get("/v1/venues/hall/visits", params={"to": NOW.isoformat()}, headers=OWNER).json()
    only_from = api.get(
        "/v1/venues/hall/visits", params={"from": (NOW - timedelta(hours=2)).isoformat()}, headers=OWNER
    ).json()
    # Then the period read is the 24 hours up to now, and says so
    start, end = datetime.fromisoformat(answer["from"]), datetime.fromisoformat(answer["to"])
    assert before <= end <= after
    assert end - start == timedelta(hours=24)
    assert [v["visit_id"] for v in answer["visits"]] == ["recent", "now"]
    # And only `to` reads the 24 hours before it, only `from` reads from it until now
    assert (only_to["from"], only_to["to"]) == ((NOW - timedelta(hours=24)).isoformat(), NOW.isoformat())
    assert [v["visit_id"] for v in only_to["visits"]] == ["recent", "now"]
    assert [v["visit_id"] for v in only_from["visits"]] == ["now"]
    # And the CSV reads the same default period
    assert [r["visit_id"] for r in rows_of(api.get("/v1/venues/hall/visits.csv", headers=OWNER))] == ["recent", "now"]


def test_an_unreadable_range_is_refused_saying_the_format_and_how_to_encode_the_plus(api: TestClient) -> None:
    # When the owner sends a time the tracer cannot read
    response = api.get("/v1/venues/hall/visits?from=2.12.2026&to=2026-12-02T00:00:00Z", headers=OWNER)
    # Then the refusal is JSON with its code, naming the parameter, the format expected and the encoded `+`
    assert (response.status_code, error_code(response)) == (400, "invalid_range")
    message = response.json()["error"]["message"]
    assert message.startswith("from is not a timestamp")
    assert "RFC 3339" in message
    assert "2026-12-02T00:00:00+07:00" in message
    assert "%2B" in message


def test_the_range_parameters_are_documented_with_their_default_and_examples(api: TestClient) -> None:
    # When the document of the venue's history is read
    for path in ("/v1/venues/{venue_id}/visits", "/v1/venues/{venue_id}/visits.csv"):
        operation = api.get("/openapi.json").json()["paths"][path]["get"]
        parameters = {p["name"]: p for p in operation["parameters"]}
        # Then from and to say their format, that an unencoded + is read, and their defaults, with examples
        for name, default in (("from", "24 hours before `to`"), ("to", "Default: now")):
            description = parameters[name]["description"]
            assert "RFC 3339" in description
            assert "%2B" in description
            assert "a space before the offset is read as its `+`" in description
            assert default in description
            assert parameters[name]["required"] is False
            assert parameters[name]["schema"]["format"] == "date-time"
            assert parameters[name]["examples"]["vietnam"]["value"].endswith("+07:00")
        assert parameters["venue_id"]["examples"]["venue"]["value"]


def test_a_venue_not_found_while_the_directory_loads_is_a_retry(
    settings: TracerSettings, read_model: ReadModel, readiness: Readiness
) -> None:
    # Given a directory still loading
    with TestClient(create_api(settings, read_model, VenueDirectory(), readiness)) as api:
        # When a venue it does not hold yet is asked for
        response = api.get("/v1/venues/hall/visits", params=window(), headers=OWNER)
    # Then the answer says to retry, not that the venue does not exist
    assert (response.status_code, error_code(response)) == (503, "venues_loading")


def test_reads_are_a_retry_while_redis_cannot_be_reached(
    settings: TracerSettings, venues: VenueDirectory, readiness: Readiness
) -> None:
    # Given a read model whose Redis is gone
    gone = redis.Redis(port=free_port(), socket_connect_timeout=1, socket_timeout=1)
    with TestClient(create_api(settings, ReadModel(gone, settings), venues, readiness)) as api:
        # When a case's contacts and a venue's history are asked for
        contacts = api.get("/v1/cases/BN1/contacts", headers=HA)
        visits = api.get("/v1/venues/hall/visits", params=window(), headers=OWNER)
    # Then each is a 503 saying to retry, not a 500
    assert (contacts.status_code, error_code(contacts)) == (503, "store_unavailable")
    assert (visits.status_code, error_code(visits)) == (503, "store_unavailable")


# --- everything else ----------------------------------------------------------------------------------


def test_no_other_path_answers_and_every_refusal_is_json(api: TestClient) -> None:
    # When paths other than the tracer's reads are asked for (Faust's old table and router views among them)
    paths = ("/", "/table/case-contacts/BN1", "/router/", "/v1/cases/BN1", "/v1/venues/hall", "/apidocs/none.js")
    for path in paths:
        response = api.get(path, headers=HA)
        # Then each is a 404 in the error shape
        assert (response.status_code, error_code(response)) == (404, "not_found"), path
    # And a method the reads do not have is refused in the same shape, on the reads and on the pages alike
    for method, path in (("POST", "/v1/cases/BN1/contacts"), ("DELETE", "/v1/venues/hall/visits"), ("PUT", "/docs")):
        response = api.request(method, path, headers=HA)
        assert (response.status_code, error_code(response)) == (405, "method_not_allowed"), path


def test_operations_paths_answer(api: TestClient, readiness: Readiness) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/readyz").json() == {"status": "ready", "checks": {"kafka": True, "redis": True}}
    assert "antoan_http_rejected_total" in api.get("/metrics").text
    for page in ("/docs", "/redoc"):
        # The API's pages load nothing from a CDN: their scripts are the service's own
        response = api.get(page)
        assert response.status_code == 200, page
        assert response.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in response.headers["content-security-policy"]
        scripts = re.findall(r'<script[^>]* src="([^"]+)"', response.text)
        assert scripts, page
        assert all(src.startswith("/apidocs/") and api.get(src).status_code == 200 for src in scripts), scripts
    paths = set(api.get("/openapi.json").json()["paths"])
    assert paths == {
        "/healthz",
        "/readyz",
        "/v1/cases/{case_id}/contacts",
        "/v1/cases/{case_id}/contacts.csv",
        "/v1/venues/{venue_id}/visits",
        "/v1/venues/{venue_id}/visits.csv",
        "/v1/cases/{case_id}/contacts/stream",
        "/v1/alerts",
        "/v1/alerts/{alert_id}/acknowledge",
        "/v1/alerts/stream",
        "/v1/audit",
    }
    # When a dependency is not there
    readiness.checks["redis"] = False
    response = api.get("/readyz")
    # Then the worker says it is not ready, and why
    assert (response.status_code, error_code(response)) == (503, "not_ready")
    assert response.json()["error"]["detail"] == {"kafka": True, "redis": False}


def test_the_server_runs_on_a_thread_and_leaves_the_process_signal_handlers_alone(
    settings: TracerSettings, read_model: ReadModel, venues: VenueDirectory, readiness: Readiness
) -> None:
    # Given the process's own signal handlers (the stream processor's, on the main thread)
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    port = free_port()
    listening = settings.model_copy(update={"port": port})
    # When the API is served on its thread
    server = serve_in_thread(create_api(listening, read_model, venues, readiness), listening)
    try:
        wait_for(lambda: server.started, timeout=10, what="the server listening")
        # Then it answers on the port, and the signal handlers are still the process's
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json() == {"status": "ok"}
        assert {sig: signal.getsignal(sig) for sig in before} == before
    finally:
        # And when it is stopped, it stops
        server.stop()
    assert not server.is_alive()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)


def test_a_worker_serves_at_most_its_streams_and_refuses_more_with_retry_after(
    settings: TracerSettings, read_model: ReadModel, venues: VenueDirectory, readiness: Readiness
) -> None:
    # Given a worker that serves one live stream at most, and that one open
    listening = settings.model_copy(update={"port": free_port(), "max_streams": 1})
    server = serve_in_thread(create_api(listening, read_model, venues, readiness), listening)
    url = f"http://127.0.0.1:{listening.port}/v1/alerts/stream"
    try:
        wait_for(lambda: server.started, timeout=10, what="the server listening")
        with httpx.stream("GET", url, headers=HA, timeout=10) as first:
            assert first.status_code == 200
            lines = first.iter_lines()  # kept: an iterator let go of closes the response
            assert next(lines) == ": connected"
            # When another is asked for
            refused = httpx.get(url, headers=HA, timeout=10)
            # Then it is refused, saying when to retry
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"]["code"] == "too_many_streams"
            assert int(refused.headers["retry-after"]) > 0

        # and once the first is closed, a new one is served
        def served() -> bool:
            with httpx.stream("GET", url, headers=HA, timeout=10) as again:
                return again.status_code == 200

        wait_for(served, timeout=10, interval=0.5, what="a stream once the first closed")
    finally:
        server.stop()
