"""Every time a client gives is plausible, and a case id names one person.

Issue 12's findings: a case with `tested_at` 0001-01-01 was accepted (202) and crashed the tracer's stream
(it now refuses such a record too: `test_poison_records.py`); the same `case_id` for a different person was
accepted, putting two people under one event id.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from antoan_localstack.testing import RunningServices
from antoan_shared import events

pytestmark = [pytest.mark.integration, pytest.mark.shared_services]


def error_code(answer: httpx.Response) -> str:
    code: str = answer.json()["error"]["code"]
    return code


def confirm(services: RunningServices, **body: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {services.ha_token}"}
    return httpx.post(f"{services.ingest}/v1/cases", json=body, headers=headers, timeout=10)


def test_implausible_case_times_are_refused(running_services: RunningServices) -> None:
    now = events.utc_now()
    for tested_at, code in [
        ("0001-01-01T00:00:00Z", "tested_at_out_of_range"),
        ((now - timedelta(days=400)).isoformat(), "tested_at_out_of_range"),
        ("9999-12-31T23:59:59Z", "tested_at_in_future"),
    ]:
        answer = confirm(running_services, person_id="0914000100", tested_at=tested_at)
        assert (answer.status_code, error_code(answer)) == (400, code), tested_at
    answer = confirm(
        running_services, person_id="0914000100", tested_at=now.isoformat(), onset_at="1970-01-01T00:00:00Z"
    )
    assert (answer.status_code, error_code(answer)) == (400, "onset_at_out_of_range")


def test_implausible_declaration_days_are_refused(running_services: RunningServices) -> None:
    today = events.utc_now().date()
    entry = {
        "kind": "entry",
        "person_id": "C7654321",
        "nationality": "KR",
        "flight_or_vehicle": "KE681",
        "origin": "Seoul",
        "border_gate": "Nội Bài",
        "arrival_date": today.isoformat(),
        "quarantine_address": "Khách sạn Sầm Sơn",
    }
    url = f"{running_services.ingest}/v1/declarations"
    assert httpx.post(url, json=entry).status_code == 202
    for change, code in [
        ({"arrival_date": "0001-01-01"}, "arrival_date_out_of_range"),
        ({"arrival_date": "9999-12-31"}, "arrival_date_out_of_range"),
        ({"declared_at": "0001-01-01T00:00:00Z"}, "declared_at_out_of_range"),
        ({"contact": {"full_name": "Kim Min-jun", "birth_date": "1800-01-01"}}, "birth_date_out_of_range"),
        (
            {"contact": {"full_name": "Kim Min-jun", "birth_date": (today + timedelta(days=1)).isoformat()}},
            "birth_date_out_of_range",
        ),
    ]:
        answer = httpx.post(url, json={**entry, **change})
        assert (answer.status_code, error_code(answer)) == (400, code), change


def test_a_case_id_names_one_person(running_services: RunningServices) -> None:
    tested_at = events.utc_now().isoformat()
    first = confirm(running_services, case_id="BN-SEC-1", person_id="0914000101", tested_at=tested_at)
    assert first.status_code == 202, first.text
    # The same case again (a retry, or a correction of its times) is the same case
    again = confirm(running_services, case_id="BN-SEC-1", person_id="0914 000 101", tested_at=tested_at)
    assert again.status_code == 202, again.text
    assert again.json() == first.json()
    # The same case id for someone else is refused
    other = confirm(running_services, case_id="BN-SEC-1", person_id="0914000102", tested_at=tested_at)
    assert (other.status_code, error_code(other)) == (409, "case_id_conflict")
