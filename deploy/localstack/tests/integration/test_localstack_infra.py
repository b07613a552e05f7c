"""Kafka and Redis really start, answer, and stop without leaving anything behind."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from antoan_localstack import stack
from antoan_localstack.stack import StackConfig

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]


def test_infra_up_answers_and_stops_clean(
    tmp_path: Path, config_on: Callable[..., StackConfig], pid_alive: Callable[[int], bool]
) -> None:
    import redis
    from kafka import KafkaConsumer, KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    cfg = config_on(tmp_path / "state", kafka_heap="256m")
    pids: dict[str, int | None] = {}
    try:
        started = time.monotonic()
        stack.start_infra(cfg)
        stack.wait_redis_ready(cfg)
        stack.wait_kafka_ready(cfg, timeout=60)
        print(f"infra ready in {time.monotonic() - started:.1f}s")
        pids = stack.running(cfg)
        assert pids["kafka"]
        assert pids["redis"]

        stack.start_infra(cfg)  # idempotent: the same processes are reused
        assert stack.running(cfg) == pids

        client = redis.Redis(host="127.0.0.1", port=cfg.redis_port)
        assert client.ping()
        client.close()

        topic = f"smoke-{uuid.uuid4().hex[:8]}"
        admin = KafkaAdminClient(bootstrap_servers=cfg.kafka_bootstrap)
        try:
            admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        finally:
            admin.close()
        producer = KafkaProducer(bootstrap_servers=cfg.kafka_bootstrap, acks="all")
        producer.send(topic, key=b"k", value=b"xin chao").get(timeout=20)
        producer.close()
        consumer = KafkaConsumer(
            topic,
            bootstrap_servers=cfg.kafka_bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            consumer_timeout_ms=20000,
        )
        try:
            first = next(iter(consumer), None)  # None only after consumer_timeout_ms without a record
        finally:
            consumer.close()
        assert first is not None
        assert (first.key, first.value) == (b"k", b"xin chao")
    finally:
        stack.stop_all(cfg)

    assert stack.running(cfg) == dict.fromkeys(stack.ALL_NAMES)
    for name in ("kafka", "redis"):
        pid = pids.get(name)
        assert pid is not None
        assert not pid_alive(pid), f"{name} (pid {pid}) is still alive"
        assert not cfg.pid_file(name).exists()
    for port in (cfg.kafka_port, cfg.controller_port, cfg.redis_port):
        assert not stack.port_in_use(port), f"port {port} still bound"
