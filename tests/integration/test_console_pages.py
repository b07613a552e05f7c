"""The health authority's console (issue 15; SPEC §3.4-§3.6, §4.1, §7): /y-te/, in a real browser at desktop size:
Debian's Chromium driven by Playwright, against the three services on a real Kafka and Redis, through the gateway
that serves every page and API on one address (`running_services.public`).

The page may reach nothing beyond loopback (every other request is aborted and recorded) and nothing the gateway's
Content-Security-Policy refuses; the credential lives in the tab's sessionStorage only and travels in the
Authorization header only. Histories of check-ins are made through the API first, as people's phones would.
Screenshots go to the test's tmp dir (their paths are printed); with `ANTOAN_SCREENSHOT` set (the map test's
`docs/map.png`), `console-case.png` and `console-alerts.png` are also written beside it.
"""

from __future__ import annotations

import csv
import io
import json
import random
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, ViewportSize

from antoan_localstack import access, client
from antoan_localstack.browser import PageContext, axe_violations, publish_screenshot
from antoan_localstack.testing import RunningServices, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.shared_services]

DESKTOP: ViewportSize = {"width": 1280, "height": 800}
VIETNAM = timezone(timedelta(hours=7))
PAGE_WAIT_MS = 30_000
# Long enough for the tracer and the safety map to act under a loaded suite.
SERVICE_WAIT_S = 60
CONSOLE = "/y-te/"
SESSION_KEY = "antoan.ha.session"


class Desk(PageContext):
    """A desktop screen (1280x800) at the console, downloads allowed; `PageContext` keeps what went wrong."""

    def __init__(self, browser: Browser, public: str, *, bypass_csp: bool = False) -> None:
        super().__init__(browser, DESKTOP, is_mobile=False, bypass_csp=bypass_csp, accept_downloads=True)
        self.public = public

    def open(self, fragment: str = "") -> Page:
        """Opens the console afresh (at a view's address with `fragment`) and waits for its script to be ready."""
        self.page.goto("about:blank")
        self.page.goto(f"{self.public}{CONSOLE}{fragment}")
        self.page.locator("body[data-ready='true']").wait_for(state="attached", timeout=PAGE_WAIT_MS)
        return self.page

    def sign_in(self, token: str) -> None:
        page = self.page
        page.locator("body[data-view='signin']").wait_for(timeout=PAGE_WAIT_MS)
        page.get_by_label("Mã truy cập").fill(token)
        page.get_by_role("button", name="Đăng nhập").click()
        page.locator("body:not([data-view='signin'])").wait_for(timeout=PAGE_WAIT_MS)

    def assert_clean(self, token: str) -> None:
        """The page stayed on this machine and within its CSP, and the credential never left the header."""
        self.assert_self_contained()
        assert token not in self.page.url
        assert all(token not in request.url for request in self.requests)
        assert token not in self.page.evaluate("() => JSON.stringify(localStorage)")
        for request in self.requests:
            if token in (request.headers.get("authorization") or ""):
                assert request.headers["authorization"] == f"Bearer {token}"


@pytest.fixture
def desk(browser: Browser, running_services: RunningServices) -> Iterator[Desk]:
    opened = Desk(browser, running_services.public)
    yield opened
    opened.close()


@pytest.fixture
def rng() -> random.Random:
    seed = random.randrange(1 << 30)
    print(f"seed: {seed}")
    return random.Random(seed)


def ha(services: RunningServices) -> dict[str, str]:
    return {"Authorization": f"Bearer {services.ha_token}"}


def phone_number(rng: random.Random) -> str:
    return "09" + "".join(rng.choice("0123456789") for _ in range(8))


def register_venue(services: RunningServices, name: str, **fields: Any) -> dict[str, str]:
    with httpx.Client(base_url=services.public, timeout=15) as public:
        return client.register_venue(public, name, **fields)


def scan(services: RunningServices, venue: dict[str, str], person: str, direction: str, at: datetime) -> str:
    """One scan of a venue's code from a person's phone; returns their person_key."""
    response = httpx.post(
        f"{services.public}/v1/checkins",
        json={
            "venue_qr": venue["qr"],
            "person_id": person,
            "direction": direction,
            "scanned_at": at.isoformat(),
            "app": "pc-covid",
        },
        timeout=10,
    )
    assert response.status_code == 202, response.text
    key: str = response.json()["person_key"]
    return key


