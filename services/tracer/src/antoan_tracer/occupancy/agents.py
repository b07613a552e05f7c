"""Occupancy: check-ins (keyed by venue) → presence table → `occupancy.v1`.

The presence table is co-partitioned with `checkins.v1` (same key, same partition count), so each worker
owns the whole state of its venues and no re-key is needed for counting.
"""

from __future__ import annotations

import logging
from typing import Any

import faust

from antoan_shared import codec, topics
from antoan_shared.events import CheckInRecorded, OccupancyChanged, utc_now
from antoan_tracer.app import source_topic
from antoan_tracer.domain import occupancy
from antoan_tracer.settings import TracerSettings

log = logging.getLogger(__name__)


def register(app: faust.App, settings: TracerSettings) -> None:
    checkins = source_topic(app, settings, topics.CHECKINS)
    occupancy_out = app.topic(settings.topic(topics.OCCUPANCY), key_type=bytes, value_type=bytes)
    presence = app.Table(
        "presence",
        default=dict,
        partitions=topics.CHECKINS.partitions,
        schema=faust.Schema(key_type=str, key_serializer="json", value_serializer="json"),
    )
    # Last count this worker published per venue; after a restart everything is published once again,
    # which is harmless on a compacted topic of absolute values.
    published: dict[str, int] = {}

    async def publish_if_changed(venue_id: str, present: dict[str, str]) -> None:
        now = utc_now()
        count = occupancy.current_occupancy(present, now, settings.dwell)
        if published.get(venue_id) == count:
            return
        change = OccupancyChanged(producer="tracer", venue_id=venue_id, current=count, as_of=now)
        await occupancy_out.send(key=venue_id.encode(), value=codec.encode_event(change))
        published[venue_id] = count

    @app.agent(checkins, name="occupancy")
    async def count_occupancy(stream: Any) -> None:
        async for raw in stream:
            try:
                scan = codec.decode_as(CheckInRecorded, raw)
            except codec.DecodeError:
                log.exception("skipping undecodable check-in")
                continue
            present = occupancy.apply_scan(presence[scan.venue_id], scan.person_key, scan.direction, scan.scanned_at)
            presence[scan.venue_id] = present
            await publish_if_changed(scan.venue_id, present)

    @app.timer(interval=settings.auto_checkout_interval_s)
    async def apply_automatic_checkouts() -> None:
        for venue_id, present in list(presence.items()):
            await publish_if_changed(venue_id, present)
