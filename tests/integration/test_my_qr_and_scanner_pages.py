"""The personal QR page and the venue staff's scanner (issue 14 items 3 and 5; SPEC §3.1, §3.3), in a real browser
at phone size: Debian's Chromium through Playwright, against the three services on a real Kafka and Redis, through
the gateway that serves every page and API on one address (`running_services.public`) with its
Content-Security-Policy.

"My QR" draws a person's Decision 1405 code on the phone: the test reads it back off a screenshot with zxing-cpp
and records every request the page made, none of which may carry what was typed. The scanner reads codes from
the camera: Chromium is given a fake camera that plays a Y4M video made here from a personal QR image (segno), so
the page decodes a real frame with jsQR and checks the person in with the venue's key. Screenshots go to the
test's tmp dir; with `ANTOAN_SCREENSHOT` set they are also written beside it as `my-qr-phone.png` and
`scanner-phone.png`, which is how the README's pictures are made.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_plus

import httpx
import pytest
import segno
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, Page, Request

from antoan_localstack.browser import PHONE, PageContext, axe_violations, launch, publish_screenshot
from antoan_localstack.client import occupancy_reaches, register_venue
from antoan_localstack.testing import RunningServices, TopicReader
from antoan_shared import events, topics

pytestmark = [pytest.mark.integration, pytest.mark.shared_services]

PAGE_WAIT_MS = 30_000
REPEAT_MS = 5000  # scanner.js REPEAT_MS: a code out of sight this long may be sent again

# A person as on a CCCD, with Vietnamese letters in the name (the code is UTF-8).
DOCUMENT = "038099001234"
NAME = "Nguyễn Văn An"
PERSONAL_QR = f"{DOCUMENT}|{NAME}|01/02/1990|CCCD||"


class Phone(PageContext):
    """A phone in which only loopback answers (`PageContext`: every request the page made is kept, URL and body,
    with its uncaught errors and the gateway CSP's refusals), its camera allowed if asked."""

    def __init__(self, browser: Browser, *, bypass_csp: bool = False, camera: bool = False) -> None:
        permissions = ["camera"] if camera else []
        super().__init__(browser, PHONE, is_mobile=True, bypass_csp=bypass_csp, permissions=permissions)

    def check_ins_sent(self) -> list[dict[str, Any]]:
        return [
            json.loads(request.post_data or "{}")
            for request in self.requests
            if request.method == "POST" and request.url.endswith("/v1/checkins")
        ]


@pytest.fixture
def phone(browser: Browser) -> Iterator[Phone]:
    with Phone(browser) as opened:
        yield opened


def decoded_codes(png: bytes) -> list[str]:
    return [code.text for code in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def carries(request: Request, secrets: list[str]) -> list[str]:
    """Which of `secrets` a request carries, in its address (as typed or percent-encoded) or its body."""
    where = unquote_plus(request.url) + " " + (request.post_data or "")
    return [s for s in secrets if s in where or quote(s) in request.url]


# --- My QR -------------------------------------------------------------------------------------------


def test_my_qr_is_made_on_the_phone_in_the_1405_layout_and_kept_only_when_asked(
    running_services: RunningServices, phone: Phone, tmp_path: Path
) -> None:
    page = phone.page
    # Given the "My QR" page on a phone
    page.goto(f"{running_services.public}/ma-qr/")
    assert page.evaluate("() => document.documentElement.lang") == "vi"

    # When a CCCD number one digit short is typed, the code is not made and the field says why
    page.get_by_label("Số giấy tờ").fill("03809900123")
    page.get_by_label("Họ và tên").fill(NAME)
    page.get_by_label("Ngày sinh").fill("1990-02-01")
    page.get_by_role("button", name="Tạo mã QR").click()
    assert page.locator("#document-error").inner_text() == "Số CCCD gồm 12 chữ số."
    assert page.locator("#result").is_hidden()

    # When the number is right, and the person asks to keep it on the phone
    page.get_by_label("Số giấy tờ").fill("0380 9900 1234")
    page.get_by_text("Thông tin thêm (không bắt buộc)").click()
    page.get_by_label("Mã QID").fill("Q123")
    page.get_by_label("Lưu trên điện thoại này để lần sau mở là có mã").check()
    page.get_by_role("button", name="Tạo mã QR").click()

    # Then the code on the screen reads, in the Decision 1405 layout ingest parses, what was typed
    code = page.locator("#qr")
    code.wait_for()
    box = code.bounding_box()
    assert box is not None and box["width"] >= 300, box  # large, for a scanner at arm's length
    assert decoded_codes(code.screenshot()) == [f"{DOCUMENT}|{NAME}|01/02/1990|CCCD|Q123|"]
    assert code.get_attribute("aria-label") == f"Mã QR cá nhân của {NAME}"
    assert page.locator("#result-document").inner_text() == "CCCD · số kết thúc bằng 234"
    shot = tmp_path / "my-qr-phone.png"
    page.screenshot(path=str(shot), full_page=True)
    publish_screenshot(shot, "my-qr-phone.png")

    # When the page is opened again, the code is there at once, and in English when switched
    page.reload()
    assert decoded_codes(page.locator("#qr").screenshot()) == [f"{DOCUMENT}|{NAME}|01/02/1990|CCCD|Q123|"]
    page.get_by_role("button", name="EN", exact=True).click()
    assert page.locator("#result-title").inner_text() == "Show this code to the staff"

    # When the person removes it from the phone, nothing of it is left there
    page.get_by_role("button", name="Remove from this phone").click()
    assert page.evaluate("() => localStorage.getItem('antoan.myqr')") is None
    page.reload()
    assert page.locator("#person").is_visible() and page.get_by_label("Document number").input_value() == ""

    # And no request the page made carried the number or the name, in any spelling
    secrets = [DOCUMENT, "0380 9900 1234", NAME, "Nguy", "Q123"]
    leaks = {request.url: carries(request, secrets) for request in phone.requests if carries(request, secrets)}
    assert leaks == {}
    assert {request.method for request in phone.requests} == {"GET"}
    phone.assert_self_contained()


def test_my_qr_is_not_kept_unless_asked(running_services: RunningServices, phone: Phone) -> None:
    # Given a passport holder who does not tick "keep"
    page = phone.page
    page.goto(f"{running_services.public}/ma-qr/")
    page.get_by_label("Loại giấy tờ").select_option("HC")
    page.get_by_label("Số giấy tờ").fill("c1234567")
    page.get_by_label("Họ và tên").fill("Lê Thị Hoa")
    page.get_by_label("Ngày sinh").fill("1985-06-15")
    page.get_by_role("button", name="Tạo mã QR").click()
    # Then the code is made, with the number as ingest spells it, and the phone keeps nothing
    assert decoded_codes(page.locator("#qr").screenshot()) == ["C1234567|Lê Thị Hoa|15/06/1985|HC||"]
    assert "Không lưu trên điện thoại" in page.locator("#kept-note").inner_text()
    assert page.evaluate("() => Object.keys(localStorage).filter(key => key !== 'antoan.lang')") == []
    page.reload()
    assert page.locator("#result").is_hidden()
    phone.assert_self_contained()


def test_a_kept_code_opens_without_a_network(running_services: RunningServices, phone: Phone) -> None:
    # Given a code made and kept on the phone, with the page's service worker in place
    page = phone.page
    page.goto(f"{running_services.public}/ma-qr/")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=PAGE_WAIT_MS)
    worker = page.evaluate("() => navigator.serviceWorker.controller.scriptURL")
    assert worker == f"{running_services.public}/ma-qr/sw.js"
    page.get_by_label("Loại giấy tờ").select_option("CMND")
    page.get_by_label("Số giấy tờ").fill("173456789")
    page.get_by_label("Họ và tên").fill("Trịnh Thị Mai")
    page.get_by_label("Ngày sinh").fill("1950-11-30")
    page.get_by_label("Lưu trên điện thoại này để lần sau mở là có mã").check()
    page.get_by_role("button", name="Tạo mã QR").click()

    # When the phone has no network at all and the page is opened again
    phone.context.set_offline(True)
    try:
        page.reload()
        # Then the kept code is there, whole
        assert decoded_codes(page.locator("#qr").screenshot()) == ["173456789|Trịnh Thị Mai|30/11/1950|CMND||"]
    finally:
        phone.context.set_offline(False)
    phone.assert_self_contained()


# --- the staff scanner -------------------------------------------------------------------------------


def personal_qr_video(path: Path, text: str, *, frames: int = 10) -> Path:
    """A Y4M video (what Chromium's fake camera plays, in a loop) of a personal QR code held up to the camera:
    640x480, 4:2:0, the code in the middle of a white frame."""
    width, height = 640, 480
    code = io.BytesIO()
    segno.make(text, error="m", micro=False).save(code, kind="png", scale=9, border=4)
    image = Image.new("RGB", (width, height), "white")
    qr = Image.open(code).convert("RGB")
    image.paste(qr, ((width - qr.width) // 2, (height - qr.height) // 2))
    y, cb, cr = image.convert("YCbCr").split()
    half = (width // 2, height // 2)
    planes = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    with path.open("wb") as video:
        video.write(f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            video.write(b"FRAME\n" + planes)
    return path


@pytest.fixture
def camera_phone(browser: Browser, tmp_path: Path) -> Iterator[Phone]:
    """A Chromium of its own (launched by the module's Playwright, which one process can run only once) whose
    camera, allowed without asking, films the personal QR code PERSONAL_QR."""
    video = personal_qr_video(tmp_path / "personal-qr.y4m", PERSONAL_QR)
    launched = launch(
        browser.browser_type,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    )
    opened = Phone(launched, camera=True)
    try:
        yield opened
    finally:
        opened.close()
        launched.close()


def sign_in(page: Page, venue: dict[str, str]) -> None:
    page.get_by_label("Mã cơ sở").fill(venue["venue_id"])
    page.get_by_label("Khoá của cơ sở").fill(venue["api_key"])
    page.get_by_role("button", name="Bắt đầu quét").click()
    page.locator("body[data-state='ready']").wait_for(timeout=PAGE_WAIT_MS)


def check_ins_at(reader: TopicReader, venue_id: str) -> list[events.CheckInRecorded]:
    return [e for e in reader.read() if isinstance(e, events.CheckInRecorded) and e.venue_id == venue_id]


def test_staff_scan_a_personal_qr_with_the_camera_and_the_person_is_checked_in_once(
    running_services: RunningServices, public: httpx.Client, camera_phone: Phone, tmp_path: Path
) -> None:
    # Given a restaurant registered through the gateway, and its scanner page signed in with the venue's key
    venue = register_venue(public, "Nhà hàng Sông Mã")
    page = camera_phone.page
    page.goto(f"{running_services.public}/co-so/quet/")
    sign_in(page, venue)
    assert page.locator("#venue-name").inner_text() == "Nhà hàng Sông Mã"
    reader = TopicReader(running_services.settings(), topics.CHECKINS)
    try:
        # When the staff turn the camera on while a visitor holds up their personal QR code
        page.get_by_role("button", name="Bật camera").click()
        # Then the code is read and the person checked in, and the screen says so with initials only
        result = page.locator('#result[data-status="sent"]')
        result.wait_for(timeout=PAGE_WAIT_MS)
        text = result.inner_text()
        assert "ĐÃ VÀO" in text and "N. V. A. · số …234" in text and "Đã ghi nhận lúc" in text
        assert DOCUMENT not in page.locator("main").inner_text() and NAME not in page.locator("main").inner_text()
        occupancy_reaches(public, venue["venue_id"], 1)
        [sent] = camera_phone.check_ins_sent()
        assert sent["person_qr"] == PERSONAL_QR and sent["app"] == "staff" and sent["direction"] == "in"
        assert sent["client_event_id"] and sent["scanned_at"]
        reader.wait_until(lambda _: bool(check_ins_at(reader, venue["venue_id"])), what="the scan on checkins.v1")
        [recorded] = check_ins_at(reader, venue["venue_id"])
        assert recorded.method is events.CheckInMethod.PERSON_QR and recorded.app is events.CheckInApp.STAFF
        shot = tmp_path / "scanner-phone.png"
        page.screenshot(path=str(shot))
        publish_screenshot(shot, "scanner-phone.png")

        # When the same code stays in view longer than the repeat window, it is not sent again: a code is sent
        # once while it is in sight (a fixed watch, since what is checked is that nothing happens)
        page.wait_for_timeout(REPEAT_MS + 2000)
        assert len(camera_phone.check_ins_sent()) == 1
        reader.read(timeout_ms=1000)
        assert len(check_ins_at(reader, venue["venue_id"])) == 1

        # When the staff switch to "Ra", the code in view checks the person out
        page.get_by_text("Ra", exact=True).click()
        page.locator('#result[data-status="sent"][data-direction="out"]').wait_for(timeout=PAGE_WAIT_MS)
        assert "ĐÃ RA" in page.locator("#result").inner_text()
        occupancy_reaches(public, venue["venue_id"], 0)
        assert [item["direction"] for item in camera_phone.check_ins_sent()] == ["in", "out"]
    finally:
        reader.close()
    page.get_by_role("button", name="Tắt camera").click()
    assert page.evaluate("() => document.getElementById('video').srcObject") is None
    camera_phone.assert_self_contained()


def test_staff_type_a_number_when_a_code_cannot_be_scanned_with_the_portals_kept_key(
    running_services: RunningServices, public: httpx.Client, phone: Phone
) -> None:
    # Given a venue whose key the owner kept on this device through the venue portal
    venue = register_venue(public, "Quán phở Hàm Rồng")
    kept = {venue["venue_id"]: {"api_key": venue["api_key"], "name": "Quán phở Hàm Rồng"}}
    phone.context.add_init_script(f"localStorage.setItem('antoan.venue.keys', {json.dumps(json.dumps(kept))})")
    page = phone.page
    # When the scanner page opens, it is signed in with that key, asking nothing
    page.goto(f"{running_services.public}/co-so/quet/")
    page.locator("body[data-state='ready']").wait_for(timeout=PAGE_WAIT_MS)
    assert page.locator("#venue-name").inner_text() == "Quán phở Hàm Rồng"
    # And the portal's pages link to it, marked as the page open
    here = page.locator("#portal-nav a[aria-current='page']")
    assert here.inner_text() == "Quét mã khách" and "/co-so/quet/" in (here.get_attribute("href") or "")

    # When a number that is no identifier is typed, the refusal is said in words by its code
    page.get_by_text("Không quét được? Nhập số giấy tờ").click()
    page.get_by_label("Số điện thoại hoặc số CCCD/CMND/hộ chiếu của khách").fill("09123456")
    page.get_by_role("button", name="Ghi nhận").click()
    refused = page.locator('#result[data-status="error"]')
    refused.wait_for(timeout=PAGE_WAIT_MS)
    assert refused.get_attribute("data-code") == "invalid_person_id"
    assert "CHƯA GHI NHẬN" in refused.inner_text() and "Số không hợp lệ" in refused.inner_text()

    # When the staff type the visitor's phone number
    page.get_by_label("Số điện thoại hoặc số CCCD/CMND/hộ chiếu của khách").fill("0912 345 678")
    page.get_by_role("button", name="Ghi nhận").click()
    # Then the person is checked in, and the screen shows the end of the number only
    result = page.locator('#result[data-status="sent"]')
    result.wait_for(timeout=PAGE_WAIT_MS)
    assert "ĐÃ VÀO" in result.inner_text() and "Số …678" in result.inner_text()
    assert "0912 345 678" not in page.locator("main").inner_text()
    occupancy_reaches(public, venue["venue_id"], 1)
    [_, sent] = phone.check_ins_sent()
    assert sent["person_id"] == "0912 345 678" and sent["app"] == "staff" and "person_qr" not in sent
    assert page.locator("#recent li").count() == 2
    # And in English, the result and the list say the same
    page.get_by_role("button", name="EN", exact=True).click()
    assert "CHECKED IN" in result.inner_text() and "Number …678" in result.inner_text()
    assert page.locator("#recent li").first.inner_text().endswith("In · Number …678 · recorded")
    page.get_by_role("button", name="VI", exact=True).click()

    # And a wrong key is refused in words
    page.get_by_role("button", name="Đổi cơ sở").click()
    page.get_by_label("Mã cơ sở").fill(venue["venue_id"])
    page.get_by_label("Khoá của cơ sở").fill("not-the-key")
    page.get_by_role("button", name="Bắt đầu quét").click()
    error = page.locator("#signin-error:not([hidden])")
    error.wait_for(timeout=PAGE_WAIT_MS)
    assert error.get_attribute("data-code") == "invalid_venue_key"
    assert error.inner_text().startswith("Khoá không đúng với cơ sở này.")
    assert page.locator("#desk").is_hidden()
    phone.assert_self_contained()


# --- accessibility -------------------------------------------------------------------------------------


def test_both_pages_have_no_serious_accessibility_violation_in_either_language(
    running_services: RunningServices, public: httpx.Client, browser: Browser
) -> None:
    # Given both pages with something on them; axe-core is injected as a script of the page's, which the
    # gateway's CSP would refuse
    venue = register_venue(public, "Bệnh viện Đa khoa tỉnh Thanh Hóa")
    phone = Phone(browser, bypass_csp=True)
    try:
        page = phone.page
        for language in ("vi", "en"):
            # When axe looks at the My QR form (an error shown), then at the code
            page.goto(f"{running_services.public}/ma-qr/")
            page.locator(f'.lang button[data-lang="{language}"]').click()
            assert page.evaluate("() => document.documentElement.lang") == language
            page.locator("details.more summary").click()
            page.locator("button[type=submit]").click()
            assert page.locator("#document-error").is_visible()
            # Then it finds nothing serious or critical
            assert axe_violations(page) == [], language
            page.locator("#document-number").fill(DOCUMENT)
            page.locator("#full-name").fill(NAME)
            page.locator("#birth-date").fill("1990-02-01")
            page.locator("button[type=submit]").click()
            page.locator("#result").wait_for()
            assert axe_violations(page) == [], language

            # Nor on the scanner's sign-in, nor on its desk after a refused and an accepted number
            page.evaluate("() => sessionStorage.clear()")
            page.goto(f"{running_services.public}/co-so/quet/")
            page.locator("body[data-state='signin']").wait_for(timeout=PAGE_WAIT_MS)
            assert axe_violations(page) == [], language
            page.locator("#venue-id").fill(venue["venue_id"])
            page.locator("#venue-key").fill(venue["api_key"])
            page.locator("#signin-go").click()
            page.locator("body[data-state='ready']").wait_for(timeout=PAGE_WAIT_MS)
            page.locator("#manual summary").click()
            page.locator("#manual-id").fill("0987654321")
            page.locator("#manual-form button[type=submit]").click()
            page.locator('#result[data-status="sent"]').wait_for(timeout=PAGE_WAIT_MS)
            assert axe_violations(page) == [], language
            page.locator("#manual-id").fill("123")
            page.locator("#manual-form button[type=submit]").click()
            page.locator('#result[data-status="error"]').wait_for(timeout=PAGE_WAIT_MS)
            assert axe_violations(page) == [], language
        assert not phone.errors and not phone.refused
    finally:
        phone.close()
