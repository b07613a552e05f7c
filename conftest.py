"""Fixtures for the whole suite: real Kafka and Redis servers, unique topics, running services.

Servers are found in this order: `KAFKA_BOOTSTRAP` and `REDIS_URL` from the environment (an existing
cluster); else testcontainers when a Docker engine answers; else the local stack from `deploy/`,
started once for the session on free loopback ports and stopped at the end.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from antoan_localstack import stack
from antoan_shared.settings import ServiceSettings


@dataclass(frozen=True)
class Servers:
    kafka_bootstrap: str
    redis_url: str
    origin: str  # "environment", "testcontainers" or "local stack"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _docker_engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=15, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    if os.environ.get("KAFKA_BOOTSTRAP") and os.environ.get("REDIS_URL"):
        yield Servers(os.environ["KAFKA_BOOTSTRAP"], os.environ["REDIS_URL"], "environment")
        return
    if _docker_engine_answers():
        from testcontainers.kafka import KafkaContainer
        from testcontainers.redis import RedisContainer

        with KafkaContainer("apache/kafka:3.9.1").with_kraft() as kafka, RedisContainer("redis:7-alpine") as redis:
            host, port = redis.get_container_host_ip(), redis.get_exposed_port(6379)
            yield Servers(kafka.get_bootstrap_server(), f"redis://{host}:{port}/0", "testcontainers")
        return
    cfg = stack.StackConfig.from_env(
        state_dir=stack.repo_root() / ".run" / "test-stack",
        kafka_port=free_port(),
        controller_port=free_port(),
        redis_port=free_port(),
    )
    stack.start_infra(cfg)
    try:
        yield Servers(cfg.kafka_bootstrap, cfg.redis_url, "local stack")
    finally:
        stack.stop_all(cfg)


@pytest.fixture
def namespace() -> str:
    """A topic namespace (and consumer-group prefix) of this test's own."""
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
def settings(servers: Servers, namespace: str) -> ServiceSettings:
    return ServiceSettings(kafka_bootstrap=servers.kafka_bootstrap, topic_namespace=namespace)


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1, what: str = "") -> Any:
    """Poll until `condition()` returns something truthy; never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(interval)


@dataclass(frozen=True)
class RunningServices:
    ingest: str
    tracer: str
    safety_map: str
    ha_token: str
    env: dict[str, str]
    logs: Path


@pytest.fixture(scope="module")
def running_services(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServices]:
    """The three services as real processes, on free ports, in a namespace of this test module's own."""
    namespace = "t" + uuid.uuid4().hex[:10]
    tmp_path = tmp_path_factory.mktemp("services")
    ports = {"ingest": free_port(), "tracer": free_port(), "safety-map": free_port()}
    env = {
        **os.environ,
        "ANTOAN_ENV": "test",
        "KAFKA_BOOTSTRAP": servers.kafka_bootstrap,
        "REDIS_URL": servers.redis_url,
        "ANTOAN_TOPIC_NAMESPACE": namespace,
        "SAFETY_MAP_REDIS_PREFIX": f"{namespace}:",
        "ANTOAN_PEPPER": secrets.token_urlsafe(32),
        "ANTOAN_QR_SECRET": secrets.token_urlsafe(32),
        "ANTOAN_HA_TOKEN": secrets.token_urlsafe(32),
        "INGEST_PORT": str(ports["ingest"]),
        "TRACER_PORT": str(ports["tracer"]),
        "SAFETY_MAP_PORT": str(ports["safety-map"]),
        "TRACER_DATA_DIR": str(tmp_path / "tracer-data"),
        "TRACER_AUTO_CHECKOUT_INTERVAL_S": "1",
    }
    logs = tmp_path / "logs"
    logs.mkdir()
    modules = {"ingest": "antoan_ingest", "tracer": "antoan_tracer", "safety-map": "antoan_safety_map"}
    processes = {}
    for name, module in modules.items():
        with (logs / f"{name}.log").open("wb") as log_file:
            processes[name] = subprocess.Popen(
                [sys.executable, "-m", module],
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    try:
        for name, url in urls.items():

            def ready(name: str = name, url: str = url) -> bool:
                if processes[name].poll() is not None:
                    log = (logs / f"{name}.log").read_text(errors="replace")[-3000:]
                    raise AssertionError(f"{name} exited:\n{log}")
                try:
                    return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_for(ready, timeout=90, interval=0.2, what=f"{name} to be ready")
        yield RunningServices(urls["ingest"], urls["tracer"], urls["safety-map"], env["ANTOAN_HA_TOKEN"], env, logs)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
