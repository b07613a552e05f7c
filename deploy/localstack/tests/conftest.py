"""Fixtures for the local-stack tests: an environment without the user's stack settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from antoan_localstack.stack import StackConfig
from antoan_localstack.testing import free_port

STACK_VARS = (
    "ANTOAN_STATE_DIR",
    "ANTOAN_KAFKA_PORT",
    "ANTOAN_KAFKA_CONTROLLER_PORT",
    "ANTOAN_REDIS_PORT",
    "ANTOAN_KAFKA_HEAP",
    "ANTOAN_SECRETS_FILE",
    "ANTOAN_PEPPER",
    "ANTOAN_QR_SECRET",
    "ANTOAN_HA_TOKEN",
    "INGEST_PORT",
    "TRACER_PORT",
    "SAFETY_MAP_PORT",
    "ANTOAN_PUBLIC_PORT",
    "ANTOAN_PUBLIC_URL",
)


@pytest.fixture(autouse=True)
def _clean_stack_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in STACK_VARS:
        monkeypatch.delenv(var, raising=False)


def free_ports(n: int) -> list[int]:
    """``n`` distinct loopback ports that were free a moment ago."""
    return [free_port() for _ in range(n)]


@pytest.fixture
def ports() -> list[int]:
    return free_ports(6)


@pytest.fixture
def config_on(ports: list[int]) -> Callable[..., StackConfig]:
    """``config_on(state_dir, **overrides)``: a StackConfig whose six ports are free ones."""
    fields = ("kafka_port", "controller_port", "redis_port", "ingest_port", "tracer_port", "safety_map_port")

    def make(state_dir: Path, **overrides: Any) -> StackConfig:
        return StackConfig.from_env(state_dir, **dict(zip(fields, ports, strict=True)), **overrides)

    return make


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.fixture
def pid_alive() -> Callable[[int], bool]:
    """``pid_alive(pid)``: the process exists and is not a zombie."""
    return _pid_alive
