"""The health-authority console's reads on the running services, through the one public origin (issue 15):
a case's contacts live, quarantine alerts and their acknowledgement, the audit of personal-data reads, and who
may read them."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from antoan_localstack.client import Antoan, new_person
from antoan_localstack.testing import RunningServices, wait_for
from antoan_shared.events import utc_now

pytestmark = [pytest.mark.integration, pytest.mark.shared_services]

NEW_ROUTES = (
    ("GET", "/v1/cases/{case_id}/contacts/stream"),
    ("GET", "/v1/alerts"),
    ("POST", "/v1/alerts/{alert_id}/acknowledge"),
    ("GET", "/v1/alerts/stream"),
    ("GET", "/v1/audit"),
)


@dataclass
class EventStream:
    """A server-sent event stream read on a thread, on one connection, as a browser's fetch() reads it."""

    url: str
    headers: dict[str, str]
    events: list[tuple[str, Any]] = field(default_factory=list)
    connections: int = 0
    status: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _response: httpx.Response | None = None

    def start(self) -> EventStream:
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        try:
            with httpx.stream("GET", self.url, headers=self.headers, timeout=60, trust_env=False) as response:
                self._response = response
                self.connections += 1
                self.status = response.status_code
                kind = None
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        kind = line.removeprefix("event: ")
                    elif line.startswith("data: ") and kind is not None:
                        with self._lock:
                            self.events.append((kind, json.loads(line.removeprefix("data: "))))
                        kind = None
        except (httpx.HTTPError, RuntimeError):
            return  # closed by the test

    def seen(self) -> list[tuple[str, Any]]:
        with self._lock:
            return list(self.events)

    def wait(self, condition: Callable[[list[tuple[str, Any]]], bool], what: str, timeout: float = 60) -> None:
        wait_for(lambda: condition(self.seen()), timeout=timeout, interval=0.2, what=what)

    def close(self) -> None:
        if self._response is not None:
            self._response.close()


@pytest.fixture(scope="module")
def public(running_services: RunningServices) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running_services.public, timeout=30, trust_env=False) as client:
        yield client


@pytest.fixture(scope="module")
def ha(running_services: RunningServices) -> dict[str, str]:
    return {"Authorization": f"Bearer {running_services.ha_token}"}


def contacts_now(events: list[tuple[str, Any]]) -> dict[str, dict[str, Any]]:
    """person_key -> the contact as the stream's events left it (the latest item per person wins)."""
    now: dict[str, dict[str, Any]] = {}
    for kind, data in events:
        if kind == "contact":
            now[data["person_key"]] = data
    return now


