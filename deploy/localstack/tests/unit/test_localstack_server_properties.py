from __future__ import annotations

import re
from pathlib import Path

from antoan_localstack.stack import StackConfig, render_server_properties


def _props(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def test_kraft_single_node_on_loopback(tmp_path: Path) -> None:
    cfg = StackConfig.from_env(tmp_path, kafka_port=19092, controller_port=19093)
    props = _props(render_server_properties(cfg))
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["log.dirs"] == str(tmp_path.resolve() / "kafka-data")
    expected = {
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        "num.partitions": "3",
        "log.retention.check.interval.ms": "60000",
        "log.cleaner.enable": "true",
    }
    assert {k: props[k] for k in expected} == expected


def test_binds_only_loopback(tmp_path: Path) -> None:
    text = render_server_properties(StackConfig.from_env(tmp_path))
    assert "${" not in text  # every placeholder filled
    hosts = re.findall(r"(?:://|@)([^:/,\s]*):\d+", text)
    assert hosts
    assert set(hosts) == {"127.0.0.1"}
    assert "0.0.0.0" not in text
    assert "localhost" not in text
