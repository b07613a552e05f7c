"""The suite's pytest plugin: real Kafka and Redis servers, unique topics, running services.

Registered through the `pytest11` entry point, so every package's tests get these fixtures without a
conftest. Servers are found in this order: `KAFKA_BOOTSTRAP` and `REDIS_URL` from the environment (an
existing cluster); else testcontainers when a Docker engine answers; else the local stack from `deploy/`,
started once per session on free loopback ports and stopped at the end.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from antoan_localstack import access, stack
from antoan_shared import codec
from antoan_shared.events import Event
from antoan_shared.settings import ServiceSettings
from antoan_shared.topics import TopicSpec

if TYPE_CHECKING:
    import httpx
    from playwright.sync_api import Browser

T = TypeVar("T")


@dataclass(frozen=True)
class Servers:
    kafka_bootstrap: str
    redis_url: str
    origin: str  # "environment", "testcontainers" or "local stack"


@dataclass(frozen=True)
class RunningServices:
    ingest: str
    tracer: str
    safety_map: str
    # The gateway in front of all three (ANTOAN_PUBLIC_URL): every page and API on one address.
    public: str
    namespace: str
    ha_token: str
    config: stack.StackConfig
    env: dict[str, str]
    servers: Servers

    def settings(self, user: str = access.ADMIN) -> ServiceSettings:
        """Settings to reach the services' topics; on a SASL broker, logged in as `user`."""
        login: dict[str, Any] = {}
        if self.config.kafka_sasl:
            login = {
                "kafka_security_protocol": "SASL_PLAINTEXT",
                "kafka_sasl_username": user,
                "kafka_sasl_password": access.users(self.env)[user],
            }
        return ServiceSettings(kafka_bootstrap=self.servers.kafka_bootstrap, topic_namespace=self.namespace, **login)


_PORTS_GIVEN: set[int] = set()
_PORTS = random.Random()  # seeded by the OS: concurrent test processes pick differently


def _ephemeral_low() -> int:
    """Where the kernel's ephemeral ports (sources of outgoing connections) begin."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def free_port() -> int:
    """A free loopback port below the kernel's ephemeral range, never one this process was given before.

    Below the ephemeral range, because a service that is stopped and started again (the fault and recovery
    tests) must find its port still free: in between, any outgoing connection on the machine could be given
    an ephemeral port as its source. Never twice, because a stack needs several ports before any is bound.
    """
    low = max(min(_ephemeral_low(), 32768), 13024)
    for _ in range(1000):
        port = _PORTS.randrange(low - 12000, low)
        if port in _PORTS_GIVEN:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue  # taken
        _PORTS_GIVEN.add(port)
        return port
    raise RuntimeError(f"no free loopback port below {low}")


# How long a wait gives up after unless a test says otherwise. An upper bound, not a pace: a passing wait returns
# as soon as its condition holds. On a shared two-core machine in a slow phase (the whole suite at twice its
# usual time) the first results after a module's stack started took over 30 s.
PATIENCE_S = 60.0


def wait_for(
    condition: Callable[[], T | None], timeout: float = PATIENCE_S, interval: float = 0.1, what: str = ""
) -> T:
    """Poll until `condition()` returns something truthy, and return it; never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(interval)


# Every namespace this session made, so a test can look at everything the suite produced.
SESSION_NAMESPACES: list[str] = []
# Set by the suite runner (antoan_localstack.suite): a file every pytest process of a run adds its namespaces to.
NAMESPACES_FILE_VAR = "ANTOAN_TEST_NAMESPACES_FILE"


_DIGITS_TO_LETTERS = str.maketrans("0123456789", "ghijklmnop")


def random_namespace() -> str:
    """Letters only: a namespace is part of every topic name, and topic names travel in records (a dead
    letter's source topic), where nine random digits in a row would read as a CMND number to the scan."""
    return "t" + uuid.uuid4().hex[:10].translate(_DIGITS_TO_LETTERS)