def test_a_case_s_contacts_arrive_live_and_a_withdrawal_follows_on_the_same_stream(
    antoan: Antoan, public: httpx.Client, running_services: RunningServices, ha: dict[str, str]
) -> None:
    now = utc_now().replace(microsecond=0)

    def ago(minutes: int) -> datetime:
        return now - timedelta(minutes=minutes)

    case, stays, goes, second = (new_person() for _ in range(4))
    cafe, shop = antoan.register_venue(), antoan.register_venue()
    # Given the case at the cafe 5 h ago (no check-out: an hour's visit, the dwell time), someone beside them,
    antoan.check_in(cafe, case, at=ago(300))
    keys = {stays: antoan.check_in(cafe, stays, at=ago(290))["person_key"]}
    antoan.check_in(cafe, stays, "out", at=ago(270))
    # someone who came 3 h 20 min ago, within the hour after the case's visit (the ±1 hour rule),
    keys[goes] = antoan.check_in(cafe, goes, at=ago(200))["person_key"]
    antoan.check_in(cafe, goes, "out", at=ago(190))
    # and someone who met the one beside the case at a shop 2 h ago
    antoan.check_in(shop, stays, at=ago(120))
    antoan.check_in(shop, stays, "out", at=ago(100))
    keys[second] = antoan.check_in(shop, second, at=ago(110))["person_key"]
    antoan.check_in(shop, second, "out", at=ago(90))
    # and the case confirmed
    case_id = "BN" + cafe["venue_id"][-8:]
    antoan.confirm_case(case, tested_at=ago(60), case_id=case_id)
    wait_for(
        lambda: public.get(f"/v1/cases/{case_id}/contacts", headers=ha).status_code == 200,
        what="the case known to the tracer",
    )

    # When the console follows the case's contacts through the public origin
    stream = EventStream(f"{running_services.public}/v1/cases/{case_id}/contacts/stream", ha).start()
    try:
        # Then it is told when it holds the contacts of the moment, and each contact arrives with its degree
        stream.wait(lambda events: any(kind == "ready" for kind, _ in events), what="the stream's ready event")
        expected = {keys[stays]: 1, keys[goes]: 1, keys[second]: 2}
        stream.wait(
            lambda events: {k: c["degree"] for k, c in contacts_now(events).items() if not c["withdrawn"]} == expected,
            what="the F1s and the F2 on the stream",
        )
        ready = [data for kind, data in stream.seen() if kind == "ready"]
        assert len(ready) == 1 and isinstance(ready[0]["count"], int), ready
        item = contacts_now(stream.seen())[keys[second]]
        assert item["source_person_key"] == keys[stays] and item["venue_id"] == shop["venue_id"], item
        assert "contact" not in item  # no contact details: those stay behind the audited reads

        # When the case's phone uploads, late, a check-out 10 min after it came: the window at the cafe now
        # ends an hour after 4 h 50 min ago, before the one who came 3 h 20 min ago
        antoan.check_in(cafe, case, "out", at=ago(290))
        # Then that contact arrives withdrawn, on the same connection, and the others hold
        stream.wait(
            lambda events: contacts_now(events)[keys[goes]]["withdrawn"] is True,
            what="the withdrawal on the stream",
        )
        withdrawn = contacts_now(stream.seen())[keys[goes]]
        assert withdrawn["degree"] is None, withdrawn
        assert {k: c["degree"] for k, c in contacts_now(stream.seen()).items() if not c["withdrawn"]} == {
            keys[stays]: 1,
            keys[second]: 2,
        }
        assert stream.connections == 1 and stream.status == 200
    finally:
        stream.close()


def test_a_fever_alert_is_listed_streamed_and_acknowledged_by_the_authority(
    antoan: Antoan, public: httpx.Client, running_services: RunningServices, ha: dict[str, str]
) -> None:
    # Given the console following alerts through the public origin
    stream = EventStream(f"{running_services.public}/v1/alerts/stream", ha).start()
    try:
        stream.wait(lambda events: ("ready", {}) in events, what="the alerts stream's ready event")
        # When a person in quarantine declares 38.5 °C
        declared = public.post(
            "/v1/declarations",
            json={"kind": "quarantine_daily", "person_id": new_person(), "temperature_c": 38.5, "symptoms": []},
        )
        assert declared.status_code == 202, declared.text
        person_key = declared.json()["person_key"]

        # Then an open fever alert is listed for them
        def open_alert() -> dict[str, Any] | None:
            listed = public.get("/v1/alerts", params={"status": "open", "limit": 50}, headers=ha).json()["alerts"]
            return next((a for a in listed if a["person_key"] == person_key), None)

        alert = wait_for(open_alert, what="the fever alert on /v1/alerts")
        assert alert["reason"] == "fever" and alert["detail"]["temperature_c"] == 38.5, alert
        assert alert["acknowledged_at"] is None and alert["acknowledged_by"] is None
        # and it arrived on the stream
        stream.wait(
            lambda events: any(k == "alert" and d["alert_id"] == alert["alert_id"] for k, d in events),
            what="the alert on the stream",
        )

        # When the authority acknowledges it, twice
        first = public.post(f"/v1/alerts/{alert['alert_id']}/acknowledge", headers=ha)
        again = public.post(f"/v1/alerts/{alert['alert_id']}/acknowledge", headers=ha)
        # Then it is acknowledged once, by the authority, and so listed
        assert first.status_code == again.status_code == 200, (first.text, again.text)
        assert first.json()["acknowledged_by"] == "health-authority"
        assert first.json()["acknowledged_at"] is not None
        assert again.json() == first.json()
        acknowledged = public.get("/v1/alerts", params={"status": "acknowledged"}, headers=ha).json()["alerts"]
        assert first.json() in acknowledged
        still_open = public.get("/v1/alerts", params={"status": "open"}, headers=ha).json()["alerts"]
        assert alert["alert_id"] not in {a["alert_id"] for a in still_open}
        # and the stream says so, once
        stream.wait(
            lambda events: ("alert", first.json()) in events,
            what="the acknowledgement on the stream",
        )
        assert [d for k, d in stream.seen() if k == "alert" and d["alert_id"] == alert["alert_id"]] == [
            alert,
            first.json(),
        ]
        # and an alert nobody raised cannot be acknowledged
        unknown = public.post("/v1/alerts/0b6f3c9e-1d2a-4c55-9f0e-2a7d8c1b4e6f/acknowledge", headers=ha)
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "alert_not_found"
    finally:
        stream.close()


