from __future__ import annotations

from pathlib import Path

import pytest

from antoan_localstack import stack
from antoan_localstack.stack import StackConfig


def test_defaults(tmp_path: Path) -> None:
    cfg = StackConfig.from_env(tmp_path)
    assert (cfg.kafka_port, cfg.controller_port, cfg.redis_port) == (9092, 9093, 6379)
    assert (cfg.ingest_port, cfg.tracer_port, cfg.safety_map_port) == (8001, 8002, 8003)
    assert cfg.kafka_heap == "512m"
    assert cfg.state_dir == tmp_path.resolve()
    assert cfg.kafka_bootstrap == "127.0.0.1:9092"
    assert cfg.redis_url == "redis://127.0.0.1:6379/0"
    assert cfg.kafka_data_dir == tmp_path.resolve() / "kafka-data"
    assert cfg.pid_file("kafka") == tmp_path.resolve() / "pids" / "kafka.pid"
    assert cfg.log_file("ingest") == tmp_path.resolve() / "logs" / "ingest.log"


def test_env_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTOAN_STATE_DIR", str(tmp_path / "st"))
    monkeypatch.setenv("ANTOAN_KAFKA_PORT", "19092")
    monkeypatch.setenv("ANTOAN_KAFKA_CONTROLLER_PORT", "19093")
    monkeypatch.setenv("ANTOAN_REDIS_PORT", "16379")
    monkeypatch.setenv("ANTOAN_KAFKA_HEAP", "1g")
    monkeypatch.setenv("INGEST_PORT", "18001")
    cfg = StackConfig.from_env()
    assert cfg.state_dir == (tmp_path / "st").resolve()
    assert cfg.kafka_bootstrap == "127.0.0.1:19092"
    assert cfg.controller_port == 19093
    assert cfg.redis_url == "redis://127.0.0.1:16379/0"
    assert cfg.kafka_heap == "1g"
    assert cfg.service_url("ingest") == "http://127.0.0.1:18001"


def test_explicit_overrides_win_over_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTOAN_KAFKA_PORT", "19092")
    cfg = StackConfig.from_env(tmp_path, kafka_port=29092, kafka_heap="256m")
    assert cfg.kafka_port == 29092
    assert cfg.kafka_heap == "256m"


def test_default_state_dir_is_under_repo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ANTOAN_HOME", str(tmp_path))
    assert stack.repo_root() == tmp_path.resolve()
    assert StackConfig.from_env().state_dir == tmp_path.resolve() / ".run"


def test_repo_root_finds_the_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTOAN_HOME", raising=False)
    root = stack.repo_root()
    assert (root / "deploy" / "kafka" / "pom.xml").is_file()
    assert stack.kafka_version(root) == "3.9.1"


@pytest.mark.parametrize(("var", "value"), [("ANTOAN_KAFKA_PORT", "nine"), ("ANTOAN_REDIS_PORT", "70000")])
def test_bad_ports_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, var: str, value: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises((stack.StackError, ValueError), match="port"):
        StackConfig.from_env(tmp_path)


def test_bad_heap_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTOAN_KAFKA_HEAP", "lots")
    with pytest.raises(ValueError, match="kafka_heap"):
        StackConfig.from_env(tmp_path)


def test_ports_must_differ(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="both 9092"):
        StackConfig.from_env(tmp_path, redis_port=9092)


def test_unknown_override_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="kafka_prot"):
        StackConfig.from_env(tmp_path, kafka_prot=1)


def test_cluster_id_shape() -> None:
    ids = {stack.new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    for cid in ids:
        assert len(cid) == 22
        assert not cid.startswith("-")
        assert set(cid) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
