"""The tracer's HTTP reads (SPEC §4.1), served by every worker from the Redis read model.

- `GET /v1/cases/{case_id}/contacts` (and `.csv`): a case's F1 and F2 contacts, for the health authority,
  with contact details from ingest's identity vault (the vault audits the read).
- `GET /v1/venues/{venue_id}/visits?from=…&to=…` (and `.csv`): the venue owner's visitor history, with
  the venue's API key.
- `/healthz`, `/readyz`, `/metrics`, `/openapi.json`, and `/docs` and `/redoc` from vendored assets (no
  CDN). No other path answers, and every refusal (unknown paths and methods included) is the JSON error shape:
  whatever state a page shows needs the health authority's token or the venue's key.
- `from`/`to` of a venue's history are read as clients write them (`domain/periods.py`): an unencoded `+`
  of the offset is still a `+`, and left out they are the last 24 hours.

The server runs on a thread of the worker process (`serve_in_thread`), beside the stream processor.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

import httpx
import redis
import uvicorn
from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.openapi.models import Example
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from antoan_shared import spreadsheet
from antoan_shared.events import VenueState, utc_now
from antoan_shared.venues import VenueDirectory, check_venue_key
from antoan_shared.web import (
    LIMIT_RESPONSES,
    NO_OPENTELEMETRY,
    PERSON_LOOKUP_MAX_KEYS,
    ApiError,
    ErrorResponse,
    error_response,
    health_router,
    install_api_docs,
    install_error_handlers,
    install_guards,
    uvicorn_options,
)
from antoan_tracer.console import console_routes
from antoan_tracer.deps import BearerToken, CaseId, HealthAuthorityToken, Reads, ReadsDep
from antoan_tracer.domain.periods import InvalidPeriodError, Period, requested_period
from antoan_tracer.readmodel import ReadModel
from antoan_tracer.settings import TracerSettings

log = logging.getLogger(__name__)

BODY_LIMIT = 64 * 1024  # every route is a GET: nothing legitimate sends a body
LOOKUP_CHUNK = PERSON_LOOKUP_MAX_KEYS  # person keys per request to ingest's vault
LOOKUP_CONCURRENCY = 4
LOOKUP_TIMEOUT_S = 10.0

VISIT_COLUMNS = ("venue_id", "venue_name", "visit_id", "person_key", "start", "end")
CONTACT_COLUMNS = (
    "case_id",
    "person_key",
    "degree",
    "exposed_at",
    "venue_id",
    "window_start",
    "window_end",
    "source_person_key",
)
# The vault's fields (ingest's `Contact` and the identifier), in the order a health worker calls people.
CONTACT_DETAILS = ("full_name", "phone", "identifier", "address", "birth_date")


# --- what the routes answer ------------------------------------------------------------------------


class ContactView(BaseModel):
    person_key: str
    degree: int = Field(description="1 for F1, 2 for F2")
    venue_id: str | None
    window_start: str | None = Field(description="RFC 3339: when the one who exposed them was at the venue")
    window_end: str | None
    exposed_at: str = Field(description="RFC 3339: when their presences first overlapped")
    source_person_key: str | None = Field(description="The case, or the F1 through whom an F2 was exposed")
    contact: dict[str, str] | None = Field(description="Contact details from the identity vault, if it has them")


class CaseContactsView(BaseModel):
    case_id: str
    contacts: list[ContactView] = Field(description="F1 before F2, each by exposure time")
    f1: int
    f2: int
    contact_details_available: bool = Field(
        description="False when ingest's vault could not be asked (or holds details of none of the contacts)"
    )


class VisitView(BaseModel):
    visit_id: str
    person_key: str
    start: str = Field(description="RFC 3339")
    end: str = Field(description="RFC 3339: the check-out, or the automatic one")
    open: bool = Field(description="Still inside: `end` is the automatic check-out")


class VenueVisitsView(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    venue_id: str
    from_: str = Field(alias="from", description="RFC 3339: the start of the period read, as given or by default")
    to: str = Field(description="RFC 3339: the end of the period read, as given or by default")
    visits: list[VisitView] = Field(description="Visits overlapping [from, to], by start")


CSV_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"content": {spreadsheet.CONTENT_TYPE: {}}, "description": "UTF-8 CSV with a BOM, safe to open"}
}
CASE_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (401, 403, 404, 422, 503)}
VENUE_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 422, 503)
}


# --- dependencies -----------------------------------------------------------------------------------


VenueId = Annotated[
    str,
    Path(
        max_length=64,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="The venue's id, as `POST /v1/venues` on ingest answered it",
        openapi_examples={"venue": {"summary": "A registered venue", "value": "v_3f9c2a1b7d4e6f80"}},
    ),
]


async def owned_venue(reads: ReadsDep, venue_id: VenueId, token: BearerToken) -> VenueState:
    """The venue of the path, when the caller holds its API key."""
    venue = reads.venues.get(venue_id)
    if venue is None:
        reads.venues.require_loaded()  # not loaded yet: 503, retry
        raise ApiError(404, "venue_not_found", "no venue has this id")
    check_venue_key(token, venue.api_key_hash)
    return venue


OwnedVenue = Annotated[VenueState, Depends(owned_venue)]


PERIOD_HELP = (
    "RFC 3339 with a time zone, e.g. `2026-12-02T00:00:00+07:00` (Vietnam time) or `2026-12-01T17:00:00Z`. "
    "In a URL write the `+` as `%2B`; a `+` left unencoded arrives as a space, and a space before the offset is "
    "read as its `+`."
)
PERIOD_EXAMPLES: dict[str, dict[str, Example]] = {
    "from": {
        "vietnam": {"summary": "Midnight, Vietnam time", "value": "2026-12-02T00:00:00+07:00"},
        "utc": {"summary": "The same instant in UTC", "value": "2026-12-01T17:00:00Z"},
    },
    "to": {
        "vietnam": {"summary": "The end of that day, Vietnam time", "value": "2026-12-02T23:59:59+07:00"},
        "utc": {"summary": "The same instant in UTC", "value": "2026-12-02T16:59:59Z"},
    },
}


async def visit_period(
    reads: ReadsDep,
    start: Annotated[
        str | None,
        Query(
            alias="from",
            description=f"Start of the period. {PERIOD_HELP} Default: 24 hours before `to` (or the retention "
            "period before it, if shorter).",
            json_schema_extra={"format": "date-time"},
            openapi_examples=PERIOD_EXAMPLES["from"],
        ),
    ] = None,
    end: Annotated[
        str | None,
        Query(
            alias="to",
            description=f"End of the period. {PERIOD_HELP} Default: now. At most the retention period after `from`.",
            json_schema_extra={"format": "date-time"},
            openapi_examples=PERIOD_EXAMPLES["to"],
        ),
    ] = None,
) -> Period:
    """The period of `from` and `to` (400 `invalid_range` with the format expected, when they make none)."""
    try:
        return requested_period(start, end, utc_now(), reads.settings.retention)
    except InvalidPeriodError as exc:
        raise ApiError(400, "invalid_range", str(exc)) from None


VisitPeriod = Annotated[Period, Depends(visit_period)]


# --- the app ----------------------------------------------------------------------------------------


def create_api(
    settings: TracerSettings,
    read_model: ReadModel,
    venues: VenueDirectory,
    ready_checks: Callable[[], Awaitable[dict[str, bool]]],
) -> FastAPI:
    """The tracer's HTTP app over a read model and the venue directory; `ready_checks` answers `/readyz`."""
    app = FastAPI(
        telemetry=NO_OPENTELEMETRY,
        title="Antoan tracer",
        version="1",
        description=(
            "A case's contacts for the health authority, a venue's visitor history for its owner. Every 4xx "
            'and 5xx answer is `{"error": {"code": ..., "message": ...}}` with a machine-readable code.'
        ),
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        responses=LIMIT_RESPONSES,
    )
    app.state.reads = Reads(settings, read_model, venues)
    install_error_handlers(app)
    install_api_docs(app)

    async def on_redis_error(_: Request, exc: Exception) -> Response:
        log.warning("redis unavailable", extra={"error": repr(exc)})
        return error_response(503, "store_unavailable", "the read model is unreachable; retry")

    app.add_exception_handler(redis.RedisError, on_redis_error)
    app.include_router(health_router(ready_checks))
    _case_routes(app)
    _venue_routes(app)
    console_routes(app)
    install_guards(app, settings, BODY_LIMIT)
    return app