def test_a_read_of_a_person_s_details_is_a_line_of_the_audit(
    antoan: Antoan, public: httpx.Client, ha: dict[str, str]
) -> None:
    # Given a person who checked in
    venue = antoan.register_venue()
    person_key = antoan.check_in(venue, new_person())["person_key"]
    # When the authority reads their details
    read_at = utc_now()
    assert public.get(f"/v1/persons/{person_key}", headers=ha).status_code in (200, 404)

    # Then the audit shows who read whose details, through which route, when
    def line() -> dict[str, Any] | None:
        entries = public.get("/v1/audit", params={"limit": 100}, headers=ha).json()["entries"]
        return next((e for e in entries if e["person_keys"] == [person_key]), None)

    entry = wait_for(line, what="the read in /v1/audit")
    assert entry["actor"] == "health-authority"
    assert entry["resource"] == f"/v1/persons/{person_key}"
    assert abs(datetime.fromisoformat(entry["read_at"]) - read_at) < timedelta(seconds=30)
    # newest first
    entries = public.get("/v1/audit", params={"limit": 100}, headers=ha).json()["entries"]
    times = [datetime.fromisoformat(e["read_at"]) for e in entries]
    assert times == sorted(times, reverse=True)


@pytest.mark.parametrize(("method", "route"), NEW_ROUTES)
def test_the_console_s_routes_need_the_health_authority_s_token(
    antoan: Antoan, public: httpx.Client, ha: dict[str, str], method: str, route: str
) -> None:
    # Given a venue's own key, and a case the tracer knows
    venue = antoan.register_venue()
    case_id = "BN" + venue["venue_id"][-8:]
    antoan.confirm_case(new_person(), tested_at=utc_now(), case_id=case_id)
    path = route.format(case_id=case_id, alert_id="0b6f3c9e-1d2a-4c55-9f0e-2a7d8c1b4e6f")
    # When the route is asked without a token, or with the venue's key, through the public origin
    without = public.request(method, path)
    venue_key = public.request(method, path, headers={"Authorization": f"Bearer {venue['api_key']}"})
    # Then it is refused, 401 and 403, in the API's error shape
    assert without.status_code == 401, without.text
    assert venue_key.status_code == 403, venue_key.text
    assert without.json()["error"]["code"] == "token_required"
    assert venue_key.json()["error"]["code"] == "invalid_token"
    # while the authority's token gets past the door (a stream is only opened)
    if path.endswith("/stream"):
        wait_for(lambda: public.get(f"/v1/cases/{case_id}/contacts", headers=ha).status_code == 200)
        with public.stream(method, path, headers=ha) as answer:
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("text/event-stream")
    else:
        assert public.request(method, path, headers=ha).status_code in (200, 404)


def test_a_case_nobody_confirmed_has_no_stream(public: httpx.Client, ha: dict[str, str]) -> None:
    answer = public.get("/v1/cases/BN-nobody-0000/contacts/stream", headers=ha)
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "case_not_found"
