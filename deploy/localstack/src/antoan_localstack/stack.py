"""The local stack: Apache Kafka (KRaft, one node) and Redis on loopback, the three services, and the gateway
that serves them all on one public address (``ANTOAN_PUBLIC_URL``).

No Docker: Kafka runs from the Apache jars resolved once from Maven Central, Redis from the system's
``redis-server``, the gateway from the system's ``nginx``. Every process is started in its own session, its
pid recorded under ``<state>/pids``, its output appended to ``<state>/logs/<name>.log``. A pid file also
records the process's start time, so that stopping never signals a stranger that happens to reuse the pid.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import logging
import os
import re
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from secrets import token_urlsafe
from types import FrameType
from typing import IO, Any

from antoan_localstack import access, gateway

log = logging.getLogger(__name__)

KAFKA = "kafka"
REDIS = "redis"
GATEWAY = "gateway"
INFRA = (KAFKA, REDIS)
LOOPBACK = "127.0.0.1"
DEFAULT_KAFKA_VERSION = "3.9.1"

STOP_TIMEOUT_S = 15.0
PORT_RELEASE_TIMEOUT_S = 5.0
TAIL_LINES = 30


class StackError(RuntimeError):
    """The local stack could not be started, reached or stopped; the message says what to do."""


class PortInUseError(StackError):
    """A port the stack needs is held by a process that is not ours."""


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    port_env: str
    port_field: str


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("ingest", "antoan_ingest", "INGEST_PORT", "ingest_port"),
    ServiceSpec("tracer", "antoan_tracer", "TRACER_PORT", "tracer_port"),
    ServiceSpec("safety-map", "antoan_safety_map", "SAFETY_MAP_PORT", "safety_map_port"),
)
SERVICE_NAMES = tuple(s.name for s in SERVICES)
ALL_NAMES = (GATEWAY, *SERVICE_NAMES, REDIS, KAFKA)

# StackConfig field -> (environment variable, default, human name)
_PORT_FIELDS: dict[str, tuple[str, int, str]] = {
    "kafka_port": ("ANTOAN_KAFKA_PORT", 9092, "Kafka"),
    "controller_port": ("ANTOAN_KAFKA_CONTROLLER_PORT", 9093, "Kafka controller"),
    "redis_port": ("ANTOAN_REDIS_PORT", 6379, "Redis"),
    "ingest_port": ("INGEST_PORT", 8001, "ingest"),
    "tracer_port": ("TRACER_PORT", 8002, "tracer"),
    "safety_map_port": ("SAFETY_MAP_PORT", 8003, "safety-map"),
    "public_port": ("ANTOAN_PUBLIC_PORT", 8000, "gateway"),
}
_COMPONENT_PORTS: dict[str, tuple[str, ...]] = {
    KAFKA: ("kafka_port", "controller_port"),
    REDIS: ("redis_port",),
    **{s.name: (s.port_field,) for s in SERVICES},
    GATEWAY: ("public_port",),
}
_HEAP_RE = re.compile(r"^[1-9][0-9]*[kKmMgG]?$")


# --------------------------------------------------------------------------------------------------
# configuration


def repo_root() -> Path:
    """``$ANTOAN_HOME``, else the checkout holding ``deploy/kafka/pom.xml`` above this file, else cwd."""
    home = os.environ.get("ANTOAN_HOME")
    if home:
        return Path(home).expanduser().resolve()
    for parent in Path(__file__).resolve().parents:
        if (parent / "deploy" / "kafka" / "pom.xml").is_file():
            return parent
    return Path.cwd()


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise StackError(f"{name}={raw!r} is not a port number") from None


@dataclass(frozen=True)
class StackConfig:
    state_dir: Path
    kafka_port: int = 9092
    controller_port: int = 9093
    redis_port: int = 6379
    kafka_heap: str = "512m"
    ingest_port: int = 8001
    tracer_port: int = 8002
    safety_map_port: int = 8003
    # The gateway's port: every page and API on one address (SPEC §2), the address people are given.
    public_port: int = 8000
    # ANTOAN_PUBLIC_URL, when people reach the gateway through something else (a TLS proxy, a tunnel); by
    # default the gateway's own address. The services put it in what they hand out (a venue's QR code).
    external_url: str = ""
    # SASL/SCRAM on the broker listener and ACLs (ANTOAN_KAFKA_SASL=1); passwords come from the secrets.
    kafka_sasl: bool = False
    # How often the broker deletes segments past their retention (tests of retention shorten it).
    retention_check_interval_ms: int = 60_000

    def __post_init__(self) -> None:
        object.__setattr__(self, "state_dir", Path(self.state_dir).expanduser().resolve())
        ports: dict[int, str] = {}
        for name in _PORT_FIELDS:
            port = getattr(self, name)
            if not isinstance(port, int) or not 0 < port < 65536:
                raise ValueError(f"{name}={port!r} is not a TCP port")
            if port in ports:
                raise ValueError(f"{name} and {ports[port]} are both {port}")
            ports[port] = name
        if not _HEAP_RE.match(self.kafka_heap):
            raise ValueError(f"kafka_heap={self.kafka_heap!r} is not a JVM size such as 512m or 1g")
        if self.external_url and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", self.external_url):
            raise ValueError(f"ANTOAN_PUBLIC_URL={self.external_url!r} is not an http(s) address")

    @classmethod
    def from_env(cls, state_dir: Path | None = None, **overrides: Any) -> StackConfig:
        """Defaults, then the environment (``ANTOAN_*``, ``*_PORT``), then ``overrides``."""
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown StackConfig fields: {sorted(unknown)}")
        if state_dir is None:
            env_dir = os.environ.get("ANTOAN_STATE_DIR")
            state_dir = Path(env_dir) if env_dir else repo_root() / ".run"
        values: dict[str, Any] = {name: _env_int(env, default) for name, (env, default, _) in _PORT_FIELDS.items()}
        values["kafka_heap"] = os.environ.get("ANTOAN_KAFKA_HEAP", "").strip() or "512m"
        values["kafka_sasl"] = os.environ.get("ANTOAN_KAFKA_SASL", "").strip().lower() in ("1", "true", "yes")
        values["external_url"] = os.environ.get("ANTOAN_PUBLIC_URL", "").strip()
        values.update(overrides)
        return cls(state_dir=state_dir, **values)

    @property
    def kafka_bootstrap(self) -> str:
        return f"{LOOPBACK}:{self.kafka_port}"

    @property
    def redis_url(self) -> str:
        return f"redis://{LOOPBACK}:{self.redis_port}/0"

    def service_url(self, name: str) -> str:
        return f"http://{LOOPBACK}:{self.port_of(name)}"

    @property
    def public_url(self) -> str:
        """Where people reach every page and API (ANTOAN_PUBLIC_URL), without a trailing slash."""
        return self.external_url.rstrip("/") or self.service_url(GATEWAY)

    def port_of(self, name: str) -> int:
        """The main port of a component (``kafka``, ``redis`` or a service name)."""
        return int(getattr(self, _COMPONENT_PORTS[name][0]))

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def pids_dir(self) -> Path:
        return self.state_dir / "pids"

    @property
    def kafka_data_dir(self) -> Path:
        return self.state_dir / "kafka-data"

    @property
    def redis_dir(self) -> Path:
        return self.state_dir / "redis"

    @property
    def tracer_data_dir(self) -> Path:
        return self.state_dir / "tracer-data"

    @property
    def gateway_dir(self) -> Path:
        return self.state_dir / "gateway"

    @property
    def gateway_conf(self) -> Path:
        return self.gateway_dir / "nginx.conf"

    @property
    def gateway_routes(self) -> Path:
        return self.gateway_dir / "antoan.conf"

    @property
    def server_properties(self) -> Path:
        return self.state_dir / "server.properties"

    @property
    def log4j_properties(self) -> Path:
        return self.state_dir / "log4j.properties"

    @property
    def cluster_id_file(self) -> Path:
        return self.state_dir / "kafka-cluster-id"

    def log_file(self, name: str) -> Path:
        return self.logs_dir / f"{name}.log"

    def pid_file(self, name: str) -> Path:
        return self.pids_dir / f"{name}.pid"

    def ensure_dirs(self) -> None:
        for d in (
            self.logs_dir,
            self.pids_dir,
            self.kafka_data_dir,
            self.redis_dir,
            self.tracer_data_dir,
            self.gateway_dir,
        ):
            d.mkdir(parents=True, exist_ok=True)


# --------------------------------------------------------------------------------------------------
# tools and jars


def _apt_install(packages: Sequence[str]) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log.info("installing with apt-get", extra={"packages": " ".join(packages)})
    for argv in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
    ):
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise StackError(
                f"`{' '.join(argv)}` failed (exit {proc.returncode}):\n{_last_lines(proc.stdout + proc.stderr)}"
            )


# Where Debian puts daemons (nginx): not on an ordinary user's PATH.
_SYSTEM_DIRS = os.pathsep.join(("/usr/local/sbin", "/usr/sbin", "/sbin"))


def _find_tool(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path=_SYSTEM_DIRS)


def _require_tool(name: str, packages: Sequence[str]) -> str:
    """Path of ``name``; installs ``packages`` with apt-get when running as root, else explains how."""
    found = _find_tool(name)
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        _apt_install(packages)
        found = _find_tool(name)
        if found:
            return found
    raise StackError(f"`{name}` was not found on PATH; install it with: sudo apt-get install {' '.join(packages)}")


def ensure_redis_server() -> str:
    """Path of ``redis-server``, installing the package with apt-get when running as root."""
    return _require_tool("redis-server", ["redis-server"])


def ensure_nginx() -> str:
    """Path of ``nginx``, installing Debian's package with apt-get when running as root."""
    return _require_tool("nginx", ["nginx"])


