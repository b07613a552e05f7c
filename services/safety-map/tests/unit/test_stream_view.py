"""The live stream of one view: a venue's changes pass only inside the view, areas' always (issue 14 item 7)."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

import redis.asyncio as aioredis

from antoan_safety_map.adapters.changes import in_view
from antoan_shared.live import LiveHub

HANOI_VIEW = (105.5, 20.8, 106.1, 21.3)


def change(kind: str, venue_id: str, at: list[float] | None) -> dict[str, Any]:
    message: dict[str, Any] = {"kind": kind, "data": {"venue_id": venue_id, "level": 4}}
    if at is not None:
        message["at"] = at
    return message


def test_a_venues_change_passes_a_view_only_from_inside_it() -> None:
    assert in_view(change("venue-risk", "in", [105.85, 21.03]), HANOI_VIEW)
    assert not in_view(change("venue-risk", "out", [106.70, 10.78]), HANOI_VIEW)
    assert not in_view(change("occupancy", "out", [106.70, 10.78]), HANOI_VIEW)


def test_without_a_view_or_a_place_every_change_passes_and_areas_always_do() -> None:
    assert in_view(change("venue-risk", "out", [106.70, 10.78]), None)
    assert in_view(change("venue-risk", "older-engine", None), HANOI_VIEW)
    assert in_view({"kind": "area-risk", "data": {"area_code": "79"}}, HANOI_VIEW)


def test_the_hub_gives_each_stream_the_changes_of_its_view() -> None:
    # Given a stream of Hà Nội's view and one of everything
    hub = LiveHub(cast(aioredis.Redis, None), "changes", max_streams=10)
    hub._streams[(hanoi := _queue())] = lambda change: in_view(change, HANOI_VIEW)
    hub._streams[(everything := _queue())] = lambda change: in_view(change, None)
    # When a change in Hồ Chí Minh and one in Hà Nội are published
    hub._fan_out(json.dumps(change("venue-risk", "hcm", [106.70, 10.78])))
    hub._fan_out(json.dumps(change("venue-risk", "hn", [105.85, 21.03])))
    # Then Hà Nội's stream has Hà Nội's change only, the other both
    assert [_venue(hanoi.get_nowait()) for _ in range(hanoi.qsize())] == ["hn"]
    assert [_venue(everything.get_nowait()) for _ in range(everything.qsize())] == ["hcm", "hn"]


def _queue() -> asyncio.Queue[str | None]:
    # The hub's own queues, placed directly: `open` also starts the Redis subscription, which this test has not.
    return asyncio.Queue(maxsize=10)


def _venue(frame: str | None) -> str:
    assert frame is not None and frame.startswith("event: venue-risk\n")
    return str(json.loads(frame.split("data: ", 1)[1])["venue_id"])
