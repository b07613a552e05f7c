from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime

import httpx
import pytest

from antoan_localstack import simulate


def test_venues_are_reproducible_and_realistic() -> None:
    import random

    a = simulate.make_venues(random.Random(7), 40)
    b = simulate.make_venues(random.Random(7), 40)
    assert a == b
    assert {v.category for v in a} == set(simulate.CATEGORIES)
    for v in a:
        assert v.province_code == "38"
        assert re.fullmatch(r"38\d", v.district_code)
        assert re.fullmatch(r"\d{5}", v.ward_code)
        assert 19.5 < v.lat < 20.3
        assert 105.5 < v.lon < 106.1
        assert v.capacity > 0
        assert set(v.body()) == {
            "name", "category", "address", "province_code", "district_code", "ward_code", "lat", "lon", "capacity",
        }  # fmt: skip


def test_people_are_phone_numbers() -> None:
    import random

    people = simulate.make_people(random.Random(1), 500)
    assert len(set(people)) == 500
    assert all(re.fullmatch(r"09\d{8}", p) for p in people)


def test_only_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        simulate.run("http://example.org:8001", duration=0.1)


def test_run_against_a_fake_ingest() -> None:
    venues: list[dict[str, object]] = []
    checkins: list[dict[str, object]] = []
    lock = threading.Lock()

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        with lock:
            if request.url.path == "/v1/venues":
                venues.append(body)
                n = len(venues)
                return httpx.Response(201, json={"venue_id": f"v{n}", "qr": f"qr-{n}", "api_key": "k"})
            assert request.url.path == "/v1/checkins"
            checkins.append(body)
            every_tenth = len(checkins) % 10 == 0
        if every_tenth:
            return httpx.Response(422, json={"error": "scanned_at_out_of_range"})
        return httpx.Response(202, json={"event_id": "e", "person_key": "p", "venue_id": "v"})

    stats = simulate.run(
        "http://127.0.0.1:8001",
        rate=200,
        venues=12,
        people=50,
        duration=1.0,
        transport=httpx.MockTransport(handler),
    )
    assert len(venues) == 12
    assert stats.sent == len(checkins) > 50
    assert stats.accepted + stats.rejected == stats.sent
    assert stats.rejected == len(checkins) // 10
    qrs = {f"qr-{i}" for i in range(1, 13)}
    for c in checkins:
        assert c["venue_qr"] in qrs
        assert c["direction"] in ("in", "out")
        assert c["app"] in simulate.APPS
        scanned = datetime.fromisoformat(str(c["scanned_at"]).replace("Z", "+00:00"))
        assert scanned.tzinfo == UTC
    # A person's first scan is an entry.
    first: dict[object, object] = {}
    for c in checkins:
        first.setdefault(c["person_id"], c["direction"])
    assert set(first.values()) == {"in"}


def test_stop_event_ends_the_run() -> None:
    stop = threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/venues":
            return httpx.Response(201, json={"venue_id": "v", "qr": "q", "api_key": "k"})
        stop.set()
        return httpx.Response(202, json={})

    stats = simulate.run("http://127.0.0.1:1", stop=stop, rate=50, venues=2, transport=httpx.MockTransport(handler))
    assert stats.sent >= 1


def test_a_person_leaves_after_their_stay_and_not_before() -> None:
    checkins: list[dict[str, object]] = []
    lock = threading.Lock()

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if request.url.path == "/v1/venues":
            return httpx.Response(201, json={"venue_id": "v", "qr": "q", "api_key": "k"})
        with lock:
            checkins.append(body)
        return httpx.Response(202, json={})

    # Stays of 0.6 to 0.9 s, among many people: nobody has to leave early
    simulate.run(
        "http://127.0.0.1:8001",
        rate=100,
        venues=3,
        people=10_000,
        duration=2.0,
        stay_minutes=(0.01, 0.015),
        transport=httpx.MockTransport(handler),
    )
    arrived: dict[object, datetime] = {}
    stays = []
    for c in sorted(checkins, key=lambda c: str(c["scanned_at"])):
        at = datetime.fromisoformat(str(c["scanned_at"]).replace("Z", "+00:00"))
        if c["direction"] == "in":
            arrived[c["person_id"]] = at
        else:
            stays.append((at - arrived.pop(c["person_id"])).total_seconds())
    # Then people left, each after their stay (the clock of scanned_at has millisecond steps)
    assert len(stays) > 20
    assert min(stays) >= 0.59 and max(stays) < 1.2
