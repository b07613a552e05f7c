"""What the benchmark starts: its own Kafka, Redis and services, PostgreSQL, and the broker's perf tool.

Everything listens on free loopback ports (never the defaults, never a shared broker) and is stopped by
the context managers, on failure and on Ctrl-C alike.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from antoan_localstack import stack
from antoan_localstack.testing import free_port, wait_for

log = logging.getLogger(__name__)
COMPONENTS = (*stack.SERVICE_NAMES, stack.KAFKA, stack.REDIS)


@dataclass(frozen=True)
class BenchStack:
    config: stack.StackConfig
    env: dict[str, str]
    namespace: str
    ha_token: str

    @property
    def ingest(self) -> str:
        return self.config.service_url("ingest")

    @property
    def safety_map(self) -> str:
        return self.config.service_url("safety-map")

    def pid(self, name: str) -> int | None:
        return stack.running(self.config).get(name)

    def pids(self) -> dict[str, int | None]:
        """Every component the benchmark measures: the three services, Kafka and Redis."""
        running = stack.running(self.config)
        return {name: running.get(name) for name in COMPONENTS}

    def stop_tracer(self) -> None:
        """Stops the tracer (SIGTERM, its clean shutdown): a stage that measures ingest keeps it idle."""
        stack.stop_components(self.config, ["tracer"])

    def start_tracer(self, timeout: float = 180) -> None:
        """Starts the tracer again on its state directory and waits until every service is ready."""
        stack.start_services(self.config, self.env)
        stack.wait_services_ready(self.config, timeout=timeout)


def uninterrupted() -> contextlib.AbstractContextManager[None]:
    """A second Ctrl-C or SIGTERM while the benchmark stops what it started only says so (`stack.uninterrupted`)."""
    return stack.uninterrupted(lambda: log.warning("still stopping what the benchmark started, please wait…"))


def run_child(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """`subprocess.run(argv, capture_output=True, text=True)` that a Ctrl-C or SIGTERM never leaves running.

    `subprocess.run` kills its child on an interrupt only once `Popen()` has returned: one that lands while
    `Popen()` waits for the exec leaves a child nothing holds (seen: ProducerPerformance outliving a stopped run).
    Here the interrupt waits until the child is held, then kills it."""
    held: list[bool] = []
    with stack.uninterrupted(lambda: held.append(True)):
        child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if held:
            raise KeyboardInterrupt
        out, err = child.communicate(timeout=timeout)
    except BaseException:
        child.kill()
        child.wait()
        raise
    return subprocess.CompletedProcess(argv, child.returncode, out, err)


@contextlib.contextmanager
def running_stack(state_dir: Path) -> Iterator[BenchStack]:
    """Kafka, Redis and the three services of the benchmark's own, in a fresh namespace."""
    cfg = stack.StackConfig(
        state_dir=state_dir,
        kafka_port=free_port(),
        controller_port=free_port(),
        redis_port=free_port(),
        ingest_port=free_port(),
        tracer_port=free_port(),
        safety_map_port=free_port(),
        kafka_heap=os.environ.get("ANTOAN_KAFKA_HEAP", "").strip() or "512m",
    )
    namespace = "bench" + uuid.uuid4().hex[:8]
    env = {
        **stack.isolated_env(namespace),
        # The benchmark is one client sending a province's traffic and polling its results.
        **{f"{service}_RATE_LIMIT_PER_S": "0" for service in ("INGEST", "TRACER", "SAFETY_MAP")},
    }
    ha_token = env["ANTOAN_HA_TOKEN"]
    try:
        log.info("starting Kafka and Redis on %s, %s", cfg.kafka_bootstrap, cfg.redis_url)
        stack.start_infra(cfg)
        stack.wait_redis_ready(cfg)
        stack.wait_kafka_ready(cfg)
        wait_group_coordinator(cfg.kafka_bootstrap)
        log.info("starting ingest, tracer and safety-map")
        stack.start_services(cfg, env)
        stack.wait_services_ready(cfg, timeout=180)
        yield BenchStack(config=cfg, env=stack.service_env(cfg, env), namespace=namespace, ha_token=ha_token)
    finally:
        log.info("stopping the benchmark's stack")
        with uninterrupted():
            stack.stop_all(cfg)


def wait_group_coordinator(bootstrap: str, timeout: float = 60) -> None:
    """Until the broker answers offset fetches of consumer groups (it creates `__consumer_offsets` on the first
    ask): the services start on a broker whose first minute is over, as in production.

    (librdkafka 2.12.1's admin `list_consumer_group_offsets` crashes the process, SIGSEGV in rdk:main, when
    asked before that topic exists.)
    """
    from confluent_kafka import Consumer, KafkaException, TopicPartition  # type: ignore[import-untyped, unused-ignore]

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-warmup", "enable.auto.commit": False})
    try:

        def answers() -> bool:
            try:
                consumer.committed([TopicPartition("bench-warmup", 0)], timeout=5)
            except KafkaException:
                return False
            return True

        wait_for(answers, timeout=timeout, interval=0.3, what="the broker's group coordinator")
    finally:
        consumer.close()


# --------------------------------------------------------------------------------------------------
# memory


