"""Redis is only a read model: emptied, the safety map restores every level and occupancy from Kafka."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from antoan_localstack.client import Antoan, new_person
from antoan_localstack.testing import RunningServices, TopicReader, kill_service, restart_services, wait_for
from antoan_shared import topics

pytestmark = pytest.mark.integration

AREAS = """area_code,area_kind,name,parent_code,population
95,province,Tỉnh khôi phục,,1000000
951,district,Huyện khôi phục,95,100000
95101,ward,Xã khôi phục,951,10000
"""


def snapshot(antoan: Antoan, venue_ids: list[str], area_codes: list[str]) -> dict[str, Any]:
    return {
        "risk": {v: antoan.risk(v) for v in venue_ids},
        "occupancy": {v: antoan.get(f"/v1/venues/{v}/occupancy").json() for v in venue_ids},
        "areas": {a: antoan.area_risk(a) for a in area_codes},
    }


def wait_until_restored(antoan: Antoan, before: dict[str, Any], what: str) -> None:
    latest: list[dict[str, Any]] = []

    def restored() -> bool:
        latest[:] = [snapshot(antoan, list(before["risk"]), list(before["areas"]))]
        return latest[0] == before

    try:
        wait_for(restored, timeout=60, interval=0.5, what=what)
    except AssertionError:
        assert latest[0] == before  # shows what differs
        raise


def empty_the_read_model(services: RunningServices) -> None:
    client = redis.Redis.from_url(services.servers.redis_url)
    keys = list(client.scan_iter(match=services.env["SAFETY_MAP_REDIS_PREFIX"] + "*"))
    assert keys, "the read model had no keys"
    client.delete(*keys)
    client.close()


def published_count(services: RunningServices) -> int:
    reader = TopicReader(services.settings(), topics.VENUE_RISK)
    try:
        reader.read(timeout_ms=1000)
        return len(reader.read(timeout_ms=500))
    finally:
        reader.close()


def test_emptying_redis_restores_every_level_and_occupancy_from_the_topics(
    antoan: Antoan, running_services: RunningServices
) -> None:
    # Given venues at every level: a case (red), a crowd (orange), a poor self-assessment (yellow), a ward at
    # level 3 (yellow), and a quiet one (green)
    assert antoan.load_areas(AREAS).status_code == 202
    red, orange, yellow, in_hot_ward, green = (antoan.register_venue(capacity=2) for _ in range(5))
    person = new_person()
    antoan.check_in(red, person, at=datetime.now(UTC) - timedelta(minutes=20))
    antoan.confirm_case(person, tested_at=datetime.now(UTC))
    for _ in range(3):
        antoan.check_in(orange, new_person())
    answers = {"answers": {"masks": True}}
    path = f"{running_services.safety_map}/v1/venues/{yellow['venue_id']}/self-assessment"
    assert antoan.http.post(path, json=answers, headers={"Authorization": f"Bearer {yellow['api_key']}"}).is_success
    hot = antoan.register_venue(province_code="95", district_code="951", ward_code="95101")
    for _ in range(6):
        antoan.confirm_case(new_person(), tested_at=datetime.now(UTC), ward_code="95101")
    antoan.wait_venue_level(red["venue_id"], 4)
    antoan.wait_venue_level(orange["venue_id"], 3)
    antoan.wait_venue_level(yellow["venue_id"], 2, reason="low_self_assessment")
    antoan.wait_area_level("95101", 3, cases=6)
    antoan.wait_venue_level(hot["venue_id"], 2, reason="area_level")
    venue_ids = [v["venue_id"] for v in (red, orange, yellow, in_hot_ward, green, hot)]
    areas = ["95", "951", "95101"]
    before = snapshot(antoan, venue_ids, areas)
    records_before = published_count(running_services)

    # When Redis is emptied under the running service
    empty_the_read_model(running_services)
    # Then it rebuilds from the topics by itself: the same levels, reasons, times and occupancy
    wait_until_restored(antoan, before, "the rebuilt read model")

    # When Redis is emptied and the service restarted
    kill_service(running_services, "safety-map")
    empty_the_read_model(running_services)
    restart_services(running_services)
    # Then again every level and occupancy is as it was
    wait_until_restored(antoan, before, "the restored read model")
    # And nothing was published again: a rebuild is not a change
    assert published_count(running_services) == records_before
