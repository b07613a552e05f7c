"""What a domain check raises or notes for the HTTP services, without importing a web framework: the venue
directory (followed by the tracer's stream process too) raises `ApiError` and calls `credential_verified`, and
`antoan_shared.web` (FastAPI) turns them into answers and rate-limit keys."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any


class ApiError(Exception):
    """Raised by routes and domain adapters; turned into an ErrorResponse."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        detail: Any | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
        self.headers = dict(headers or {})


# Set by `RateLimit` for each request carrying a credential: a cell the credential checks mark once they
# accepted the caller's bearer token (`credential_verified`), so the limiter keys that caller on it from then.
_VERIFIED: ContextVar[list[bool] | None] = ContextVar("antoan_credential_verified", default=None)


def credential_verified() -> None:
    """Called by a credential check that accepted the request's bearer token."""
    cell = _VERIFIED.get()
    if cell is not None:
        cell[0] = True
