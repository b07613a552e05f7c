"""Ports and process ownership, without a broker."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from antoan_localstack import stack
from antoan_localstack.stack import PortInUseError, StackConfig
from antoan_localstack.testing import free_port, wait_for


@pytest.fixture
def listener() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def test_free_ports_are_never_handed_out_twice() -> None:
    # The kernel offers a closed port again; a stack given one port twice cannot start (seen in CI).
    given = [free_port() for _ in range(300)]
    assert len(set(given)) == len(given)


def test_port_in_use(listener: int, ports: list[int]) -> None:
    assert stack.port_in_use(listener)
    assert not stack.port_in_use(ports[0])


def test_check_ports_names_the_variable(tmp_path: Path, listener: int, ports: list[int]) -> None:
    cfg = StackConfig.from_env(tmp_path, kafka_port=ports[0], controller_port=ports[1], redis_port=listener)
    stack.check_ports_free(cfg, ["kafka"])
    with pytest.raises(PortInUseError, match=rf"port {listener} \(Redis\).*ANTOAN_REDIS_PORT"):
        stack.check_ports_free(cfg, ["kafka", "redis"])


def test_start_infra_refuses_a_taken_port(tmp_path: Path, listener: int, ports: list[int]) -> None:
    cfg = StackConfig.from_env(tmp_path, kafka_port=listener, controller_port=ports[1], redis_port=ports[2])
    with pytest.raises(PortInUseError, match="ANTOAN_KAFKA_PORT"):
        stack.start_infra(cfg)
    assert stack.running(cfg) == dict.fromkeys(stack.ALL_NAMES)


def test_stranger_behind_a_pid_file_is_never_killed(
    tmp_path: Path, pid_alive: Callable[[int], bool], ports: list[int]
) -> None:
    cfg = StackConfig.from_env(tmp_path, kafka_port=ports[0], controller_port=ports[1], redis_port=ports[2])
    cfg.ensure_dirs()
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        cfg.pid_file("kafka").write_text(f"{stranger.pid}\n")
        cfg.pid_file("redis").write_text(f"{stranger.pid}\nstart=1\n")
        assert stack.running(cfg)["kafka"] is None
        stack.stop_all(cfg)
        assert pid_alive(stranger.pid)
        assert not cfg.pid_file("kafka").exists()
        assert not cfg.pid_file("redis").exists()
    finally:
        stranger.kill()
        stranger.wait()


def test_stop_all_stops_our_service_and_its_group(
    tmp_path: Path, pid_alive: Callable[[int], bool], config_on: Callable[..., StackConfig]
) -> None:
    cfg = config_on(tmp_path)
    cfg.ensure_dirs()
    # A stand-in for the ingest service that forks a child and ignores nothing.
    code = (
        "import subprocess, sys, time; "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        "print('up', flush=True); time.sleep(60)"
    )
    pid = stack._spawn(cfg, "ingest", [sys.executable, "-c", code, "antoan_ingest"], {}, tmp_path)
    # (a process just spawned may not show its command line yet on a loaded machine)
    wait_for(lambda: stack.running(cfg)["ingest"] == pid, timeout=15, what="the stand-in seen running")
    stack.stop_all(cfg)
    assert not pid_alive(pid)
    assert not stack._group_alive(pid)  # the forked child went too
    assert stack.running(cfg)["ingest"] is None
    assert not cfg.pid_file("ingest").exists()
    assert "antoan-localstack" in cfg.log_file("ingest").read_text()


def test_service_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "elsewhere:1")
    monkeypatch.setenv("SOMETHING", "kept")
    cfg = StackConfig.from_env(tmp_path, kafka_port=19092, ingest_port=18001)
    env = stack.service_env(cfg, {"ANTOAN_PEPPER": "p", "INGEST_PORT": "1"})
    assert env["KAFKA_BOOTSTRAP"] == "127.0.0.1:19092"
    assert env["REDIS_URL"] == cfg.redis_url
    assert env["TRACER_DATA_DIR"] == str(cfg.tracer_data_dir)
    assert env["ANTOAN_PEPPER"] == "p"
    assert env["SOMETHING"] == "kept"
    assert env["INGEST_PORT"] == "18001"
    assert env["TRACER_PORT"] == "8002"
    assert env["ANTOAN_ENV"] == "local"


def test_stop_does_not_wait_for_a_zombie_of_another_parent(
    tmp_path: Path, config_on: Callable[..., StackConfig]
) -> None:
    """A stack started by another process (e.g. a running demo) leaves zombies until that parent reaps."""
    cfg = config_on(tmp_path)
    cfg.ensure_dirs()
    code = (
        "import subprocess, sys, time; "
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', 'antoan_ingest'], "
        "start_new_session=True); print(p.pid, flush=True); time.sleep(60)"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        # On a loaded machine the child may not have its command line yet when its pid is printed
        deadline = time.monotonic() + 10
        while "antoan_ingest" not in stack._cmdline(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        stack._write_pid_file(cfg, "ingest", child)
        assert stack.running(cfg)["ingest"] == child
        started = time.monotonic()
        stack.stop_all(cfg)
        assert time.monotonic() - started < 5
        assert not cfg.pid_file("ingest").exists()
        assert stack.running(cfg)["ingest"] is None
    finally:
        parent.kill()
        parent.wait()