def new_namespace() -> str:
    """A namespace of its own for a test, remembered as one the session made."""
    namespace = random_namespace()
    SESSION_NAMESPACES.append(namespace)
    if shared := os.environ.get(NAMESPACES_FILE_VAR):
        with open(shared, "a", encoding="ascii") as file:  # one short line per write: appends do not interleave
            file.write(namespace + "\n")
    return namespace


def run_namespaces() -> list[str]:
    """The namespaces of this session and, under the suite runner, of every other pytest process of the run."""
    shared = os.environ.get(NAMESPACES_FILE_VAR)
    others = Path(shared).read_text(encoding="ascii").split() if shared and Path(shared).exists() else []
    return sorted(set(SESSION_NAMESPACES) | set(others))


def _docker_engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=15, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class TopicReader:
    """Reads a topic of a namespace from the beginning, decoding every record; for assertions."""

    def __init__(self, settings: ServiceSettings, spec: TopicSpec) -> None:
        from kafka import KafkaConsumer, TopicPartition

        # read_committed, as agencies are told to read: the tracer writes in transactions.
        self._consumer = KafkaConsumer(
            **settings.kafka_client_config(), enable_auto_commit=False, isolation_level="read_committed"
        )
        topic = settings.topic(spec)
        partitions = wait_for(lambda: self._consumer.partitions_for_topic(topic), what=f"{topic}")
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        self._consumer.assign(assigned)
        self._consumer.seek_to_beginning(*assigned)
        self.events: list[Event] = []
        self.keys: list[bytes] = []
        self.partitions: list[int] = []

    def read(self, timeout_ms: int = 300) -> list[Event]:
        for records in self._consumer.poll(timeout_ms=timeout_ms).values():
            for record in records:
                self.keys.append(record.key)
                self.partitions.append(record.partition)
                self.events.append(codec.decode_event(record.value))
        return self.events

    def wait_until(
        self, predicate: Callable[[list[Event]], bool], timeout: float = PATIENCE_S, what: str = ""
    ) -> list[Event]:
        wait_for(lambda: predicate(self.read()), timeout=timeout, what=what or "records on the topic")
        return self.events

    def close(self) -> None:
        self._consumer.close()


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
    with private_stack() as cfg:
        yield Servers(cfg.kafka_bootstrap, cfg.redis_url, "local stack")


@contextlib.contextmanager
def private_stack(secrets: Mapping[str, str] | None = None, **overrides: Any) -> Iterator[stack.StackConfig]:
    """Kafka and Redis of the caller's own on free loopback ports (a test that stops them needs this).

    `overrides` are StackConfig fields (`kafka_sasl=True` with the SCRAM passwords in `secrets`, a short
    `retention_check_interval_ms`); everything is stopped and removed at the end.
    """
    # A state directory of its own: concurrent test sessions must not share (or stop) a stack.
    state_dir = stack.repo_root() / ".run" / "test-stacks" / f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
    cfg = stack.StackConfig.from_env(
        state_dir=state_dir,
        kafka_port=free_port(),
        controller_port=free_port(),
        redis_port=free_port(),
        **{"kafka_sasl": False, **overrides},
    )
    failed = True
    try:
        stack.start_infra(cfg, secrets)
        stack.wait_redis_ready(cfg)
        stack.wait_kafka_ready(cfg, secrets=secrets)
        yield cfg
        failed = False
    finally:
        stack.stop_all(cfg)
        if not failed:  # kept after a failure, for its logs
            shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture
