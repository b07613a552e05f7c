"""A small HTTP client of the running services, for integration tests: register, check in, confirm cases,
read and wait for levels on the safety map. And the page tests' calls through the gateway (the `public` client)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import httpx

from antoan_localstack.testing import PATIENCE_S, RunningServices, wait_for

_phones = itertools.count(1)


def new_person() -> str:
    """A phone number of its own for each simulated person."""
    return f"09{next(_phones) % 100_000_000:08d}"


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def register_venue(public: httpx.Client, name: str, **fields: Any) -> dict[str, str]:
    """Registers a venue through the gateway (`public`): a restaurant in Thanh Hóa city with room for 40 unless
    `fields` say otherwise. Ingest's answer (id, key, QR token), with the venue's name."""
    body = {
        "name": name,
        "category": "restaurant",
        "address": "Phường Điện Biên, TP Thanh Hóa",
        "province_code": "38",
        "lat": 19.8067,
        "lon": 105.7852,
        "capacity": 40,
        **fields,
    }
    response = public.post("/v1/venues", json=body)
    assert response.status_code == 201, response.text
    venue: dict[str, str] = response.json()
    venue["name"] = name
    return venue


def occupancy(public: httpx.Client, venue_id: str) -> int | None:
    """A venue's current occupancy through the gateway, or None while the tracer does not know the venue."""
    response = public.get(f"/v1/venues/{venue_id}/occupancy")
    return int(response.json()["current"]) if response.status_code == 200 else None


def occupancy_reaches(public: httpx.Client, venue_id: str, expected: int, timeout: float = 60) -> None:
    """Waits for a venue's occupancy to be `expected` (the default timeout is for a loaded suite)."""
    wait_for(
        lambda: occupancy(public, venue_id) == expected,
        timeout=timeout,
        interval=0.3,
        what=f"occupancy {expected} at {venue_id} (it is {occupancy(public, venue_id)})",
    )


class Antoan:
    def __init__(self, services: RunningServices) -> None:
        self.services = services
        self.http = httpx.Client(timeout=15)
        self.ha = {"Authorization": f"Bearer {services.ha_token}"}

    def register_venue(self, capacity: int = 50, **fields: Any) -> dict[str, Any]:
        body = {
            "name": "Quán cà phê Hạc Thành",
            "category": "cafe",
            "province_code": "38",
            "district_code": "380",
            "ward_code": "14755",
            "lat": 19.8067,
            "lon": 105.7852,
            "capacity": capacity,
            **fields,
        }
        response = self.http.post(f"{self.services.ingest}/v1/venues", json=body)
        assert response.status_code == 201, response.text
        venue: dict[str, Any] = response.json()
        wait_for(lambda: self.risk(venue["venue_id"]), what="the venue on the safety map")
        return venue

    def check_in(
        self, venue: dict[str, Any], person: str, direction: str = "in", at: datetime | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"venue_qr": venue["qr"], "person_id": person, "direction": direction, "app": "pc-covid"}
        if at is not None:
            body["scanned_at"] = rfc3339(at)
        response = self.http.post(f"{self.services.ingest}/v1/checkins", json=body)
        assert response.status_code == 202, response.text
        accepted: dict[str, Any] = response.json()
        return accepted

    def confirm_case(self, person: str, tested_at: datetime, **codes: str) -> dict[str, Any]:
        body = {"person_id": person, "tested_at": rfc3339(tested_at), **codes}
        response = self.http.post(f"{self.services.ingest}/v1/cases", json=body, headers=self.ha)
        assert response.status_code == 202, response.text
        accepted: dict[str, Any] = response.json()
        return accepted

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(f"{self.services.safety_map}{path}", **kwargs)

    def risk(self, venue_id: str) -> dict[str, Any] | None:
        response = self.get(f"/v1/venues/{venue_id}/risk")
        return response.json() if response.status_code == 200 else None

    def area_risk(self, code: str) -> dict[str, Any] | None:
        response = self.get(f"/v1/areas/{code}/risk")
        return response.json() if response.status_code == 200 else None

    def wait_venue_level(
        self, venue_id: str, level: int, timeout: float = PATIENCE_S, reason: str | None = None
    ) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            risk = self.risk(venue_id)
            if risk is None or risk["level"] != level:
                return None
            if reason is not None and reason not in {r["code"] for r in risk["reasons"]}:
                return None
            return risk

        return wait_for(reached, timeout=timeout, interval=0.2, what=f"venue {venue_id} at level {level} ({reason})")

    def wait_area_level(
        self, code: str, level: int, timeout: float = PATIENCE_S, cases: int | None = None
    ) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            risk = self.area_risk(code)
            if risk is None or risk["level"] != level or (cases is not None and risk["cases_7d"] != cases):
                return None
            return risk

        return wait_for(reached, timeout=timeout, interval=0.2, what=f"area {code} at level {level}")

    def load_areas(self, csv_text: str) -> httpx.Response:
        return self.http.put(
            f"{self.services.safety_map}/v1/areas",
            content=csv_text.encode(),
            headers={**self.ha, "Content-Type": "text/csv"},
        )

    def close(self) -> None:
        self.http.close()
