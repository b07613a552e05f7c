from __future__ import annotations

import stat
from pathlib import Path

import pytest

from antoan_localstack.secrets import SECRET_KEYS, ensure_local_secrets, secrets_file


def test_generated_once_and_stable(tmp_path: Path) -> None:
    path = tmp_path / ".secrets" / "local.env"
    first = ensure_local_secrets(path)
    assert set(SECRET_KEYS) <= set(first)
    assert all(len(first[k]) >= 32 for k in SECRET_KEYS)
    assert len({first[k] for k in SECRET_KEYS}) == len(SECRET_KEYS)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text = path.read_text()
    for key in SECRET_KEYS:
        assert f"{key}={first[key]}\n" in text

    assert ensure_local_secrets(path) == first
    assert path.read_text() == text


def test_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "local.env"
    from_file = ensure_local_secrets(path)
    monkeypatch.setenv("ANTOAN_PEPPER", "pepper-from-the-environment-0123456789")
    got = ensure_local_secrets(path)
    assert got["ANTOAN_PEPPER"] == "pepper-from-the-environment-0123456789"
    assert got["ANTOAN_QR_SECRET"] == from_file["ANTOAN_QR_SECRET"]
    assert f"ANTOAN_PEPPER={from_file['ANTOAN_PEPPER']}" in path.read_text()  # file untouched


def test_env_var_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "elsewhere" / "s.env"
    monkeypatch.setenv("ANTOAN_SECRETS_FILE", str(target))
    assert secrets_file() == target
    ensure_local_secrets()
    assert target.is_file()


def test_default_file_is_in_the_repo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ANTOAN_HOME", str(tmp_path))
    assert secrets_file() == tmp_path.resolve() / ".secrets" / "local.env"


def test_missing_keys_are_added_existing_kept(tmp_path: Path) -> None:
    path = tmp_path / "local.env"
    path.write_text("# mine\nANTOAN_PEPPER=kept-value\nOTHER=1\n")
    got = ensure_local_secrets(path)
    assert got["ANTOAN_PEPPER"] == "kept-value"
    assert got["OTHER"] == "1"
    assert got["ANTOAN_HA_TOKEN"]
    assert ensure_local_secrets(path) == got
