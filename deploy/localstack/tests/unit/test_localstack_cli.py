from __future__ import annotations

import logging
from pathlib import Path

import pytest

from antoan_localstack import cli


def test_parser() -> None:
    args = cli.build_parser().parse_args(["--state-dir", "/x", "demo", "--rate", "5", "--seed", "1"])
    assert args.command == "demo"
    assert args.rate == 5.0
    assert args.seed == 1
    assert args.state_dir == Path("/x")
    for cmd in ("infra-up", "up", "down", "status"):
        assert cli.build_parser().parse_args([cmd]).command == cmd


def test_status_with_nothing_running_is_a_report_not_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--state-dir", str(tmp_path), "status"]) == 0
    out = capsys.readouterr().out
    assert "kafka" in out
    assert "stopped" in out
    assert "Nothing is running" in out


def test_key_value_formatter() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "kafka ready", None, None)
    record.seconds = 4.2
    record.bootstrap = "127.0.0.1:9092"
    record.note = "two words"
    text = cli.KeyValueFormatter("%(message)s").format(record)
    assert text == 'kafka ready seconds=4.2 bootstrap=127.0.0.1:9092 note="two words"'
