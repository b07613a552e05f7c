"""Venue and area risk levels end to end: ingest → Kafka → tracer → safety map → venue-risk.v1 (SPEC §3.6)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from antoan_localstack.client import Antoan, new_person
from antoan_localstack.testing import RunningServices, TopicReader, wait_for
from antoan_shared import topics
from antoan_shared.events import AreaRiskChanged, VenueRiskChanged

pytestmark = [pytest.mark.integration, pytest.mark.shared_services]


def now() -> datetime:
    return datetime.now(UTC)


def test_a_case_at_a_venue_turns_it_red_within_seconds(antoan: Antoan, running_services: RunningServices) -> None:
    # Given a venue where a person checked in half an hour ago
    venue = antoan.register_venue(capacity=50)
    assert antoan.risk(venue["venue_id"])["level"] == 1  # type: ignore[index]
    person = new_person()
    antoan.check_in(venue, person, at=now() - timedelta(minutes=30))
    # When the health authority confirms that person as a case
    confirmed = time.monotonic()
    antoan.confirm_case(person, tested_at=now())
    # Then the venue turns red within seconds, with the reason, on the API and on venue-risk.v1
    risk = antoan.wait_venue_level(venue["venue_id"], 4, timeout=20, reason="case_present_72h")
    print(f"case confirmed -> venue red in {time.monotonic() - confirmed:.2f}s")
    assert risk["color"] == "red"
    reader = TopicReader(running_services.settings(), topics.VENUE_RISK)
    try:
        published = reader.wait_until(
            lambda evs: any(
                isinstance(e, VenueRiskChanged) and e.venue_id == venue["venue_id"] and e.level == 4 for e in evs
            ),
            what="level 4 on venue-risk.v1",
        )
    finally:
        reader.close()
    mine = [e for e in published if isinstance(e, VenueRiskChanged) and e.venue_id == venue["venue_id"]]
    assert [e.level for e in mine] == [1, 4]  # registered green, then red: no repeats


def test_over_capacity_turns_a_venue_orange_and_near_capacity_yellow(antoan: Antoan) -> None:
    # Given a venue for five people
    venue = antoan.register_venue(capacity=5)
    people = [new_person() for _ in range(6)]
    # When four are in (80 %) it is yellow
    for person in people[:4]:
        antoan.check_in(venue, person)
    antoan.wait_venue_level(venue["venue_id"], 2, reason="near_capacity")
    # When six are in, it is orange
    for person in people[4:]:
        antoan.check_in(venue, person)
    risk = antoan.wait_venue_level(venue["venue_id"], 3, reason="over_capacity")
    assert risk["color"] == "orange"
    occupancy = antoan.get(f"/v1/venues/{venue['venue_id']}/occupancy").json()
    assert (occupancy["current"], occupancy["capacity"]) == (6, 5)
    # And when they leave it is green again
    for person in people:
        antoan.check_in(venue, person, direction="out")
    antoan.wait_venue_level(venue["venue_id"], 1, reason="no_risk_factors")


def test_clearing_a_venue_after_disinfection_steps_it_down(antoan: Antoan) -> None:
    # Given a venue that a case visited an hour ago: red
    venue = antoan.register_venue()
    person = new_person()
    antoan.check_in(venue, person, at=now() - timedelta(hours=1))
    antoan.confirm_case(person, tested_at=now())
    antoan.wait_venue_level(venue["venue_id"], 4)
    path = f"{antoan.services.safety_map}/v1/venues/{venue['venue_id']}/clearance"
    # When someone without the health authority's token tries to clear it, they are refused
    assert antoan.http.post(path, json={}).json()["error"]["code"] == "token_required"
    refused = antoan.http.post(path, json={}, headers={"Authorization": "Bearer nope"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "invalid_token")
    # (and a venue that does not exist is refused the same way: the credential is checked first)
    unknown = path.replace(venue["venue_id"], "v_0000000000000000")
    assert antoan.http.post(unknown, json={}).json()["error"]["code"] == "token_required"
    assert antoan.http.post(unknown, json={}, headers=antoan.ha).json()["error"]["code"] == "venue_not_found"
    # When the health authority clears it after disinfection
    response = antoan.http.post(path, json={"note": "khử khuẩn 2021-09-03"}, headers=antoan.ha)
    assert response.status_code == 202, response.text
    # Then it is green, saying it was cleared
    antoan.wait_venue_level(venue["venue_id"], 1, reason="cleared")


def test_case_presence_steps_down_after_72_hours_and_after_14_days(antoan: Antoan) -> None:
    # Given three venues a case visited 4 days, 15 days, and (almost) 72 hours ago
    four_days, fifteen_days, edge = (antoan.register_venue() for _ in range(3))
    cases = []
    for venue, visited in (
        (four_days, now() - timedelta(days=4)),
        (fifteen_days, now() - timedelta(days=15)),
        # a visit without check-out lasts the dwell (60 min) and its window another hour: it ends 72 h
        # before now plus 40 s, so the venue is red for 40 s and then orange
        (edge, now() - timedelta(hours=74) + timedelta(seconds=40)),
    ):
        person = new_person()
        antoan.check_in(venue, person, at=visited)
        cases.append((person, visited + timedelta(hours=2)))
    # When the three people are confirmed as cases (tested the day after their visit)
    for person, tested_at in cases:
        antoan.confirm_case(person, tested_at=min(tested_at + timedelta(days=1), now()))
    # Then the 4-day-old presence is orange, the 15-day-old one green
    antoan.wait_venue_level(four_days["venue_id"], 3, reason="case_present_14d")
    # And the presence right at the 72 h edge is red, then steps down to orange by itself
    antoan.wait_venue_level(edge["venue_id"], 4, reason="case_present_72h", timeout=35)
    antoan.wait_venue_level(edge["venue_id"], 3, reason="case_present_14d", timeout=60)
    risk = antoan.risk(fifteen_days["venue_id"])
    assert risk is not None and risk["level"] == 1, risk


AREAS = """area_code,area_kind,name,parent_code,population,vaccination_coverage
{p},province,Tỉnh thử nghiệm,,1000000,
{d},district,Huyện thử nghiệm,{p},100000,0.5
{w},ward,Xã thử nghiệm,{d},10000,
"""


def test_area_levels_follow_new_cases_per_100000_people(antoan: Antoan) -> None:
    # Given a ward of 10,000 people in a district of 100,000 in a province of 1,000,000, and a venue in the ward
    p, d, w = "97", "971", "97101"
    response = antoan.load_areas(AREAS.format(p=p, d=d, w=w))
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 3}
    antoan.wait_area_level(w, 1)
    venue = antoan.register_venue(province_code=p, district_code=d, ward_code=w)
    # When cases are confirmed in the ward, the levels follow the thresholds 20, 50 and 150 per 100,000
    confirmed = 0
    for target, level in ((1, 1), (2, 2), (5, 3), (15, 4)):
        while confirmed < target:
            antoan.confirm_case(new_person(), tested_at=now(), ward_code=w)
            confirmed += 1
        ward = antoan.wait_area_level(w, level, cases=target)
        assert ward["cases_per_100k"] == target * 10
    # And a ward's cases count in its district and province (roll-up): 15 per 100,000 and 1.5 per 100,000
    district = antoan.wait_area_level(d, 1, cases=15)
    assert (district["cases_7d"], district["cases_per_100k"]) == (15, 15.0)
    antoan.wait_area_level(p, 1, cases=15)
    # And the venue in a ward at level 3 or above is at least yellow
    risk = antoan.wait_venue_level(venue["venue_id"], 2, reason="area_level")
    assert any(r["code"] == "area_level" and r["detail"]["area_code"] == w for r in risk["reasons"])
    listed = antoan.get("/v1/areas", params={"parent": d}).json()
    assert [a["area_code"] for a in listed] == [w]


def test_area_data_is_refused_with_row_numbers_when_invalid(antoan: Antoan) -> None:
    bad = "area_code,area_kind,name,parent_code,population\n38,province,Thanh Hóa,,3640128\n3801,district,X,38,-5\n"
    response = antoan.load_areas(bad)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_area_data"
    assert [p["row"] for p in error["detail"]] == [2]
    unauthorised = httpx.put(
        f"{antoan.services.safety_map}/v1/areas", content=b"x", headers={"Content-Type": "text/csv"}, timeout=10
    )
    assert unauthorised.status_code == 401


def test_a_low_self_assessment_score_turns_a_venue_yellow(antoan: Antoan) -> None:
    # Given a venue and the checklist, in Vietnamese and in English
    venue = antoan.register_venue()
    checklist_vi = antoan.get("/v1/self-assessment/checklist").json()
    checklist_en = antoan.get("/v1/self-assessment/checklist", params={"lang": "en"}).json()
    assert checklist_vi["total_weight"] == 100
    assert [c["id"] for c in checklist_vi["criteria"]] == [c["id"] for c in checklist_en["criteria"]]
    assert checklist_vi["criteria"][0]["text"] != checklist_en["criteria"][0]["text"]
    path = f"{antoan.services.safety_map}/v1/venues/{venue['venue_id']}/self-assessment"
    owner = {"Authorization": f"Bearer {venue['api_key']}"}
    # When someone without the venue's key submits, they are refused
    assert antoan.http.post(path, json={"answers": {}}).status_code == 401
    wrong = antoan.http.post(path, json={"answers": {}}, headers={"Authorization": "Bearer not-the-key"})
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (403, "invalid_venue_key")
    unknown = antoan.http.post(path, json={"answers": {"astrology": True}}, headers=owner)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (400, "unknown_criterion")
    # When the owner answers only masks and hand hygiene (30 of 100)
    response = antoan.http.post(path, json={"answers": {"masks": True, "hand_hygiene": True}}, headers=owner)
    assert response.status_code == 202, response.text
    assert (response.json()["score"], response.json()["below_threshold"]) == (30, True)
    # Then the venue is yellow for its low score; a full checklist makes it green again
    antoan.wait_venue_level(venue["venue_id"], 2, reason="low_self_assessment")
    everything = {c["id"]: True for c in checklist_vi["criteria"]}
    assert antoan.http.post(path, json={"answers": everything}, headers=owner).json()["score"] == 100
    antoan.wait_venue_level(venue["venue_id"], 1)


def test_venues_geojson_is_a_valid_feature_collection_with_bbox_and_level_filters(antoan: Antoan) -> None:
    import geojson

    # Given a crowded venue in Sầm Sơn and a quiet one in Thanh Hóa city
    crowded = antoan.register_venue(capacity=1, lat=19.7400, lon=105.9000, name="Bãi biển Sầm Sơn")
    quiet = antoan.register_venue(capacity=100, lat=19.8067, lon=105.7852)
    antoan.check_in(crowded, new_person())
    antoan.check_in(crowded, new_person())
    antoan.wait_venue_level(crowded["venue_id"], 3)
    # When the map asks for the venues in a box around Sầm Sơn, and for orange venues anywhere
    box = antoan.get("/v1/map/venues.geojson", params={"bbox": "105.85,19.70,105.95,19.78"})
    orange = antoan.get("/v1/map/venues.geojson", params={"level": "3,4"})
    # Then both are valid GeoJSON FeatureCollections with the right venues
    for response in (box, orange):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/geo+json")
        collection = geojson.loads(response.text)
        assert collection.is_valid, collection.errors()
        assert collection["type"] == "FeatureCollection"
    in_box = {f["id"] for f in box.json()["features"]}
    assert crowded["venue_id"] in in_box and quiet["venue_id"] not in in_box
    feature = next(f for f in orange.json()["features"] if f["id"] == crowded["venue_id"])
    assert feature["geometry"]["coordinates"] == [105.9, 19.74]
    assert feature["properties"]["level"] == 3 and feature["properties"]["current"] == 2
    assert all(f["properties"]["level"] in (3, 4) for f in orange.json()["features"])
    # And a bad box is a 400 with its code
    bad = antoan.get("/v1/map/venues.geojson", params={"bbox": "106,20,105,19"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_bbox")


def test_the_live_stream_carries_a_level_change_as_it_happens(antoan: Antoan) -> None:
    # Given a venue for one person, and a client listening to the stream
    venue = antoan.register_venue(capacity=1)
    seen: list[str] = []
    with antoan.http.stream("GET", f"{antoan.services.safety_map}/v1/stream", timeout=30) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(lines).startswith("retry:")
        # When two people check in
        antoan.check_in(venue, new_person())
        antoan.check_in(venue, new_person())
        # Then the stream tells of the occupancy and of the venue turning orange
        deadline = time.monotonic() + 30
        event = ""
        for line in lines:
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") and venue["venue_id"] in line:
                seen.append(event)
                if event == "venue-risk" and '"level": 3' in line:
                    break
            assert time.monotonic() < deadline, f"no level change on the stream; saw {seen}"
    assert "occupancy" in seen and seen[-1] == "venue-risk"


def test_area_risk_changes_are_published_on_area_risk_v1(antoan: Antoan, running_services: RunningServices) -> None:
    antoan.load_areas(AREAS.format(p="96", d="961", w="96101"))
    antoan.wait_area_level("96101", 1)
    reader = TopicReader(running_services.settings(), topics.AREA_RISK)
    try:
        events = reader.wait_until(
            lambda evs: {e.area_code for e in evs if isinstance(e, AreaRiskChanged)} >= {"96", "961", "96101"},
            what="the three areas on area-risk.v1",
        )
    finally:
        reader.close()
    ward = next(e for e in events if isinstance(e, AreaRiskChanged) and e.area_code == "96101")
    assert (ward.area_kind, ward.level, ward.color, ward.population) == ("ward", 1, "green", 10000)
    assert wait_for(lambda: antoan.area_risk("961"), what="district")["name"] == "Huyện thử nghiệm"
