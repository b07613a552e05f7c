"""Check-ins: a person scanning a venue's QR code, or staff scanning the person."""

from __future__ import annotations

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from antoan_ingest.api import schemas
from antoan_ingest.api.deps import BearerToken, RuntimeDep
from antoan_ingest.checkins import ScanAccepted, ScanCommand
from antoan_shared.web import ApiError, ErrorBody, ErrorResponse

router = APIRouter(prefix="/v1/checkins", tags=["check-ins"])


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


def _accepted(result: ScanAccepted) -> schemas.CheckInAccepted:
    return schemas.CheckInAccepted(
        event_id=result.event_id,
        person_key=result.person_key,
        venue_id=result.venue_id,
        dependants=[schemas.DependantAccepted(event_id=d.event_id, person_key=d.person_key) for d in result.dependants],
    )


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
async def check_in(body: schemas.CheckInRequest, runtime: RuntimeDep, token: BearerToken) -> schemas.CheckInAccepted:
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
async def check_in_batch(body: schemas.CheckInBatch, runtime: RuntimeDep, token: BearerToken) -> JSONResponse:
    """The offline upload: up to 1,000 scans, each accepted (202) or refused (4xx) on its own.

    The good items are published (and acknowledged) whatever happens to the bad ones. The answer is 202 when
    every item was accepted, 207 otherwise, with a result per item in order.
    """
    limit = runtime.settings.batch_max_items
    if len(body.items) > limit:
        raise ApiError(413, "batch_too_large", f"a batch holds at most {limit} items")
    outcomes = await runtime.checkins.record([_command(item) for item in body.items], token)
    results = []
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, ApiError):
            error = ErrorBody(code=outcome.code, message=outcome.message)
            results.append(schemas.BatchItemResult(index=index, status=outcome.status, error=error))
        else:
            results.append(schemas.BatchItemResult(index=index, status=202, result=_accepted(outcome)))
    accepted = sum(1 for r in results if r.status == 202)
    answer = schemas.BatchResults(accepted=accepted, rejected=len(results) - accepted, results=results)
    return JSONResponse(
        answer.model_dump(mode="json", exclude_none=True), status_code=202 if accepted == len(results) else 207
    )
