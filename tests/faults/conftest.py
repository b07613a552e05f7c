"""The fault suite's stack: Kafka, Redis and the three services of its own, which its tests stop and empty."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from antoan_localstack import stack
from antoan_localstack.testing import RunningServices, Servers, private_stack, start_running_services


@pytest.fixture(scope="module")
def fault_stack() -> Iterator[stack.StackConfig]:
    """Never the session's shared servers: these tests stop the broker and flush Redis."""
    with private_stack() as cfg:
        yield cfg


@pytest.fixture(scope="module")
def fault_services(
    fault_stack: stack.StackConfig, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServices]:
    servers = Servers(fault_stack.kafka_bootstrap, fault_stack.redis_url, "local stack")
    # No rate limit: the load comes from one address. A claim left by a killed ingest expires in 3 s.
    # ingest and the tracer's stream as deployed: a process per core.
    env = {
        "INGEST_RATE_LIMIT_PER_S": "0",
        "SAFETY_MAP_RATE_LIMIT_PER_S": "0",
        "INGEST_IDEMPOTENCY_PENDING_TTL_S": "3",
        "INGEST_WORKERS": "0",
        "TRACER_STREAM_PROCESSES": "0",
    }
    with start_running_services(servers, tmp_path_factory.mktemp("faults"), env, infra=fault_stack) as services:
        yield services
