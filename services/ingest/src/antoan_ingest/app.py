"""The ingest service: venues, QR codes and check-ins into Kafka."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import Response
from kafka.errors import KafkaError

from antoan_ingest.adapters.venue_directory import VenueDirectory, VenueDirectoryFollower
from antoan_ingest.api.deps import Runtime
from antoan_ingest.api.routes import checkins, venues
from antoan_ingest.settings import IngestSettings, get_settings
from antoan_shared import topics
from antoan_shared.kafka import EventPublisher, ensure_topics
from antoan_shared.web import error_response, health_router, install_error_handlers

log = logging.getLogger(__name__)


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(ensure_topics, settings, topics.topics_written_by("ingest"))
        publisher = EventPublisher(settings, "ingest")
        await asyncio.to_thread(publisher.warm_up, topics.topics_written_by("ingest"))
        directory = VenueDirectory()
        follower = VenueDirectoryFollower(settings, directory)
        follower.start()
        app.state.runtime = Runtime(settings, publisher, directory, follower)
        log.info("ingest started", extra={"host": settings.host, "port": settings.port})
        try:
            yield
        finally:
            follower.stop()
            await asyncio.to_thread(follower.join, 15.0)
            await asyncio.to_thread(publisher.close)

    app = FastAPI(
        title="Antoan ingest",
        version="1",
        description="Venues, signed QR codes, check-ins, declarations and cases, published to Kafka.",
        lifespan=lifespan,
    )
    install_error_handlers(app)

    async def on_broker_error(_: Request, exc: Exception) -> Response:
        log.warning("broker unavailable", extra={"error": repr(exc)})
        return error_response(503, "broker_unavailable", "the event broker did not acknowledge; retry")

    app.add_exception_handler(KafkaError, on_broker_error)

    async def ready_checks() -> dict[str, bool]:
        runtime: Runtime = app.state.runtime
        return {
            "kafka": runtime.publisher.connected(),
            "venue_directory": runtime.follower.caught_up.is_set(),
        }

    app.include_router(health_router(ready_checks))
    app.include_router(venues.router)
    app.include_router(checkins.router)
    return app