def peak_rss_mb(pid: int | None) -> float | None:
    """Peak resident set (VmHWM) of a process and its live descendants, in MiB."""
    if pid is None:
        return None
    total = 0
    for p in [pid, *_descendants(pid)]:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
    return round(total / 1024, 1) if total else None


def cpu_seconds(pid: int | None) -> float | None:
    """CPU time (user + system) used so far by a process and its live descendants, in seconds."""
    if pid is None:
        return None
    ticks = 0
    for p in [pid, *_descendants(pid)]:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


def stolen_seconds() -> float | None:
    """CPU time the hypervisor has taken from this machine's cores so far (steal, summed over the cores): on a
    virtual machine, what a neighbour used while this one wanted to run. None where the kernel does not say."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")  # cpu user nice system idle iowait irq softirq steal
    except (OSError, IndexError, ValueError):
        return None


def dir_size_mb(path: Path) -> float | None:
    """Bytes on disk (allocated blocks) under `path`, in MiB."""
    if not path.exists():
        return None
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += (Path(root) / name).lstat().st_blocks * 512
    return round(total / 2**20, 1)


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{entry.name}/stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], list(children.get(pid, []))
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


# --------------------------------------------------------------------------------------------------
# the broker's ceiling


def producer_ceiling(bs: BenchStack, records: int, record_size: int) -> dict[str, float]:
    """`kafka-producer-perf-test` (ProducerPerformance from the same jars), acks=all, on a 6-partition topic."""
    from kafka.admin import KafkaAdminClient, NewTopic

    topic = f"{bs.namespace}.bench-ceiling"
    admin = KafkaAdminClient(bootstrap_servers=bs.config.kafka_bootstrap)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])
    finally:
        admin.close()
    java = shutil.which("java") or "java"
    argv = [
        java,
        "-Xmx256m",
        f"-Dlog4j.configuration=file:{bs.config.log4j_properties}",
        "-cp",
        f"{stack.ensure_kafka_jars()}/*",
        "org.apache.kafka.tools.ProducerPerformance",
        "--topic",
        topic,
        "--num-records",
        str(records),
        "--record-size",
        str(record_size),
        "--throughput",
        "-1",
        "--producer-props",
        f"bootstrap.servers={bs.config.kafka_bootstrap}",
        "acks=all",
        "linger.ms=5",
        "batch.size=262144",
    ]
    log.info("broker ceiling: ProducerPerformance, %d records of %d bytes, acks=all", records, record_size)
    proc = run_child(argv, timeout=600)
    summary = [line for line in proc.stdout.splitlines() if "records sent" in line]
    if proc.returncode != 0 or not summary:
        raise RuntimeError(f"ProducerPerformance failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    last = summary[-1]

    # "500000 records sent, 123456.7 records/sec (47.1 MB/sec), 12.3 ms avg latency, 345.0 ms max latency,
    #  3 ms 50th, 40 ms 95th, 60 ms 99th, 80 ms 99.9th."
    def num(pattern: str) -> float:
        match = re.search(pattern, last)
        return float(match.group(1)) if match else float("nan")

    return {
        "records": float(records),
        "record_size": float(record_size),
        "records_per_s": num(r"([\d.]+) records/sec"),
        "mb_per_s": num(r"\(([\d.]+) MB/sec\)"),
        "latency_p50_ms": num(r"(\d+) ms 50th"),
        "latency_p99_ms": num(r"(\d+) ms 99th"),
    }


# --------------------------------------------------------------------------------------------------
# PostgreSQL


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    if os.geteuid() == 0 and shutil.which("apt-get"):
        stack._apt_install(["postgresql"])
        return _pg_bin(name)
    raise RuntimeError(f"`{name}` not found; install PostgreSQL: sudo apt-get install postgresql")


def _as_postgres(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the `postgres` user then."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@dataclass(frozen=True)
class Postgres:
    port: int
    data_dir: Path

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} dbname=postgres user=postgres"

    def pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
        return None


@contextlib.contextmanager
def running_postgres(state_dir: Path) -> Iterator[Postgres]:
    """A throw-away PostgreSQL cluster on a free loopback port, stopped (and removed) afterwards."""
    base = state_dir / "postgres"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    data = base / "data"
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
        # The postgres user must be able to reach its data directory.
        for parent in [state_dir, *state_dir.parents]:
            with contextlib.suppress(OSError):
                parent.chmod(parent.stat().st_mode | 0o011)
    pg = Postgres(port=free_port(), data_dir=data)
    subprocess.run(
        _as_postgres([_pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]),
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses=127.0.0.1 -p {pg.port} -c unix_socket_directories={base} -c fsync=on"
    log.info("starting PostgreSQL on 127.0.0.1:%d", pg.port)
    started = False
    try:
        subprocess.run(
            _as_postgres(
                [_pg_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "pg.log"), "-w", "start"]
            ),
            check=True,
            capture_output=True,
        )
        started = True
        import psycopg

        def answers() -> bool:
            try:
                with psycopg.connect(pg.dsn, connect_timeout=2):
                    return True
            except psycopg.Error:
                return False

        wait_for(answers, timeout=60, interval=0.3, what="PostgreSQL")
        yield pg
    finally:
        if started:
            log.info("stopping PostgreSQL")
            with uninterrupted():
                subprocess.run(
                    _as_postgres([_pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                    check=False,
                    capture_output=True,
                )
        shutil.rmtree(base, ignore_errors=True)
