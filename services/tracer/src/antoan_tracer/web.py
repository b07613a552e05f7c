"""The tracer's HTTP pages on Faust's web server, each request routed to the worker owning its key."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import aiohttp
from faust.web import Request, Response, View

from antoan_shared import spreadsheet
from antoan_shared.venues import api_key_matches
from antoan_tracer.app import Tracer
from antoan_tracer.domain.venue import visits_from_json
from antoan_tracer.venues.agents import day_key, days_between

log = logging.getLogger(__name__)


class Readiness:
    """Set once the consumer group gave this worker its partitions (possibly none)."""

    def __init__(self) -> None:
        self.assigned = False


def _error(view: View, status: int, code: str, message: str) -> Response:
    return view.json({"error": {"code": code, "message": message}}, status=status)


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def register(tracer: Tracer, readiness: Readiness, case_contacts: Any, venue_meta: Any, visits_by_day: Any) -> None:
    app, settings = tracer.app, tracer.settings

    @app.on_partitions_assigned.connect
    async def on_assigned(*_: Any, **__: Any) -> None:
        readiness.assigned = True

    @app.page("/healthz")
    async def healthz(self: View, request: Request) -> Response:
        return self.json({"status": "ok"})

    @app.page("/readyz")
    async def readyz(self: View, request: Request) -> Response:
        checks = {
            "kafka_assignment": readiness.assigned,
            "not_rebalancing": not app.rebalancing,
            "venue_directory": tracer.follower_caught_up(),
        }
        if all(checks.values()):
            return self.json({"status": "ready", "checks": checks})
        body = {"error": {"code": "not_ready", "message": "the worker is not ready", "detail": checks}}
        return self.json(body, status=503)

    def routed(path: str, table: Any, key: str, download: str | None = None) -> Any:
        """A page answered by the worker owning its key (Faust forwards it), 503 while that is unknown.

        `download` names the file a successful answer is offered as (formatted with the path's values). It is
        set here, after forwarding, because Faust's forwarding keeps a response's body and type but drops its
        other headers.
        """

        def decorate(handler: Any) -> Any:
            forwarding = app.table_route(table=table, match_info=key)(handler)

            @app.page(path)
            async def page(self: View, request: Request, **kwargs: Any) -> Response:
                try:
                    response: Response = await forwarding(self, request, **kwargs)
                except (TypeError, KeyError):
                    # Right after start the router may not know the partition owners yet.
                    log.warning("cannot route the request yet", exc_info=True)
                    return _error(self, 503, "not_ready", "the tracer is still joining its group; retry")
                if download is not None and response.status == 200:
                    response.headers["Content-Disposition"] = spreadsheet.attachment(download.format(**kwargs))
                return response

            return page

        return decorate

    async def case_contacts_or_error(self: View, request: Request, case_id: str) -> list[dict[str, Any]] | Response:
        """The F1 and F2 contacts of a case, with contact details from the identity vault (audited there)."""
        token = _bearer(request)
        if token is None:
            return _error(self, 401, "token_required", "this endpoint needs the health authority's bearer token")
        if not hmac.compare_digest(token.encode(), settings.ha_token.get_secret_value().encode()):
            return _error(self, 403, "invalid_token", "the bearer token is not the health authority's")
        contacts = dict(case_contacts.get(case_id) or {})  # reading a missing key must not create it
        details = await _contact_details(settings.ingest_url, token, sorted(contacts), case_id)
        return [
            {"person_key": person_key, **fields, "contact": details.get(person_key)}
            for person_key, fields in sorted(
                contacts.items(), key=lambda item: (item[1]["degree"], item[1]["exposed_at"])
            )
        ]

    @routed("/v1/cases/{case_id}/contacts", case_contacts, "case_id")
    async def contacts_of_case(self: View, request: Request, case_id: str) -> Response:
        listed = await case_contacts_or_error(self, request, case_id)
        if not isinstance(listed, list):
            return listed  # the error
        return self.json(
            {
                "case_id": case_id,
                "contacts": listed,
                "f1": sum(1 for c in listed if c["degree"] == 1),
                "f2": sum(1 for c in listed if c["degree"] == 2),
                "contact_details_available": any(c["contact"] for c in listed) or not listed,
            }
        )

    @routed("/v1/cases/{case_id}/contacts.csv", case_contacts, "case_id", download="contacts-{case_id}.csv")
    async def contacts_of_case_csv(self: View, request: Request, case_id: str) -> Response:
        """The same list as a spreadsheet: one row per contact, contact details in columns of their own."""
        listed = await case_contacts_or_error(self, request, case_id)
        if not isinstance(listed, list):
            return listed  # the error
        header = [*CONTACT_COLUMNS, *(f"contact_{name}" for name in CONTACT_DETAILS)]
        rows = [[case_id, *(c.get(column) for column in CONTACT_COLUMNS[1:]), *_details(c["contact"])] for c in listed]
        return _csv(self, header, rows)

    async def venue_visits_or_error(self: View, request: Request, venue_id: str) -> dict[str, Any] | Response:
        """The venue owner's visitor history (pseudonymous), with the venue's API key."""
        venue = tracer.venues.get(venue_id)
        if venue is None:
            return _error(self, 404, "venue_not_found", "no venue has this id")
        token = _bearer(request)
        if token is None:
            return _error(self, 401, "venue_key_required", "this endpoint needs the venue's API key as bearer token")
        if not api_key_matches(token, venue):
            return _error(self, 403, "invalid_venue_key", "the API key does not belong to this venue")
        try:
            start = datetime.fromisoformat(request.query["from"])
            end = datetime.fromisoformat(request.query["to"])
        except (KeyError, ValueError):
            return _error(self, 400, "invalid_range", "give from and to as RFC 3339 timestamps with a time zone")
        if start.tzinfo is None or end.tzinfo is None or end < start or end - start > settings.retention:
            return _error(
                self, 400, "invalid_range", "from must precede to, with time zones, within the retention period"
            )
        visits = []
        for day in days_between(start - settings.longest_visit, end):
            for visit_id, visit in visits_from_json(visits_by_day.get(day_key(venue_id, day))).items():
                if not visit.removed and visit.start <= end and visit.end >= start:
                    visits.append(
                        {
                            "visit_id": visit_id,
                            "person_key": visit.person_key,
                            "start": visit.start.isoformat(),
                            "end": visit.end.isoformat(),
                        }
                    )
        visits.sort(key=lambda v: (v["start"], v["visit_id"]))
        return {
            "venue_id": venue_id,
            "venue_name": venue.name,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "visits": visits,
        }

    @routed("/v1/venues/{venue_id}/visits", venue_meta, "venue_id")
    async def visits_of_venue(self: View, request: Request, venue_id: str) -> Response:
        history = await venue_visits_or_error(self, request, venue_id)
        if not isinstance(history, dict):
            return history  # the error
        history.pop("venue_name")
        return self.json(history)

    @routed("/v1/venues/{venue_id}/visits.csv", venue_meta, "venue_id", download="visits-{venue_id}.csv")
    async def visits_of_venue_csv(self: View, request: Request, venue_id: str) -> Response:
        """The same history as a spreadsheet, one row per visit, with the venue's name on each."""
        history = await venue_visits_or_error(self, request, venue_id)
        if not isinstance(history, dict):
            return history  # the error
        rows = [[venue_id, history["venue_name"], *(v[c] for c in VISIT_COLUMNS[2:])] for v in history["visits"]]
        return _csv(self, VISIT_COLUMNS, rows)


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


def _details(contact: dict[str, str] | None) -> list[str | None]:
    return [(contact or {}).get(name) for name in CONTACT_DETAILS]


def _csv(view: View, header: Sequence[str], rows: list[list[Any]]) -> Response:
    return view.text(spreadsheet.to_csv(header, rows), content_type=spreadsheet.CONTENT_TYPE)  # charset=utf-8


async def _contact_details(ingest_url: str, token: str, person_keys: list[str], case_id: str) -> dict[str, Any]:
    """Contact details from ingest's vault, in one audited lookup; empty when ingest cannot be reached."""
    if not person_keys:
        return {}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
            session.post(
                f"{ingest_url}/v1/persons/lookup",
                json={"person_keys": person_keys, "purpose": f"contacts of case {case_id}"},
                headers={"Authorization": f"Bearer {token}"},
            ) as response,
        ):
            if response.status != 200:
                log.warning("contact details unavailable", extra={"status": response.status})
                return {}
            found: dict[str, Any] = (await response.json())["contacts"]
            return found
    except (aiohttp.ClientError, TimeoutError):
        log.warning("contact details unavailable: ingest unreachable", exc_info=True)
        return {}