def visit(services: RunningServices, venue: dict[str, str], person: str, start: datetime, end: datetime) -> str:
    """A person's visit, as their phone's two scans; returns their person_key."""
    scan(services, venue, person, "in", start)
    return scan(services, venue, person, "out", end)


def confirm_case(services: RunningServices, person: str, **extra: Any) -> dict[str, str]:
    body = {"person_id": person, "tested_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(), **extra}
    response = httpx.post(f"{services.public}/v1/cases", json=body, headers=ha(services), timeout=10)
    assert response.status_code == 202, response.text
    accepted: dict[str, str] = response.json()
    return accepted


def local_input(at: datetime) -> str:
    """A moment as a datetime-local field takes it, in Vietnam's time."""
    return at.astimezone(VIETNAM).strftime("%Y-%m-%dT%H:%M")


# --- signing in ---------------------------------------------------------------------------------------------------


def test_a_wrong_token_or_a_venue_key_is_refused_in_words_and_the_right_one_opens_the_console(
    running_services: RunningServices, desk: Desk, rng: random.Random
) -> None:
    # Given a venue with its own key, and the console with nobody signed in
    venue = register_venue(running_services, "Quán Bún Chả Lam Sơn")
    page = desk.open("#alerts")
    assert page.locator("#view-signin").is_visible()
    assert page.locator("#nav").is_hidden()

    # When someone signs in with a made-up token, then with the venue's API key
    for wrong in ("not-the-token-" + str(rng.randrange(10**6)), venue["api_key"]):
        page.get_by_label("Mã truy cập").fill(wrong)
        with page.expect_response(lambda r: "/v1/cases/" in r.url) as answer:
            page.get_by_role("button", name="Đăng nhập").click()
        # Then the service refused it (403) and the page says so in words, and keeps nothing
        assert answer.value.status == 403
        page.get_by_text("không phải mã của cơ quan y tế").wait_for(timeout=PAGE_WAIT_MS)
        assert page.locator("#view-signin").is_visible()
        assert page.evaluate(f"() => sessionStorage.getItem('{SESSION_KEY}')") is None

    # When the health authority's token is given
    desk.sign_in(running_services.ha_token)

    # Then the console opens at the view asked for, the token kept in this tab's sessionStorage only
    page.locator("#view-alerts").wait_for(state="visible", timeout=PAGE_WAIT_MS)
    assert page.get_by_role("navigation").is_visible()
    assert page.evaluate(f"() => sessionStorage.getItem('{SESSION_KEY}')") == running_services.ha_token
    assert running_services.ha_token not in page.evaluate("() => JSON.stringify(localStorage)")

    # And signing out forgets it and shows sign-in again
    page.get_by_role("button", name="Đăng xuất").click()
    page.locator("#view-signin").wait_for(state="visible", timeout=PAGE_WAIT_MS)
    assert page.evaluate(f"() => sessionStorage.getItem('{SESSION_KEY}')") is None
    page.get_by_text("Bạn đã đăng xuất.").wait_for(timeout=PAGE_WAIT_MS)
    desk.assert_clean(running_services.ha_token)


def test_without_the_credential_every_console_api_answers_401_and_the_page_asks_to_sign_in(
    running_services: RunningServices, desk: Desk
) -> None:
    public = running_services.public
    person_key = "0" * 64
    venue = register_venue(running_services, "Nhà thuốc Đông Sơn")
    calls = [
        ("POST", "/v1/cases", {"json": {"person_id": "0912345678", "tested_at": datetime.now(UTC).isoformat()}}),
        ("GET", "/v1/cases/c_0000000000000000/contacts", {}),
        ("GET", "/v1/cases/c_0000000000000000/contacts.csv", {}),
        ("GET", f"/v1/persons/{person_key}", {}),
        ("PUT", "/v1/areas", {"content": b"area_code,area_kind,name\n", "headers": {"Content-Type": "text/csv"}}),
        ("POST", f"/v1/venues/{venue['venue_id']}/clearance", {"json": {}}),
        ("GET", "/v1/cases/c_0000000000000000/contacts/stream", {}),
        ("GET", "/v1/alerts?status=open", {}),
        ("POST", "/v1/alerts/a_0000000000000000/acknowledge", {}),
        ("GET", "/v1/alerts/stream", {}),
        ("GET", "/v1/audit?limit=1", {}),
    ]
    # Given no credential, every health-authority API refuses with 401 and its code
    for method, path, options in calls:
        response = httpx.request(method, f"{public}{path}", timeout=10, **options)
        assert response.status_code == 401, (method, path, response.status_code, response.text)
        assert response.json()["error"]["code"] == "token_required", (method, path)
    # And a venue's key or an agency's Kafka password is refused with 403 by every one of them (each sent from
    # a loopback address of its own: the services slow down an address after 20 refused credentials)
    # (an agency's Kafka password: the stack's own on a SASL broker; on the test's plaintext broker agencies have
    # none, so a fresh one made as the stack makes them)
    agency = running_services.env.get(access.password_variable(access.AGENCY)) or secrets.token_urlsafe(32)
    for source, credential in (("127.0.0.61", venue["api_key"]), ("127.0.0.62", agency)):
        transport = httpx.HTTPTransport(local_address=source)
        with httpx.Client(transport=transport, timeout=10) as caller:
            for method, path, options in calls:
                headers = {**options.get("headers", {}), "Authorization": f"Bearer {credential}"}
                answer = caller.request(method, f"{public}{path}", **{**options, "headers": headers})
                assert answer.status_code == 403, (source, method, path, answer.status_code, answer.text)
                assert answer.json()["error"]["code"], (method, path)

    # And the page shows sign-in at every view's address
    for fragment in ("", "#confirm", "#case/c_0000000000000000", "#alerts", "#areas", "#audit"):
        page = desk.open(fragment)
        assert page.locator("#view-signin").is_visible(), fragment
        assert page.locator("#view-case, #view-alerts, #view-areas, #view-audit, #view-confirm").evaluate_all(
            "views => views.every(v => v.hidden)"
        ), fragment

    # When the tab's credential stops being accepted (here: replaced by a wrong one) while a view is open
    page = desk.open()
    page.evaluate(f"() => sessionStorage.setItem('{SESSION_KEY}', 'a-token-that-was-revoked')")
    page.goto(f"{public}{CONSOLE}#areas")
    page.goto(f"{public}{CONSOLE}#case/c_0000000000000000")
    # Then the first refused call returns the page to sign-in with a message, and the credential is gone
    page.get_by_text("không phải mã của cơ quan y tế").wait_for(timeout=PAGE_WAIT_MS)
    assert page.locator("#view-signin").is_visible()
    assert page.evaluate(f"() => sessionStorage.getItem('{SESSION_KEY}')") is None


# --- a case -------------------------------------------------------------------------------------------------------


def test_a_confirmed_case_shows_its_f1_and_f2_live_with_degrees_and_the_csv_downloads(
    running_services: RunningServices, desk: Desk, rng: random.Random, tmp_path: Path
) -> None:
    # Given a person who was at two venues, two people there with them, and one who later met one of those two
    now = datetime.now(UTC).replace(microsecond=0)
    hall = register_venue(running_services, "Nhà hàng Sông Mã")
    cafe = register_venue(running_services, "Cà phê Hàm Rồng")
    market = register_venue(running_services, "Chợ Vườn Hoa")
    patient, at_hall, at_cafe, later, forgetful = (phone_number(rng) for _ in range(5))
    visit(running_services, hall, patient, now - timedelta(hours=4), now - timedelta(hours=3))
    visit(running_services, cafe, patient, now - timedelta(hours=2, minutes=40), now - timedelta(hours=2, minutes=10))
    f1_hall = visit(
        running_services, hall, at_hall, now - timedelta(hours=3, minutes=50), now - timedelta(hours=3, minutes=20)
    )
    f1_cafe = visit(running_services, cafe, at_cafe, now - timedelta(hours=2, minutes=30), now - timedelta(hours=2))
    visit(running_services, market, at_hall, now - timedelta(hours=1, minutes=30), now - timedelta(hours=1))
    f2 = visit(running_services, market, later, now - timedelta(hours=1, minutes=20), now - timedelta(minutes=50))
    # and one who checked in at the hall before the case without checking out: the 60-minute automatic check-out
    # puts them there inside the case's window (from an hour before the case came), until their "out" arrives late
    forgot_out_at = now - timedelta(hours=5, minutes=30)
    withdrawn = scan(running_services, hall, forgetful, "in", forgot_out_at)
    expected = {f1_hall: 1, f1_cafe: 1, f2: 2, withdrawn: 1}

    # When the health authority signs in and confirms the case with the form
    page = desk.open("#confirm")
    desk.sign_in(running_services.ha_token)
    page.get_by_label("Số điện thoại hoặc số CCCD/CMND/hộ chiếu của người bệnh").fill(patient)
    page.get_by_label("Thời điểm lấy mẫu xét nghiệm").fill(local_input(now - timedelta(minutes=2)))
    page.get_by_label("Mã tỉnh/thành phố").fill("38")
    page.get_by_label("Mã phường/xã").fill("1475")  # a digit short: said under the field, nothing sent
    page.get_by_role("button", name="Xác nhận ca bệnh").click()
    page.get_by_text("Nhập đúng 5 chữ số, hoặc để trống.").wait_for(timeout=PAGE_WAIT_MS)
    assert not [r for r in desk.requests if r.url.endswith("/v1/cases") and r.method == "POST"]
    page.get_by_label("Mã phường/xã").fill("14755")
    with page.expect_response(lambda r: r.url.endswith("/v1/cases") and r.request.method == "POST") as answer:
        page.get_by_role("button", name="Xác nhận ca bệnh").click()
    assert answer.value.status == 202, answer.value.text()
    case_id = answer.value.json()["case_id"]
    sent = answer.value.request.post_data_json
    assert sent["person_id"] == patient and sent["province_code"] == "38" and sent["ward_code"] == "14755", sent
    assert "district_code" not in sent and "case_id" not in sent

    # Then the case's page opens and every contact arrives on it without a reload, at its degree
    page.wait_for_url(f"**{CONSOLE}#case/{case_id}", timeout=PAGE_WAIT_MS)
    page.evaluate("() => { window.sameDocument = true; }")
    for key, degree in expected.items():
        row = page.locator(f"#contact-rows tr[data-person-key='{key}'][data-state='current']")
        row.wait_for(timeout=SERVICE_WAIT_S * 1000)
        assert row.get_attribute("data-degree") == str(degree), key
    wait_for(lambda: page.locator("#count-f1").inner_text() == "3", timeout=10, what="three F1 counted")
    assert page.locator("#count-f2").inner_text() == "1"
    assert page.locator("#contact-rows tr").count() == len(expected)

    # When the forgetful one's check-out arrives late (twenty minutes after they came, before the case's window)
    scan(running_services, hall, forgetful, "out", forgot_out_at + timedelta(minutes=20))
    del expected[withdrawn]
    # Then their line stays, struck through and marked withdrawn, and the counts leave them out
    row = page.locator(f"#contact-rows tr.withdrawn[data-person-key='{withdrawn}'][data-state='withdrawn']")
    row.wait_for(timeout=SERVICE_WAIT_S * 1000)
    assert "Đã rút" in row.inner_text()
    assert "line-through" in row.locator("td").first.evaluate("cell => getComputedStyle(cell).textDecorationLine")
    wait_for(lambda: page.locator("#count-f1").inner_text() == "2", timeout=10, what="two F1 counted")
    assert page.locator("#count-withdrawn").inner_text() == "1"
    assert page.evaluate("() => window.sameDocument === true"), "the page was reloaded"
    # The venues by name, the F2's source named as an F1, the time to the last contact given
    assert "Nhà hàng Sông Mã" in page.locator(f"tr[data-person-key='{f1_hall}']").inner_text(timeout=PAGE_WAIT_MS)
    wait_for(
        lambda: "Chợ Vườn Hoa" in page.locator(f"tr[data-person-key='{f2}']").inner_text(), timeout=10, what="venue"
    )
    assert f"F1 {f1_hall[:10]}" in page.locator(f"tr[data-person-key='{f2}']").inner_text()
    assert page.locator("#last-label").inner_text() == "Từ lúc xác nhận đến F1/F2 cuối cùng được tìm thấy"
    assert page.locator("#to-last").inner_text() != "Chưa có"

    shot = tmp_path / "console-case.png"
    page.screenshot(path=str(shot), full_page=True)
    publish_screenshot(shot, "console-case.png")

    # When the CSV is asked for, then it downloads with the token, a line per contact
    with page.expect_download(timeout=PAGE_WAIT_MS) as download:
        page.get_by_role("button", name="Tải danh sách (CSV)").click()
    text = Path(download.value.path()).read_text("utf-8-sig")
    lines = list(csv.DictReader(io.StringIO(text)))
    assert {line["person_key"]: int(line["degree"]) for line in lines} == expected

    # And in English the same list reads in English
    page.get_by_role("button", name="EN", exact=True).click()
    page.get_by_role("button", name="Download the list (CSV)").wait_for(timeout=PAGE_WAIT_MS)
    assert page.locator("#count-f1").inner_text() == "2"
    page.get_by_role("button", name="VI", exact=True).click()
    desk.assert_clean(running_services.ha_token)


def test_revealing_a_contacts_details_shows_them_and_is_a_new_line_of_the_access_log(
    running_services: RunningServices, desk: Desk, rng: random.Random, tmp_path: Path
) -> None:
    # Given a confirmed case with one F1
    now = datetime.now(UTC).replace(microsecond=0)
    venue = register_venue(running_services, "Tiệm bánh Bỉm Sơn")
    patient, contact = phone_number(rng), phone_number(rng)
    visit(running_services, venue, patient, now - timedelta(hours=3), now - timedelta(hours=2))
    f1 = visit(running_services, venue, contact, now - timedelta(hours=2, minutes=30), now - timedelta(hours=1))
    case = confirm_case(running_services, patient)

    # When the health authority opens the case and reveals the F1's details
    page = desk.open(f"#case/{case['case_id']}")
    desk.sign_in(running_services.ha_token)
    row = page.locator(f"#contact-rows tr[data-person-key='{f1}']")
    row.wait_for(timeout=SERVICE_WAIT_S * 1000)
    with page.expect_response(lambda r: f"/v1/persons/{f1}" in r.url) as answer:
        row.get_by_role("button", name="Xem thông tin liên hệ").click()
    assert answer.value.status == 200, answer.value.text()
    # Then the row shows the person's number (the vault's identifier) instead of the button
    wait_for(lambda: contact[-6:] in row.locator("td.details").inner_text(), timeout=10, what="the details shown")
    assert row.get_by_role("button", name="Xem thông tin liên hệ").count() == 0

    # And the access log has a line for that person
    page.get_by_role("link", name="Nhật ký truy cập").click()
    page.locator(f"#audit-rows tr[data-person-keys~='{f1}']").first.wait_for(timeout=SERVICE_WAIT_S * 1000)
    shot = tmp_path / "console-audit.png"
    page.screenshot(path=str(shot))
    publish_screenshot(shot, "console-audit.png")
    desk.assert_clean(running_services.ha_token)


def test_a_dropped_stream_is_opened_again_and_what_it_no_longer_sends_is_marked_withdrawn(
    running_services: RunningServices, desk: Desk
) -> None:
    # Given a case's stream that the server ends after each answer: first two contacts (one of them corrected from
    # F2 to F1), then only one of them
    first, second = "a" * 64, "b" * 64
    answers = [
        [
            contact_event(first, 2, source=second),
            contact_event(second, 2, source=first),
            contact_event(first, 1),  # a correction: F1 after all
            'event: ready\ndata: {"count": 2}\n\n',
        ],
        [contact_event(first, 1), ": keep-alive\n\n", 'event: ready\ndata: {"count": 1}\n\n'],
    ]
    asked: list[str] = []

    def stream(route: Route) -> None:
        asked.append(route.request.headers.get("authorization", ""))
        body = "".join(answers[min(len(asked), len(answers)) - 1])
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body=body)

    page = desk.open()
    desk.sign_in(running_services.ha_token)
    page.route("**/v1/cases/c_stream_test/contacts/stream", stream)

    # When the case's page reads it
    page.goto(f"{running_services.public}{CONSOLE}#case/c_stream_test")

    # Then both contacts come, the correction marked as one, the stream is asked for again once it ends (with the
    # credential each time), and the contact the new connection no longer sends is kept, marked withdrawn
    page.locator(f"#contact-rows tr[data-person-key='{first}'][data-degree='1']").wait_for(timeout=PAGE_WAIT_MS)
    page.locator(f"#contact-rows tr[data-person-key='{second}'][data-state='withdrawn']").wait_for(timeout=PAGE_WAIT_MS)
    for _ in range(60):  # Playwright serves the route only while it is called: wait in the page, not in sleep
        if len(asked) >= 3:
            break
        page.wait_for_timeout(500)
    assert len(asked) >= 3, "the stream was not asked for again"
    assert set(asked) == {f"Bearer {running_services.ha_token}"}
    # (a keyboard user's place kept while the list is redrawn)
    page.locator(f"#contact-rows tr[data-person-key='{first}'] button").focus()
    for _ in range(6):  # the stream keeps ending and being asked for again, redrawing the list each time
        page.wait_for_timeout(500)
    assert page.evaluate("() => document.activeElement.closest('tr').dataset.personKey") == first
    corrected = page.locator(f"#contact-rows tr[data-person-key='{first}']")
    assert corrected.get_attribute("data-state") == "corrected"
    assert "Đã sửa (trước: F2" in corrected.inner_text()
    assert page.locator("#count-f1").inner_text() == "1"
    assert page.locator("#count-f2").inner_text() == "0"

    # And the parser takes events however the bytes are cut
    events = page.evaluate(
        r"""() => {
            const text = 'event: contact\r\ndata: {"person_key": "x",\r\ndata:  "degree": 2}\r\n\r\n'
                + ': comment\n\nevent: ready\ndata: {"count": 1}\n\n';
            const seen = [];
            for (let size = 1; size <= text.length; size += 1) {
                let buffer = '';
                for (let at = 0; at < text.length; at += size) {
                    const emit = (name, data) => seen.push([size, name, data]);
                    buffer = AntoanSse.parse(buffer + text.slice(at, at + size), emit);
                }
            }
            return seen;
        }"""
    )
    sizes = len(set(size for size, _, _ in events))
    assert len(events) == 2 * sizes
    assert all(name == "contact" and data == {"person_key": "x", "degree": 2} for _, name, data in events[0::2])
    assert all(name == "ready" and data == {"count": 1} for _, name, data in events[1::2])
    desk.assert_clean(running_services.ha_token)


