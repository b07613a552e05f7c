"""The tracer's Faust application: topics from the registry, tables, web pages."""

from __future__ import annotations

from typing import Any

import faust

from antoan_shared import topics
from antoan_tracer.settings import TracerSettings


class Readiness:
    """Set once the consumer group gave this worker its partitions (possibly none)."""

    def __init__(self) -> None:
        self.assigned = False


def create_app(settings: TracerSettings) -> faust.App:
    app = faust.App(
        settings.group_id("tracer"),
        broker=settings.faust_broker,
        store=settings.store,
        datadir=str(settings.data_dir),
        web_bind=settings.host,
        web_port=settings.port,
        web_host=settings.host,
        topic_partitions=topics.CHECKINS.partitions,
        topic_replication_factor=settings.replication_factor,
        producer_acks=-1,
        # Faust's default serialiser is JSON; records are encoded by antoan_shared.codec instead.
        value_serializer="raw",
        key_serializer="raw",
        autodiscover=False,
    )
    return app


def source_topic(app: faust.App, settings: TracerSettings, spec: topics.TopicSpec) -> Any:
    return app.topic(settings.topic(spec), key_type=bytes, value_type=bytes, partitions=spec.partitions)
