"""FastAPI pieces shared by the HTTP services: the error format, health routes, metrics, API docs."""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import os
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.telemetry import TelemetryConfig
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, generate_latest, multiprocess
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Defined where no web framework is imported (the venue directory raises and notes them), offered here too.
from antoan_shared.errors import _VERIFIED
from antoan_shared.errors import ApiError as ApiError
from antoan_shared.errors import credential_verified as credential_verified
from antoan_shared.settings import HttpServiceSettings

# Person keys per vault look-up (ingest's `POST /v1/persons/lookup`, called by the tracer): 500 keys of 64
# characters (about 34 KB of JSON) fit well under ingest's 64 KiB body limit, so the schema's limit is the
# real one; a case's contacts are looked up in chunks of this size.
PERSON_LOOKUP_MAX_KEYS = 500

REJECTED = Counter("antoan_http_rejected_total", "Requests refused with a 4xx or 5xx, by error code", ["code"])


class ErrorBody(BaseModel):
    code: str
    message: str
    detail: Any | None = None


class ErrorResponse(BaseModel):
    """Every 4xx and 5xx answer: a machine-readable `code` and a human `message`."""

    error: ErrorBody


def error_body(code: str, message: str, detail: Any | None = None) -> dict[str, Any]:
    body = ErrorResponse(error=ErrorBody(code=code, message=message, detail=detail))
    encodable: dict[str, Any] = _encodable(body.model_dump(mode="json", exclude_none=True))
    return encodable


def _encodable(value: Any) -> Any:
    """The value with every text UTF-8 can carry: a lone surrogate a client sent (JSON's `\\ud800`) and an
    error message repeats is written out as its escape, rather than failing the answer with a 500."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_encodable(key): _encodable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_encodable(item) for item in value]
    return value


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
        return error_response(exc.status, exc.code, exc.message, exc.detail, headers=exc.headers)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = [_problem(request, err) for err in exc.errors()]
        message = "the request does not match the schema"
        if len(problems) == 1:
            message += f": {problems[0]['msg']}"
        return error_response(422, "invalid_request", message, problems)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        message = str(exc.detail)
        # The router's own refusals (no such path, no such method) say what was asked and where to look.
        if exc.status_code == 404 and message == "Not Found":
            message = f"nothing is at {request.url.path}; the operations are listed at /docs (and /openapi.json)"
        elif exc.status_code == 405 and message == "Method Not Allowed":
            allowed = (exc.headers or {}).get("Allow", "")
            message = f"{request.method} is not allowed on {request.url.path}; allowed: {allowed or 'none'}"
        return error_response(exc.status_code, code, message, headers=exc.headers)

    async def on_unexpected(_: Request, __: Exception) -> Response:
        # The server logs the exception with its traceback; the client gets the one error shape, no internals.
        return error_response(
            500,
            "internal_error",
            "an unexpected error on the server; it is logged, retry later",
            headers=dict(SECURITY_HEADERS),  # answered outside the middlewares, SecurityHeaders among them
        )

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)


def _problem(request: Request, err: Mapping[str, Any]) -> dict[str, Any]:
    """One validation error as the client sees it; a missing or unknown discriminator names the allowed values."""
    problem: dict[str, Any] = {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
    ctx = err.get("ctx") or {}
    field = str(ctx.get("discriminator", "")).strip("'")
    if problem["type"] == "union_tag_invalid":
        allowed = [tag.strip().strip("'") for tag in str(ctx.get("expected_tags", "")).split(",") if tag.strip()]
        problem["msg"] = f"'{field}' must be one of {', '.join(allowed)} (not '{ctx.get('tag', '')}')"
        problem["allowed"] = allowed
    elif problem["type"] == "union_tag_not_found":
        # Pydantic does not say which tags it expected here; the operation's documented body does.
        allowed = _documented_tags(request, field)
        problem["msg"] = f"'{field}' is required" + (f": one of {', '.join(allowed)}" if allowed else "")
        if allowed:
            problem["allowed"] = allowed
    return problem


def _documented_tags(request: Request, field: str) -> list[str]:
    """The values of the discriminator `field` in the OpenAPI request body of the route that was called."""
    route = request.scope.get("route")
    app = request.scope.get("app")
    path = getattr(route, "path_format", None)
    if not isinstance(app, FastAPI) or path is None:
        return []
    document = app.openapi()
    operation = document.get("paths", {}).get(path, {}).get(request.method.lower(), {})
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    tags: list[str] = []
    seen: set[str] = set()
    pending: list[Any] = [body]
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(node)
        elif isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/") and ref not in seen:
                seen.add(ref)
                pending.append(document.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[1]))
            discriminator = node.get("discriminator")
            if isinstance(discriminator, dict) and discriminator.get("propertyName") == field:
                tags.extend(tag for tag in discriminator.get("mapping", {}) if tag not in tags)
            pending.extend(value for key, value in node.items() if key != "discriminator")
    return tags


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
        return Response(generate_latest(_metrics_registry()), media_type=CONTENT_TYPE_LATEST)

    return router


def _metrics_registry() -> Any:
    """This process's metrics, or, for a service run as several processes (`PROMETHEUS_MULTIPROC_DIR` set before
    they started), all of its processes' summed."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def serve(app: FastAPI, service: str, settings: HttpServiceSettings) -> None:
    """Run an HTTP service with uvicorn on the settings' host and port, its logs as JSON lines."""
    import uvicorn

    from antoan_shared.logs import configure_logging

    configure_logging(service, settings.log_level)
    uvicorn.run(app, **uvicorn_options(settings))


