"""Open live streams cannot take the safety map down.

Issue 12's finding: each `GET /v1/stream` held a Redis connection of its own from a pool of 100, so about a
hundred open streams made venue, GeoJSON and area reads answer 500 and `/readyz` 503. Now a process holds one
Redis subscription fanned out in memory, and refuses streams beyond `SAFETY_MAP_MAX_STREAMS` with 503 and
`Retry-After`. Here 2,000 streams stay open while the reads keep answering 200, every stream receives a
change made while they are open, and the stream beyond the cap is refused.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from antoan_localstack.testing import RunningServices

pytestmark = pytest.mark.integration

STREAMS = 2000


@pytest.fixture(scope="module")
def services_env() -> dict[str, str]:
    return {"SAFETY_MAP_MAX_STREAMS": str(STREAMS), "INGEST_RATE_LIMIT_PER_S": "0", "SAFETY_MAP_RATE_LIMIT_PER_S": "0"}


async def _hold(client: httpx.AsyncClient, url: str, connected: asyncio.Event, counter: list[int]) -> str:
    """Open a stream; count it once connected; return the first change event's name."""
    async with client.stream("GET", url) as answer:
        assert answer.status_code == 200, answer.status_code
        async for line in answer.aiter_lines():
            if line == ": connected":
                counter[0] += 1
                if counter[0] == STREAMS:
                    connected.set()
            elif line.startswith("event: "):
                return line.removeprefix("event: ")
    return ""


async def _scenario(services: RunningServices) -> None:
    limits = httpx.Limits(max_connections=STREAMS + 50, max_keepalive_connections=50)
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(60.0, pool=60.0)) as client:
        venue = (
            await client.post(
                f"{services.ingest}/v1/venues",
                json={"name": "Nhà văn hoá phường", "category": "office", "province_code": "38", "capacity": 50},
            )
        ).json()
        url = f"{services.safety_map}/v1/stream"
        connected = asyncio.Event()
        counter = [0]
        streams = [asyncio.create_task(_hold(client, url, connected, counter)) for _ in range(STREAMS)]
        try:
            # Given 2,000 open streams
            await asyncio.wait_for(connected.wait(), 90)

            # Then the stream beyond the cap is refused with a retry hint
            refused = await client.get(url)
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"]["code"] == "too_many_streams"
            assert int(refused.headers["retry-after"]) > 0

            # And every read still answers
            for path in (
                "/readyz",
                f"/v1/venues/{venue['venue_id']}/risk",
                f"/v1/venues/{venue['venue_id']}/occupancy",
                "/v1/map/venues.geojson",
                "/v1/areas",
            ):
                for _ in range(10):
                    answer = await client.get(f"{services.safety_map}{path}")
                    assert answer.status_code == 200, (path, answer.status_code, answer.text[:200])

            # And a change made now reaches every open stream
            checkin = await client.post(
                f"{services.ingest}/v1/checkins",
                json={"venue_qr": venue["qr"], "person_id": "0912000001", "direction": "in", "app": "ncovi"},
            )
            assert checkin.status_code == 202, checkin.text
            first_events = await asyncio.wait_for(asyncio.gather(*streams), 60)
            assert len(first_events) == STREAMS
            assert all(first_events), "a stream ended without an event"
        finally:
            for task in streams:
                task.cancel()
            await asyncio.gather(*streams, return_exceptions=True)


def test_two_thousand_open_streams_leave_reads_answering_and_each_gets_the_changes(
    running_services: RunningServices,
) -> None:
    asyncio.run(_scenario(running_services))
