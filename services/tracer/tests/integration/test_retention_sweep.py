"""Retention in the tracer's state: visits and contacts older than the retention period leave it when their
due time comes round on the clock ticks, with no new scan needed (SPEC §3.7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from antoan_localstack.client import Antoan, new_person, rfc3339
from antoan_localstack.testing import RunningServices, TopicReader, wait_for
from antoan_shared import events, topics

pytestmark = pytest.mark.integration

RETENTION_S = 60


@pytest.fixture(scope="module")
def services_env() -> dict[str, str]:
    return {
        "ANTOAN_RETENTION_SECONDS": str(RETENTION_S),
        "ANTOAN_DWELL_MINUTES": "1",
        "ANTOAN_EXPOSURE_BUFFER_MINUTES": "0",
    }


def test_visits_and_contacts_past_the_retention_period_leave_the_state(
    antoan: Antoan, running_services: RunningServices
) -> None:
    # Given a venue where a case and a neighbour were together moments ago (the state forgets a scan a
    # retention period after it was made: these stay listed for about 40 s, room for a loaded machine)
    started = datetime.now(UTC)
    venue = antoan.register_venue()
    case_person, neighbour = new_person(), new_person()
    antoan.check_in(venue, case_person, at=started - timedelta(seconds=20))
    antoan.check_in(venue, neighbour, at=started - timedelta(seconds=15))
    case = antoan.confirm_case(case_person, tested_at=started)
    tracer = running_services.tracer
    visits_path = f"{tracer}/v1/venues/{venue['venue_id']}/visits"
    window = {"from": rfc3339(started - timedelta(seconds=55)), "to": rfc3339(started + timedelta(seconds=5))}
    owner = {"Authorization": f"Bearer {venue['api_key']}"}

    def visits() -> list[dict[str, Any]]:
        response = antoan.http.get(visits_path, params=window, headers=owner)
        if response.status_code == 404:
            return []  # the tracer's venue directory follows the registry a moment behind ingest
        assert response.status_code == 200, response.text
        listed: list[dict[str, Any]] = response.json()["visits"]
        return listed

    def contacts() -> list[dict[str, Any]]:
        response = antoan.http.get(f"{tracer}/v1/cases/{case['case_id']}/contacts", headers=antoan.ha)
        listed: list[dict[str, Any]] = response.json().get("contacts", []) if response.status_code == 200 else []
        return listed

    wait_for(lambda: len(visits()) == 2, what="both visits in the venue's history")
    wait_for(lambda: len(contacts()) == 1, what="the neighbour as the case's contact")
    # When the retention period passes with no new scan at the venue or by the people
    # Then the visits and the contact leave the tracer's state: it withdraws them on visits.v1 and exposures.v2
    # (the HTTP reads filter by the period too, so the topics are what shows the state itself forgot them)
    settings = running_services.settings()
    withdrawn_visits = TopicReader(settings, topics.VISITS)
    withdrawn_contacts = TopicReader(settings, topics.EXPOSURES_V2)
    try:
        withdrawn_visits.wait_until(
            lambda batch: sum(isinstance(e, events.VisitClosed) and e.withdrawn for e in batch) >= 2,
            timeout=RETENTION_S + 90,
            what="both visits withdrawn on visits.v1",
        )
        withdrawn_contacts.wait_until(
            lambda batch: any(
                isinstance(e, events.ExposureChanged) and e.case_id == case["case_id"] and e.withdrawn for e in batch
            ),
            what="the contact withdrawn on exposures.v2",
        )
    finally:
        withdrawn_visits.close()
        withdrawn_contacts.close()
    # and neither the venue's history (the query asks for the same times) nor the case's list shows them
    wait_for(lambda: not visits(), interval=1, what="the visits gone from the history")
    wait_for(lambda: not contacts(), interval=1, what="the contact gone from the case's list")