# What every service gives FastAPI for `telemetry`: Antoan's metrics are Prometheus's (/metrics). With FastAPI's
# OpenTelemetry bridge on (its default), each request first asks OpenTelemetry whether a provider was configured,
# three lookups in the environment: about 5 µs of a single scan's CPU, for nothing.
NO_OPENTELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def uvicorn_options(settings: HttpServiceSettings) -> dict[str, Any]:
    """How every service runs uvicorn: its own logging, forwarded headers only from trusted proxies."""
    return {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": settings.access_log,
        # Open streams (the map's server-sent events) would otherwise hold a shutdown up forever.
        "timeout_graceful_shutdown": 5,
        # Forwarded headers believed only from the proxies named, and not read at all when none is.
        "proxy_headers": bool(settings.trusted_proxies.strip()),
        "forwarded_allow_ips": settings.trusted_proxies.strip() or None,
    }


# What any route of any service may answer from the middlewares, documented on every operation.
LIMIT_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorResponse, "description": "body_too_large"},
    429: {"model": ErrorResponse, "description": "rate_limited (with Retry-After)"},
}


def install_guards(
    app: FastAPI, settings: HttpServiceSettings, body_limit: int, body_limits: Mapping[str, int] | None = None
) -> None:
    """The middlewares every service runs, after its routes are in: the rate limit, the body size limit, and
    outermost the security headers, so that the others' refusals carry them too."""
    app.add_middleware(
        RateLimit,
        rate=settings.rate_limit_per_s,
        burst=settings.rate_limit_burst,
        failures_per_min=settings.auth_failures_per_min,
        failure_burst=settings.auth_failure_burst,
    )
    app.add_middleware(BodySizeLimit, default_limit=body_limit, limits=body_limits)
    app.add_middleware(SecurityHeaders)


APIDOCS_DIR = Path(__file__).resolve().parent / "static" / "apidocs"
APIDOCS_ASSETS = "/apidocs"


# ReDoc's bundle inserts one stylesheet (perfect-scrollbar's) as it loads, before it can be told the nonce:
# first empty, then filled. These are the hashes of those two texts for the vendored ReDoc (VERSION); the
# browser test fails with the new hash in its message if a re-vendored ReDoc changes them.
REDOC_LOAD_STYLE_HASHES = (
    "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",  # the empty text
    "sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc=",  # perfect-scrollbar's rules
)


def api_docs_csp(style_nonce: str | None = None) -> str:
    """The documentation pages' policy: they reach this service only, and run no inline script.

    Swagger UI and ReDoc are vendored (shared/web/vendor.sh) and started by files, not inline scripts; "Try
    it out" calls the service itself. With a nonce (ReDoc's page), the <style> elements ReDoc's
    styled-components insert carry it, and its search index runs in a worker it makes from a blob of its
    own script.
    """
    styles = ["'self'"]
    workers = "'none'"
    if style_nonce:
        styles += [f"'nonce-{style_nonce}'", *(f"'{digest}'" for digest in REDOC_LOAD_STYLE_HASHES)]
        workers = "blob:"
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            f"style-src {' '.join(styles)}",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            f"worker-src {workers}",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'none'",
        )
    )


_DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" type="image/png" href="{assets}/vendor/swagger-ui/favicon-32x32.png">
{stylesheets}</head>
<body>
<div id="{element}"></div>
<script id="antoan-apidocs" type="application/json">{config}</script>
<script src="{assets}/{library}"></script>
<script src="{assets}/{starter}"></script>
</body>
</html>
"""


@dataclass(frozen=True)
class _DocsViewer:
    """One documentation page: the library that renders it, under `/apidocs`, and the file that starts it."""

    name: str
    element: str
    library: str
    starter: str
    stylesheets: tuple[str, ...] = ()
    # ReDoc inserts <style> elements; they carry a nonce of each response's own.
    styles_by_nonce: bool = False


_SWAGGER_UI = _DocsViewer(
    "Swagger UI",
    "swagger-ui",
    "vendor/swagger-ui/swagger-ui-bundle.js",
    "swagger-init.js",
    stylesheets=("vendor/swagger-ui/swagger-ui.css",),
)
_REDOC = _DocsViewer("ReDoc", "redoc", "vendor/redoc/redoc.standalone.js", "redoc-init.js", styles_by_nonce=True)


def _script_json(value: Any) -> str:
    """JSON for a `<script type="application/json">` element that no value can break out of."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def install_api_docs(app: FastAPI) -> None:
    """`/docs` (Swagger UI) and `/redoc` (ReDoc) from the vendored assets under `/apidocs`, offline.

    The app must be created with `docs_url=None, redoc_url=None`: FastAPI's own pages load their scripts
    from a CDN, a blank page without internet.
    """
    if app.docs_url is not None or app.redoc_url is not None:
        raise ValueError("create the app with docs_url=None and redoc_url=None; install_api_docs serves both")
    if app.openapi_url is None:
        raise ValueError("the app has no OpenAPI document to show")
    openapi_path = app.openapi_url
    app.mount(APIDOCS_ASSETS, StaticFiles(directory=APIDOCS_DIR), name="apidocs")

    def page(request: Request, viewer: _DocsViewer) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        assets = html.escape(root + APIDOCS_ASSETS)
        style_nonce = secrets.token_urlsafe(16) if viewer.styles_by_nonce else None
        body = _DOCS_PAGE.format(
            title=html.escape(f"{app.title}: API ({viewer.name})"),
            assets=assets,
            stylesheets="".join(f'<link rel="stylesheet" href="{assets}/{sheet}">\n' for sheet in viewer.stylesheets),
            element=viewer.element,
            config=_script_json({"openapi_url": root + openapi_path, "style_nonce": style_nonce}),
            library=viewer.library,
            starter=viewer.starter,
        )
        headers = {"content-security-policy": api_docs_csp(style_nonce), "cache-control": "no-store"}
        return HTMLResponse(body, headers=headers)

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        return page(request, _SWAGGER_UI)

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        return page(request, _REDOC)


async def bearer_token(request: Request) -> str | None:
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
    credential_verified()
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


# Every answer of every service: no MIME sniffing, no referrer, never framed, and (unless a route says how it
# may be cached) never stored, since most answers are someone's data: a case's contacts, a venue's visitors,
# a check-in's receipt. Pages and API docs set their own Content-Security-Policy; everything else is data
# and may load nothing.
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("content-security-policy", "default-src 'none'; frame-ancestors 'none'"),
    ("cache-control", "no-store"),
)


_SECURITY_HEADER_BYTES = tuple((name.encode(), value.encode()) for name, value in SECURITY_HEADERS)


