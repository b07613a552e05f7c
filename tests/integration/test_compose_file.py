"""docker-compose.yml: valid Compose, and safe by the project's own rules, checked without a Docker engine.

The document is validated against the Compose Specification's JSON Schema, vendored (byte for byte) in
deploy/compose/compose-spec.json, so the check runs anywhere `make test` runs. Where the `docker compose`
plugin is installed, the file is additionally given to `docker compose config`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SCHEMA_FILE = ROOT / "deploy" / "compose" / "compose-spec.json"
SCHEMA_README = ROOT / "deploy" / "compose" / "README.md"
DOCKERIGNORE = ROOT / ".dockerignore"
LOCAL_SECRETS_FILE = ROOT / ".secrets" / "local.env"

LOOPBACK = "127.0.0.1"
SECRETS = ("ANTOAN_PEPPER", "ANTOAN_QR_SECRET", "ANTOAN_HA_TOKEN")
SECRET_LOOKING_NAME = re.compile(r"SECRET|TOKEN|PEPPER|PASSWORD|PASSWD|API_KEY|PRIVATE_KEY|CREDENTIAL", re.I)
REQUIRED_INTERPOLATION = re.compile(r"^\$\{(?P<name>[A-Z_][A-Z0-9_]*):\?[^}]*\}$")


class AppService:
    """One of the three Antoan services as the compose file must run it."""

    def __init__(self, name: str, module: str, env_prefix: str, port: int) -> None:
        self.name = name
        self.module = module
        self.package = module.replace("_", "-")
        self.env_prefix = env_prefix
        self.port = port
        self.dockerfile = ROOT / "services" / name / "Dockerfile"

    def __repr__(self) -> str:
        return self.name


APP_SERVICES = (
    AppService("ingest", "antoan_ingest", "INGEST", 8001),
    AppService("tracer", "antoan_tracer", "TRACER", 8002),
    AppService("safety-map", "antoan_safety_map", "SAFETY_MAP", 8003),
)
INFRA_SERVICES = ("kafka", "redis")


# --------------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------------


def published_ports(service: dict[str, Any]) -> Iterator[tuple[str | None, str, str]]:
    """(host_ip, published, target) for every port the service publishes, short or long syntax."""
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            host_ip = entry.get("host_ip")
            published = entry.get("published")
            if published is None:
                # no published port: Docker picks an ephemeral one, on host_ip if given
                yield (host_ip, "", str(entry["target"]))
            else:
                yield (host_ip, str(published), str(entry["target"]))
            continue
        spec = str(entry).split("/", 1)[0]  # drop /tcp, /udp
        host_ip: str | None = None
        if spec.startswith("["):  # [ipv6]:published:target
            host_ip, _, spec = spec[1:].partition("]:")
        parts = spec.rsplit(":", 2)
        if len(parts) == 3:
            host_ip, published, target = parts
        elif len(parts) == 2:
            published, target = parts
        else:
            published, target = "", parts[0]
        yield (host_ip, published, target)


def loopback_violations(doc: dict[str, Any]) -> list[str]:
    """Every published port that does not bind 127.0.0.1 (or binds all interfaces by default)."""
    return [
        f"{name}: {host_ip or '<all interfaces>'}:{published}->{target}"
        for name, service in doc.get("services", {}).items()
        for host_ip, published, target in published_ports(service)
        if host_ip != LOOPBACK
    ]


def environment(service: dict[str, Any]) -> dict[str, str | None]:
    env = service.get("environment", {})
    if isinstance(env, list):
        return {k: v for k, _, v in (item.partition("=") for item in env)}
    return {k: None if v is None else str(v) for k, v in env.items()}


def hard_coded_secrets(doc: dict[str, Any]) -> list[str]:
    """Secret-looking variables whose value is written in the file rather than required from outside."""
    found = []
    for name, service in doc.get("services", {}).items():
        for key, value in environment(service).items():
            if not (key in SECRETS or SECRET_LOOKING_NAME.search(key)):
                continue
            match = REQUIRED_INTERPOLATION.match(value or "")
            if match is None or match["name"] != key:
                found.append(f"{name}: {key}")
    return found


def schema_errors(validator: Draft7Validator, doc: dict[str, Any]) -> list[str]:
    return sorted(
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in validator.iter_errors(doc)
    )


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    if pending:
        logical.append(pending)
    return [(kw.upper(), " ".join(args.split())) for kw, _, args in (s.partition(" ") for s in logical)]


def docker_compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


# --------------------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(doc, dict), "docker-compose.yml is not a mapping"
    return doc


@pytest.fixture(scope="module")
def validator() -> Draft7Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)  # "format" is not enforced: no format_checker


# --------------------------------------------------------------------------------------------------------
# the Compose Specification
# --------------------------------------------------------------------------------------------------------


def test_the_vendored_schema_is_the_unchanged_compose_specification() -> None:
    # Given the schema file and its README
    readme = SCHEMA_README.read_text(encoding="utf-8")
    # When the file is hashed
    digest = hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest()
    # Then it is the byte-exact copy the README records, with its origin and license named
    assert digest in readme, f"compose-spec.json changed (sha256 {digest}); record the new source in README"
    assert "compose-spec/compose-spec" in readme
    assert "Apache-2.0" in readme


def test_compose_file_is_valid_against_the_compose_specification(
    compose: dict[str, Any], validator: Draft7Validator
) -> None:
    # Given docker-compose.yml, When it is validated, Then there is nothing to report
    assert schema_errors(validator, compose) == []


def _unknown_service_attribute(doc: dict[str, Any]) -> None:
    doc["services"]["ingest"]["port"] = ["127.0.0.1:8001:8001"]


def _unknown_depends_on_condition(doc: dict[str, Any]) -> None:
    doc["services"]["tracer"]["depends_on"]["kafka"]["condition"] = "service_ready"


def _healthcheck_interval_as_a_number(doc: dict[str, Any]) -> None:
    doc["services"]["redis"]["healthcheck"]["interval"] = 5


def _unknown_top_level_key(doc: dict[str, Any]) -> None:
    doc["service"] = doc.pop("services")


def _service_environment_with_a_nested_mapping(doc: dict[str, Any]) -> None:
    doc["services"]["safety-map"]["environment"]["SAFETY_MAP_PORT"] = {"value": 8003}


@pytest.mark.parametrize(
    "breakage",
    [
        _unknown_service_attribute,
        _unknown_depends_on_condition,
        _healthcheck_interval_as_a_number,
        _unknown_top_level_key,
        _service_environment_with_a_nested_mapping,
    ],
    ids=lambda f: f.__name__.strip("_"),
)
def test_a_document_that_breaks_the_specification_is_rejected(
    compose: dict[str, Any], validator: Draft7Validator, breakage: Callable[[dict[str, Any]], None]
) -> None:
    # Given a copy of the compose document with one deliberate mistake
    broken = copy.deepcopy(compose)
    breakage(broken)
    # When it is validated, Then the schema check reports it
    assert schema_errors(validator, broken) != []


def test_compose_file_uses_the_specification_without_a_version_key(compose: dict[str, Any]) -> None:
    assert "version" not in compose, "the Compose Specification has no top-level version; remove it"
    # and the gateway in front of the services (deploy/localstack/tests/unit/test_gateway_config.py checks it)
    assert set(compose["services"]) == {*INFRA_SERVICES, *(s.name for s in APP_SERVICES), "gateway"}


# --------------------------------------------------------------------------------------------------------
# exposure: loopback only
# --------------------------------------------------------------------------------------------------------


def test_every_published_port_binds_loopback_only(compose: dict[str, Any]) -> None:
    assert loopback_violations(compose) == []


@pytest.mark.parametrize(
    ("ports", "violates"),
    [
        (["8001:8001"], True),
        (["0.0.0.0:8001:8001"], True),
        (["8001"], True),
        ([{"target": 8001, "published": "8001"}], True),
        ([{"target": 8001, "published": "8001", "host_ip": "0.0.0.0"}], True),
        (["127.0.0.1:8001:8001"], False),
        (["127.0.0.1:8001:8001/tcp"], False),
        ([{"target": 8001, "published": "8001", "host_ip": "127.0.0.1"}], False),
    ],
)
def test_the_loopback_rule_catches_ports_published_on_every_interface(ports: list[Any], *, violates: bool) -> None:
    # Given a service publishing a port, When the loopback rule looks at it, Then only 127.0.0.1 passes
    assert bool(loopback_violations({"services": {"x": {"ports": ports}}})) is violates


@pytest.mark.parametrize("app", APP_SERVICES, ids=repr)
def test_each_service_publishes_its_specified_port_on_loopback(compose: dict[str, Any], app: AppService) -> None:
    service = compose["services"][app.name]
    assert list(published_ports(service)) == [(LOOPBACK, str(app.port), str(app.port))]
    env = environment(service)
    # bound to all interfaces inside the container; only the loopback publication reaches the host
    assert env[f"{app.env_prefix}_HOST"] == "0.0.0.0"
    assert env[f"{app.env_prefix}_PORT"] == str(app.port)


# --------------------------------------------------------------------------------------------------------
# health and start order
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*INFRA_SERVICES, *(s.name for s in APP_SERVICES)])
def test_every_service_has_a_healthcheck(compose: dict[str, Any], name: str) -> None:
    healthcheck = compose["services"][name].get("healthcheck")
    assert healthcheck, f"{name} has no healthcheck"
    assert not healthcheck.get("disable", False)
    test = healthcheck["test"]
    assert test, f"{name}: empty healthcheck test"
    assert isinstance(test, str) or test[0] in {"CMD", "CMD-SHELL"}


@pytest.mark.parametrize("app", APP_SERVICES, ids=repr)
def test_each_service_reports_healthy_only_when_ready(compose: dict[str, Any], app: AppService) -> None:
    test = " ".join(compose["services"][app.name]["healthcheck"]["test"])
    assert "/readyz" in test
    for tool in ("curl", "wget"):
        assert tool not in test, f"python:3.11-slim has no {tool}"


@pytest.mark.parametrize("app", APP_SERVICES, ids=repr)
def test_each_service_starts_after_kafka_and_redis_are_healthy(compose: dict[str, Any], app: AppService) -> None:
    depends_on = compose["services"][app.name]["depends_on"]
    assert {name: dep["condition"] for name, dep in depends_on.items()} == {
        "kafka": "service_healthy",
        "redis": "service_healthy",
    }


@pytest.mark.parametrize("app", APP_SERVICES, ids=repr)
def test_each_service_reaches_kafka_and_redis_by_service_name(compose: dict[str, Any], app: AppService) -> None:
    env = environment(compose["services"][app.name])
    kafka_env = environment(compose["services"]["kafka"])
    assert env["KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert "://kafka:9092" in (kafka_env["KAFKA_ADVERTISED_LISTENERS"] or "")
    assert (env["REDIS_URL"] or "").startswith("redis://redis:6379")


# --------------------------------------------------------------------------------------------------------
# Kafka and Redis
# --------------------------------------------------------------------------------------------------------


def test_kafka_is_apache_kafka_3_9_as_a_single_kraft_node(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    env = environment(kafka)
    assert re.fullmatch(r"apache/kafka:3\.9\.\d+", kafka["image"])
    assert set((env["KAFKA_PROCESS_ROLES"] or "").split(",")) == {"broker", "controller"}
    assert env["KAFKA_NODE_ID"] == "1"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert "CONTROLLER://" in (env["KAFKA_LISTENERS"] or "")
    assert "zookeeper" not in str(kafka).lower()


def test_kafka_creates_no_topics_on_its_own_and_replicates_once(compose: dict[str, Any]) -> None:
    env = environment(compose["services"]["kafka"])
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    for key in (
        "KAFKA_DEFAULT_REPLICATION_FACTOR",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
        "KAFKA_MIN_INSYNC_REPLICAS",
    ):
        assert env[key] == "1", key


def test_kafka_offers_the_host_a_listener_on_loopback(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    env = environment(kafka)
    advertised = env["KAFKA_ADVERTISED_LISTENERS"] or ""
    host_listeners = [item for item in advertised.split(",") if "127.0.0.1:" in item]
    assert host_listeners, "no listener advertised for clients on the host"
    published = {published for _, published, _ in published_ports(kafka)}
    assert {listener.rsplit(":", 1)[1] for listener in host_listeners} <= published


def test_redis_is_redis_7(compose: dict[str, Any]) -> None:
    assert re.fullmatch(r"redis:7(\.\d+)*-alpine", compose["services"]["redis"]["image"])


# --------------------------------------------------------------------------------------------------------
# secrets and state
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("app", APP_SERVICES, ids=repr)
def test_each_service_requires_its_secrets_from_outside_the_file(compose: dict[str, Any], app: AppService) -> None:
    env = environment(compose["services"][app.name])
    for secret in SECRETS:
        value = env.get(secret) or ""
        match = REQUIRED_INTERPOLATION.match(value)
        assert match is not None, f"{app.name}: {secret} must be ${{{secret}:?...}}"
        assert match["name"] == secret


def test_no_secret_value_is_hard_coded(compose: dict[str, Any]) -> None:
    assert hard_coded_secrets(compose) == []


@pytest.mark.parametrize(
    "value",
    ["s3cr3t-but-written-down", "${ANTOAN_PEPPER:-fallback}", "${ANTOAN_PEPPER}", "${OTHER:?set it}", None],
)
def test_the_secret_rule_catches_values_that_are_not_required_from_outside(value: str | None) -> None:
    # Given a secret that is written down, defaulted, optional, taken from another variable or empty
    doc = {"services": {"x": {"environment": {"ANTOAN_PEPPER": value}}}}
    # Then the rule reports it
    assert hard_coded_secrets(doc) == ["x: ANTOAN_PEPPER"]


def test_no_local_secret_value_appears_in_the_docker_files() -> None:
    # Given the secrets the local stack generated (when it has run on this machine)
    if not LOCAL_SECRETS_FILE.exists():
        pytest.skip(f"{LOCAL_SECRETS_FILE.relative_to(ROOT)} not generated on this machine")
    values = [
        value.strip().strip("'\"")
        for key, sep, value in (
            line.partition("=") for line in LOCAL_SECRETS_FILE.read_text(encoding="utf-8").splitlines()
        )
        if sep and not key.lstrip().startswith("#") and len(value.strip().strip("'\"")) >= 8
    ]
    # Then none of them is written in the compose file or a Dockerfile
    for path in [COMPOSE_FILE, *(app.dockerfile for app in APP_SERVICES)]:
        text = path.read_text(encoding="utf-8")
        assert not any(value in text for value in values), f"a local secret value is written in {path.name}"


def test_the_tracer_keeps_its_state_on_a_named_volume(compose: dict[str, Any]) -> None:
    tracer = compose["services"]["tracer"]
    data_dir = environment(tracer)["TRACER_DATA_DIR"]
    mounts = [
        m if isinstance(m, dict) else dict(zip(("source", "target"), m.split(":")[:2], strict=True))
        for m in tracer.get("volumes", [])
    ]
    sources = [m["source"] for m in mounts if m["target"] == data_dir]
    assert sources, f"nothing mounted on TRACER_DATA_DIR={data_dir}"
    assert sources[0] in (compose.get("volumes") or {}), "TRACER_DATA_DIR must be a top-level named volume"


# --------------------------------------------------------------------------------------------------------
# images
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("app", APP_SERVICES, ids=repr)
def test_each_service_is_built_from_its_own_dockerfile_at_the_workspace_root(
    compose: dict[str, Any], app: AppService
) -> None:
    build = compose["services"][app.name]["build"]
    assert (ROOT / build["context"]).resolve() == ROOT
    assert (ROOT / build["dockerfile"]).resolve() == app.dockerfile
    assert app.dockerfile.is_file()


@pytest.mark.parametrize("app", APP_SERVICES, ids=repr)
def test_each_dockerfile_installs_the_locked_service_and_runs_it_unprivileged(app: AppService) -> None:
    instructions = dockerfile_instructions(app.dockerfile)

    def all_of(keyword: str) -> list[str]:
        return [args for kw, args in instructions if kw == keyword]

    assert "python:3.11-slim" in {*all_of("FROM"), *(a.partition("=")[2] for a in all_of("ARG"))}
    assert any(re.fullmatch(r"UV_VERSION=\d+\.\d+\.\d+", a) for a in all_of("ARG")), "pin the uv release"
    runs = " ".join(all_of("RUN"))
    assert re.search(r'pip install "?uv==(\d+\.\d+\.\d+|\$\{UV_VERSION\})"?', runs)
    assert f"uv sync --frozen --no-dev --no-editable --package {app.package}" in runs
    users = all_of("USER")
    assert users, "the image must switch to an unprivileged user"
    assert users[-1].split(":")[0] not in {"root", "0"}, "the image must not run as root"
    assert str(app.port) in all_of("EXPOSE")
    healthcheck = " ".join(all_of("HEALTHCHECK"))
    assert "/healthz" in healthcheck
    assert '"python"' in healthcheck
    assert "curl" not in healthcheck
    assert all_of("CMD")[-1] == f'["python", "-m", "{app.module}"]'
    for keyword, args in instructions:
        if keyword in {"ENV", "ARG"}:
            assert not any(secret in args for secret in SECRETS), f"a secret is baked into the image: {args}"


@pytest.mark.parametrize("app", APP_SERVICES, ids=repr)
def test_each_dockerfile_copies_every_workspace_member_uv_needs(app: AppService) -> None:
    # uv reads every member's pyproject.toml to open the workspace, even to install one package
    workspace = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    members = workspace["tool"]["uv"]["workspace"]["members"]
    text = app.dockerfile.read_text(encoding="utf-8")
    assert re.search(r"^COPY pyproject\.toml uv\.lock \./$", text, re.M)
    for member in members:
        assert f"COPY {member}/pyproject.toml {member}/pyproject.toml" in text, member


def test_the_build_context_leaves_out_secrets_environments_and_history() -> None:
    ignored = {line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()}
    assert {".git", ".venv", ".run", ".secrets", "**/__pycache__", ".mypy_cache", ".pytest_cache"} <= ignored
    # and nothing the build needs is ignored
    assert not {"uv.lock", "pyproject.toml", "shared", "services", "deploy/localstack"} & ignored


# --------------------------------------------------------------------------------------------------------
# docker compose itself, where installed
# --------------------------------------------------------------------------------------------------------


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    if not docker_compose_available():
        pytest.skip("the docker compose plugin is not installed here; the schema check above stands in for it")
    # Given dummy secrets in an env file (the way .secrets/local.env is used)
    env_file = tmp_path / "compose.env"
    env_file.write_text("".join(f"{name}=dummy-{name.lower()}\n" for name in SECRETS), encoding="utf-8")
    # When docker compose resolves the file
    result = subprocess.run(
        ["docker", "compose", "--env-file", str(env_file), "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # Then it accepts it
    assert result.returncode == 0, result.stderr


def test_docker_compose_refuses_the_file_without_the_secrets(tmp_path: Path) -> None:
    if not docker_compose_available():
        pytest.skip("the docker compose plugin is not installed here; the secret rule above stands in for it")
    # Given an environment without any of the secrets
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    empty_env_file = tmp_path / "empty.env"
    empty_env_file.write_text("", encoding="utf-8")
    # When docker compose resolves the file
    result = subprocess.run(
        ["docker", "compose", "--env-file", str(empty_env_file), "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # Then it stops and names a missing secret
    assert result.returncode != 0
    assert any(secret in result.stderr for secret in SECRETS), result.stderr
