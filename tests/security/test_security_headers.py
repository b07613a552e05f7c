"""Every answer of every service carries the security headers, and personal data is never stored by a cache.

Issue 12's finding: security headers only on the map page, and answers with personal data (a case's
contacts, a venue's visitors) had no `Cache-Control: no-store`, so a shared or browser cache could keep them.
Now one middleware (`antoan_shared.web.SecurityHeaders`, outermost) sets them on every answer, the
middlewares' own refusals (413) included, unless a route sets its own (the pages' CSP, the stream's cache).
"""

from __future__ import annotations

import httpx
import pytest

from antoan_localstack.testing import RunningServices

pytestmark = [pytest.mark.integration, pytest.mark.shared_services]


def assert_guarded(answer: httpx.Response, *, data: bool = True) -> None:
    what = f"{answer.request.method} {answer.request.url.path} ({answer.status_code})"
    assert answer.headers.get("x-content-type-options") == "nosniff", what
    assert answer.headers.get("referrer-policy") == "no-referrer", what
    assert answer.headers.get("x-frame-options") == "DENY", what
    if data:  # JSON, CSV, images: they may load nothing and are never stored
        assert answer.headers.get("content-security-policy") == "default-src 'none'; frame-ancestors 'none'", what
        assert answer.headers.get("cache-control") == "no-store", what


def test_every_service_answers_with_the_headers_on_success_and_on_refusal(running_services: RunningServices) -> None:
    for base in (running_services.ingest, running_services.tracer, running_services.safety_map):
        assert_guarded(httpx.get(f"{base}/healthz"))
        assert_guarded(httpx.get(f"{base}/no/such/path"))  # the router's 404
        assert_guarded(httpx.delete(f"{base}/healthz"))  # the router's 405
        # A refusal by a middleware, before any route: a body over the limit
        assert_guarded(httpx.post(f"{base}/v1/anything", content=b"x" * 2_000_000))


def test_personal_data_is_never_stored(running_services: RunningServices) -> None:
    services = running_services
    venue = httpx.post(
        f"{services.ingest}/v1/venues",
        json={"name": "Nhà thuốc Minh Châu", "category": "shop", "province_code": "38", "capacity": 10},
    )
    assert venue.status_code == 201, venue.text
    venue_id, key = venue.json()["venue_id"], venue.json()["api_key"]
    owner = {"authorization": f"Bearer {key}"}
    health_authority = {"authorization": f"Bearer {services.ha_token}"}

    check_in = httpx.post(
        f"{services.ingest}/v1/checkins",
        json={"venue_qr": venue.json()["qr"], "person_id": "0913000777", "direction": "in", "app": "pc-covid"},
    )
    assert check_in.status_code == 202, check_in.text
    assert_guarded(check_in)
    assert_guarded(venue)  # it carries the venue's key
    assert_guarded(httpx.get(f"{services.ingest}/v1/venues/{venue_id}/qr.png", headers=owner))
    assert_guarded(httpx.get(f"{services.tracer}/v1/venues/{venue_id}/visits", headers=owner))
    assert_guarded(httpx.get(f"{services.tracer}/v1/venues/{venue_id}/visits.csv", headers=owner))
    assert_guarded(httpx.get(f"{services.tracer}/v1/cases/c_0000000000000000/contacts", headers=health_authority))
    found = httpx.post(
        f"{services.ingest}/v1/persons/search",
        headers=health_authority,
        json={"kind": "phone", "value": "0913000777", "purpose": "kiểm tra tiêu đề bảo mật"},
    )
    assert_guarded(found)


def test_pages_keep_their_own_policy_and_files_are_revalidated(running_services: RunningServices) -> None:
    page = httpx.get(f"{running_services.safety_map}/")
    assert page.status_code == 200
    assert_guarded(page, data=False)
    assert "default-src 'none'" not in page.headers["content-security-policy"]  # the page's own, scripts allowed
    asset = httpx.get(f"{running_services.safety_map}/static/app.js")
    assert asset.status_code == 200
    assert_guarded(asset, data=False)
    assert asset.headers["cache-control"] == "no-cache"  # revalidated by its ETag, not fetched whole each time
    docs = httpx.get(f"{running_services.tracer}/docs")
    assert docs.status_code == 200
    assert_guarded(docs, data=False)
    assert "script-src" in docs.headers["content-security-policy"]
