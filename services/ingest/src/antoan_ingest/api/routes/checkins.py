"""Check-ins: a person scanning a venue's QR code, or staff scanning the person."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from antoan_ingest.api import schemas
from antoan_ingest.api.deps import BearerToken, Runtime, RuntimeDep
from antoan_ingest.checkins import ScanAccepted, ScanCommand
from antoan_shared import codec
from antoan_shared.web import ApiError, ErrorResponse

PATH = "/v1/checkins"
router = APIRouter(prefix=PATH, tags=["check-ins"])


def _command(item: schemas.CheckInRequest) -> ScanCommand:
    return ScanCommand(
        app=item.app,
        direction=item.direction,
        venue_qr=item.venue_qr,
        person_id=item.person_id,
        person_qr=item.person_qr,
        scanned_at=item.scanned_at,
        client_event_id=item.client_event_id,
        declaration=item.declaration,
        dependants=tuple(item.dependants),
    )


def _accepted(result: ScanAccepted) -> dict[str, Any]:
    """A check-in's answer (`schemas.CheckInAccepted`) as the JSON it is answered as: a batch answers a thousand."""
    return {
        "event_id": result.event_id,
        "person_key": result.person_key,
        "venue_id": result.venue_id,
        "dependants": [{"event_id": d.event_id, "person_key": d.person_key} for d in result.dependants],
    }


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=schemas.CheckInAccepted,
    responses={
        400: {
            "model": ErrorResponse,
            "description": "invalid_qr_*, qr_expired, invalid_person_*, scanned_at_out_of_range",
        },
        401: {"model": ErrorResponse, "description": "venue_key_required, invalid_venue_key"},
        404: {"model": ErrorResponse, "description": "venue_not_found"},
        409: {"model": ErrorResponse, "description": "client_event_id_conflict, request_in_progress"},
        413: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
        429: {"model": ErrorResponse},
        503: {"model": ErrorResponse, "description": "broker_unavailable"},
    },
)
async def check_in(body: schemas.CheckInRequest, runtime: RuntimeDep, token: BearerToken) -> dict[str, Any]:
    """Record a scan; answers 202 only after Kafka acknowledged the event (acks=all).

    With `venue_qr` + `person_id`: the person scanned the venue's code. Without `venue_qr`, the venue's API key
    (bearer) identifies the venue and `person_qr` or `person_id` the person (staff scanning, or checking in
    someone without a phone). A retry with the same `client_event_id` answers the same `event_id`.
    """
    command = _command(body)
    if token is None:
        result = await runtime.scans.record(command)
    else:
        [result] = await runtime.checkins.record([command], token)
    if isinstance(result, ApiError):
        raise result
    return _accepted(result)


@router.post(
    "/batch",
    response_model=schemas.BatchResults,
    responses={
        207: {"model": schemas.BatchResults, "description": "Some items were refused; see each result"},
        401: {"model": ErrorResponse},
        413: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
        503: {"model": ErrorResponse},
    },
    status_code=status.HTTP_202_ACCEPTED,
)
async def check_in_batch(body: schemas.CheckInBatch, runtime: RuntimeDep, token: BearerToken) -> Response:
    """The offline upload: up to 1,000 scans, each accepted (202) or refused (4xx) on its own.

    The good items are published (and acknowledged) whatever happens to the bad ones. The answer is 202 when
    every item was accepted, 207 otherwise, with a result per item in order.
    """
    limit = runtime.settings.batch_max_items
    if len(body.items) > limit:
        raise ApiError(413, "batch_too_large", f"a batch holds at most {limit} items")
    outcomes = await runtime.checkins.record([_command(item) for item in body.items], token)
    return batch_answer(outcomes)


def batch_answer(outcomes: Sequence[ScanAccepted | ApiError]) -> Response:
    """`schemas.BatchResults` as JSON, built from plain values (without building and dumping a model per item:
    about a tenth of a batch's CPU); a unit test holds it to the model's own dump. 202 when every item was
    accepted, else 207."""
    results: list[dict[str, Any]] = []
    accepted = 0
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, ApiError):
            error = {"code": outcome.code, "message": outcome.message}
            results.append({"index": index, "status": outcome.status, "error": error})
        else:
            accepted += 1
            results.append({"index": index, "status": 202, "result": _accepted(outcome)})
    body = codec.dumps({"accepted": accepted, "rejected": len(outcomes) - accepted, "results": results})
    return Response(body, status_code=202 if accepted == len(outcomes) else 207, media_type="application/json")


class SingleScanShortcut:
    """`POST /v1/checkins` for a person scanning a venue's code (no bearer token, a JSON body the schema takes):
    nearly all of ingest's traffic, answered without FastAPI's routing, dependency resolution and response
    validation. Measured with vegeta against ingest alone (docs/decisions/0004): FastAPI's share of a single
    scan's CPU was about a fifth.

    It is the innermost middleware, so the rate limit, the body size limit and the security headers apply as to
    any route, and errors are answered by the application's own handlers. Everything else (another path or
    method, a bearer token, another content type, a body the schema refuses) goes on to the FastAPI route, which
    stays the documented operation and gives the answers it always gave, its 422s included. The answer of a
    scan is the route's: the same `check_in` steps (`_command`, the coalescer, `_accepted`), the same JSON.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if b"authorization" in headers or content_type != b"application/json":
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            return  # the client left before sending its body
        try:
            item = schemas.CheckInRequest.model_validate_json(body)
        except ValidationError:
            await self.app(scope, _replay(body, receive), send)
            return
        runtime: Runtime = scope["app"].state.runtime
        try:
            result = await runtime.scans.record(_command(item))
            if isinstance(result, ApiError):
                raise result
        except Exception as exc:
            handler = _handler_of(scope, exc)
            if handler is None:
                raise  # as from a route: the server's error middleware answers 500 and logs it
            response = await handler(Request(scope, receive), exc)
            await response(scope, receive, send)
            return
        payload = codec.dumps(_accepted(result))
        start: Message = {
            "type": "http.response.start",
            "status": status.HTTP_202_ACCEPTED,
            "headers": [(b"content-length", str(len(payload)).encode()), (b"content-type", b"application/json")],
        }
        await send(start)
        await send({"type": "http.response.body", "body": payload})


async def _read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, then whatever the client sends next (its disconnect)."""
    pending = [body]

    async def replayed() -> Message:
        if pending:
            return {"type": "http.request", "body": pending.pop(), "more_body": False}
        return await receive()

    return replayed


def _handler_of(scope: Scope, exc: Exception) -> Any:
    """The application's handler for `exc` (ApiError, the broker's and Redis's errors), as Starlette's exception
    middleware finds it; None for what only the catch-all `Exception` handler answers."""
    handlers = scope["app"].exception_handlers
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        if cls in handlers:
            return handlers[cls]
    return None
