"""The safety map: venue and area risk levels, occupancy, GeoJSON and the live public map.

The risk engine (one per deployment) projects the topics into a Redis read model and publishes level
changes; the HTTP side reads Redis only, so it scales out behind a load balancer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis
from fastapi import FastAPI

from antoan_safety_map.adapters.read_model import Keys, ReadModel, StateStore
from antoan_safety_map.adapters.venue_directory import VenueDirectory
from antoan_safety_map.api.deps import Runtime
from antoan_safety_map.api.routes import areas, checklist, map, page, stream, venues
from antoan_safety_map.engine import INPUTS, RiskEngine
from antoan_safety_map.settings import SafetyMapSettings, get_settings
from antoan_shared import topics
from antoan_shared.kafka import EventPublisher, ensure_topics
from antoan_shared.stores import async_redis
from antoan_shared.web import (
    LIMIT_RESPONSES,
    NO_OPENTELEMETRY,
    health_router,
    install_api_docs,
    install_error_handlers,
    install_guards,
)

log = logging.getLogger(__name__)

BODY_LIMIT = 64 * 1024
AREA_DATA_LIMIT = 8 * 1024 * 1024  # a whole country's wards as CSV is about 1 MB


def create_app(settings: SafetyMapSettings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        written = topics.topics_written_by("safety-map")
        await asyncio.to_thread(ensure_topics, settings, (*INPUTS, *written))
        keys = Keys(settings.redis_prefix)
        publisher = EventPublisher(settings, "safety-map")
        await asyncio.to_thread(publisher.warm_up, written)
        engine: RiskEngine | None = None
        if settings.engine:
            store = StateStore(redis.Redis.from_url(settings.redis_url), keys)
            engine = RiskEngine(settings, store, publisher, settings.risk_policy())
            engine.start()
        client = async_redis(settings.redis_url)
        app.state.runtime = Runtime(settings, ReadModel(client, keys), publisher, engine)
        # The venues' search index and cluster grid load while the process starts serving: at a national size
        # that takes seconds, which the first visitor would otherwise wait.
        directory = app.state.venue_directory = VenueDirectory(client, keys)
        warm_up = asyncio.create_task(directory.ready(), name="map-venue-directory-warm-up")
        log.info("safety map started", extra={"host": settings.host, "port": settings.port, "engine": settings.engine})
        try:
            yield
        finally:
            warm_up.cancel()
            await directory.close()
            if engine is not None:
                engine.stop()
                await asyncio.to_thread(engine.join, 15.0)
            await client.aclose()
            await asyncio.to_thread(publisher.close)

    app = FastAPI(
        telemetry=NO_OPENTELEMETRY,
        title="Antoan safety map",
        version="1",
        description="Venue and area risk levels (SPEC §3.6), occupancy, GeoJSON, a live stream and the public map.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        responses=LIMIT_RESPONSES,
    )
    install_error_handlers(app)
    install_api_docs(app)
    install_guards(app, settings, BODY_LIMIT, {"/v1/areas": AREA_DATA_LIMIT})

    async def ready_checks() -> dict[str, bool]:
        runtime: Runtime = app.state.runtime
        checks = {"redis": await runtime.read_model.ping(), "kafka": runtime.publisher.connected()}
        if runtime.engine is not None:
            checks["engine"] = runtime.engine.ready.is_set() and runtime.engine.is_alive()
        return checks

    app.include_router(health_router(ready_checks))
    app.include_router(venues.router)
    app.include_router(areas.router)
    app.include_router(checklist.router)
    app.include_router(map.router)
    app.include_router(stream.router)
    page.install(app)
    return app