def _case_routes(app: FastAPI) -> None:
    @app.get("/v1/cases/{case_id}/contacts", tags=["cases"], response_model=CaseContactsView, responses=CASE_ERRORS)
    async def contacts_of_case(case_id: CaseId, reads: ReadsDep, token: HealthAuthorityToken) -> dict[str, Any]:
        """The F1 and F2 contacts of a case, with contact details from the identity vault (audited there)."""
        listed, answered = await _contacts_with_details(reads, case_id, token)
        return {
            "case_id": case_id,
            "contacts": listed,
            "f1": sum(1 for c in listed if c["degree"] == 1),
            "f2": sum(1 for c in listed if c["degree"] == 2),
            "contact_details_available": answered and (any(c["contact"] for c in listed) or not listed),
        }

    @app.get(
        "/v1/cases/{case_id}/contacts.csv",
        tags=["cases"],
        response_class=Response,
        responses={**CSV_ANSWER, **CASE_ERRORS},
    )
    async def contacts_of_case_csv(case_id: CaseId, reads: ReadsDep, token: HealthAuthorityToken) -> Response:
        """The same list as a spreadsheet: one row per contact, contact details in columns of their own."""
        listed, _ = await _contacts_with_details(reads, case_id, token)
        header = [*CONTACT_COLUMNS, *(f"contact_{name}" for name in CONTACT_DETAILS)]
        rows = [[case_id, *(c.get(column) for column in CONTACT_COLUMNS[1:]), *_details(c["contact"])] for c in listed]
        return _csv(header, rows, f"contacts-{case_id}.csv")


