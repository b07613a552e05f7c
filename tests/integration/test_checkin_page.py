"""The check-in page a venue's QR code opens in any phone camera (issue 14, item 2; SPEC §3.2, §3.3, §4.1), in a
real browser at phone size: headless Chromium (Debian's) driven by Playwright, against the three services on a
real Kafka and Redis, through the gateway that serves every page and API on one address (`running_services.public`).

The pages may reach nothing beyond loopback: every other request is aborted and recorded, and so is every
refusal by the gateway's Content-Security-Policy. The offline test takes the network away altogether
(`set_offline`): the service worker must open the page, and IndexedDB keep the scan until the phone is back;
then it loses the answer to the upload, so that the scan is sent twice and must be counted once.
Screenshots go to the test's tmp dir (their paths are printed); with `ANTOAN_SCREENSHOT` set (the map test's
`docs/map.png`), the phone ones are also written beside it as `checkin-phone.png` and `checkin-done-phone.png`,
which is how the README's pictures are made.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, Page, Request, Route

from antoan_localstack.browser import PHONE, PageContext, axe_violations, publish_screenshot
from antoan_localstack.client import occupancy, occupancy_reaches, register_venue
from antoan_localstack.testing import RunningServices, TopicReader, wait_for
from antoan_shared import events, topics

pytestmark = [pytest.mark.integration, pytest.mark.shared_services]

T = TypeVar("T")

VIETNAM = timezone(timedelta(hours=7))
# Long enough for a venue registered a moment ago to reach the safety map under a loaded suite.
SERVICE_WAIT_S = 60
PAGE_WAIT_MS = 30_000
RETRY_WAIT_MS = 30_000  # checkin.js UPLOAD_RETRY_MS: how soon the page tries again after a failed upload
# The risk badge's green (app/base.css --ok: the map's green a shade darker, for white text on it).
BADGE_GREEN = "rgb(30, 123, 52)"


class Phone(PageContext):
    """A phone (Vietnam's time zone) in which only loopback answers (`PageContext`); the check-ins its page sent
    are kept too."""

    def __init__(self, browser: Browser, *, bypass_csp: bool = False) -> None:
        super().__init__(browser, PHONE, is_mobile=True, bypass_csp=bypass_csp)
        self.sent: list[dict[str, Any]] = []  # every check-in item the page POSTed, batches unpacked
        self.context.on("request", self._on_request)

    def _on_request(self, request: Request) -> None:
        if request.method != "POST" or not request.url.split("?")[0].endswith(("/v1/checkins", "/v1/checkins/batch")):
            return
        body = json.loads(request.post_data or "{}")
        self.sent.extend(body.get("items", [body]))

    def open(self, url: str) -> None:
        """Opens a check-in page and waits until it has made up its mind (the venue, or a refusal)."""
        self.page.goto(url)
        self.page.locator("body:not([data-state='loading'])").wait_for(state="attached", timeout=PAGE_WAIT_MS)

    def sends_of(self, client_event_id: str) -> int:
        return sum(1 for item in self.sent if item.get("client_event_id") == client_event_id)


@pytest.fixture
def phone(browser: Browser) -> Iterator[Phone]:
    with Phone(browser) as opened:
        yield opened


def register(public: httpx.Client, name: str, address: str, **extra: Any) -> dict[str, str]:
    area = {"district_code": "380", "ward_code": "14755"}
    return register_venue(public, name, **{"category": "cafe", "address": address, **area, **extra})


def poster_url(public: httpx.Client, venue: dict[str, str]) -> str:
    """What a phone camera reads from the venue's printed poster: its PNG QR code, decoded."""
    response = public.get(
        f"/v1/venues/{venue['venue_id']}/qr.png", headers={"authorization": f"Bearer {venue['api_key']}"}
    )
    assert response.status_code == 200, response.text
    codes = zxingcpp.read_barcodes(Image.open(io.BytesIO(response.content)))
    assert len(codes) == 1, codes
    return codes[0].text


def wait_on(page: Page, condition: Callable[[], T | None], what: str) -> T:
    """`wait_for`, with the page's events handled meanwhile (its routes, its requests): Playwright's sync API
    handles them only within a call of its own."""

    def pumped() -> T | None:
        page.wait_for_timeout(100)
        return condition()

    return wait_for(pumped, timeout=SERVICE_WAIT_S, what=what)


def check_ins_at(reader: TopicReader, venue_id: str) -> list[events.CheckInRecorded]:
    return [e for e in reader.read() if isinstance(e, events.CheckInRecorded) and e.venue_id == venue_id]


def test_a_visitor_checks_in_from_the_poster_and_household_members_count_too(
    running_services: RunningServices, public: httpx.Client, phone: Phone, tmp_path: Path
) -> None:
    # Given a café registered through the gateway, and what a phone camera reads off its printed poster
    venue = register(public, "Cà phê Hạc Thành", "25 Hạc Thành, Phường Điện Biên, TP Thanh Hóa")
    url = poster_url(public, venue)
    assert url == f"{running_services.public}/c/{venue['qr']}"
    page = phone.page

    # When the poster's address is opened
    phone.open(url)
    # Then the page names the venue, with its address and its risk level in colour and words
    assert page.locator("#venue-name").inner_text() == "Cà phê Hạc Thành"
    assert "25 Hạc Thành" in page.locator("#venue-meta").inner_text()
    badge = page.locator('#venue-risk[data-level="1"]')
    badge.wait_for(timeout=PAGE_WAIT_MS)  # the safety map knows the venue a moment after its registration
    assert badge.inner_text() == "Cấp độ 1: Nguy cơ thấp (bình thường mới)"
    assert badge.evaluate("element => getComputedStyle(element).backgroundColor") == BADGE_GREEN
    assert page.evaluate("() => document.documentElement.lang") == "vi"

    # When the visitor types their phone number once and taps "Vào"
    page.get_by_label("Số điện thoại hoặc số CCCD/CMND/hộ chiếu").fill("0912 345 678")
    page.get_by_role("button", name="Vào", exact=True).click()
    # Then a confirmation fills the screen: the venue, the direction and the local time, recorded
    done = page.locator('#done[data-status="sent"]')
    done.wait_for(timeout=PAGE_WAIT_MS)
    text = done.inner_text()
    assert "ĐÃ VÀO" in text and "Cà phê Hạc Thành" in text and "Đã ghi nhận" in text
    shown = page.locator("#done-time").inner_text().split(" · ")[0]
    now = datetime.now(VIETNAM)
    assert shown in {(now - timedelta(minutes=m)).strftime("%H:%M") for m in (0, 1)}, shown
    box = page.locator(".tick").bounding_box()
    assert box is not None and box["width"] >= 120  # a big tick, for staff to see from a step away
    done_shot = tmp_path / "checkin-done-phone.png"
    page.screenshot(path=str(done_shot))
    publish_screenshot(done_shot, "checkin-done-phone.png")
    # And the venue's occupancy, read through the gateway, counts them
    occupancy_reaches(public, venue["venue_id"], 1)

    # When they add a grandchild without a phone, declare a cough and a suspected case met, and check in again
    page.get_by_role("button", name="Xong").click()
    page.get_by_placeholder("Số điện thoại hoặc số giấy tờ").fill("038099001234")
    page.get_by_role("button", name="Thêm").click()
    assert page.locator("#household-list li").inner_text().startswith("038099001234")
    page.get_by_text("Khai báo y tế (không bắt buộc)").click()
    assert page.evaluate("() => AntoanSymptoms.CODES") == [symptom.value for symptom in events.Symptom]
    page.get_by_label("Ho", exact=True).check()
    page.get_by_label("Với người nghi mắc COVID-19").check()
    reader = TopicReader(running_services.settings(), topics.CHECKINS)
    try:
        page.get_by_role("button", name="Vào", exact=True).click()
        page.locator('#done[data-status="sent"]').wait_for(timeout=PAGE_WAIT_MS)
        assert page.locator("#done-people").inner_text() == "Bạn và 1 người đi cùng"
        # Then the grandchild counts too (the visitor's own second "in" within the hour is the same visit)
        occupancy_reaches(public, venue["venue_id"], 2)
        # And the declaration went with the visitor's scan, in the platform's own symptom codes
        reader.wait_until(lambda _: len(check_ins_at(reader, venue["venue_id"])) == 3, what="the three check-ins")
        declared = [e.declaration for e in check_ins_at(reader, venue["venue_id"]) if e.declaration is not None]
        assert declared == [
            events.HealthDeclaration(
                symptoms=(events.Symptom.COUGH,), contact_with_case=False, contact_with_suspected_case=True
            )
        ]
    finally:
        reader.close()
    page.get_by_role("button", name="Xong").click()
    # And the declaration is of that scan only: its ticks are cleared
    assert not page.get_by_label("Ho", exact=True).is_checked()

    # When the page is opened again, the number and the household are remembered on the phone
    phone.open(url)
    assert page.locator("#person-shown").inner_text() == "0912 345 678"
    assert page.locator("#person-id").is_hidden()
    assert page.locator("#household-list input[type=checkbox]").is_checked()
    page.locator('#venue-risk[data-level="1"]').wait_for(timeout=PAGE_WAIT_MS)
    shot = tmp_path / "checkin-phone.png"
    page.screenshot(path=str(shot))
    publish_screenshot(shot, "checkin-phone.png")
    # And a household member can be removed, and the number forgotten, with a visible button each
    page.get_by_role("button", name="Xoá 038099001234 khỏi danh sách").click()
    assert page.locator("#household-list li").count() == 0
    page.get_by_role("button", name="Quên số này trên máy").click()
    assert page.locator("#person-id").is_visible() and page.locator("#person-id").input_value() == ""
    assert page.evaluate("() => [localStorage.getItem('antoan.person'), localStorage.getItem('antoan.household')]") == [
        None,
        None,
    ]

    # And in English (remembered), the same page speaks English
    page.get_by_role("button", name="EN", exact=True).click()
    assert page.evaluate("() => document.documentElement.lang") == "en"
    assert page.locator('#venue-risk[data-level="1"]').inner_text() == "Level 1: Low risk (new normal)"
    phone.open(url)
    assert page.get_by_role("button", name="In", exact=True).is_visible()
    assert page.get_by_label("Phone number or CCCD/CMND/passport number").is_visible()
    phone.assert_self_contained()


def test_a_scan_without_network_is_kept_on_the_phone_and_uploaded_once_back_online(
    running_services: RunningServices, public: httpx.Client, phone: Phone
) -> None:
    # Given a market stall's poster opened once with a network (the page's service worker is installed)
    venue = register(public, "Quầy rau Chợ Vườn Hoa", "Chợ Vườn Hoa, Phường Lam Sơn, TP Thanh Hóa")
    elsewhere = register(public, "Nhà sách Tiền Phong", "40 Lê Lợi, Phường Lam Sơn, TP Thanh Hóa")
    url = poster_url(public, venue)
    page = phone.page
    phone.open(url)
    assert page.locator("#venue-name").inner_text() == "Quầy rau Chợ Vườn Hoa"
    assert page.evaluate("() => navigator.serviceWorker.ready.then(registration => registration.scope)") == (
        f"{running_services.public}/c/"
    )
    reader = TopicReader(running_services.settings(), topics.CHECKINS)
    try:
        # When the phone loses its network and the visitor taps "Vào"
        phone.context.set_offline(True)
        page.get_by_label("Số điện thoại hoặc số CCCD/CMND/hộ chiếu").fill("0987654321")
        page.get_by_role("button", name="Vào", exact=True).click()
        # Then the confirmation says the scan is saved and will be sent
        done = page.locator('#done[data-status="queued"]')
        done.wait_for(timeout=PAGE_WAIT_MS)
        assert "Đã lưu trên máy, sẽ gửi khi có mạng" in done.inner_text()
        assert "Quầy rau Chợ Vườn Hoa" in done.inner_text()
        # And it is kept on the phone with the time it was made and an id of its own
        [queued] = page.evaluate("() => AntoanQueue.pending()")
        scanned_at = datetime.fromisoformat(queued["item"]["scanned_at"].replace("Z", "+00:00"))
        client_event_id = queued["client_event_id"]
        assert queued["item"]["client_event_id"] == client_event_id and queued["item"]["direction"] == "in"
        page.get_by_role("button", name="Xong").click()
        assert page.locator("#queue").get_attribute("data-pending") == "1"

        # When the page is opened again with no network at all, its own address and any other venue's
        phone.open(url)
        # Then the service worker opens it, with the venue as last seen, and the scan still waiting
        assert page.locator("#venue-name").inner_text() == "Quầy rau Chợ Vườn Hoa"
        assert "không có mạng" in page.locator("#venue-note").inner_text()
        page.locator('#queue[data-pending="1"]').wait_for(state="attached")
        phone.open(f"{running_services.public}/c/{elsewhere['qr']}")
        assert page.locator("#venue-name").inner_text() == "Chưa xem được địa điểm"
        assert page.get_by_role("button", name="Vào").is_visible()
        phone.open(url)
        assert occupancy(public, venue["venue_id"]) == 0

        # When the network comes back, and the answer to the page's first upload is lost on its way back
        lost: list[str] = []

        def lose_first_answer(route: Route) -> None:
            if lost:
                route.fallback()
                return
            route.fetch()  # ingest gets the batch...
            lost.append(route.request.url)
            route.abort("connectionreset")  # ...and the phone never hears back

        phone.context.route("**/v1/checkins/batch", lose_first_answer)
        phone.context.set_offline(False)
        # Then the page uploads the scan by itself: ingest has it, though the phone cannot know
        wait_on(page, lambda: lost, what="the page's upload")
        occupancy_reaches(public, venue["venue_id"], 1)
        # And the phone sends it again (the page's retry, or its service worker's Background Sync) until it
        # hears that ingest has it: its queue empties with nothing refused
        page.locator('#queue[data-pending="0"]').wait_for(state="attached", timeout=2 * RETRY_WAIT_MS)
        assert page.evaluate("() => AntoanQueue.refused()") == []
        # And checkins.v1 has the scan once, at the time it was made, not when it was uploaded
        reader.wait_until(lambda _: len(check_ins_at(reader, venue["venue_id"])) >= 1, what="the uploaded scan")
        recorded_once = check_ins_at(reader, venue["venue_id"])
        assert len(recorded_once) == 1, f"the scan was counted {len(recorded_once)} times"
        recorded = recorded_once[0]
        assert recorded.scanned_at == scanned_at
        assert recorded.direction is events.Direction.IN and recorded.app is events.CheckInApp.TOKHAIYTE
        assert occupancy(public, venue["venue_id"]) == 1
        sends = phone.sends_of(client_event_id)
        assert sends >= 1

        # When the page is opened again online, it looks at its queue again and has nothing to send
        page.evaluate("() => { window.antoanBeforeReload = true; }")
        phone.open(url)
        assert page.evaluate("() => window.antoanBeforeReload") is None
        page.locator("#queue[data-synced-at]").wait_for(state="attached", timeout=PAGE_WAIT_MS)
        assert page.evaluate("() => AntoanQueue.pending()") == []
        assert phone.sends_of(client_event_id) == sends
        reader.read(timeout_ms=2000)
        assert len(check_ins_at(reader, venue["venue_id"])) == 1
        assert occupancy(public, venue["venue_id"]) == 1
    finally:
        reader.close()
    phone.assert_self_contained()


def test_a_saved_scan_refused_on_upload_leaves_the_queue_and_is_shown(public: httpx.Client, phone: Phone) -> None:
    # Given a scan saved without network, with a number that is no identifier (eight digits: a phone number cut short)
    venue = register(public, "Nhà thuốc Minh Châu", "12 Bà Triệu, Phường Ba Đình, TP Thanh Hóa")
    page = phone.page
    phone.open(poster_url(public, venue))
    phone.context.set_offline(True)
    page.get_by_label("Số điện thoại hoặc số CCCD/CMND/hộ chiếu").fill("09123456")
    page.get_by_role("button", name="Ra", exact=True).click()
    page.locator('#done[data-status="queued"]').wait_for(timeout=PAGE_WAIT_MS)
    page.get_by_role("button", name="Xong").click()

    # When the phone is back online and ingest refuses it
    phone.context.set_offline(False)
    page.locator('#queue[data-refused="1"]').wait_for(state="attached", timeout=PAGE_WAIT_MS)
    # Then it has left the queue, and the page says which scan was not recorded and why
    assert page.locator("#queue").get_attribute("data-pending") == "0"
    refused = page.locator("#queue-refused li")
    assert refused.get_attribute("data-code") == "invalid_person_id"
    assert "Ra · Nhà thuốc Minh Châu" in refused.inner_text() and "không được ghi nhận" in refused.inner_text()
    # And the number is asked for again, no longer remembered
    assert page.locator("#person-id").is_visible() and page.locator("#person-id").input_value() == "09123456"
    assert page.evaluate("() => localStorage.getItem('antoan.person')") is None
    # And once read, the notice goes
    page.locator("#queue-refused").get_by_role("button").click()
    page.locator('#queue[data-refused="0"]').wait_for(state="attached")
    assert occupancy(public, venue["venue_id"]) == 0
    phone.assert_self_contained()


@pytest.mark.parametrize("case", ["tampered", "deactivated", "screen only"])
def test_a_refused_code_says_why_in_words_and_never_with_a_trace(
    running_services: RunningServices, public: httpx.Client, phone: Phone, case: str
) -> None:
    # Given a code ingest refuses
    venue = register(
        public, "Trường THPT chuyên Lam Sơn", "307 Lê Lai, Phường Đông Sơn", rotating_qr_only=case == "screen only"
    )
    url = poster_url(public, venue)
    if case == "tampered":
        # one character of its signature changed, as a forger would
        body, signature = url.rsplit(".", 1)
        url = f"{body}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"
        code, vi, en = "invalid_qr_signature", "đã bị sửa hoặc làm giả", "altered or forged"
    elif case == "deactivated":
        gone = public.delete(f"/v1/venues/{venue['venue_id']}", headers={"authorization": f"Bearer {venue['api_key']}"})
        assert gone.status_code == 200, gone.text
        code, vi, en = "venue_not_found", "Không tìm thấy địa điểm", "No venue was found"
    else:  # the printed poster of a venue that takes only the code on its entrance screen
        code, vi, en = "rotating_qr_required", "chỉ nhận mã trên màn hình", "only takes the code on its entrance screen"
    page = phone.page

    # When it is opened (the directory of another ingest process may be a moment behind a deactivation)
    def refused() -> bool:
        phone.open(url)
        return page.locator("#refusal").is_visible()

    wait_for(refused, timeout=SERVICE_WAIT_S, interval=0.5, what=f"the page to refuse the {case} code")
    # Then it says why in Vietnamese, with the error code, and offers no check-in
    refusal = page.locator("#refusal")
    assert refusal.get_attribute("data-code") == code
    assert "Không dùng được mã QR này" in refusal.inner_text() and vi in refusal.inner_text()
    assert page.locator("#checkin").is_hidden()
    # And in English once switched
    page.get_by_role("button", name="EN", exact=True).click()
    assert "This QR code cannot be used" in refusal.inner_text() and en in refusal.inner_text()
    assert "Traceback" not in page.content()
    phone.assert_self_contained()

    if case == "screen only":
        # And the venue's entrance screen code opens the venue, saying until when it is valid
        screen = public.get(
            f"/v1/venues/{venue['venue_id']}/qr/rotating", headers={"authorization": f"Bearer {venue['api_key']}"}
        )
        assert screen.status_code == 200, screen.text
        phone.open(screen.json()["url"])
        assert page.locator("#venue-name").inner_text() == "Trường THPT chuyên Lam Sơn"
        assert "Entrance screen code, valid until" in page.locator("#venue-note").inner_text()


def test_the_page_has_no_serious_accessibility_violation_in_either_language(
    running_services: RunningServices, public: httpx.Client, browser: Browser
) -> None:
    # Given a venue's page with a household member listed and the declaration open, a refused code, and the
    # confirmation; axe-core is injected as a script of the page's, which the gateway's CSP would refuse
    venue = register(public, "Siêu thị Go! Thanh Hóa", "Đại lộ Lê Lợi, Phường Đông Hương")
    url = poster_url(public, venue)
    body, signature = url.rsplit(".", 1)
    tampered = f"{body}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"
    phone = Phone(browser, bypass_csp=True)
    try:
        page = phone.page
        for language, add, vao in (("vi", "Thêm", "Vào"), ("en", "Add", "In")):
            phone.open(url)
            page.locator(f'.lang button[data-lang="{language}"]').click()
            assert page.evaluate("() => document.documentElement.lang") == language
            # When axe looks at the form
            if page.locator("#person-id").is_visible():
                page.locator("#person-id").fill("0911222333")
            if page.locator("#household-list li").count() == 0:
                page.locator("#household-id").fill("012345678")
                page.get_by_role("button", name=add, exact=True).click()
            page.locator("#declaration summary").click()
            # Then it finds nothing serious or critical
            assert axe_violations(page) == [], language
            # Nor on the confirmation
            page.get_by_role("button", name=vao, exact=True).click()
            page.locator('#done[data-status="sent"]').wait_for(timeout=PAGE_WAIT_MS)
            assert axe_violations(page) == [], language
            # Nor on a refusal
            phone.open(tampered)
            page.locator("#refusal").wait_for()
            assert axe_violations(page) == [], language
        assert not phone.errors and not phone.refused
    finally:
        phone.close()
