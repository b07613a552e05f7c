"""Rate limits that a client cannot step around, on every service, and slow credential guessing.

Issue 12's findings: uvicorn trusted `X-Forwarded-For` from any local client, so a random header each time
bypassed ingest's limit; the limit was keyed on the raw `Authorization` header, so random tokens bypassed it
too (30 wrong health-authority tokens in a row, never a 429); the safety map and the tracer had no limit.
Now each service keys a client on a credential a check has accepted, else on its address (forwarded headers
are believed only from `ANTOAN_TRUSTED_PROXIES`, none by default), and refused credentials cost the
address tokens of their own.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

import httpx
import pytest

from antoan_localstack.testing import RunningServices

pytestmark = pytest.mark.integration

BURST = 20
PER_S = 0.2
FAILURE_BURST = 5


@pytest.fixture(scope="module")
def services_env() -> dict[str, str]:
    limits = {"RATE_LIMIT_PER_S": str(PER_S), "RATE_LIMIT_BURST": str(BURST)}
    return {
        **{
            f"{service}_{name}": value
            for service in ("INGEST", "TRACER", "SAFETY_MAP")
            for name, value in limits.items()
        },
        "ANTOAN_AUTH_FAILURE_BURST": str(FAILURE_BURST),
        "ANTOAN_AUTH_FAILURES_PER_MIN": "1",
        "INGEST_VENUE_REGISTRATION_BURST": "3",
        "INGEST_VENUE_REGISTRATIONS_PER_HOUR": "1",
        # Limits count per process (as per instance behind a load balancer): one ingest process here, so that
        # every request of the test meets the same buckets.
        "INGEST_WORKERS": "1",
    }


def statuses(answers: list[httpx.Response]) -> list[int]:
    return [answer.status_code for answer in answers]


def in_a_row(count: int, send: Callable[[int], httpx.Response]) -> tuple[list[httpx.Response], int]:
    """The answers to `count` requests sent one after another, and the most that one client may be served
    among them: its burst and what its bucket earned back while they were sent (seconds on a slow machine)."""
    started = time.monotonic()
    answers = [send(i) for i in range(count)]
    return answers, BURST + int((time.monotonic() - started) * PER_S)


def test_anonymous_venue_registration_is_limited_per_address(running_services: RunningServices) -> None:
    # Issue 12's finding: anonymous venue registration was unlimited. (First in the module: the tests below
    # spend ingest's per-address request allowance.)
    body = {"name": "Quán nước ven đường", "category": "cafe", "province_code": "38", "capacity": 10}
    answers = [httpx.post(f"{running_services.ingest}/v1/venues", json=body) for _ in range(5)]
    assert statuses(answers) == [201, 201, 201, 429, 429]
    assert answers[-1].json()["error"]["code"] == "rate_limited"
    assert answers[-1].headers["retry-after"] == "3600"


def test_a_forged_forwarded_address_does_not_escape_the_limit(running_services: RunningServices) -> None:
    # When one client sends twice its burst, each request claiming another address
    url = f"{running_services.safety_map}/v1/self-assessment/checklist"
    answers, most = in_a_row(
        2 * BURST,
        lambda i: httpx.get(
            url, headers={"x-forwarded-for": f"10.{i // 250}.{i % 250}.7", "x-real-ip": f"10.9.9.{i % 250}"}
        ),
    )
    # Then it is one client: its burst (and what it earned back meanwhile) is served, the rest told to slow down
    assert statuses(answers).count(200) <= most, (most, statuses(answers))
    refused = [answer for answer in answers if answer.status_code == 429]
    assert len(refused) >= 2 * BURST - most
    assert refused[0].json()["error"]["code"] == "rate_limited"
    assert int(refused[0].headers["retry-after"]) >= 1


def test_random_tokens_are_one_client_not_many(running_services: RunningServices) -> None:
    # When a client sends a new made-up bearer token with each request to a public endpoint
    url = f"{running_services.ingest}/openapi.json"
    answers, most = in_a_row(
        2 * BURST, lambda _: httpx.get(url, headers={"authorization": f"Bearer {secrets.token_hex(16)}"})
    )
    # Then the tokens do not make it a new client each time
    assert statuses(answers).count(429) >= 2 * BURST - most, (most, statuses(answers))


def test_guessing_tokens_is_stopped_and_the_real_token_still_works(running_services: RunningServices) -> None:
    tracer = running_services.tracer
    real = {"authorization": f"Bearer {running_services.ha_token}"}
    url = f"{tracer}/v1/cases/c_0000000000000000/contacts"
    # Given the health authority's token accepted once (an unknown case: 404 after the token check)
    assert httpx.get(url, headers=real).status_code == 404
    # When someone at another desk of the same address guesses 30 tokens
    guesses = [httpx.get(url, headers={"authorization": f"Bearer {secrets.token_urlsafe(32)}"}) for _ in range(30)]
    # Then only the first few are even checked (403); the rest are refused unchecked
    assert statuses(guesses).count(403) == FAILURE_BURST, statuses(guesses)
    assert statuses(guesses).count(429) == 30 - FAILURE_BURST
    # And the health authority, keyed on its own accepted token, is still served
    assert httpx.get(url, headers=real).status_code == 404