class SecurityHeaders:
    """Adds `SECURITY_HEADERS` to every HTTP answer that does not set its own value for one of them."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                if b"etag" in present:  # a static file (the pages' scripts, styles, fonts): revalidated, not refetched
                    present.add(b"cache-control")
                    headers.append((b"cache-control", b"no-cache"))
                headers += [(k, v) for k, v in _SECURITY_HEADER_BYTES if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self._app(scope, receive, with_headers)


class TokenBuckets:
    """Per-client token buckets: `rate` tokens a second on average, bursts up to `burst`; at most
    `max_clients` remembered (the least recently seen is forgotten first: it would have a full bucket)."""

    def __init__(self, rate: float, burst: float, max_clients: int = 100_000) -> None:
        self._rate = rate
        self._burst = burst
        self._max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def _tokens(self, client: str, now: float) -> float:
        tokens, last = self._buckets.pop(client, (self._burst, now))
        return min(self._burst, tokens + (now - last) * self._rate)

    def _keep(self, client: str, tokens: float, now: float) -> None:
        self._buckets[client] = (tokens, now)
        if len(self._buckets) > self._max_clients:
            self._buckets.popitem(last=False)

    def allow(self, client: str, now: float) -> bool:
        """Takes a token if there is one."""
        tokens = self._tokens(client, now)
        allowed = tokens >= 1.0
        self._keep(client, tokens - 1.0 if allowed else tokens, now)
        return allowed

    @property
    def retry_after(self) -> str:
        """A `Retry-After` for a client with no token left: the seconds one token takes to come back."""
        return str(max(1, round(1 / self._rate))) if self._rate > 0 else "3600"

    def has_token(self, client: str, now: float) -> bool:
        """Whether `allow` would allow, without taking anything."""
        tokens = self._tokens(client, now)
        self._keep(client, tokens, now)
        return tokens >= 1.0


class RateLimit:
    """429 for a client over its request rate, and for an address whose credentials keep being refused.

    A client is its credential once a check has accepted that credential (the health authority's token, a
    venue's key), else its address: a random token each time is still one address, not a new client. The
    address is the TCP peer's, or what a trusted proxy forwarded (`ANTOAN_TRUSTED_PROXIES`, none by default;
    uvicorn applies it). Every 401 or 403 to a credential no check has accepted costs the address one of
    `failure_burst` tokens, given back at `failures_per_min`; with none left, its requests that carry an
    unaccepted credential are refused before any check runs, so guessing tokens is slow.
    """

    EXEMPT = frozenset({"/healthz", "/readyz", "/metrics"})

    def __init__(
        self,
        app: ASGIApp,
        rate: float,
        burst: float,
        failures_per_min: float = 10.0,
        failure_burst: float = 20.0,
        max_clients: int = 100_000,
    ) -> None:
        self._app = app
        self._buckets = TokenBuckets(rate, burst, max_clients) if rate > 0 else None
        limited_failures = failures_per_min > 0 and failure_burst > 0
        self._failures = TokenBuckets(failures_per_min / 60, failure_burst, max_clients) if limited_failures else None
        self._accepted: OrderedDict[str, None] = OrderedDict()  # digests of credentials a check accepted
        self._max_clients = max_clients

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.EXEMPT:
            await self._app(scope, receive, send)
            return
        now = time.monotonic()
        address = _address_of(scope)
        credential = _credential_of(scope)
        accepted = credential is not None and credential in self._accepted
        if self._buckets is not None and not self._buckets.allow(f"key:{credential}" if accepted else address, now):
            retry = {"retry-after": self._buckets.retry_after}
            await _send_error(send, 429, "rate_limited", "too many requests; slow down", retry)
            return
        if credential is None:
            await self._app(scope, receive, send)
            return
        if not accepted and self._failures is not None and not self._failures.has_token(address, now):
            message = "too many refused credentials from this address; wait before trying again"
            await _send_error(send, 429, "rate_limited", message, {"retry-after": self._failures.retry_after})
            return
        cell = [False]
        status = [0]

        async def watching(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        reset = _VERIFIED.set(cell)
        try:
            await self._app(scope, receive, watching)
        finally:
            _VERIFIED.reset(reset)
        if cell[0]:
            self._accepted.pop(credential, None)
            self._accepted[credential] = None
            if len(self._accepted) > self._max_clients:
                self._accepted.popitem(last=False)
        elif status[0] in (401, 403) and not accepted and self._failures is not None:
            self._failures.allow(address, time.monotonic())


def _credential_of(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return hashlib.sha256(value).hexdigest()[:32]
    return None


def _address_of(scope: Scope) -> str:
    client = scope.get("client")
    return f"ip:{client[0]}" if client else "ip:?"
