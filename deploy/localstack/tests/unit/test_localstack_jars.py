"""The Maven download path, with a stand-in ``mvn`` on PATH."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from antoan_localstack import stack

FAKE_MVN = """#!/bin/sh
# stand-in for mvn: find -DoutputDirectory=..., write jars there, exit with $FAKE_MVN_EXIT
for arg in "$@"; do
  case "$arg" in -DoutputDirectory=*) out="${arg#-DoutputDirectory=}";; esac
done
echo "$@" > "$FAKE_MVN_LOG"
touch "$out/kafka_2.13-3.9.1.jar"
[ "$FAKE_MVN_EXIT" = 0 ] && touch "$out/kafka-clients-3.9.1.jar"
echo "[ERROR] pretend download failure" >&2
exit "$FAKE_MVN_EXIT"
"""


@pytest.fixture
def fake_mvn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    mvn = bindir / "mvn"
    mvn.write_text(FAKE_MVN)
    mvn.chmod(mvn.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("ANTOAN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("FAKE_MVN_LOG", str(tmp_path / "mvn-args"))
    monkeypatch.delenv("ANTOAN_HOME", raising=False)
    if not (stack.shutil.which("java")):
        pytest.skip("java not installed")
    return tmp_path


def test_download_lands_atomically(fake_mvn: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_MVN_EXIT", "0")
    libs = stack.ensure_kafka_jars()
    assert libs == fake_mvn / "cache" / "kafka-3.9.1" / "libs"
    assert (libs / "kafka-clients-3.9.1.jar").is_file()
    args = (fake_mvn / "mvn-args").read_text().split()
    assert args[:3] == ["-q", "-B", "-f"]
    assert args[3].endswith("deploy/kafka/pom.xml")
    assert "dependency:copy-dependencies" in args
    assert "-DincludeScope=runtime" in args
    # cached: a second call does not run mvn
    (fake_mvn / "mvn-args").unlink()
    assert stack.ensure_kafka_jars() == libs
    assert not (fake_mvn / "mvn-args").exists()


def test_failed_download_leaves_nothing_to_reuse(fake_mvn: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_MVN_EXIT", "1")
    with pytest.raises(stack.StackError, match="pretend download failure"):
        stack.ensure_kafka_jars()
    base = fake_mvn / "cache" / "kafka-3.9.1"
    assert sorted(p.name for p in base.iterdir()) == [".lock"]
