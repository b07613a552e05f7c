"""One public origin: the pages and the three services' APIs through the gateway (`running_services.public`),
against a real Kafka and Redis.

Each service answers its own paths at the one address; the map's event stream arrives unbuffered; the pages
come with their headers; and a service counts a client by the address the gateway saw, never by one the client
wrote into X-Forwarded-For. (Every route against stand-in services, and the template's renderings, are in
deploy/localstack/tests: test_gateway_routes.py and test_gateway_config.py.)
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from antoan_localstack.stack import repo_root
from antoan_localstack.testing import RunningServices, wait_for

pytestmark = pytest.mark.integration

CHECK_IN_PAGE = repo_root() / "web" / "public" / "c" / "index.html"


@pytest.fixture(scope="module")
def public(running_services: RunningServices) -> Iterator[httpx.Client]:
    """A client of the one public address, and of nothing else."""
    with httpx.Client(base_url=running_services.public, timeout=15, trust_env=False) as client:
        yield client


@pytest.fixture(scope="module")
def venue(public: httpx.Client) -> dict[str, Any]:
    """A venue registered through the gateway, once the map knows it."""
    body = {
        "name": "Nhà văn hóa Phường Điện Biên",
        "category": "other",
        "address": "2 Trường Thi, Phường Điện Biên, TP Thanh Hóa",
        "province_code": "38",
        "district_code": "380",
        "ward_code": "14755",
        "lat": 19.8049,
        "lon": 105.7822,
        "capacity": 80,
    }
    response = public.post("/v1/venues", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    wait_for(
        lambda: public.get(f"/v1/venues/{created['venue_id']}/risk").status_code == 200,
        what="the venue on the map",
    )
    return created


def test_the_services_know_the_one_public_address(running_services: RunningServices, venue: dict[str, Any]) -> None:
    assert running_services.public.startswith("http://127.0.0.1:")
    assert not running_services.public.endswith("/")
    assert running_services.env["ANTOAN_PUBLIC_URL"] == running_services.public
    # ingest puts it in what a venue's QR code opens
    assert venue["qr_url"] == f"{running_services.public}/c/{venue['qr']}"


def test_a_venue_is_ingests_and_its_risk_and_occupancy_are_the_maps(
    public: httpx.Client, venue: dict[str, Any]
) -> None:
    venue_id = venue["venue_id"]
    # GET /v1/venues/{id} is ingest's public view of the venue (the map's own has a level and a count)
    view = public.get(f"/v1/venues/{venue_id}")
    assert view.status_code == 200, view.text
    assert view.json()["rotating_qr_only"] is False
    assert "level" not in view.json()
    # its risk and occupancy come from the safety map
    risk = public.get(f"/v1/venues/{venue_id}/risk")
    assert risk.status_code == 200
    assert risk.json()["level"] == 1
    occupancy = public.get(f"/v1/venues/{venue_id}/occupancy")
    assert occupancy.status_code == 200
    assert (occupancy.json()["current"], occupancy.json()["capacity"]) == (0, 80)
    # and so does the map's panel of the venue
    panel = public.get(f"/v1/map/venues/{venue_id}")
    assert panel.status_code == 200
    assert (panel.json()["venue_id"], panel.json()["level"]) == (venue_id, 1)


def test_a_venues_visitor_history_is_the_tracers(public: httpx.Client, venue: dict[str, Any]) -> None:
    window = {
        "from": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "to": (datetime.now(UTC) + timedelta(minutes=1)).isoformat(),
    }
    owner = {"authorization": f"Bearer {venue['api_key']}"}

    def history() -> httpx.Response | None:
        response = public.get(f"/v1/venues/{venue['venue_id']}/visits", params=window, headers=owner)
        # the tracer's venue directory follows the registry a moment behind ingest
        return None if response.status_code == 404 else response

    answer = wait_for(history, what="the tracer knowing the venue")
    assert answer.status_code == 200, answer.text
    assert answer.json()["visits"] == []
    spreadsheet = public.get(f"/v1/venues/{venue['venue_id']}/visits.csv", params=window, headers=owner)
    assert spreadsheet.status_code == 200
    assert spreadsheet.headers["content-type"].startswith("text/csv")


def test_a_cases_contacts_are_the_tracers(public: httpx.Client, running_services: RunningServices) -> None:
    ha = {"authorization": f"Bearer {running_services.ha_token}"}
    body = {"person_id": "0914000101", "tested_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat()}
    confirmed = public.post("/v1/cases", json=body, headers=ha)
    assert confirmed.status_code == 202, confirmed.text
    case_id = confirmed.json()["case_id"]

    def contacts() -> httpx.Response | None:
        response = public.get(f"/v1/cases/{case_id}/contacts", headers=ha)
        return None if response.status_code == 404 else response  # until the tracer has read the case

    answer = wait_for(contacts, timeout=60, what="the tracer knowing the case")
    assert answer.status_code == 200, answer.text
    assert (answer.json()["case_id"], answer.json()["contacts"]) == (case_id, [])


def test_the_maps_live_stream_arrives_through_the_gateway_as_it_is_sent(running_services: RunningServices) -> None:
    started = time.monotonic()
    with httpx.stream("GET", f"{running_services.public}/v1/stream", timeout=15, trust_env=False) as response:
        first = next(response.iter_raw())
        waited = time.monotonic() - started
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert first.startswith(b"retry: 3000\n"), first
    assert waited < 8, f"the stream's first event took {waited:.1f}s"


def test_the_public_map_is_at_map_with_its_own_policy_and_assets(public: httpx.Client) -> None:
    page = public.get("/map")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script src="/static/app.js"></script>' in page.text
    policy = page.headers["content-security-policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"):
        assert directive in policy
    script = public.get("/static/app.js")
    assert script.status_code == 200
    # the panel asks the map, not ingest, for a venue
    assert '"/v1/map/venues/"' in script.text
    assert public.get("/static/vendor/leaflet/leaflet.js").status_code == 200


def test_the_landing_page_is_at_the_root_with_the_pages_headers(public: httpx.Client) -> None:
    page = public.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<html lang="vi">' in page.text
    assert 'href="/map"' in page.text
    assert 'href="#en"' in page.text  # the English switch
    assert "<script" not in page.text
    policy = page.headers["content-security-policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"):
        assert directive in policy
    assert "unsafe-inline" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    style = public.get("/landing.css")
    assert style.status_code == 200
    assert style.headers["content-type"] == "text/css; charset=utf-8"


def test_every_page_the_landing_page_links_to_is_there(public: httpx.Client) -> None:
    links = set(re.findall(r'href="(/[^"#]*)"', public.get("/").text)) - {"/landing.css"}
    assert {"/map", "/khai-bao/", "/co-so/", "/ma-qr/"} <= links
    for link in sorted(links):
        page = public.get(link)
        assert (page.status_code, page.headers["content-type"]) == (200, "text/html; charset=utf-8"), link


def test_a_venue_qr_address_opens_the_check_in_page(public: httpx.Client, venue: dict[str, Any]) -> None:
    expected = CHECK_IN_PAGE.read_text("utf-8")
    for path in ("/c/ANTOAN1.S.k1.abc.def", f"/c/{venue['qr']}"):
        page = public.get(path)
        assert page.status_code == 200, path
        assert page.text == expected, path
        assert page.headers["x-content-type-options"] == "nosniff"


def test_a_client_is_counted_by_the_address_the_gateway_saw_not_the_one_it_claims(
    running_services: RunningServices,
) -> None:
    # Two clients on addresses of their own (loopback has them all), neither the gateway's own
    def client(address: str) -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=address)
        return httpx.Client(base_url=running_services.public, transport=transport, timeout=15, trust_env=False)

    guesser, bystander = client("127.0.0.5"), client("127.0.0.6")
    path = "/v1/cases/F0-38-9999/contacts"  # the tracer's: one process, so one set of counters
    try:
        # When one of them guesses tokens, claiming a new address each time
        answers = [
            guesser.get(
                path,
                headers={"authorization": f"Bearer {secrets.token_hex(16)}", "x-forwarded-for": f"198.51.100.{i}"},
            ).status_code
            for i in range(40)
        ]
        # Then it is refused as one client once its allowance of refused credentials is spent (20 by default)
        assert set(answers[:20]) == {403}, answers
        assert 429 in answers, answers
        # And another client, behind the same gateway, is not: the service tells them apart
        other = bystander.get(path, headers={"authorization": f"Bearer {secrets.token_hex(16)}"})
        assert other.status_code == 403
    finally:
        guesser.close()
        bystander.close()
