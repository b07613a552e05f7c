"""FastAPI pieces shared by the HTTP services: the error format, health routes, metrics."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REJECTED = Counter("antoan_http_rejected_total", "Requests refused with a 4xx or 5xx, by error code", ["code"])


class ErrorBody(BaseModel):
    code: str
    message: str
    detail: Any | None = None


class ErrorResponse(BaseModel):
    """Every 4xx and 5xx answer: a machine-readable `code` and a human `message`."""

    error: ErrorBody


class ApiError(Exception):
    """Raised by routes and domain adapters; turned into an ErrorResponse."""

    def __init__(self, status: int, code: str, message: str, detail: Any | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail


def error_body(code: str, message: str, detail: Any | None = None) -> dict[str, Any]:
    body = ErrorResponse(error=ErrorBody(code=code, message=message, detail=detail))
    return body.model_dump(mode="json", exclude_none=True)


def error_response(
    status: int, code: str, message: str, detail: Any | None = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    REJECTED.labels(code).inc()
    return JSONResponse(status_code=status, content=error_body(code, message, detail), headers=headers)


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "unavailable",
}


def install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.code, exc.message, exc.detail)

    async def on_validation_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = [
            {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
            for err in exc.errors()
        ]
        return error_response(422, "invalid_request", "the request does not match the schema", problems)

    async def on_http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail))

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)


def health_router(ready_checks: Callable[[], Awaitable[dict[str, bool]]]) -> APIRouter:
    """`/healthz` (the process answers), `/readyz` (its dependencies answer), `/metrics`."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", responses={503: {"model": ErrorResponse}})
    async def readyz() -> Response:
        checks = await ready_checks()
        if all(checks.values()):
            return JSONResponse({"status": "ready", "checks": checks})
        return error_response(503, "not_ready", "a dependency is not reachable", checks)

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def serve(app: FastAPI, service: str, host: str, port: int, log_level: str) -> None:
    """Run an HTTP service with uvicorn, its logs as JSON lines."""
    import uvicorn

    from antoan_shared.logs import configure_logging

    configure_logging(service, log_level)
    # Open streams (the map's server-sent events) would otherwise hold a shutdown up forever.
    uvicorn.run(app, host=host, port=port, log_config=None, timeout_graceful_shutdown=5)


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def tokens_match(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def check_health_authority(token: str | None, expected: str) -> str:
    """The caller presented the health authority's token; returns the actor name for the audit log."""
    if token is None:
        raise ApiError(401, "token_required", "this endpoint needs the health authority's bearer token")
    if not tokens_match(token, expected):
        raise ApiError(403, "invalid_token", "the bearer token is not the health authority's")
    return "health-authority"


class BodySizeLimit:
    """Refuses request bodies over a limit with 413 before they are read into memory."""

    def __init__(self, app: ASGIApp, default_limit: int, limits: Mapping[str, int] | None = None) -> None:
        self._app = app
        self._default = default_limit
        self._limits = dict(limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        limit = self._limits.get(scope["path"], self._default)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _send_error(send, 413, "body_too_large", f"the request body is limited to {limit} bytes")
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, limited_receive, tracking_send)
        except _BodyTooLargeError:
            if not started:
                await _send_error(send, 413, "body_too_large", f"the request body is limited to {limit} bytes")


class _BodyTooLargeError(Exception):
    pass


async def _send_error(
    send: Send, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> None:
    response = error_response(status, code, message, headers=headers)
    await send({"type": "http.response.start", "status": status, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


class TokenBuckets:
    """Per-client token buckets: `rate` requests a second on average, bursts up to `burst`."""

    def __init__(self, rate: float, burst: float, max_clients: int = 100_000) -> None:
        self._rate = rate
        self._burst = burst
        self._max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, client: str, now: float) -> bool:
        tokens, last = self._buckets.pop(client, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        allowed = tokens >= 1.0
        self._buckets[client] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > self._max_clients:
            self._buckets.popitem(last=False)  # the least recently seen client
        return allowed


class RateLimit:
    """429 for a client (its bearer token, else its address) over its request rate."""

    EXEMPT = frozenset({"/healthz", "/readyz", "/metrics"})

    def __init__(self, app: ASGIApp, rate: float, burst: float) -> None:
        self._app = app
        self._buckets = TokenBuckets(rate, burst) if rate > 0 else None
        self._retry_after = str(max(1, round(1 / rate))) if rate > 0 else "1"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limited = self._buckets is not None and scope["type"] == "http" and scope["path"] not in self.EXEMPT
        if limited and not self._buckets.allow(_client_of(scope), time.monotonic()):  # type: ignore[union-attr]
            await _send_error(
                send, 429, "rate_limited", "too many requests; slow down", {"retry-after": self._retry_after}
            )
            return
        await self._app(scope, receive, send)


def _client_of(scope: Scope) -> str:
    authorization = dict(scope["headers"]).get(b"authorization")
    if authorization:
        return "key:" + hashlib.sha256(authorization).hexdigest()[:16]
    client = scope.get("client")
    return f"ip:{client[0]}" if client else "ip:?"
