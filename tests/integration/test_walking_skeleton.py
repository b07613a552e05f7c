"""End to end through Kafka: register a venue, check in, see occupancy on the safety map."""

from __future__ import annotations

import time

import httpx
import pytest

from antoan_localstack.testing import RunningServices, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.shared_services]


def _register(ingest: str, capacity: int = 30) -> dict[str, str]:
    response = httpx.post(
        f"{ingest}/v1/venues",
        json={"name": "Nhà hàng Sầm Sơn", "category": "restaurant", "province_code": "38", "capacity": capacity},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    venue: dict[str, str] = response.json()
    return venue


def _occupancy(safety_map: str, venue_id: str) -> dict[str, object] | None:
    response = httpx.get(f"{safety_map}/v1/venues/{venue_id}/occupancy", timeout=5)
    return response.json() if response.status_code == 200 else None


def test_a_check_in_shows_as_occupancy_one_on_the_safety_map(running_services: RunningServices) -> None:
    # Given a registered venue
    venue = _register(running_services.ingest, capacity=30)
    # When a person scans its QR code on entry
    accepted_at = time.monotonic()
    response = httpx.post(
        f"{running_services.ingest}/v1/checkins",
        json={"venue_qr": venue["qr"], "person_id": "0912345678", "direction": "in", "app": "pc-covid"},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    assert response.json()["venue_id"] == venue["venue_id"]
    # Then the safety map shows one person there, against the venue's capacity
    shown = wait_for(
        lambda: (o := _occupancy(running_services.safety_map, venue["venue_id"])) and o["current"] == 1 and o,
        what="occupancy 1 on the safety map",
    )
    assert shown["capacity"] == 30
    print(f"check-in accepted -> occupancy visible in {time.monotonic() - accepted_at:.2f}s")

    # And the same person with another spelling of their number checking out brings it back to 0
    response = httpx.post(
        f"{running_services.ingest}/v1/checkins",
        json={"venue_qr": venue["qr"], "person_id": "+84912345678", "direction": "out", "app": "ncovi"},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    wait_for(
        lambda: (o := _occupancy(running_services.safety_map, venue["venue_id"])) and o["current"] == 0,
        what="occupancy back to 0",
    )


def test_an_altered_qr_code_is_refused_with_its_error_code(running_services: RunningServices) -> None:
    venue = _register(running_services.ingest)
    forged = venue["qr"].replace(venue["venue_id"], "v_0000000000000000")
    response = httpx.post(
        f"{running_services.ingest}/v1/checkins",
        json={"venue_qr": forged, "person_id": "0912345678", "app": "bluezone"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_qr_signature"


def test_every_service_answers_health_and_readiness(running_services: RunningServices) -> None:
    for url in (running_services.ingest, running_services.tracer, running_services.safety_map):
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        assert httpx.get(f"{url}/readyz", timeout=5).status_code == 200


def test_the_map_address_answers_with_a_page(running_services: RunningServices) -> None:
    response = httpx.get(f"{running_services.safety_map}/", timeout=5)
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
