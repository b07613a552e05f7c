"""What a tracer worker runs beside its stream processing: the read model and the HTTP reads, readiness."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import redis

from antoan_shared import topics
from antoan_shared.kafka import EventPublisher
from antoan_shared.venues import VenueDirectory
from antoan_tracer.api import create_api, serve_in_thread
from antoan_tracer.lag import consumer_group_lag
from antoan_tracer.readmodel import ReadModel, ReadModelFollower
from antoan_tracer.settings import TracerSettings

log = logging.getLogger(__name__)


class Worker:
    def __init__(
        self, settings: TracerSettings, directory: VenueDirectory, stream_alive: Callable[[], bool] = lambda: True
    ) -> None:
        self.settings = settings
        self.directory = directory
        self.stream_alive = stream_alive
        self.redis = redis.Redis.from_url(settings.redis_url)
        self.read_model = ReadModel(self.redis, settings)
        self.publisher = EventPublisher(settings, "tracer")
        self.follower = ReadModelFollower(settings, self.read_model, self.publisher)
        self.inputs = [
            settings.topic(spec)
            for spec in (*topics.TRACER_INBOXES, topics.CHECKINS, topics.CASES, topics.DECLARATIONS)
        ]

    async def ready_checks(self) -> dict[str, bool]:
        """Ready: the stream process runs, Kafka and Redis answer, and the group is not far behind."""
        lag = await asyncio.to_thread(consumer_group_lag, self.settings, self.settings.group_id("tracer"), self.inputs)
        try:
            redis_ok = bool(await asyncio.to_thread(self.redis.ping))
        except redis.RedisError:
            redis_ok = False
        return {
            "stream": self.stream_alive(),
            "kafka": lag is not None,
            "redis": redis_ok,
            "caught_up": lag is not None and lag <= self.settings.max_ready_lag,
            "venue_directory": self.directory.loaded.is_set(),
            "read_model": self.follower.ready(),
        }

    def warm_up(self) -> None:
        """Create the lag probe's client before the first /readyz (librdkafka once crashed, rdk:main SIGSEGV, when
        it was first created on another thread while a Quix consumer was starting in the same process)."""
        consumer_group_lag(self.settings, self.settings.group_id("tracer"), self.inputs)

    def serve(self) -> None:
        self.follower.start()
        serve_in_thread(create_api(self.settings, self.read_model, self.directory, self.ready_checks), self.settings)
