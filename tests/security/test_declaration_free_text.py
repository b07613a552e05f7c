"""What a person types on a declaration stays off the topics, in the vault, for the health authority only.

Issue 12's finding: the free-text fields of declarations (`quarantine_address`, `origin`, `places_visited`,
`route_to`, ...) went onto `declarations.v1` as typed; a scan found phone numbers, a CCCD, names and a
number plate there, on a topic agencies may be granted. Now they are sealed in the vault under the
declaration's event id (and its sealed copy on the internal `declaration-details.v1`), and the health
authority reads them with `GET /v1/declarations/{event_id}/details`, an audited read.
"""

from __future__ import annotations

from typing import Any, get_args

import httpx
import pytest
from pydantic.fields import FieldInfo

from antoan_ingest.api import schemas
from antoan_ingest.api.routes.declarations import FREE_TEXT
from antoan_localstack.testing import RunningServices, TopicReader
from antoan_shared import events, topics

pytestmark = [pytest.mark.integration, pytest.mark.shared_services]

PLANTED = {
    "places_visited": ["Nhà chị Lan 0912 345 678", "Quán phở 12 Lê Lợi"],
    "quarantine_address": "Nhà anh Nguyễn Văn Tư, CCCD 038099001234",
    "vehicle": "36B-123.45",
    "route_to": "Nhà bác Hùng, 0987 654 321",
}


def test_every_text_field_of_every_declaration_is_kept_off_the_topic() -> None:
    """A field added to a declaration later is free text unless it is a date, a number or a flag."""
    for model in get_args(get_args(schemas.DeclarationRequest)[0]):
        for name, field in model.model_fields.items():
            if name in {"person_id", "declared_by", "client_event_id", "kind", "symptoms"}:
                continue
            if is_text(field.annotation):
                assert name in FREE_TEXT, f"{model.__name__}.{name}"


def is_text(annotation: Any) -> bool:
    """str, or str within Annotated, a list or an optional."""
    if annotation is str:
        return True
    return any(is_text(arg) for arg in get_args(annotation) if not isinstance(arg, FieldInfo))


@pytest.mark.usefixtures("running_services")
def test_free_text_is_in_the_vault_not_on_the_topic(running_services: RunningServices) -> None:
    ingest = running_services.ingest
    today = events.utc_now().date().isoformat()
    bodies = [
        {"kind": "domestic", "person_id": "0916000001", "places_visited": PLANTED["places_visited"]},
        {
            "kind": "domestic_move",
            "person_id": "0916000002",
            "vehicle": PLANTED["vehicle"],
            "route_from": "Hà Nội",
            "route_to": PLANTED["route_to"],
            "travel_date": today,
        },
        {
            "kind": "entry",
            "person_id": "B1234567",
            "nationality": "VN",
            "flight_or_vehicle": "VN52",
            "origin": "Tokyo",
            "border_gate": "Nội Bài",
            "arrival_date": today,
            "quarantine_address": PLANTED["quarantine_address"],
        },
    ]
    accepted = []
    for body in bodies:
        answer = httpx.post(f"{ingest}/v1/declarations", json=body)
        assert answer.status_code == 202, answer.text
        accepted.append(answer.json()["event_id"])
    # Then nothing typed is on declarations.v1 (nor, in the clear, on declaration-details.v1)
    for spec in (topics.DECLARATIONS, topics.DECLARATION_DETAILS):
        reader = TopicReader(running_services.settings(), spec)
        try:
            batch = reader.wait_until(lambda b: set(accepted) <= {e.event_id for e in b}, what=spec.name)
        finally:
            reader.close()
        text = " ".join(e.model_dump_json() for e in batch)
        for planted in ("0912 345 678", "038099001234", "36B-123.45", "0987 654 321", "Lê Lợi", "VN52"):
            assert planted not in text, (spec.name, planted)
    # And the health authority reads them back, each read audited
    headers = {"authorization": f"Bearer {running_services.ha_token}"}
    domestic, move, entry = (
        httpx.get(f"{ingest}/v1/declarations/{event_id}/details", headers=headers) for event_id in accepted
    )
    assert domestic.json()["details"] == {"places_visited": PLANTED["places_visited"]}
    assert move.json()["details"]["vehicle"] == PLANTED["vehicle"]
    assert entry.json()["details"]["quarantine_address"] == PLANTED["quarantine_address"]
    # And nobody else does
    assert httpx.get(f"{ingest}/v1/declarations/{accepted[0]}/details").status_code == 401
    wrong = {"authorization": "Bearer not-the-health-authority"}
    assert httpx.get(f"{ingest}/v1/declarations/{accepted[0]}/details", headers=wrong).status_code == 403
    read = {f"/v1/declarations/{event_id}/details" for event_id in accepted}
    reader = TopicReader(running_services.settings(), topics.AUDIT)
    try:
        reader.wait_until(
            lambda b: read <= {e.resource for e in b if isinstance(e, events.PersonalDataRead)},
            what="the audited reads of these three declarations",
        )
    finally:
        reader.close()
