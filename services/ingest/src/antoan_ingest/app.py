"""The ingest service: venues, QR codes, check-ins, declarations and cases into Kafka."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis
import redis.asyncio as aioredis
from confluent_kafka import KafkaException  # type: ignore[import-untyped,unused-ignore]
from fastapi import FastAPI, Request
from fastapi.responses import Response

from antoan_ingest.adapters.idempotency import IdempotencyStore
from antoan_ingest.adapters.recent_venues import VenueLookup
from antoan_ingest.adapters.vault import IdentityVault, VaultCipher, derive_vault_key
from antoan_ingest.api.deps import Runtime
from antoan_ingest.api.routes import cases, checkins, declarations, persons, venue_qr, venues
from antoan_ingest.checkins import CheckInRecorder, ScanCoalescer
from antoan_ingest.settings import IngestSettings, get_settings
from antoan_ingest.venue_relay import PublicVenueRelay, adopt_public_records
from antoan_shared import topics
from antoan_shared.kafka import EventPublisher, ensure_topics
from antoan_shared.processes import settle_heap
from antoan_shared.stores import async_redis
from antoan_shared.venues import VenueDirectory, VenueDirectoryFollower
from antoan_shared.web import (
    NO_OPENTELEMETRY,
    ErrorResponse,
    TokenBuckets,
    error_response,
    health_router,
    install_api_docs,
    install_error_handlers,
    install_guards,
)

log = logging.getLogger(__name__)


def _vault_cipher(settings: IngestSettings) -> VaultCipher:
    if settings.vault_key is not None:
        return VaultCipher(derive_vault_key(settings.vault_key.get_secret_value().encode()), "vault-key")
    return VaultCipher(derive_vault_key(settings.pepper.get_secret_value().encode()), "pepper-hkdf")


STARTUP_WAIT_S = 30.0


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(ensure_topics, settings, topics.topics_written_by("ingest"))
        publisher = EventPublisher(settings, "ingest")
        await asyncio.to_thread(publisher.warm_up, topics.topics_written_by("ingest"))
        client = async_redis(settings.redis_url)
        await asyncio.to_thread(adopt_public_records, settings, publisher)
        directory = VenueDirectory()
        follower = VenueDirectoryFollower(settings, directory, "ingest")
        follower.start()
        relay = PublicVenueRelay(settings)
        relay.start()
        # A process starts taking connections once its directory holds the registry (bounded): with several
        # processes on one port, one still loading would otherwise answer 503 beside a ready one.
        await asyncio.to_thread(directory.loaded.wait, STARTUP_WAIT_S)
        vault = IdentityVault(client, publisher, _vault_cipher(settings), settings.redis_prefix)
        # On a client of its own, closed after: a connection opened during start-up stays with its event loop.
        async with aioredis.Redis.from_url(settings.redis_url) as sweep_client:
            sweep = IdentityVault(sweep_client, publisher, _vault_cipher(settings), settings.redis_prefix)
            republished = await sweep.publish_unpublished()
        if republished:
            log.info("vault records published that a failed publish had left out", extra={"people": republished})
        idempotency = IdempotencyStore(
            client, settings.redis_prefix, settings.idempotency_record_ttl_s, settings.idempotency_pending_ttl_s
        )
        lookup = VenueLookup(directory, client, settings.redis_prefix)
        recorder = CheckInRecorder(settings, lookup, publisher, idempotency, vault)
        registrations = TokenBuckets(settings.venue_registrations_per_hour / 3600, settings.venue_registration_burst)
        app.state.runtime = Runtime(
            settings,
            publisher,
            directory,
            follower,
            lookup,
            vault,
            recorder,
            idempotency,
            registrations,
            ScanCoalescer(recorder, settings.batch_max_items),
        )
        settle_heap()
        log.info("ingest started", extra={"host": settings.host, "port": settings.port})
        try:
            yield
        finally:
            follower.stop()
            relay.stop()
            await asyncio.to_thread(follower.join, 15.0)
            await asyncio.to_thread(relay.join, 15.0)
            await asyncio.to_thread(publisher.close)
            await client.aclose()

    app = FastAPI(
        telemetry=NO_OPENTELEMETRY,
        title="Antoan ingest",
        version="1",
        description=(
            "Venues, signed QR codes, check-ins, declarations and cases, published to Kafka. Every 4xx and 5xx "
            'answer is `{"error": {"code": ..., "message": ...}}` with a machine-readable code.'
        ),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # What any route may answer besides its own documented outcomes.
        responses={
            400: {"model": ErrorResponse, "description": "a body that cannot be parsed (bad_request)"},
            413: {"model": ErrorResponse, "description": "body_too_large"},
            422: {"model": ErrorResponse, "description": "invalid_request: the body or parameters break the schema"},
            429: {"model": ErrorResponse, "description": "rate_limited"},
            503: {"model": ErrorResponse, "description": "broker_unavailable, store_unavailable"},
        },
    )
    install_error_handlers(app)
    install_api_docs(app)
    _document_configured_limits(app, settings)

    async def on_broker_error(_: Request, exc: Exception) -> Response:
        log.warning("broker unavailable", extra={"error": repr(exc)})
        return error_response(503, "broker_unavailable", "the event broker did not acknowledge; retry")

    async def on_redis_error(_: Request, exc: Exception) -> Response:
        log.warning("redis unavailable", extra={"error": repr(exc)})
        return error_response(503, "store_unavailable", "the idempotency and vault store is unreachable; retry")

    app.add_exception_handler(KafkaException, on_broker_error)
    app.add_exception_handler(redis.RedisError, on_redis_error)

    async def ready_checks() -> dict[str, bool]:
        runtime: Runtime = app.state.runtime
        try:
            redis_ok = bool(await runtime.vault.ping())
        except redis.RedisError:
            redis_ok = False
        return {
            "kafka": runtime.publisher.connected(),
            "redis": redis_ok,
            "venue_directory": runtime.follower.caught_up.is_set(),
        }

    app.include_router(health_router(ready_checks))
    for module in (venues, venue_qr, checkins, declarations, cases, persons):
        app.include_router(module.router)
    app.add_middleware(checkins.SingleScanShortcut)  # innermost: inside the guards installed next
    install_guards(app, settings, settings.max_body_bytes, {"/v1/checkins/batch": settings.max_batch_body_bytes})
    return app


def _document_configured_limits(app: FastAPI, settings: IngestSettings) -> None:
    """The OpenAPI document gives the batch limit this deployment enforces (ANTOAN_BATCH_MAX_ITEMS), not the
    schema's ceiling: a client sizing its offline uploads by the document is never refused."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            items = document["components"]["schemas"]["CheckInBatch"]["properties"]["items"]
            items["maxItems"] = settings.batch_max_items
            items["description"] = f"Up to {settings.batch_max_items:,} scans (an offline upload)"
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