def contact_event(person_key: str, degree: int, source: str | None = None) -> str:
    item = {
        "person_key": person_key,
        "degree": degree,
        "venue_id": None,
        "window_start": None,
        "window_end": None,
        "exposed_at": "2021-07-20T08:00:00+07:00",
        "source_person_key": source,
        "withdrawn": False,
    }
    return f"event: contact\ndata: {json.dumps(item)}\n\n"


# --- quarantine alerts --------------------------------------------------------------------------------------------


def test_a_fever_in_quarantine_appears_live_in_the_alert_list_and_is_acknowledged(
    running_services: RunningServices, desk: Desk, rng: random.Random, tmp_path: Path
) -> None:
    # Given the alert list open
    page = desk.open("#alerts")
    desk.sign_in(running_services.ha_token)
    page.locator("#view-alerts").wait_for(state="visible", timeout=PAGE_WAIT_MS)
    page.evaluate("() => { window.sameDocument = true; }")

    # When a person in quarantine declares 38.5 °C
    person = phone_number(rng)
    response = httpx.post(
        f"{running_services.public}/v1/declarations",
        json={"kind": "quarantine_daily", "person_id": person, "temperature_c": 38.5, "symptoms": ["fever"]},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    person_key = response.json()["person_key"]

    # Then their alert appears without a reload, with the temperature
    row = page.locator(f"#alert-rows tr[data-person-key='{person_key}'][data-state='open']").first
    row.wait_for(timeout=SERVICE_WAIT_S * 1000)
    assert "38,5 °C" in row.inner_text()
    assert page.evaluate("() => window.sameDocument === true")
    shot = tmp_path / "console-alerts.png"
    page.screenshot(path=str(shot), full_page=True)
    publish_screenshot(shot, "console-alerts.png")

    # When it is acknowledged, then it is marked so, and the service no longer lists it as open
    alert_id = row.get_attribute("data-alert-id")
    with page.expect_response(lambda r: r.url.endswith(f"/v1/alerts/{alert_id}/acknowledge")) as answer:
        row.get_by_role("button", name="Tiếp nhận").click()
    assert answer.value.ok, answer.value.text()
    page.locator(f"#alert-rows tr[data-alert-id='{alert_id}'][data-state='acknowledged']").wait_for(
        timeout=PAGE_WAIT_MS
    )
    still_open = httpx.get(f"{running_services.public}/v1/alerts?status=open", headers=ha(running_services), timeout=10)
    assert alert_id not in still_open.text
    desk.assert_clean(running_services.ha_token)


# --- areas and venues ---------------------------------------------------------------------------------------------

AREA_HEADER = "area_code,area_kind,name,parent_code,population,vaccination_coverage\n"


def area_level(services: RunningServices, code: str) -> dict[str, Any] | None:
    response = httpx.get(f"{services.public}/v1/areas/{code}/risk", timeout=10)
    return response.json() if response.status_code == 200 else None


def test_an_area_csv_changes_an_areas_level_on_the_areas_view_and_row_errors_are_shown(
    running_services: RunningServices, desk: Desk, rng: random.Random, tmp_path: Path
) -> None:
    # Given a ward of 1,000,000 people with one new case this week: level 1
    ward = "2" + "".join(rng.choice("0123456789") for _ in range(4))
    loaded = httpx.put(
        f"{running_services.public}/v1/areas",
        content=(AREA_HEADER + f"{ward},ward,Phường Thử {ward},,1000000,\n").encode(),
        headers={**ha(running_services), "Content-Type": "text/csv"},
        timeout=10,
    )
    assert loaded.status_code == 202, loaded.text
    confirm_case(running_services, phone_number(rng), ward_code=ward)
    wait_for(
        lambda: (area_level(running_services, ward) or {}).get("cases_7d") == 1, timeout=SERVICE_WAIT_S, what="the case"
    )
    assert (area_level(running_services, ward) or {})["level"] == 1

    page = desk.open("#areas")
    desk.sign_in(running_services.ha_token)
    row = page.locator(f"#area-rows tr[data-area-code='{ward}']")
    row.wait_for(timeout=PAGE_WAIT_MS)
    assert row.get_attribute("data-level") == "1"

    # When a CSV with a bad row is uploaded, then the row's error is shown and nothing changes
    bad = tmp_path / "bad.csv"
    bad.write_text(AREA_HEADER + f"{ward},ward,Phường Thử,,-5,\n", "utf-8")
    page.get_by_label("Tệp CSV").set_input_files(str(bad))
    with page.expect_response(lambda r: r.url.endswith("/v1/areas") and r.request.method == "PUT") as answer:
        page.get_by_role("button", name="Tải lên").click()
    assert answer.value.status == 400
    page.locator("#upload-result .row-errors li").first.wait_for(timeout=PAGE_WAIT_MS)
    assert page.locator("#upload-result .row-errors li").first.inner_text().startswith("Dòng 1")

    # When the ward's population is corrected to 2,000 (50 cases per 100,000: level 3)
    good = tmp_path / "areas.csv"
    good.write_text(AREA_HEADER + f"{ward},ward,Phường Thử {ward},,2000,\n", "utf-8")
    page.get_by_label("Tệp CSV").set_input_files(str(good))
    page.get_by_role("button", name="Tải lên").click()
    page.get_by_text("Đã nhận 1 khu vực").wait_for(timeout=PAGE_WAIT_MS)

    # Then the areas view shows level 3 without anyone reloading it
    page.locator(f"#area-rows tr[data-area-code='{ward}'][data-level='3']").wait_for(timeout=SERVICE_WAIT_S * 1000)
    assert "Nguy cơ cao" in page.locator(f"#area-rows tr[data-area-code='{ward}']").inner_text()
    shot = tmp_path / "console-areas.png"
    page.screenshot(path=str(shot))
    publish_screenshot(shot, "console-areas.png")
    desk.assert_clean(running_services.ha_token)


def test_clearing_a_red_venue_after_disinfection_turns_it_green_on_the_map_and_in_the_console(
    running_services: RunningServices, desk: Desk, rng: random.Random
) -> None:
    # Given a venue (in a province with no area data) where a confirmed case was an hour ago: level 4
    now = datetime.now(UTC).replace(microsecond=0)
    name = f"Karaoke Hạc Thành {rng.randrange(10**6)}"
    venue = register_venue(running_services, name, province_code="01", lat=21.03, lon=105.85, address="")
    patient = phone_number(rng)
    visit(running_services, venue, patient, now - timedelta(hours=2), now - timedelta(hours=1))
    confirm_case(running_services, patient)
    map_view = f"{running_services.public}/v1/map/venues/{venue['venue_id']}"
    wait_for(lambda: httpx.get(map_view, timeout=10).json().get("level") == 4, timeout=SERVICE_WAIT_S, what="level 4")

    # When the health authority finds it by name and clears it with the disinfection report's reference
    page = desk.open("#areas")
    desk.sign_in(running_services.ha_token)
    page.get_by_label("Tên, địa chỉ hoặc mã địa điểm").fill(name)
    page.get_by_role("button", name="Tìm").click()
    detail = page.locator(f"#venue-detail[data-venue-id='{venue['venue_id']}']")
    detail.wait_for(timeout=PAGE_WAIT_MS)
    assert detail.get_attribute("data-level") == "4"
    assert "Ca bệnh có mặt trong 72 giờ qua" in detail.inner_text()
    page.get_by_label("Ghi chú (số biên bản khử khuẩn)").fill("Biên bản 12/KK")
    with page.expect_response(lambda r: r.url.endswith("/clearance")) as answer:
        page.get_by_role("button", name="Gỡ cảnh báo địa điểm").click()
    assert answer.value.status == 202, answer.value.text()

    # Then the console shows it at level 1, and so does the public map's view of it
    page.locator(f"#venue-detail[data-venue-id='{venue['venue_id']}'][data-level='1']").wait_for(
        timeout=SERVICE_WAIT_S * 1000
    )
    assert httpx.get(map_view, timeout=10).json()["level"] == 1
    desk.assert_clean(running_services.ha_token)


# --- accessibility ------------------------------------------------------------------------------------------------


def test_the_console_has_no_serious_accessibility_violation_in_either_language(
    running_services: RunningServices, browser: Browser, rng: random.Random
) -> None:
    # Given a case with a contact, so that the case's page has rows
    now = datetime.now(UTC).replace(microsecond=0)
    venue = register_venue(running_services, "Nhà sách Lam Kinh")
    patient = phone_number(rng)
    visit(running_services, venue, patient, now - timedelta(hours=3), now - timedelta(hours=2))
    f1 = visit(
        running_services, venue, phone_number(rng), now - timedelta(hours=2, minutes=30), now - timedelta(hours=1)
    )
    case = confirm_case(running_services, patient)
    # And a context where axe-core may be injected (the gateway's CSP would refuse it)
    desk = Desk(browser, running_services.public, bypass_csp=True)
    try:
        page = desk.open()
        for language in ("vi", "en"):
            page.get_by_role("button", name=language.upper(), exact=True).click()
            page.locator("#view-signin").wait_for(state="visible", timeout=PAGE_WAIT_MS)
            assert axe_violations(page) == [], (language, "sign-in")
        page.get_by_role("button", name="VI", exact=True).click()
        desk.sign_in(running_services.ha_token)
        page.goto(f"{running_services.public}{CONSOLE}#case/{case['case_id']}")
        page.locator(f"#contact-rows tr[data-person-key='{f1}']").wait_for(timeout=SERVICE_WAIT_S * 1000)
        for language in ("vi", "en"):
            page.get_by_role("button", name=language.upper(), exact=True).click()
            for fragment in ("#confirm", f"#case/{case['case_id']}", "#alerts", "#areas", "#audit"):
                page.goto(f"{running_services.public}{CONSOLE}{fragment}")
                page.locator("body[data-ready='true']").wait_for(state="attached", timeout=PAGE_WAIT_MS)
                page.locator(f"#view-{fragment[1:].split('/')[0]}").wait_for(state="visible", timeout=PAGE_WAIT_MS)
                assert axe_violations(page) == [], (language, fragment)
        # And on a tablet held upright the console still fits its width (wide tables scroll inside their card)
        page.set_viewport_size({"width": 768, "height": 1024})
        for fragment in ("#confirm", f"#case/{case['case_id']}", "#areas"):
            page.goto(f"{running_services.public}{CONSOLE}{fragment}")
            page.locator(f"#view-{fragment[1:].split('/')[0]}").wait_for(state="visible", timeout=PAGE_WAIT_MS)
            assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"), fragment
        assert not desk.refused and not desk.errors, (desk.refused, desk.errors)
    finally:
        desk.close()