def cache_dir() -> Path:
    env = os.environ.get("ANTOAN_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "antoan"


def kafka_version(root: Path | None = None) -> str:
    """``<kafka.version>`` of ``deploy/kafka/pom.xml``."""
    pom = (root or repo_root()) / "deploy" / "kafka" / "pom.xml"
    try:
        match = re.search(r"<kafka\.version>\s*([^<\s]+)\s*</kafka\.version>", pom.read_text("utf-8"))
    except OSError:
        match = None
    return match.group(1) if match else DEFAULT_KAFKA_VERSION


def _jars_complete(libs: Path, version: str) -> bool:
    return all((libs / jar).is_file() for jar in (f"kafka_2.13-{version}.jar", f"kafka-clients-{version}.jar"))


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_kafka_jars() -> Path:
    """The directory of the Kafka jars, resolved with Maven into the user cache on first use.

    Maven writes into a fresh temporary directory next to the cache, renamed into place only
    once complete, so an interrupted download is never mistaken for a good one.
    """
    root = repo_root()
    pom = root / "deploy" / "kafka" / "pom.xml"
    version = kafka_version(root)
    base = cache_dir() / f"kafka-{version}"
    libs = base / "libs"
    if _jars_complete(libs, version):
        return libs
    if not pom.is_file():
        raise StackError(f"{pom} not found; set ANTOAN_HOME to the Antoan checkout")
    with file_lock(base / ".lock"):
        if _jars_complete(libs, version):  # another process finished while we waited
            return libs
        mvn = _require_tool("mvn", ["maven"])
        _require_tool("java", ["default-jre-headless"])
        log.info(
            "resolving Kafka jars from Maven Central (first run only)…",
            extra={"kafka_version": version, "cache": str(libs)},
        )
        started = time.monotonic()
        tmp = Path(tempfile.mkdtemp(prefix="libs.", suffix=".partial", dir=base))
        try:
            proc = subprocess.run(
                [
                    mvn,
                    "-q",
                    "-B",
                    "-f",
                    str(pom),
                    "dependency:copy-dependencies",
                    "-DincludeScope=runtime",
                    f"-DoutputDirectory={tmp}",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0 or not _jars_complete(tmp, version):
                raise StackError(
                    f"resolving the Kafka {version} jars with Maven failed (exit {proc.returncode}); "
                    f"check network access to Maven Central.\n{_last_lines(proc.stdout + proc.stderr)}"
                )
            if libs.exists():  # an incomplete directory left by something else
                shutil.rmtree(libs)
            tmp.chmod(0o755)
            tmp.rename(libs)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        log.info(
            "Kafka jars ready",
            extra={"jars": len(list(libs.glob("*.jar"))), "seconds": round(time.monotonic() - started, 1)},
        )
    return libs


# --------------------------------------------------------------------------------------------------
# Kafka configuration


def _template(name: str) -> string.Template:
    path = repo_root() / "deploy" / "kafka" / name
    try:
        return string.Template(path.read_text("utf-8"))
    except OSError as exc:
        raise StackError(f"cannot read {path}: {exc}; set ANTOAN_HOME to the Antoan checkout") from exc


def render_server_properties(cfg: StackConfig, admin_password: str | None = None) -> str:
    """The broker's configuration; with SASL, the admin's password goes into the (private) file."""
    security = ""
    if cfg.kafka_sasl:
        if not admin_password:
            raise StackError(f"Kafka with SASL needs the admin password ({access.password_variable(access.ADMIN)})")
        jaas = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{access.ADMIN}" password="{admin_password}";'
        )
        security = "\n".join(
            [
                f"sasl.enabled.mechanisms={access.MECHANISM}",
                f"sasl.mechanism.inter.broker.protocol={access.MECHANISM}",
                f"listener.name.sasl_plaintext.{access.MECHANISM.lower()}.sasl.jaas.config={jaas}",
                "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                # The controller listener stays PLAINTEXT on loopback: its (anonymous) callers are the node itself.
                f"super.users=User:{access.ADMIN};User:ANONYMOUS",
                "allow.everyone.if.no.acl.found=false",
            ]
        )
    return _template("server.properties.template").substitute(
        kafka_version=kafka_version(),
        kafka_port=cfg.kafka_port,
        controller_port=cfg.controller_port,
        log_dirs=str(cfg.kafka_data_dir),
        broker_listener="SASL_PLAINTEXT" if cfg.kafka_sasl else "PLAINTEXT",
        retention_check_interval_ms=cfg.retention_check_interval_ms,
        security=security,
    )


def _write_text_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, "utf-8")
    tmp.chmod(mode)
    tmp.replace(path)


def new_cluster_id() -> str:
    """A KRaft cluster id: the 22-character unpadded base64url form of a random UUID."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii")
        if not cid.startswith("-"):  # Kafka never hands out ids that read like an option
            return cid


def _cluster_id(cfg: StackConfig) -> str:
    try:
        cid = cfg.cluster_id_file.read_text("ascii").strip()
    except FileNotFoundError:
        cid = ""
    if len(cid) != 22:
        cid = new_cluster_id()
        _write_text_atomic(cfg.cluster_id_file, cid + "\n")
    return cid


def _java_cp(libs: Path) -> str:
    return f"{libs}/*"  # expanded by java itself, no shell involved


def _prepare_kafka(cfg: StackConfig, java: str, libs: Path, credentials: Mapping[str, str]) -> None:
    admin_password = credentials.get(access.ADMIN)
    _write_text_atomic(cfg.server_properties, render_server_properties(cfg, admin_password), mode=0o600)
    _write_text_atomic(cfg.log4j_properties, _template("log4j.properties").template)
    sasl_marker = cfg.state_dir / "kafka-sasl-users"
    if (cfg.kafka_data_dir / "meta.properties").is_file():
        if cfg.kafka_sasl and not sasl_marker.is_file():
            raise StackError(
                f"the Kafka storage in {cfg.kafka_data_dir} was formatted without SASL users; "
                "`make clean` (this deletes the local stack's data) and start again with ANTOAN_KAFKA_SASL=1"
            )
        return
    cid = _cluster_id(cfg)
    log.info("formatting Kafka storage", extra={"cluster_id": cid, "dir": str(cfg.kafka_data_dir)})
    argv = [
        java,
        f"-Dlog4j.configuration=file:{cfg.log4j_properties}",
        "-cp",
        _java_cp(libs),
        "kafka.tools.StorageTool",
        "format",
        "-t",
        cid,
        "-c",
        str(cfg.server_properties),
        "--ignore-formatted",
    ]
    shown = list(argv)  # what the log says: never a password
    if cfg.kafka_sasl:
        for user, password in credentials.items():
            argv += ["--add-scram", f"{access.MECHANISM}=[name={user},password={password}]"]
            shown += ["--add-scram", f"{access.MECHANISM}=[name={user},password=***]"]
    with _open_log(cfg, KAFKA, shown) as logf:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        raise StackError(
            f"formatting Kafka storage failed (exit {proc.returncode}); "
            f"last lines of {cfg.log_file(KAFKA)}:\n{_tail(cfg.log_file(KAFKA))}"
        )
    if cfg.kafka_sasl:
        _write_text_atomic(sasl_marker, "\n".join(credentials) + "\n")


# --------------------------------------------------------------------------------------------------
# processes


_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}  # processes started by this interpreter, for reaping


@dataclass(frozen=True)
class _PidRecord:
    pid: int
    start_ticks: int | None


def _proc_stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (field 3 onwards)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :].split()


def _start_ticks(pid: int) -> int | None:
    stat = _proc_stat_fields(pid)
    return int(stat[19]) if stat and len(stat) > 19 else None


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode("utf-8", "replace")


def _reap(pid: int) -> None:
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is not None:
            _CHILDREN.pop(pid, None)
        return
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _alive(pid: int) -> bool:
    _reap(pid)
    stat = _proc_stat_fields(pid)
    return stat is not None and bool(stat) and stat[0] not in ("Z", "X")


def _cmd_marker(cfg: StackConfig, name: str) -> str:
    if name == KAFKA:
        return "kafka.Kafka"
    if name == REDIS:
        return "redis-server"  # redis rewrites its title, but keeps the program name
    if name == GATEWAY:
        return "nginx"  # "nginx: master process <its command line>"
    return next(s.module for s in SERVICES if s.name == name)


def _read_pid_file(path: Path) -> _PidRecord | None:
    try:
        lines = path.read_text().split()
    except OSError:
        return None
    try:
        pid = int(lines[0])
    except (IndexError, ValueError):
        return None
    start: int | None = None
    for token in lines[1:]:
        if token.startswith("start="):
            with contextlib.suppress(ValueError):
                start = int(token.removeprefix("start="))
    return _PidRecord(pid, start)


def _write_pid_file(cfg: StackConfig, name: str, pid: int) -> None:
    start = _start_ticks(pid)
    _write_text_atomic(cfg.pid_file(name), f"{pid}\nstart={start if start is not None else ''}\n")


def _is_ours(cfg: StackConfig, name: str, rec: _PidRecord) -> bool:
    if rec.pid <= 1 or not _alive(rec.pid):
        return False
    if rec.start_ticks is not None and _start_ticks(rec.pid) != rec.start_ticks:
        return False  # the pid was reused by another process
    cmd = _cmdline(rec.pid)
    if _cmd_marker(cfg, name) not in cmd:
        return False
    if name == KAFKA:
        return str(cfg.server_properties) in cmd
    if name == GATEWAY:
        return str(cfg.gateway_conf) in cmd
    return True


def _live_pid(cfg: StackConfig, name: str) -> int | None:
    rec = _read_pid_file(cfg.pid_file(name))
    return rec.pid if rec is not None and _is_ours(cfg, name, rec) else None


def running(cfg: StackConfig) -> dict[str, int | None]:
    """Every component of the stack and its pid, or None when it is not running."""
    return {name: _live_pid(cfg, name) for name in ALL_NAMES}


@contextlib.contextmanager
def _open_log(cfg: StackConfig, name: str, argv: Sequence[str]) -> Iterator[IO[bytes]]:
    cfg.logs_dir.mkdir(parents=True, exist_ok=True)
    with cfg.log_file(name).open("ab") as logf:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        logf.write(f"\n===== {stamp} antoan-localstack: {' '.join(argv)}\n".encode())
        logf.flush()
        yield logf


def _spawn(cfg: StackConfig, name: str, argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> int:
    with _open_log(cfg, name, argv) as logf:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=logf,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=dict(env),
            start_new_session=True,
            close_fds=True,
        )
    _CHILDREN[proc.pid] = proc
    _write_pid_file(cfg, name, proc.pid)
    log.info("started", extra={"component": name, "pid": proc.pid, "log": str(cfg.log_file(name))})
    return proc.pid


def _last_lines(text: str, n: int = TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-n:])


def log_tail(cfg: StackConfig, name: str, n: int = TAIL_LINES) -> str:
    """The last `n` lines of a component's log (`(no log)` when it has none)."""
    return _tail(cfg.log_file(name), n)


def _tail(path: Path, n: int = TAIL_LINES) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            data = fh.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    return _last_lines(data, n)


# --------------------------------------------------------------------------------------------------
# ports


def port_in_use(port: int, host: str = LOOPBACK) -> bool:
    """True if something listens on (or otherwise holds) ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _port_owner(port: int) -> str:
    """Best-effort description of the process listening on a port (``ss``), or ''."""
    ss = shutil.which("ss")
    if not ss:
        return ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            [ss, "-Hltnp", f"sport = :{port}"], capture_output=True, text=True, timeout=5, check=False
        ).stdout
        match = re.search(r'users:\(\("([^"]+)",pid=(\d+)', out)
        if match:
            return f"{match.group(1)} (pid {match.group(2)})"
    return ""


def check_ports_free(cfg: StackConfig, components: Iterable[str]) -> None:
    """Raise :class:`PortInUseError` naming the variable to change if a component's port is taken."""
    problems = []
    for comp in components:
        for field_name in _COMPONENT_PORTS[comp]:
            port = int(getattr(cfg, field_name))
            if port_in_use(port):
                env, _, human = _PORT_FIELDS[field_name]
                owner = _port_owner(port)
                by = f" by {owner}" if owner else ""
                problems.append(
                    f"port {port} ({human}) on {LOOPBACK} is already in use{by}, not by this stack; "
                    f"stop that program or choose another port with {env}=<port>"
                )
    if problems:
        raise PortInUseError("\n".join(problems))


def bound_ports(cfg: StackConfig, components: Iterable[str] = ALL_NAMES) -> list[tuple[str, int]]:
    """The ports of ``components`` that are currently bound (by anything), as (description, port)."""
    out = []
    for comp in components:
        for field_name in _COMPONENT_PORTS[comp]:
            port = int(getattr(cfg, field_name))
            if port_in_use(port):
                out.append((_PORT_FIELDS[field_name][2], port))
    return out


# --------------------------------------------------------------------------------------------------
# infrastructure


@contextlib.contextmanager
def _state_lock(cfg: StackConfig) -> Iterator[None]:
    """Serialise starting and stopping on one state directory across processes."""
    with file_lock(cfg.state_dir / ".lock"):
        yield


def _claim(cfg: StackConfig, name: str) -> int | None:
    """Pid of our live process for ``name``; a stale pid file is removed."""
    pid = _live_pid(cfg, name)
    if pid is None and cfg.pid_file(name).exists():
        log.info("removing stale pid file", extra={"component": name})
        cfg.pid_file(name).unlink(missing_ok=True)
    return pid


def start_infra(cfg: StackConfig, secrets: Mapping[str, str] | None = None) -> None:
    """Start Kafka and Redis (not waiting for them); a component already running from ``cfg`` is reused.

    With ``cfg.kafka_sasl``, ``secrets`` holds the SCRAM users' passwords (``ANTOAN_KAFKA_PASSWORD_*``).
    """
    cfg.ensure_dirs()
    with _state_lock(cfg):
        _start_infra(cfg, kafka_credentials(cfg, secrets or {}))


def kafka_credentials(cfg: StackConfig, secrets: Mapping[str, str]) -> dict[str, str]:
    """SCRAM user -> password when the stack runs with SASL, else nothing."""
    if not cfg.kafka_sasl:
        return {}
    try:
        return access.users(secrets)
    except KeyError as exc:
        raise StackError(str(exc.args[0])) from None


def _start_infra(cfg: StackConfig, credentials: Mapping[str, str]) -> None:
    live = {name: _claim(cfg, name) for name in INFRA}
    for name, pid in live.items():
        if pid is not None:
            log.info("already running, reusing", extra={"component": name, "pid": pid})
    missing = [name for name, pid in live.items() if pid is None]
    if not missing:
        return
    check_ports_free(cfg, missing)

    # Everything that may download or fail comes before the first process starts.
    redis_bin = ensure_redis_server() if REDIS in missing else ""
    if KAFKA in missing:
        libs = ensure_kafka_jars()
        java = _require_tool("java", ["default-jre-headless"])
        _prepare_kafka(cfg, java, libs, credentials)

    if REDIS in missing:
        _spawn(
            cfg,
            REDIS,
            [
                redis_bin,
                "--bind",
                LOOPBACK,
                "--port",
                str(cfg.redis_port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(cfg.redis_dir),
                "--daemonize",
                "no",
                "--protected-mode",
                "yes",
            ],
            os.environ,
            cfg.redis_dir,
        )
    if KAFKA in missing:
        heap = cfg.kafka_heap
        _spawn(
            cfg,
            KAFKA,
            [
                java,
                f"-Xmx{heap}",
                f"-Xms{heap}",
                "-XX:+UseG1GC",
                "-XX:MaxGCPauseMillis=20",
                "-XX:InitiatingHeapOccupancyPercent=35",
                "-Djava.awt.headless=true",
                f"-Dlog4j.configuration=file:{cfg.log4j_properties}",
                f"-Dkafka.logs.dir={cfg.logs_dir}",
                "-cp",
                _java_cp(libs),
                "kafka.Kafka",
                str(cfg.server_properties),
            ],
            os.environ,
            cfg.state_dir,
        )


def _require_running(cfg: StackConfig, name: str, grace_s: float = 2.0) -> int:
    """The component's pid; a process not recognised as ours is looked at again for `grace_s` before it is
    declared gone (a process just started, or rewriting its title as redis does, can be misread once)."""
    deadline = time.monotonic() + grace_s
    while (pid := _live_pid(cfg, name)) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid is None:
        raise StackError(f"{name} is not running; last lines of {cfg.log_file(name)}:\n{_tail(cfg.log_file(name))}")
    return pid


def _tcp_accepts(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_kafka_ready(cfg: StackConfig, timeout: float = 90, secrets: Mapping[str, str] | None = None) -> None:
    """Poll until the broker answers metadata requests; raise with its log tail if it dies or times out."""
    from kafka import KafkaAdminClient

    started = time.monotonic()
    deadline = started + timeout
    last_error: object = "listener not open yet"
    while time.monotonic() < deadline:
        _require_running(cfg, KAFKA)
        # A plain TCP probe first: the client logs every refused connection.
        if not _tcp_accepts(cfg.kafka_port):
            time.sleep(0.2)
            continue
        admin: Any = None
        try:
            admin = KafkaAdminClient(
                **admin_client_config(cfg, secrets or {}),
                client_id="antoan-localstack",
                bootstrap_timeout_ms=3000,
                request_timeout_ms=5000,
            )
            info = admin.describe_cluster()
            admin.list_topics()
            if info.get("brokers"):
                log.info(
                    "kafka ready",
                    extra={
                        "bootstrap": cfg.kafka_bootstrap,
                        "cluster_id": info.get("cluster_id"),
                        "seconds": round(time.monotonic() - started, 1),
                    },
                )
                return
            last_error = "no broker registered yet"
        except Exception as exc:
            last_error = exc
        finally:
            if admin is not None:
                with contextlib.suppress(Exception):
                    admin.close()
        time.sleep(0.5)
    raise StackError(
        f"Kafka did not become ready within {timeout:.0f}s ({last_error}); "
        f"last lines of {cfg.log_file(KAFKA)}:\n{_tail(cfg.log_file(KAFKA))}"
    )


def admin_client_config(cfg: StackConfig, secrets: Mapping[str, str]) -> dict[str, Any]:
    """kafka-python settings for the stack's own admin connections (the super user with SASL)."""
    if not cfg.kafka_sasl:
        return {"bootstrap_servers": cfg.kafka_bootstrap}
    password = kafka_credentials(cfg, secrets)[access.ADMIN]
    return access.sasl_client_config(cfg.kafka_bootstrap, access.ADMIN, password)


def apply_kafka_acls(cfg: StackConfig, secrets: Mapping[str, str], namespace: str = "") -> None:
    """With SASL on, give each principal its ACLs for a topic namespace (idempotent)."""
    if cfg.kafka_sasl:
        access.apply_grants(cfg.kafka_bootstrap, kafka_credentials(cfg, secrets)[access.ADMIN], namespace)


def wait_redis_ready(cfg: StackConfig, timeout: float = 30) -> None:
    """Poll with PING until Redis answers; raise with its log tail if it dies or times out."""
    import redis

    started = time.monotonic()
    deadline = started + timeout
    last_error: object = "no answer"
    while time.monotonic() < deadline:
        _require_running(cfg, REDIS)
        client = redis.Redis(host=LOOPBACK, port=cfg.redis_port, socket_connect_timeout=1, socket_timeout=1)
        try:
            if client.ping():
                log.info("redis ready", extra={"url": cfg.redis_url, "seconds": round(time.monotonic() - started, 1)})
                return
        except redis.RedisError as exc:
            last_error = exc
        finally:
            client.close()
        time.sleep(0.2)
    raise StackError(
        f"Redis did not answer PING within {timeout:.0f}s ({last_error}); "
        f"last lines of {cfg.log_file(REDIS)}:\n{_tail(cfg.log_file(REDIS))}"
    )


# --------------------------------------------------------------------------------------------------
# services


def isolated_env(namespace: str) -> dict[str, str]:
    """Services of their own on a shared broker and Redis (tests, the benchmark): a topic namespace and
    Redis prefixes of their own, and fresh secrets."""
    return {
        "ANTOAN_ENV": "test",
        "ANTOAN_TOPIC_NAMESPACE": namespace,
        "SAFETY_MAP_REDIS_PREFIX": f"{namespace}:map:",
        "TRACER_REDIS_PREFIX": f"{namespace}:tracer:",
        "INGEST_REDIS_PREFIX": f"{namespace}:ingest:",
        "ANTOAN_PEPPER": token_urlsafe(32),
        "ANTOAN_QR_SECRET": token_urlsafe(32),
        "ANTOAN_HA_TOKEN": token_urlsafe(32),
    }


def service_env(cfg: StackConfig, env: Mapping[str, str]) -> dict[str, str]:
    """The environment of the services: ``os.environ``, the stack's addresses, then ``env``.

    Ports always come from ``cfg`` (set ``INGEST_PORT`` etc. before building it), so that readiness
    checks look where the services listen.
    """
    merged = dict(os.environ)
    merged.update(
        {
            "KAFKA_BOOTSTRAP": cfg.kafka_bootstrap,
            "REDIS_URL": cfg.redis_url,
            "TRACER_DATA_DIR": str(cfg.tracer_data_dir),
            # One machine: fewer partitions than a national deployment's default (see the README).
            "TRACER_PARTITIONS": os.environ.get("TRACER_PARTITIONS") or "6",
            "INGEST_URL": cfg.service_url("ingest"),
            "ANTOAN_PUBLIC_URL": cfg.public_url,
            # The gateway connects from an address of its own: its forwarded client address is believed, a
            # direct caller's X-Forwarded-For is not (see gateway.UPSTREAM_SOURCE).
            "ANTOAN_TRUSTED_PROXIES": gateway.UPSTREAM_SOURCE,
            # One machine: the simulator, the tests and the benchmark register a province's venues from one
            # address, which a deployment's per-address allowance (20, then 20 an hour) would refuse.
            "INGEST_VENUE_REGISTRATION_BURST": os.environ.get("INGEST_VENUE_REGISTRATION_BURST") or "1000000",
            "ANTOAN_ENV": os.environ.get("ANTOAN_ENV") or "local",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if cfg.kafka_sasl:
        merged.update({"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM": access.MECHANISM})
    merged.update(env)
    for spec in SERVICES:
        port = str(getattr(cfg, spec.port_field))
        if merged.get(spec.port_env, port) != port and spec.port_env in env:
            log.warning(
                "ignoring port from env; the stack config decides",
                extra={"var": spec.port_env, "given": env[spec.port_env], "used": port},
            )
        merged[spec.port_env] = port
    return merged


def start_services(cfg: StackConfig, env: Mapping[str, str]) -> None:
    """Start ingest, tracer and safety-map (``python -m <module>``); running ones are reused."""
    cfg.ensure_dirs()
    with _state_lock(cfg):
        _start_services(cfg, env)


def _start_services(cfg: StackConfig, env: Mapping[str, str]) -> None:
    live = {spec.name: _claim(cfg, spec.name) for spec in SERVICES}
    missing = [name for name, pid in live.items() if pid is None]
    for name, pid in live.items():
        if pid is not None:
            log.info("already running, reusing", extra={"component": name, "pid": pid})
    check_ports_free(cfg, missing)
    merged = service_env(cfg, env)
    cwd = repo_root()
    for spec in SERVICES:
        if spec.name in missing:
            _spawn(cfg, spec.name, [sys.executable, "-m", spec.module], _own_login(cfg, spec.name, merged), cwd)


def _own_login(cfg: StackConfig, service: str, env: Mapping[str, str]) -> dict[str, str]:
    """A service's environment holds its own Kafka login and no other principal's password."""
    own = {key: value for key, value in env.items() if key not in access.PASSWORD_VARIABLES}
    if cfg.kafka_sasl:
        own["KAFKA_SASL_USERNAME"] = service
        own["KAFKA_SASL_PASSWORD"] = kafka_credentials(cfg, env)[service]
    return own


def wait_services_ready(cfg: StackConfig, timeout: float = 90) -> None:
    """Poll each service's /healthz, then /readyz, until 200; raise with its log tail otherwise."""
    import httpx

    started = time.monotonic()
    deadline = started + timeout
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        for spec in SERVICES:
            base = cfg.service_url(spec.name)
            for path in ("/healthz", "/readyz"):
                last: object = "no answer"
                while True:
                    _require_running(cfg, spec.name)
                    try:
                        resp = client.get(base + path)
                        if resp.status_code == 200:
                            break
                        last = f"HTTP {resp.status_code} {resp.text[:200]}"
                    except httpx.HTTPError as exc:
                        last = repr(exc)
                    if time.monotonic() >= deadline:
                        raise StackError(
                            f"{spec.name} did not answer 200 on {base}{path} within {timeout:.0f}s ({last}); "
                            f"last lines of {cfg.log_file(spec.name)}:\n{_tail(cfg.log_file(spec.name))}"
                        )
                    time.sleep(0.3)
            log.info("service ready", extra={"component": spec.name, "url": base})
    log.info("all services ready", extra={"seconds": round(time.monotonic() - started, 1)})


# --------------------------------------------------------------------------------------------------
# the gateway


def start_gateway(cfg: StackConfig, web_root: Path | None = None) -> None:
    """Start nginx in front of the services on ``cfg.public_port``, serving the pages of ``web_root`` (by
    default the checkout's web/public); a running one is given the current configuration (reloaded when it
    changed)."""
    cfg.ensure_dirs()
    nginx = ensure_nginx()
    try:
        main, routes = gateway.render_local(cfg, repo_root(), web_root)
    except gateway.TemplateError as exc:
        raise StackError(f"the gateway's configuration: {exc}") from exc
    with _state_lock(cfg):
        changed = _write_if_changed(cfg.gateway_routes, routes) | _write_if_changed(cfg.gateway_conf, main)
        pid = _claim(cfg, GATEWAY)
        if pid is not None:
            if changed:
                log.info("already running, reloading its configuration", extra={"component": GATEWAY, "pid": pid})
                os.kill(pid, signal.SIGHUP)
            else:
                log.info("already running, reusing", extra={"component": GATEWAY, "pid": pid})
            return
        check_ports_free(cfg, [GATEWAY])
        _spawn(cfg, GATEWAY, gateway.local_argv(nginx, cfg), os.environ, cfg.gateway_dir)


def _write_if_changed(path: Path, text: str) -> bool:
    try:
        if path.read_text("utf-8") == text:
            return False
    except OSError:
        pass
    _write_text_atomic(path, text)
    return True


def wait_gateway_ready(cfg: StackConfig, timeout: float = 15) -> None:
    """Poll the gateway's /healthz until 200; raise with its log tail if it dies or times out."""
    import httpx

    started = time.monotonic()
    deadline = started + timeout
    url = f"{cfg.service_url(GATEWAY)}/healthz"
    last: object = "no answer"
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            _require_running(cfg, GATEWAY)
            try:
                resp = client.get(url)
                if resp.status_code == 200:
                    log.info(
                        "gateway ready",
                        extra={"url": cfg.public_url, "seconds": round(time.monotonic() - started, 2)},
                    )
                    return
                last = f"HTTP {resp.status_code}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.05)
    raise StackError(
        f"the gateway did not answer 200 on {url} within {timeout:.0f}s ({last}); "
        f"last lines of {cfg.log_file(GATEWAY)}:\n{_tail(cfg.log_file(GATEWAY))}"
    )


# --------------------------------------------------------------------------------------------------
# stopping


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        if os.getpgid(pid) == pid:  # started with start_new_session: its own group
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)  # leader gone: its group may still have members


def _group_alive(pgid: int) -> bool:
    """Whether any live (non-zombie) process is still in process group ``pgid``."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        stat = _proc_stat_fields(int(entry.name))
        if stat and len(stat) > 2 and stat[0] not in ("Z", "X") and stat[2] == str(pgid):
            return True
    return False


def _stop(cfg: StackConfig, names: Sequence[str], timeout: float = STOP_TIMEOUT_S) -> list[str]:
    """Stop the named components; returns those that were running."""
    targets: dict[str, int] = {}
    for name in names:
        path = cfg.pid_file(name)
        rec = _read_pid_file(path)
        if rec is None:
            path.unlink(missing_ok=True)
            continue
        if not _is_ours(cfg, name, rec):
            log.info("not running (stale pid file)", extra={"component": name, "pid": rec.pid})
            path.unlink(missing_ok=True)
            continue
        log.info("stopping", extra={"component": name, "pid": rec.pid})
        _signal_group(rec.pid, signal.SIGTERM)
        targets[name] = rec.pid

    started = time.monotonic()
    deadline = started + timeout
    pending = dict(targets)
    while pending and time.monotonic() < deadline:
        for name, pid in list(pending.items()):
            if not _alive(pid) and not _group_alive(pid):
                log.info("stopped", extra={"component": name, "seconds": round(time.monotonic() - started, 1)})
                del pending[name]
        if pending:
            time.sleep(0.2)
    for name, pid in pending.items():
        log.warning("did not stop in time, killing", extra={"component": name, "pid": pid, "timeout_s": timeout})
        _signal_group(pid, signal.SIGKILL)
    kill_deadline = time.monotonic() + 5
    while pending and time.monotonic() < kill_deadline:
        pending = {n: p for n, p in pending.items() if _alive(p) or _group_alive(p)}
        if pending:
            time.sleep(0.1)
    for name in targets:
        if name in pending:
            log.error("still alive after SIGKILL", extra={"component": name, "pid": pending[name]})
        else:
            cfg.pid_file(name).unlink(missing_ok=True)
        _CHILDREN.pop(targets[name], None)
    return list(targets)


def stop_components(cfg: StackConfig, names: Sequence[str]) -> list[str]:
    """Stop some components (SIGTERM, then SIGKILL after a timeout); fault tests stop the broker this way."""
    with _state_lock(cfg):
        return _stop(cfg, names)


@contextlib.contextmanager
def uninterrupted(say: Callable[[], None]) -> Iterator[None]:
    """SIGINT and SIGTERM only `say` something ("still stopping") while the block runs: a Ctrl-C reaches every
    process of the terminal's group (make, uv and ours), so a second one can arrive while we stop what we
    started, and cutting that short would leave Kafka and Redis running. Outside the main thread (where handlers
    cannot be set) the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def still_stopping(signum: int, frame: FrameType | None) -> None:
        say()

    previous = {sig: signal.signal(sig, still_stopping) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def stop_all(cfg: StackConfig) -> None:
    """Stop the gateway, the services, then Redis, then Kafka; then check that the stack's ports are released."""
    if not cfg.state_dir.is_dir():
        log.info("nothing to stop", extra={"state_dir": str(cfg.state_dir)})
        return
    with _state_lock(cfg):
        stopped = [*_stop(cfg, (GATEWAY,)), *_stop(cfg, SERVICE_NAMES), *_stop(cfg, (REDIS,)), *_stop(cfg, (KAFKA,))]
    deadline = time.monotonic() + PORT_RELEASE_TIMEOUT_S
    still = bound_ports(cfg, stopped)
    while still and time.monotonic() < deadline:
        time.sleep(0.2)
        still = bound_ports(cfg, stopped)
    if still:
        log.warning(
            "ports still bound after stopping",
            extra={"ports": ", ".join(f"{human}={port}" for human, port in still)},
        )
    else:
        log.info("stack stopped, its ports are free", extra={"stopped": ", ".join(stopped) or "nothing"})
