"""The tracer's Faust application and what its agents share: topics from the registry, venue lookups."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import faust

from antoan_shared import codec, topics
from antoan_shared.events import DeadLettered, Event
from antoan_shared.venues import VenueDirectory, VenueDirectoryFollower
from antoan_tracer.settings import TracerSettings

log = logging.getLogger(__name__)
PARTITIONS = topics.CHECKINS.partitions
# Internal topics feeding the tables that web requests are routed by (contacts by case, visits by venue).
ROUTED = (topics.TRACER_CASE_CONTACTS, topics.TRACER_VENUE_UPDATES)


def kafka_credentials(settings: TracerSettings) -> faust.SASLCredentials | None:
    """SASL/SCRAM for the worker's aiokafka clients: the same settings as the kafka-python clients'."""
    login = settings.sasl_login()
    if login is None:
        return None
    return faust.SASLCredentials(username=login[0], password=login[1], mechanism=settings.kafka_sasl_mechanism)


def create_app(settings: TracerSettings) -> faust.App:
    return faust.App(
        settings.group_id("tracer"),
        broker=settings.faust_broker,
        broker_credentials=kafka_credentials(settings),
        store=settings.store,
        datadir=str(settings.data_dir),
        web_bind=settings.host,
        web_port=settings.port,
        web_host=settings.host,
        topic_partitions=PARTITIONS,
        topic_replication_factor=settings.replication_factor,
        producer_acks=-1,
        broker_session_timeout=settings.session_timeout_s,
        # Records are encoded by antoan_shared.codec, not by Faust's own JSON.
        value_serializer="raw",
        key_serializer="raw",
        autodiscover=False,
        # At-least-once: offsets are committed after processing; every state change is idempotent.
        processing_guarantee="at_least_once",
    )


def json_table(app: faust.App, name: str) -> Any:
    """A RocksDB-backed table with string keys and JSON values; keys are written with their stream's event."""
    return app.Table(
        name,
        default=dict,
        partitions=PARTITIONS,
        schema=faust.Schema(key_type=str, key_serializer="raw", value_serializer="json"),
    )


@dataclass
class Tracer:
    """What the agents share."""

    app: faust.App
    settings: TracerSettings
    venues: VenueDirectory
    follower: VenueDirectoryFollower
    _topics: dict[tuple[str, ...], Any] = field(default_factory=dict)

    def topic(self, *specs: topics.TopicSpec) -> Any:
        names = tuple(self.settings.topic(spec) for spec in specs)
        if names not in self._topics:
            self._topics[names] = self.app.topic(*names, key_type=bytes, value_type=bytes)
        return self._topics[names]

    async def send(self, spec: topics.TopicSpec, event: Event) -> None:
        if spec.writer != "tracer":
            raise RuntimeError(f"{spec.name} is written by {spec.writer}")
        key = codec.encode_key(spec, event)
        if spec in ROUTED:
            # Faust routes a web request to the worker owning a table key by hashing the key as the table
            # serialises it (JSON for str keys); the stream feeding that table is keyed the same way.
            key = codec.dumps(key.decode())
        await self.topic(spec).send(key=key, value=codec.encode_event(event))

    async def events(self, stream: Any) -> AsyncIterator[Event]:
        """The decoded events of an agent's stream; what cannot be decoded goes to the dead letters."""
        async for raw in stream:
            try:
                yield codec.decode_event(raw)
            except codec.DecodeError as exc:
                message = stream.current_event.message
                log.error("undecodable record sent to dead letters", extra={"topic": message.topic})
                await self.send(
                    topics.DEAD_LETTERS["tracer"],
                    DeadLettered(
                        producer="tracer",
                        source_topic=message.topic,
                        source_partition=message.partition,
                        source_offset=message.offset,
                        value=bytes(raw).decode(errors="replace"),
                        error=str(exc)[:2000],
                    ),
                )

    def follower_caught_up(self) -> bool:
        return self.follower.caught_up.is_set()

    def dwell(self, venue_id: str) -> timedelta:
        venue = self.venues.get(venue_id)
        return self.settings.dwell_for(venue.category if venue is not None else None)

    def cutoff(self, now: datetime) -> datetime:
        return now - self.settings.retention
