"""The health-authority console's reads (issue 15), from the read model, all with the authority's token.

- `GET /v1/cases/{case_id}/contacts/stream`: the case's contacts live (server-sent events): each current
  contact, then `ready`, then every change as it is published (a correction, a withdrawal). No contact details:
  those stay behind the audited reads (`/v1/cases/{id}/contacts`, ingest's `/v1/persons/...`).
- `GET /v1/alerts`, `POST /v1/alerts/{alert_id}/acknowledge`, `GET /v1/alerts/stream`: quarantine alerts.
- `GET /v1/audit`: the newest reads of personal data. Reading the audit is not itself audited: it shows
  pseudonymous keys and who read them, no personal data, and an audit of the audit would only grow.

A worker serves at most `TRACER_MAX_STREAMS` streams at once, through one Redis subscription
(`antoan_shared.live`); beyond that a new stream gets 503 with `Retry-After`. Browsers read the streams with
fetch() and a stream reader: EventSource cannot send the Authorization header.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

import redis.asyncio as aioredis
from fastapi import FastAPI, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from antoan_shared.live import STREAM_HEADERS, Change, LiveHub, sse_events, sse_frame, too_many_streams
from antoan_shared.web import ApiError, ErrorResponse
from antoan_tracer.deps import CaseId, HealthAuthorityActor, Reads, ReadsDep

MAX_LIMIT = 500

AlertStatus = Literal["open", "acknowledged", "all"]
AlertId = Annotated[
    str,
    Path(max_length=64, pattern=r"^[A-Za-z0-9_-]+$", description="The alert's id: its event_id on alerts.v1"),
]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="At most this many, newest first")]


class AlertView(BaseModel):
    alert_id: str = Field(description="The alert's event_id on alerts.v1")
    person_key: str
    reason: Literal["fever", "symptom", "missed_update"]
    detail: dict[str, Any] = Field(description="What raised it, e.g. temperature_c, symptoms")
    raised_at: str = Field(description="RFC 3339")
    acknowledged_at: str | None = Field(description="RFC 3339: the first acknowledgement; null while open")
    acknowledged_by: str | None = Field(description="Who acknowledged it; null while open")


class AlertsView(BaseModel):
    status: AlertStatus
    alerts: list[AlertView] = Field(description="Newest first")


class AuditEntryView(BaseModel):
    audit_id: str = Field(description="The read's event_id on audit.v1")
    actor: str = Field(description="Who read")
    resource: str = Field(description="Through which route, e.g. /v1/persons/{person_key} or /v1/persons/lookup")
    person_keys: list[str] = Field(description="Whose details were read")
    purpose: str = Field(description="The purpose given, if any")
    read_at: str = Field(description="RFC 3339")


class AuditView(BaseModel):
    entries: list[AuditEntryView] = Field(description="Newest first")


ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (401, 403, 422, 503)}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse}}
STREAM_ANSWERS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"},
    503: {
        "model": ErrorResponse,
        "description": "This worker serves as many streams as it may (retry after `Retry-After`), or the read "
        "model is unreachable",
    },
}


def live_hub(request: Request, reads: Reads) -> LiveHub:
    """The process's one hub, made with its first stream (on the server's own event loop)."""
    hub: LiveHub | None = getattr(request.app.state, "live_hub", None)
    if hub is None:
        client = aioredis.Redis.from_url(reads.settings.redis_url)
        hub = LiveHub(client, reads.read_model.live_channel, reads.settings.max_streams)
        request.app.state.live_hub = hub
    return hub


def live_stream(
    request: Request, reads: Reads, wanted: Callable[[Change], bool], opening: Callable[[], Awaitable[list[str]]]
) -> Response:
    """A stream of the changes `wanted` takes, after the frames `opening` gives (`antoan_shared.live.sse_events`);
    503 with `Retry-After` when the worker serves as many streams as it may."""
    hub = live_hub(request, reads)
    queue = hub.open(wanted)
    if queue is None:
        return too_many_streams()
    return StreamingResponse(sse_events(hub, queue, opening), media_type="text/event-stream", headers=STREAM_HEADERS)


def console_routes(app: FastAPI) -> None:
    @app.get(
        "/v1/cases/{case_id}/contacts/stream",
        tags=["console"],
        response_class=StreamingResponse,
        responses={**STREAM_ANSWERS, **NOT_FOUND},
    )
    async def contacts_of_case_live(
        case_id: CaseId, request: Request, reads: ReadsDep, _: HealthAuthorityActor
    ) -> Response:
        """The case's contacts, live: an `event: contact` per current contact (the items of
        `/v1/cases/{case_id}/contacts` without `contact` details, with `withdrawn: false`), then `event: ready`
        with `{"count": n}`, then each change as `event: contact` (a correction as the new item, a withdrawal
        as `{"person_key", "withdrawn": true}` with the other fields null). A `: ping` comment every 15 s."""
        if not await run_in_threadpool(reads.read_model.case_known, case_id):
            raise ApiError(404, "case_not_found", "no case with this id is known to the tracer")

        async def opening() -> list[str]:
            contacts = await run_in_threadpool(reads.read_model.case_contacts, case_id) or []
            frames = [sse_frame("contact", {**contact, "withdrawn": False}) for contact in contacts]
            return [*frames, sse_frame("ready", {"count": len(contacts)})]

        def of_the_case(change: Change) -> bool:
            return change["kind"] == "contact" and change.get("case_id") == case_id

        return live_stream(request, reads, of_the_case, opening)

    @app.get("/v1/alerts", tags=["console"], response_model=AlertsView, responses=ERRORS)
    async def alerts(
        reads: ReadsDep,
        _: HealthAuthorityActor,
        status: Annotated[AlertStatus, Query(description="Open, acknowledged, or all")] = "all",
        limit: Limit = 100,
    ) -> dict[str, Any]:
        """Quarantine alerts (alerts.v1) within the retention period, newest first."""
        return {"status": status, "alerts": await run_in_threadpool(reads.read_model.alerts, status, limit)}

    @app.post(
        "/v1/alerts/{alert_id}/acknowledge",
        tags=["console"],
        response_model=AlertView,
        responses={**ERRORS, **NOT_FOUND},
    )
    async def acknowledge(alert_id: AlertId, reads: ReadsDep, actor: HealthAuthorityActor) -> dict[str, Any]:
        """Acknowledges an alert: when and by whom. Idempotent: acknowledging it again changes nothing and
        answers the first acknowledgement."""
        alert = await run_in_threadpool(reads.read_model.acknowledge_alert, alert_id, actor)
        if alert is None:
            raise ApiError(404, "alert_not_found", "no alert with this id is known to the tracer")
        return alert

    @app.get("/v1/alerts/stream", tags=["console"], response_class=StreamingResponse, responses=STREAM_ANSWERS)
    async def alerts_live(request: Request, reads: ReadsDep, _: HealthAuthorityActor) -> Response:
        """New alerts and acknowledgements, live: `event: ready` (`{}`) once subscribed, then each as
        `event: alert` with the alert as `/v1/alerts` lists it (an acknowledgement as the alert with
        `acknowledged_at` and `acknowledged_by`). A `: ping` comment every 15 s."""

        async def opening() -> list[str]:
            return [sse_frame("ready", {})]

        return live_stream(request, reads, lambda change: change["kind"] == "alert", opening)

    @app.get("/v1/audit", tags=["console"], response_model=AuditView, responses=ERRORS)
    async def audit(reads: ReadsDep, _: HealthAuthorityActor, limit: Limit = 100) -> dict[str, Any]:
        """Who read whose personal data, when and through which route (audit.v1), newest first. Reading the
        audit is not itself audited."""
        return {"entries": await run_in_threadpool(reads.read_model.audit, limit)}
