"""Secrets for local use, generated once into a git-ignored file.

The file (``<repo>/.secrets/local.env``, or ``$ANTOAN_SECRETS_FILE``) holds ``KEY=value`` lines and is
readable by its owner only. Values already set in the environment always win over the file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets as _secrets
from pathlib import Path

from antoan_localstack.access import PASSWORD_VARIABLES
from antoan_localstack.stack import repo_root

log = logging.getLogger(__name__)

# The Kafka SCRAM passwords are used only when the stack runs with ANTOAN_KAFKA_SASL=1.
SECRET_KEYS = ("ANTOAN_PEPPER", "ANTOAN_QR_SECRET", "ANTOAN_HA_TOKEN", *PASSWORD_VARIABLES)


def secrets_file() -> Path:
    env = os.environ.get("ANTOAN_SECRETS_FILE")
    return Path(env).expanduser() if env else repo_root() / ".secrets" / "local.env"


def _parse(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip().removeprefix("export ").strip()] = value.strip()
    return values


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600, atomically, never readable by others meanwhile."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def ensure_local_secrets(path: Path | None = None) -> dict[str, str]:
    """The local secrets: created once (random values) in ``path``, read afterwards; env wins."""
    path = path or secrets_file()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    existing = _parse(path.read_text("utf-8")) if path.exists() else {}
    missing = [key for key in SECRET_KEYS if not existing.get(key)]
    if missing:
        created = not existing
        for key in missing:
            existing[key] = _secrets.token_urlsafe(32)
        lines = [
            "# Antoan secrets for local use (make up / make demo / tests), generated once.",
            "# Git-ignored; never use these values anywhere else. Variables set in the environment win.",
            *(f"{key}={value}" for key, value in existing.items()),
        ]
        _write_private(path, "\n".join(lines) + "\n")
        log.info(
            "generated local secrets" if created else "added missing local secrets",
            extra={"file": str(path), "keys": ",".join(missing)},
        )
    result = dict(existing)
    for key in set(result) | set(SECRET_KEYS):
        if os.environ.get(key):
            result[key] = os.environ[key]
    return result
