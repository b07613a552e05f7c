"""How far a consumer group is behind its topics, for `/readyz` (a worker far behind is not ready to answer).

Measured with librdkafka's admin client in four requests whatever the partition count: the topics'
partitions, the group's committed offsets, and each partition's first and last readable offsets. Readable
means committed: the tracer writes in transactions, and a group reading them (read_committed) cannot get
past an open one, so the end counted is the last stable offset. Answers are cached for a moment, so a
readiness probe polled often costs the broker little.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from confluent_kafka import (  # type: ignore[import-untyped,unused-ignore]
    Consumer,
    IsolationLevel,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[import-untyped,unused-ignore]

from antoan_shared.settings import ServiceSettings

log = logging.getLogger(__name__)

CACHE_S = 2.0
TIMEOUT_S = 3.0

_lock = threading.Lock()
_admins: dict[tuple[tuple[str, str], ...], Any] = {}
_readers: dict[tuple[tuple[tuple[str, str], ...], str], Any] = {}
_answers: dict[tuple[Any, ...], tuple[float, int | None]] = {}


def consumer_group_lag(
    settings: ServiceSettings, group_id: str, topic_names: list[str], max_age_s: float = CACHE_S
) -> int | None:
    """Records on `topic_names` the group has still to read; None when the broker cannot be reached.

    Per partition: its last readable offset minus the group's committed one; a partition the group has
    committed nothing on (or only offsets since deleted by retention) counts from its first offset.
    A topic that does not exist yet counts nothing. Blocking (up to a few seconds when the broker is gone):
    call it off the event loop.
    """
    connection = tuple(sorted(settings.librdkafka_config().items()))
    key = (connection, group_id, tuple(sorted(topic_names)))
    with _lock:  # one measurement at a time: concurrent probes wait for it and share the answer
        cached = _answers.get(key)
        if cached is not None and time.monotonic() - cached[0] < max_age_s:
            return cached[1]
        admin = _admins.get(connection)
        if admin is None:
            admin = _admins[connection] = AdminClient(dict(connection))
        reader = _readers.get((connection, group_id))
        if reader is None:
            # The group's committed offsets are read by a consumer of that group that never joins it. (The admin
            # client's list_consumer_group_offsets crashed librdkafka 2.12 — SIGSEGV in rd_kafka_cgrp_op from
            # rd_kafka_handle_OffsetFetch — on a new broker whose offsets topic did not exist yet.)
            reader = _readers[(connection, group_id)] = Consumer(
                {**dict(connection), "group.id": group_id, "enable.auto.commit": False}
            )
        lag = _measure(admin, reader, topic_names)
        _answers[key] = (time.monotonic(), lag)
        return lag


def _measure(admin: Any, reader: Any, topic_names: list[str]) -> int | None:
    try:
        metadata = admin.list_topics(timeout=TIMEOUT_S)
        partitions = [
            TopicPartition(name, partition)
            for name in topic_names
            if (topic := metadata.topics.get(name)) is not None and topic.error is None
            for partition in topic.partitions
        ]
        if not partitions:
            return 0
        first = _offsets(admin, partitions, OffsetSpec.earliest())
        last = _offsets(admin, partitions, OffsetSpec.latest())
        committed = {(tp.topic, tp.partition): tp.offset for tp in reader.committed(partitions, timeout=TIMEOUT_S)}
    except KafkaException as exc:
        log.warning("consumer group lag unknown", extra={"error": str(exc)})
        return None
    behind = 0
    for key, end in last.items():
        start = max(first[key], committed.get(key, -1))  # no commit: OFFSET_INVALID (-1001)
        behind += max(0, end - start)
    return behind


def _offsets(admin: Any, partitions: list[Any], spec: Any) -> dict[tuple[str, int], int]:
    futures = admin.list_offsets(
        {tp: spec for tp in partitions}, isolation_level=IsolationLevel.READ_COMMITTED, request_timeout=TIMEOUT_S
    )
    return {(tp.topic, tp.partition): int(future.result().offset) for tp, future in futures.items()}