def namespace() -> str:
    """A topic namespace (and consumer-group prefix) of this test's own."""
    return new_namespace()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test that ran against running services (`running_services`, the fault suite's) carries the
    services' last log lines.

    Timing failures under a loaded suite are otherwise hard to tell apart: a stage behind, a follower
    stuck, a service restarting.
    """
    report: pytest.TestReport = yield
    if report.failed and call.when == "call":
        stacks = {id(v): v for v in getattr(item, "funcargs", {}).values() if isinstance(v, RunningServices)}
        for services in stacks.values():
            for name in (*stack.SERVICE_NAMES, stack.GATEWAY):
                report.sections.append((f"{name} log (last lines)", stack.log_tail(services.config, name, 60)))
    return report


@pytest.fixture
def settings(servers: Servers, namespace: str) -> ServiceSettings:
    return ServiceSettings(kafka_bootstrap=servers.kafka_bootstrap, topic_namespace=namespace)


@pytest.fixture(scope="module")
def services_env() -> dict[str, str]:
    """Extra environment for `running_services`; a test module overrides this fixture to tune the services."""
    return {}


# A module marked `shared_services` runs on the stack its worker process already started for the modules
# marked so before it, rather than on one of its own (a stack's start costs the machine about 8-10 CPU-s:
# four Python services and the broker's new topics). Such a module finds other modules' venues, people and
# cases there, so it asserts only on its own, never on a whole topic, list or count; it stops nothing and
# keeps to the default environment. Refused credentials from one address add up across modules on a shared
# stack, so its limits are off; the limits' own tests run on stacks of their own.
SHARED_MARKER = "shared_services"
SHARED_SERVICES_ENV = {
    "INGEST_RATE_LIMIT_PER_S": "0",
    "TRACER_RATE_LIMIT_PER_S": "0",
    "SAFETY_MAP_RATE_LIMIT_PER_S": "0",
    "ANTOAN_AUTH_FAILURE_BURST": "0",
}


@pytest.fixture(scope="session")
def shared_services(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServices]:
    """The stack the modules marked `shared_services` share in this process, started when the first asks."""
    with start_running_services(servers, tmp_path_factory.mktemp("shared-services"), SHARED_SERVICES_ENV) as services:
        yield services


@pytest.fixture(scope="module")
def running_services(
    request: pytest.FixtureRequest,
    servers: Servers,
    tmp_path_factory: pytest.TempPathFactory,
    services_env: dict[str, str],
) -> Iterator[RunningServices]:
    """The three services as real processes on free ports, in a namespace of this test module's own (or, for
    a module marked `shared_services`, of the modules marked so in this process)."""
    if request.node.get_closest_marker(SHARED_MARKER) is not None:
        if services_env:
            raise pytest.UsageError(f"{request.node.nodeid}: a module with services_env cannot share services")
        services: RunningServices = request.getfixturevalue("shared_services")
        pids = stack.running(services.config)
        stopped = [name for name in (*stack.SERVICE_NAMES, stack.GATEWAY) if pids[name] is None]
        assert not stopped, f"the shared services {stopped} have stopped (a module before this one?)"
        yield services
        return
    with start_running_services(servers, tmp_path_factory.mktemp("services"), services_env) as own:
        yield own


@contextlib.contextmanager
def start_running_services(
    servers: Servers, state_dir: Path, services_env: Mapping[str, str], infra: stack.StackConfig | None = None
) -> Iterator[RunningServices]:
    """The three services on free ports in a new namespace, against `servers`, and the gateway in front of them
    on a free port of its own; stopped at the end.

    `infra` is the private stack the servers come from (its SASL setting applies to the services).
    """
    namespace = new_namespace()
    cfg = stack.StackConfig(
        state_dir=state_dir,
        # Only the services' ports are used: the infrastructure is `servers`.
        kafka_port=infra.kafka_port if infra else free_port(),
        controller_port=infra.controller_port if infra else free_port(),
        redis_port=infra.redis_port if infra else free_port(),
        ingest_port=free_port(),
        tracer_port=free_port(),
        safety_map_port=free_port(),
        public_port=free_port(),
        kafka_sasl=infra.kafka_sasl if infra else False,
    )
    env = {
        **stack.isolated_env(namespace),
        "KAFKA_BOOTSTRAP": servers.kafka_bootstrap,
        "REDIS_URL": servers.redis_url,
        # A one-second clock for automatic check-outs, and few partitions: a test's namespace is small.
        "TRACER_TICK_INTERVAL_S": "1",
        "TRACER_PARTITIONS": "2",
        # ingest as one process: a supervisor and a worker per core cost each test module's start about two
        # process imports more. The worker processes' own tests, and the fault suite, run the default.
        "INGEST_WORKERS": "1",
        # The tracer's stream as one process too, for the same reason (the fault suite runs the default).
        "TRACER_STREAM_PROCESSES": "1",
        **services_env,
    }
    ha_token = env["ANTOAN_HA_TOKEN"]
    env["INGEST_URL"] = cfg.service_url("ingest")
    env["ANTOAN_PUBLIC_URL"] = cfg.public_url
    try:
        stack.apply_kafka_acls(cfg, env, namespace)
        stack.start_services(cfg, env)
        stack.wait_services_ready(cfg)
        stack.start_gateway(cfg)
        stack.wait_gateway_ready(cfg)
        yield RunningServices(
            ingest=cfg.service_url("ingest"),
            tracer=cfg.service_url("tracer"),
            safety_map=cfg.service_url("safety-map"),
            public=cfg.public_url,
            namespace=namespace,
            ha_token=ha_token,
            config=cfg,
            env=env,
            servers=servers,
        )
    finally:
        stack.stop_all(cfg)


class TracerWorker:
    """One more tracer worker in the same consumer group as `running_services`' own (scaling out)."""

    def __init__(self, services: RunningServices, name: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        state = services.config.state_dir / name
        state.mkdir(parents=True, exist_ok=True)
        self.log_path = state / "tracer.log"
        env = stack.service_env(services.config, services.env)
        env.update({"TRACER_PORT": str(self.port), "TRACER_DATA_DIR": str(state / "data")})
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "antoan_tracer"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 90.0) -> None:
        import httpx

        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"the tracer worker exited:\n{self.log_tail()}")
            try:
                return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, timeout=timeout, interval=0.3, what="the extra tracer worker")

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def kill_service(services: RunningServices, name: str) -> int:
    """SIGKILL a running service (its whole process group), as a crash would; returns the pid."""
    pid = stack.running(services.config)[name]
    assert pid is not None, f"{name} is not running"
    os.killpg(pid, signal.SIGKILL)
    wait_for(lambda: stack.running(services.config)[name] is None, timeout=15, what=f"{name} to die")
    return pid


