"""The safety map: the read model of venue occupancy and risk in Redis, served over HTTP."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis
import redis.asyncio as aioredis
from fastapi import FastAPI

from antoan_safety_map.adapters.read_model import Keys, ReadModel, ReadModelWriter
from antoan_safety_map.api.deps import Runtime
from antoan_safety_map.api.routes import page, venues
from antoan_safety_map.settings import SafetyMapSettings, get_settings
from antoan_shared import topics
from antoan_shared.kafka import Consumed, ConsumerLoop, EventPublisher, ensure_topics
from antoan_shared.web import health_router, install_error_handlers

log = logging.getLogger(__name__)

# What the read model is built from.
PROJECTED_TOPICS = (topics.VENUES, topics.OCCUPANCY)


def create_app(settings: SafetyMapSettings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(ensure_topics, settings, (*PROJECTED_TOPICS, *topics.topics_written_by("safety-map")))
        keys = Keys(settings.redis_prefix)
        writer = ReadModelWriter(redis.Redis.from_url(settings.redis_url), keys)
        publisher = EventPublisher(settings, "safety-map")
        await asyncio.to_thread(publisher.warm_up, topics.topics_written_by("safety-map"))

        def project(batch: list[Consumed]) -> None:
            writer.apply([item.event for item in batch])

        projector = ConsumerLoop(settings, "safety-map", PROJECTED_TOPICS, project, publisher, purpose="read-model")
        projector.start()
        client = aioredis.Redis.from_url(settings.redis_url)
        app.state.runtime = Runtime(settings, ReadModel(client, keys), publisher, projector)
        log.info("safety map started", extra={"host": settings.host, "port": settings.port})
        try:
            yield
        finally:
            projector.stop()
            await asyncio.to_thread(projector.join, 15.0)  # lets the consumer leave its group cleanly
            await client.aclose()
            await asyncio.to_thread(publisher.close)

    app = FastAPI(
        title="Antoan safety map",
        version="1",
        description="Venue and area risk levels, occupancy and the public live map.",
        lifespan=lifespan,
    )
    install_error_handlers(app)

    async def ready_checks() -> dict[str, bool]:
        runtime: Runtime = app.state.runtime
        return {
            "redis": await runtime.read_model.ping(),
            "kafka": runtime.publisher.connected(),
            "projector": runtime.projector.assigned.is_set() and runtime.projector.is_alive(),
        }

    app.include_router(health_router(ready_checks))
    app.include_router(venues.router)
    page.install(app)
    return app