def _venue_routes(app: FastAPI) -> None:
    @app.get("/v1/venues/{venue_id}/visits", tags=["venues"], response_model=VenueVisitsView, responses=VENUE_ERRORS)
    async def visits_of_venue(venue: OwnedVenue, period: VisitPeriod, reads: ReadsDep) -> dict[str, Any]:
        """The venue owner's visitor history (pseudonymous): visits overlapping [from, to]."""
        visits = await run_in_threadpool(reads.read_model.venue_visits, venue.venue_id, period.start, period.end)
        return {
            "venue_id": venue.venue_id,
            "from": period.start.isoformat(),
            "to": period.end.isoformat(),
            "visits": visits,
        }

    @app.get(
        "/v1/venues/{venue_id}/visits.csv",
        tags=["venues"],
        response_class=Response,
        responses={**CSV_ANSWER, **VENUE_ERRORS},
    )
    async def visits_of_venue_csv(venue: OwnedVenue, period: VisitPeriod, reads: ReadsDep) -> Response:
        """The same history as a spreadsheet, one row per visit, with the venue's name on each."""
        visits = await run_in_threadpool(reads.read_model.venue_visits, venue.venue_id, period.start, period.end)
        rows = [[venue.venue_id, venue.name, *(v[c] for c in VISIT_COLUMNS[2:])] for v in visits]
        return _csv(VISIT_COLUMNS, rows, f"visits-{venue.venue_id}.csv")