def restart_services(services: RunningServices) -> None:
    """Start whatever of the module's services is not running, and wait until all are ready.

    A port let go a moment ago may still be held for an instant (another test process probing for a free
    port), so each stopped service's port is first waited for rather than taken as someone else's.
    """
    down = {name for name, pid in stack.running(services.config).items() if pid is None}
    ports = [int(getattr(services.config, spec.port_field)) for spec in stack.SERVICES if spec.name in down]
    wait_for(lambda: not any(map(stack.port_in_use, ports)), what=f"ports {ports} to be free")
    stack.start_services(services.config, services.env)
    stack.wait_services_ready(services.config)


@pytest.fixture(scope="module")
def antoan(running_services: RunningServices) -> Iterator[Any]:
    """An HTTP client of the module's running services (`antoan_localstack.client.Antoan`)."""
    from antoan_localstack.client import Antoan  # the client module builds on this one

    client = Antoan(running_services)
    yield client
    client.close()


@pytest.fixture(scope="module")
def public(running_services: RunningServices) -> Iterator[httpx.Client]:
    """The gateway: the one address people and apps reach Antoan on (an HTTP client of it)."""
    import httpx

    with httpx.Client(base_url=running_services.public, timeout=15) as client:
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium for the module's page tests (`antoan_localstack.browser`: Playwright, a dev dependency,
    is imported only when a test asks for it)."""
    from antoan_localstack.browser import chromium

    with chromium() as launched:
        yield launched
