"""The venue portal (issue 14, item 5; SPEC §3.2, §3.3, §3.6, §4.1) in a real browser: headless Chromium
(Debian's) driven by Playwright, against the three services on a real Kafka and Redis, through the gateway that
serves every page and API on one address (`running_services.public`), under its Content-Security-Policy.

An owner registers on a phone, keeps the key shown once, and the poster's QR code opens the check-in page; the
entrance screen (desktop) shows a rotating code that a visitor checks in with, sees the occupancy rise without
a reload, and renews its code by itself (the services run with a 30 s code life, the least allowed); the
visitor history lists the visit and downloads as CSV; a self-assessment gives its score and moves the venue's
risk level as the rules say; a wrong key is refused in words; and axe-core finds nothing serious on any page,
in either language.

The pages may reach nothing beyond loopback: every other request is aborted and recorded, and so is every
refusal by the gateway's Content-Security-Policy. Screenshots go to the test's tmp dir (their paths are printed);
with `ANTOAN_SCREENSHOT` set (the map test's `docs/map.png`), `venue-register-phone.png`, `venue-kiosk.png` and
`venue-history.png` are also written beside it, which is how the README's pictures are made.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, Download, Page, ViewportSize

from antoan_localstack.browser import DESKTOP, PHONE, PageContext, axe_violations, publish_screenshot
from antoan_localstack.client import register_venue
from antoan_localstack.testing import RunningServices, wait_for

pytestmark = pytest.mark.integration

ROTATING_TTL_S = 30
# Long enough for a venue registered a moment ago to reach the tracer and the safety map under a loaded suite.
SERVICE_WAIT_S = 60
PAGE_WAIT_MS = 30_000
# The screen renews its code at two thirds of its life; this leaves room for a loaded machine.
RENEWAL_WAIT_MS = (ROTATING_TTL_S + 30) * 1000
HAC_THANH = {"latitude": 19.8067, "longitude": 105.7852}  # 12 Lê Lợi, Thanh Hóa city
OTHER_KEPT = {"api_key": "vk_other", "name": "Quán khác"}  # a second venue kept, so no venue opens by itself


@pytest.fixture(scope="module")
def services_env() -> dict[str, str]:
    return {"ANTOAN_ROTATING_QR_TTL_S": str(ROTATING_TTL_S)}


class Device(PageContext):
    """A phone or a desktop screen in which only loopback answers (`PageContext`), downloads accepted."""

    def __init__(self, browser: Browser, viewport: ViewportSize, *, bypass_csp: bool = False, **options: Any) -> None:
        is_mobile = viewport == PHONE
        super().__init__(
            browser, viewport, is_mobile=is_mobile, bypass_csp=bypass_csp, accept_downloads=True, **options
        )


@pytest.fixture
def desktop(browser: Browser) -> Iterator[Device]:
    with Device(browser, DESKTOP) as opened:
        yield opened


def register(public: httpx.Client, name: str, **extra: Any) -> dict[str, str]:
    place = {"address": "25 Hạc Thành, Phường Điện Biên, TP Thanh Hóa", "district_code": "380", "ward_code": "14767"}
    return register_venue(public, name, **{**place, **extra})


def owner(venue: dict[str, str]) -> dict[str, str]:
    return {"authorization": f"Bearer {venue['api_key']}"}


def check_in(public: httpx.Client, venue: dict[str, str], person_id: str, direction: str = "in") -> None:
    body = {
        "venue_qr": venue["qr"],
        "person_id": person_id,
        "direction": direction,
        "app": "pc-covid",
        "client_event_id": str(uuid.uuid4()),
    }
    response = public.post("/v1/checkins", json=body)
    assert response.status_code == 202, response.text


def decoded(png: bytes) -> str:
    """The text of the one QR code in a PNG image."""
    codes = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(codes) == 1, codes
    return str(codes[0].text)


def image_bytes(page: Page, selector: str) -> bytes:
    """What an <img> of the page shows (the portal's images are data: URLs)."""
    source = page.locator(selector).get_attribute("src") or ""
    header, _, data = source.partition(",")
    assert header == "data:image/png;base64", header[:40]
    return base64.b64decode(data)


def sign_in(device: Device, public_url: str, venue: dict[str, str], *, keep: bool = False) -> Page:
    """Signs in on the portal's front page with the venue's id and key, as an owner types them."""
    page = device.page
    page.goto(f"{public_url}/co-so/")
    page.locator('body[data-state="signed-out"]').wait_for(state="attached", timeout=PAGE_WAIT_MS)
    page.get_by_label("Mã cơ sở").fill(venue["venue_id"])
    page.get_by_label("Khoá của cơ sở").fill(venue["api_key"])
    if keep:
        page.get_by_role("checkbox", name="Ghi nhớ khoá trên thiết bị này").check()
    page.get_by_role("button", name="Đăng nhập", exact=True).click()
    page.locator('body[data-state="signed-in"]').wait_for(state="attached", timeout=PAGE_WAIT_MS)
    return page


def saved(download: Download) -> bytes:
    path = download.path()
    assert path is not None
    return Path(path).read_bytes()


def test_an_owner_registers_on_a_phone_and_the_entrance_screen_checks_visitors_in(
    running_services: RunningServices, public: httpx.Client, browser: Browser, desktop: Device, tmp_path: Path
) -> None:
    # Given an owner at their café with a phone that may tell the page where it is
    phone = Device(
        browser, PHONE, geolocation=HAC_THANH, permissions=["geolocation", "clipboard-read", "clipboard-write"]
    )
    visitor = Device(browser, PHONE)
    try:
        page = phone.page
        page.goto(f"{running_services.public}/co-so/dang-ky.html")
        page.locator('body[data-areas="63"]').wait_for(state="attached", timeout=PAGE_WAIT_MS)

        # When they fill in the form as a person would: lists for the category and the area, the location by
        # the button, the capacity and their phone number
        page.get_by_label("Tên cơ sở").fill("Cà phê Hạc Thành")
        page.get_by_label("Loại hình").select_option(label="Quán cà phê")
        page.get_by_label("Địa chỉ (số nhà, đường)").fill("12 Lê Lợi")
        page.get_by_label("Tỉnh/thành phố").select_option(label="Tỉnh Thanh Hóa")
        page.get_by_label("Quận/huyện").select_option(label="Thành phố Thanh Hóa")
        page.get_by_label("Phường/xã").select_option(label="Phường Điện Biên")
        page.get_by_label("Sức chứa (số người tối đa có mặt cùng lúc)").fill("40")
        page.get_by_role("button", name="Dùng vị trí hiện tại của tôi").click()
        page.locator("#locate-status").filter(has_text="Đã lấy vị trí").wait_for()
        assert page.get_by_label("Vĩ độ").input_value() == "19.806700"
        assert page.get_by_label("Kinh độ").input_value() == "105.785200"
        page.get_by_label("Số điện thoại chủ cơ sở (không bắt buộc)").fill("0912 345 678")
        form_shot = tmp_path / "venue-register-phone.png"
        page.screenshot(path=str(form_shot), full_page=True)
        publish_screenshot(form_shot, "venue-register-phone.png")
        with page.expect_response(lambda r: r.url.endswith("/v1/venues") and r.request.method == "POST") as posted:
            page.get_by_role("button", name="Đăng ký", exact=True).click()

        # Then ingest got the codes of the lists, the coordinates and the capacity as numbers
        sent = json.loads(posted.value.request.post_data or "{}")
        assert {k: sent[k] for k in ("category", "province_code", "district_code", "ward_code", "capacity")} == {
            "category": "cafe",
            "province_code": "38",
            "district_code": "380",
            "ward_code": "14767",
            "capacity": 40,
        }
        assert (sent["lat"], sent["lon"]) == (19.8067, 105.7852)
        assert posted.value.status == 201
        created = posted.value.json()
        # And the result shows the venue's id and its key, with the warning that it is shown once
        result = page.locator("#result")
        result.wait_for(timeout=PAGE_WAIT_MS)
        assert page.locator("#result-venue-id").inner_text() == created["venue_id"]
        assert page.locator("#result-key").inner_text() == created["api_key"]
        assert "Khoá chỉ hiện một lần" in page.locator("#key-card").inner_text()
        # And the poster's QR image, which a phone camera reads as the check-in page of the venue's token
        page.locator('#poster-qr[data-loaded="true"]').wait_for(timeout=PAGE_WAIT_MS)
        poster = decoded(image_bytes(page, "#poster-qr"))
        assert poster == f"{running_services.public}/c/{created['qr']}" == created["qr_url"]
        assert page.locator("#poster-qr").get_attribute("alt") == "Mã QR trên áp phích của Cà phê Hạc Thành"
        result_shot = tmp_path / "venue-registered-phone.png"
        page.screenshot(path=str(result_shot), full_page=True)
        publish_screenshot(result_shot, "venue-registered-phone.png")
        # And the key copies with its button
        page.get_by_role("button", name="Sao chép khoá").click()
        page.get_by_text("Đã sao chép.").wait_for()
        assert page.evaluate("() => navigator.clipboard.readText()") == created["api_key"]
        # And the PDF poster and the SVG download, fetched with the key
        with page.expect_download() as pdf:
            page.get_by_role("button", name="Tải áp phích A4 (PDF)").click()
        assert pdf.value.suggested_filename == f"antoan-{created['venue_id']}.pdf"
        assert saved(pdf.value).startswith(b"%PDF")
        with page.expect_download() as svg:
            page.get_by_role("button", name="Tải ảnh SVG").click()
        assert b"<svg" in saved(svg.value)[:500]
        # And the key is kept on the phone only while the owner asks for it
        kept = "() => JSON.parse(localStorage.getItem('antoan.venue.keys') || '{}')"
        page.get_by_role("checkbox", name="Ghi nhớ khoá trên thiết bị này").check()
        assert page.evaluate(kept)[created["venue_id"]]["api_key"] == created["api_key"]
        page.get_by_role("checkbox", name="Ghi nhớ khoá trên thiết bị này").uncheck()
        assert page.evaluate(kept) == {}
        result_shot = tmp_path / "venue-registered-phone.png"
        page.screenshot(path=str(result_shot), full_page=True)
        print(f"screenshot: {result_shot}")

        # When they confirm they kept the key and go on
        assert page.get_by_role("button", name="Mở trang của cơ sở").is_disabled()
        page.get_by_label("Tôi đã lưu khoá ở nơi an toàn").check()
        page.get_by_role("button", name="Mở trang của cơ sở").click()
        # Then the overview names the venue, and the key is nowhere on it any more
        page.locator('body[data-state="signed-in"]').wait_for(state="attached", timeout=PAGE_WAIT_MS)
        assert page.locator("#venue-name").inner_text() == "Cà phê Hạc Thành"
        assert created["api_key"] not in page.content()
        phone.assert_self_contained()

        # When the entrance screen's computer opens the screen page, which asks for the venue's key first
        screen = desktop.page
        screen.goto(f"{running_services.public}/co-so/man-hinh.html?venue={created['venue_id']}")
        screen.get_by_role("link", name="Đăng nhập").click()
        screen.get_by_label("Khoá của cơ sở").fill(created["api_key"])
        assert screen.get_by_label("Mã cơ sở").input_value() == created["venue_id"]
        screen.get_by_role("checkbox", name="Ghi nhớ khoá trên thiết bị này").check()
        screen.get_by_role("button", name="Đăng nhập", exact=True).click()
        # Then it shows the venue's rotating code, big, which reads as a check-in page address other than the poster's
        code_box = screen.locator('#code-box[data-state="ready"]')
        code_box.wait_for(timeout=PAGE_WAIT_MS)
        assert screen.locator("#kiosk-venue").inner_text() == "Cà phê Hạc Thành"
        box = screen.locator("#code").bounding_box()
        assert box is not None and box["width"] >= 400, box
        first = decoded(screen.locator("#code").screenshot())
        assert first.startswith(f"{running_services.public}/c/") and first != poster
        named = public.get(f"/v1/venue-qr/{first.rsplit('/', 1)[1]}")
        assert named.status_code == 200 and named.json()["kind"] == "rotating", named.text
        screen.locator('#occupancy-current[data-current="0"]').wait_for(timeout=PAGE_WAIT_MS)
        screen.evaluate("() => { window.antoanNotReloaded = true; }")
        # (every state the code takes from now on is noted, to see it never went past its expiry on screen)
        screen.evaluate(
            """() => {
                const box = document.getElementById('code-box');
                window.antoanCodeStates = [];
                new MutationObserver(() => window.antoanCodeStates.push(box.dataset.state))
                    .observe(box, { attributes: true, attributeFilter: ['data-state'] });
            }"""
        )

        # When a visitor scans it with their phone and checks in on the page it opens
        visitor.page.goto(first)
        visitor.page.locator("body:not([data-state='loading'])").wait_for(state="attached", timeout=PAGE_WAIT_MS)
        visitor.page.get_by_label("Số điện thoại hoặc số CCCD/CMND/hộ chiếu").fill("0987 654 321")
        visitor.page.get_by_role("button", name="Vào", exact=True).click()
        visitor.page.locator('#done[data-status="sent"]').wait_for(timeout=PAGE_WAIT_MS)
        # Then the screen's occupancy rises to 1 of 40, without a reload
        screen.locator('#occupancy-current[data-current="1"]').wait_for(timeout=SERVICE_WAIT_S * 1000)
        assert screen.locator("#occupancy-capacity").inner_text() == "40"
        assert screen.evaluate("() => window.antoanNotReloaded") is True

        # And before the code expires the screen shows a new one, by itself
        screen.locator('#code[data-renewals="2"]').wait_for(state="attached", timeout=RENEWAL_WAIT_MS)
        code_box.wait_for(timeout=PAGE_WAIT_MS)
        second = decoded(screen.locator("#code").screenshot())
        assert second.startswith(f"{running_services.public}/c/") and second != first
        assert "stale" not in screen.evaluate("() => window.antoanCodeStates")
        assert screen.evaluate("() => window.antoanNotReloaded") is True
        kiosk_shot = tmp_path / "venue-kiosk.png"
        screen.screenshot(path=str(kiosk_shot))
        publish_screenshot(kiosk_shot, "venue-kiosk.png")
        # And this computer keeps the key (the owner ticked it), for the screen to open again after a restart
        assert created["venue_id"] in screen.evaluate(kept)
        desktop.assert_self_contained()
        visitor.assert_self_contained()
    finally:
        phone.close()
        visitor.close()


def test_the_visitor_history_lists_the_visits_and_downloads_them_as_csv(
    running_services: RunningServices, public: httpx.Client, desktop: Device, tmp_path: Path
) -> None:
    # Given a restaurant where two people checked in and one of them out again
    venue = register(public, "Nhà hàng Phố Núi")
    check_in(public, venue, "0912000111")
    check_in(public, venue, "0912000222")
    check_in(public, venue, "0912000222", direction="out")

    def visits() -> list[dict[str, Any]] | None:
        response = public.get(f"/v1/venues/{venue['venue_id']}/visits", headers=owner(venue))
        listed: list[dict[str, Any]] = response.json()["visits"] if response.status_code == 200 else []
        return listed if len(listed) == 2 and sum(1 for v in listed if not v["open"]) == 1 else None

    expected = wait_for(visits, timeout=SERVICE_WAIT_S, interval=0.5, what="two visits in the tracer")

    # When the owner opens the history (the last 7 days by default)
    sign_in(desktop, running_services.public, venue)
    page = desktop.page
    page.get_by_role("link", name="Lịch sử khách").first.click()
    page.locator('body[data-state="loaded"]').wait_for(state="attached", timeout=PAGE_WAIT_MS)
    # Then the table lists both visits, the one still inside said so, and the summary counts two visitors
    rows = page.locator("#visits-body tr")
    assert rows.count() == 2
    assert {rows.nth(i).get_attribute("data-visit-id") for i in range(2)} == {v["visit_id"] for v in expected}
    still_in = page.locator('#visits-body tr[data-open="true"]')
    assert still_in.count() == 1 and "Đang ở trong" in still_in.inner_text()
    assert page.locator("#summary").inner_text().startswith("2 lượt của 2 khách")
    shot = tmp_path / "venue-history.png"
    page.screenshot(path=str(shot), full_page=True)
    publish_screenshot(shot, "venue-history.png")

    # When they download the CSV file
    with page.expect_download() as download:
        page.get_by_role("button", name="Tải tệp CSV").click()
    # Then it is the tracer's spreadsheet of the same visits
    assert download.value.suggested_filename == f"visits-{venue['venue_id']}.csv"
    rows_in_file = list(csv.DictReader(io.StringIO(saved(download.value).decode("utf-8-sig"))))
    assert {row["visit_id"] for row in rows_in_file} == {v["visit_id"] for v in expected}
    assert {row["venue_name"] for row in rows_in_file} == {"Nhà hàng Phố Núi"}

    # And a period longer than the 21 days kept is refused before asking
    page.get_by_label("Từ ngày").fill("2020-01-01")
    page.get_by_role("button", name="Xem", exact=True).click()
    assert page.locator("#period-error").inner_text() == "Tối đa 21 ngày (thời gian dữ liệu được giữ)."
    desktop.assert_self_contained()


def test_a_low_self_assessment_raises_the_venue_to_level_2_and_a_passing_one_lowers_it(
    running_services: RunningServices, public: httpx.Client, desktop: Device, tmp_path: Path
) -> None:
    # Given a shop, and the checklist as the safety map serves it
    venue = register(public, "Cửa hàng Bách hóa Lam Sơn", category="shop")
    checklist = public.get("/v1/self-assessment/checklist").json()
    weights = {c["id"]: c["weight"] for c in checklist["criteria"]}
    sign_in(desktop, running_services.public, venue)
    page = desktop.page
    page.locator('#venue-risk[data-level="1"]').wait_for(timeout=PAGE_WAIT_MS)
    page.locator('#poster img[data-loaded="true"]').first.wait_for(timeout=PAGE_WAIT_MS)
    dashboard_shot = tmp_path / "venue-dashboard.png"
    page.screenshot(path=str(dashboard_shot))
    publish_screenshot(dashboard_shot, "venue-dashboard.png")
    page.get_by_role("link", name="Tự đánh giá").first.click()
    page.locator('body[data-state="ready"]').wait_for(state="attached", timeout=PAGE_WAIT_MS)
    assert page.locator("#criteria input[type=checkbox]").count() == len(weights)

    # When the owner ticks only masks and distancing, and submits
    ticked = ["masks", "distancing"]
    for criterion in checklist["criteria"]:
        if criterion["id"] in ticked:
            page.get_by_label(criterion["text"]).check()
    page.get_by_role("button", name="Gửi tự đánh giá").click()
    # Then the score is the weight of those over the checklist's, below the threshold
    low = round(100 * sum(weights[c] for c in ticked) / checklist["total_weight"])
    assert low < checklist["threshold"]
    page.locator("#result").wait_for(timeout=PAGE_WAIT_MS)
    assert page.locator("#score").inner_text() == str(low)
    assert page.locator("#verdict").get_attribute("data-below") == "true"
    # And once the map has it, the page shows the venue at level 2 with the low score as the reason
    page.locator('#result[data-risk="updated"]').wait_for(state="attached", timeout=SERVICE_WAIT_S * 1000)
    assert page.locator("#risk").get_attribute("data-level") == "2"
    assert page.locator('#reasons li[data-reason="low_self_assessment"]').inner_text() == (
        f"Điểm tự đánh giá {low}/100, dưới ngưỡng {checklist['threshold']}"
    )
    risk = public.get(f"/v1/venues/{venue['venue_id']}/risk").json()
    assert risk["level"] == 2 and "low_self_assessment" in [r["code"] for r in risk["reasons"]]
    assessment_shot = tmp_path / "venue-self-assessment.png"
    page.screenshot(path=str(assessment_shot), full_page=True)
    publish_screenshot(assessment_shot, "venue-self-assessment.png")

    # When they switch to English (the checklist comes in English, the ticks stay) and tick everything
    page.get_by_role("button", name="EN", exact=True).click()
    english = public.get("/v1/self-assessment/checklist", params={"lang": "en"}).json()
    page.get_by_label(english["criteria"][0]["text"]).wait_for()
    assert page.get_by_label(english["criteria"][0]["text"]).is_checked() == (english["criteria"][0]["id"] in ticked)
    for box in page.locator("#criteria input[type=checkbox]").all():
        box.check()
    page.get_by_role("button", name="Submit the self-assessment").click()
    # Then the score passes and the venue's level comes back down to 1
    page.locator("#score").filter(has_text="100").wait_for(timeout=PAGE_WAIT_MS)
    assert page.locator("#verdict").inner_text() == f"Passed: {checklist['threshold']} points or more."
    page.locator('#result[data-risk="updated"]').wait_for(state="attached", timeout=SERVICE_WAIT_S * 1000)
    assert page.locator("#risk").get_attribute("data-level") == "1"
    assert page.locator("#risk").inner_text() == "Level 1: Low risk (new normal)"
    assert public.get(f"/v1/venues/{venue['venue_id']}/risk").json()["level"] == 1
    desktop.assert_self_contained()


def test_a_wrong_key_is_refused_in_words_on_every_page(
    running_services: RunningServices, public: httpx.Client, desktop: Device
) -> None:
    # Given a venue and someone holding the wrong key for it
    venue = register(public, "Trường Tiểu học Điện Biên", category="school")
    wrong = {**venue, "api_key": "vk_" + "A" * 32}
    page = desktop.page
    page.goto(f"{running_services.public}/co-so/")
    page.locator('body[data-state="signed-out"]').wait_for(state="attached", timeout=PAGE_WAIT_MS)
    error = page.locator("#signin-error")

    # When they sign in with it, or with an id of no venue, or with something that is no venue id at all
    page.get_by_label("Mã cơ sở").fill(venue["venue_id"])
    page.get_by_label("Khoá của cơ sở").fill(wrong["api_key"])
    page.get_by_role("button", name="Đăng nhập", exact=True).click()
    # Then each is refused in words, and the page stays on the sign-in form
    page.locator('#signin-error[data-code="invalid_venue_key"]').wait_for(timeout=PAGE_WAIT_MS)
    assert error.inner_text() == "Khoá không đúng với cơ sở này. Hãy kiểm tra lại mã cơ sở và khoá."
    page.get_by_role("button", name="EN", exact=True).click()
    assert error.inner_text() == "The key does not belong to this venue. Check the venue ID and the key."
    page.get_by_role("button", name="VI", exact=True).click()
    page.get_by_label("Mã cơ sở").fill("v_" + uuid.uuid4().hex[:16])
    page.get_by_role("button", name="Đăng nhập", exact=True).click()
    page.locator('#signin-error[data-code="venue_not_found"]').wait_for(timeout=PAGE_WAIT_MS)
    assert error.inner_text() == "Không tìm thấy cơ sở có mã này."
    page.get_by_label("Mã cơ sở").fill("Quán của tôi")
    page.get_by_role("button", name="Đăng nhập", exact=True).click()
    assert error.inner_text() == "Mã cơ sở có dạng v_ và 16 chữ số hoặc chữ cái a–f."
    assert page.locator("#dashboard-view").is_hidden()

    # When a wrong key is what this device kept, and the entrance screen and the history are opened with it
    page.evaluate(
        "([id, key]) => localStorage.setItem('antoan.venue.keys', JSON.stringify({[id]: {api_key: key, name: ''}}))",
        [venue["venue_id"], wrong["api_key"]],
    )
    page.goto(f"{running_services.public}/co-so/man-hinh.html?venue={venue['venue_id']}")
    # Then the screen stops and says to sign in again, showing no code
    problem = page.locator('#problem[data-code="invalid_venue_key"]')
    problem.wait_for(timeout=PAGE_WAIT_MS)
    assert "Khoá của cơ sở không còn đúng. Hãy đăng nhập lại." in problem.inner_text()
    assert page.locator("#code").is_hidden()
    page.goto(f"{running_services.public}/co-so/lich-su.html?venue={venue['venue_id']}")
    summary = page.locator('#summary[data-code="invalid_venue_key"]')
    summary.wait_for(timeout=PAGE_WAIT_MS)
    assert summary.inner_text() == "Khoá không đúng với cơ sở này. Hãy kiểm tra lại mã cơ sở và khoá."
    assert page.locator("#visits-body tr").count() == 0
    # And nothing went wrong in the pages' scripts
    desktop.assert_self_contained()


def test_an_owner_edits_the_venue_and_deactivates_it_only_after_confirming(
    running_services: RunningServices, public: httpx.Client, desktop: Device
) -> None:
    # Given a signed-in owner on the overview
    venue = register(public, "Siêu thị Lam Sơn", category="supermarket")
    page = sign_in(desktop, running_services.public, venue)
    assert page.locator("#venue-name").inner_text() == "Siêu thị Lam Sơn"

    # When they raise the capacity and take only the entrance screen's code
    page.get_by_label("Sức chứa (số người tối đa có mặt cùng lúc)").fill("120")
    page.get_by_label("Chỉ nhận mã trên màn hình ở lối vào").check()
    with page.expect_response(lambda r: r.request.method == "PATCH") as patched:
        page.get_by_role("button", name="Lưu thay đổi").click()
    # Then only what changed is sent, it is saved, and the poster says its code is no longer taken
    assert json.loads(patched.value.request.post_data or "{}") == {"capacity": 120, "rotating_qr_only": True}
    page.get_by_text("Đã lưu.").wait_for()
    stored = public.get(f"/v1/venues/{venue['venue_id']}").json()
    assert (stored["capacity"], stored["rotating_qr_only"]) == (120, True)
    page.locator("#poster-rotating-only").wait_for()

    # When they ask to deactivate it, and cancel
    page.get_by_role("button", name="Ngừng hoạt động cơ sở").click()
    dialog = page.get_by_role("dialog", name="Ngừng hoạt động cơ sở này?")
    dialog.wait_for()
    assert "Siêu thị Lam Sơn" in dialog.inner_text()
    dialog.get_by_role("button", name="Huỷ").click()
    # Then nothing happens
    assert dialog.is_hidden()
    assert public.get(f"/v1/venues/{venue['venue_id']}").json()["active"] is True

    # When they confirm it
    page.get_by_role("button", name="Ngừng hoạt động cơ sở").click()
    page.get_by_role("dialog").get_by_role("button", name="Ngừng hoạt động", exact=True).click()
    # Then the venue is inactive, the overview says so, and its screen page and poster are gone from it
    page.locator('body[data-active="false"]').wait_for(state="attached", timeout=PAGE_WAIT_MS)
    assert "Cơ sở đã ngừng hoạt động" in page.locator("#venue-inactive").inner_text()
    assert page.locator("#tile-kiosk").is_hidden() and page.locator("#poster").is_hidden()
    assert public.get(f"/v1/venues/{venue['venue_id']}").json()["active"] is False
    desktop.assert_self_contained()


def test_no_portal_page_has_a_serious_accessibility_violation_in_either_language(
    running_services: RunningServices, public: httpx.Client, browser: Browser
) -> None:
    # Given a venue with a visit, and a phone-sized context in which axe-core may be injected (the gateway's
    # CSP would refuse it as a script of the page's)
    venue = register(public, "Khách sạn Sao Mai", category="hotel")
    check_in(public, venue, "0912000333")
    device = Device(browser, PHONE, bypass_csp=True)
    base = running_services.public
    pages = {
        "sign-in": (f"{base}/co-so/", 'body[data-state="signed-out"]'),
        "overview": (f"{base}/co-so/?venue={venue['venue_id']}", 'body[data-state="signed-in"]'),
        "kiosk": (f"{base}/co-so/man-hinh.html?venue={venue['venue_id']}", 'body[data-state="running"]'),
        "history": (f"{base}/co-so/lich-su.html?venue={venue['venue_id']}", 'body[data-state="loaded"]'),
        "self-assessment": (f"{base}/co-so/tu-danh-gia.html?venue={venue['venue_id']}", 'body[data-state="ready"]'),
    }
    try:
        page = device.page
        for language in ("vi", "en"):
            # When axe looks at the registration form with a mistake marked, and at its result
            page.goto(f"{base}/co-so/dang-ky.html")
            page.locator(f'.lang button[data-lang="{language}"]').click()
            assert page.evaluate("() => document.documentElement.lang") == language
            page.locator("#submit").click()
            page.locator("#form-error").wait_for()
            # Then it finds nothing serious or critical
            assert axe_violations(page) == [], f"registration form, {language}"
            page.locator("#name").fill("Nhà nghỉ Hoa Hồng")
            page.locator("#category").select_option("hotel")
            page.locator("#province").select_option("01")  # no district list: the codes are typed
            page.locator("#district-code").fill("001")
            page.locator("#capacity").fill("12")
            page.locator("#submit").click()
            page.locator('#poster-qr[data-loaded="true"]').wait_for(timeout=PAGE_WAIT_MS)
            assert axe_violations(page) == [], f"registration result, {language}"
            # Nor on the sign-in form (with this device's kept key listed), the overview, the entrance screen,
            # the history and the self-assessment with its result
            page.evaluate("() => sessionStorage.clear()")
            kept = {venue["venue_id"]: {"api_key": venue["api_key"], "name": "Sao Mai"}, "v_" + "0" * 16: OTHER_KEPT}
            page.evaluate("kept => localStorage.setItem('antoan.venue.keys', JSON.stringify(kept))", kept)
            for name, (url, ready) in pages.items():
                page.goto(url)
                page.locator(ready).wait_for(state="attached", timeout=PAGE_WAIT_MS)
                if name == "self-assessment":
                    page.locator("#criteria input[type=checkbox]").first.check()
                    page.locator("#submit").click()
                    page.locator("#result").wait_for(timeout=PAGE_WAIT_MS)
                assert axe_violations(page) == [], f"{name}, {language}"
            # And the deactivation's confirmation
            page.goto(pages["overview"][0])
            page.locator(pages["overview"][1]).wait_for(state="attached", timeout=PAGE_WAIT_MS)
            page.locator("#deactivate").click()
            page.locator("#confirm[open]").wait_for()
            assert axe_violations(page) == [], f"confirmation, {language}"
            page.locator("#confirm-cancel").click()
        assert not device.errors and not device.refused
    finally:
        device.close()