async def _contacts_with_details(reads: Reads, case_id: str, token: str) -> tuple[list[dict[str, Any]], bool]:
    """The case's contacts, each with its details from the vault (None where it has none); and whether the
    vault answered for all of them. 404 for a case the tracer has never heard of."""
    contacts = await run_in_threadpool(reads.read_model.case_contacts, case_id)
    if contacts is None:
        raise ApiError(404, "case_not_found", "no case with this id is known to the tracer")
    keys = [c["person_key"] for c in contacts]
    details, answered = await contact_details(reads.settings.ingest_url, token, keys, case_id)
    return [{**c, "contact": details.get(c["person_key"])} for c in contacts], answered


async def contact_details(
    ingest_url: str, token: str, person_keys: Sequence[str], case_id: str
) -> tuple[dict[str, dict[str, str]], bool]:
    """Contact details from ingest's vault, asked with the caller's own token (the vault audits each
    lookup) in chunks of at most LOOKUP_CHUNK keys, a few at a time; with whether every chunk was answered.
    """
    chunks = [person_keys[i : i + LOOKUP_CHUNK] for i in range(0, len(person_keys), LOOKUP_CHUNK)]
    if not chunks:
        return {}, True
    limit = asyncio.Semaphore(LOOKUP_CONCURRENCY)
    async with httpx.AsyncClient(timeout=LOOKUP_TIMEOUT_S) as client:

        async def lookup(chunk: Sequence[str]) -> dict[str, dict[str, str]] | None:
            async with limit:
                try:
                    response = await client.post(
                        f"{ingest_url}/v1/persons/lookup",
                        json={"person_keys": list(chunk), "purpose": f"contacts of case {case_id}"},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                except httpx.HTTPError as exc:
                    log.warning("contact details unavailable: ingest unreachable", extra={"error": repr(exc)})
                    return None
            if response.status_code != 200:
                log.warning("contact details unavailable", extra={"status": response.status_code})
                return None
            found: dict[str, dict[str, str]] = response.json()["contacts"]
            return found

        answers = await asyncio.gather(*(lookup(chunk) for chunk in chunks))
    details = {key: contact for answer in answers if answer for key, contact in answer.items()}
    return details, all(answer is not None for answer in answers)


def _details(contact: dict[str, str] | None) -> list[str | None]:
    return [(contact or {}).get(name) for name in CONTACT_DETAILS]


def _csv(header: Sequence[str], rows: list[list[Any]], filename: str) -> Response:
    return Response(
        spreadsheet.to_csv(header, rows),
        media_type=spreadsheet.CONTENT_TYPE,  # Starlette adds charset=utf-8 to text types
        headers={"Content-Disposition": spreadsheet.attachment(filename)},
    )


# --- the server -------------------------------------------------------------------------------------


class ApiServer(threading.Thread):
    """uvicorn on a daemon thread. It installs no signal handlers there (uvicorn only captures signals on
    the main thread), so the stream processor on the main thread keeps its own; `stop` ends it."""

    def __init__(self, app: FastAPI, settings: TracerSettings) -> None:
        super().__init__(name="tracer-http", daemon=True)
        # Logging is the process's own (JSON lines): uvicorn is not to configure it.
        config = uvicorn.Config(app, **uvicorn_options(settings))
        self.server = uvicorn.Server(config)

    def run(self) -> None:
        self.server.run()

    @property
    def started(self) -> bool:
        """Listening (False again once stopped, or if the port could not be bound)."""
        return bool(self.server.started) and self.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Stops accepting, lets requests in flight finish (up to 5 s), and waits for the thread."""
        self.server.should_exit = True
        if self.is_alive():
            self.join(timeout)


def serve_in_thread(app: FastAPI, settings: TracerSettings) -> ApiServer:
    """Starts the HTTP server on `settings.host`:`settings.port` on a daemon thread and returns it."""
    server = ApiServer(app, settings)
    server.start()
    return server
