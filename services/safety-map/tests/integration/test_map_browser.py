"""The public map in a real browser: headless Chromium (Debian's) driven by Playwright, against the three
services on a real Kafka and Redis (SPEC §3.6, §4.1).

The page may reach nothing beyond loopback: every other request is aborted and recorded. Screenshots go to
the test's tmp dir (their paths are printed); `ANTOAN_SCREENSHOT=docs/map.png` also writes the desktop one
there and the phone one beside it (`docs/map-phone.png`), which is how the README's pictures are made.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from antoan_localstack import stack
from antoan_localstack.browser import chromium, only_loopback
from antoan_localstack.testing import RunningServices, wait_for
from antoan_shared import events

pytestmark = pytest.mark.integration

DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
# The marker colours of app.css, as the browser computes them.
GREEN, YELLOW, ORANGE, RED = "rgb(46, 157, 58)", "rgb(242, 194, 0)", "rgb(240, 127, 19)", "rgb(215, 38, 30)"
LIVE_CHANGE_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def ingest(running_services: RunningServices) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running_services.ingest, timeout=15) as client:
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


class OfflineContext:
    """A browser context in which only loopback answers; what else the page tried is kept in `refused`."""

    def __init__(self, browser: Browser, viewport: ViewportSize, *, bypass_csp: bool = False) -> None:
        self.refused: list[str] = []
        self.errors: list[str] = []
        self.context: BrowserContext = browser.new_context(
            viewport=viewport, device_scale_factor=2, bypass_csp=bypass_csp
        )
        self.context.route("**/*", only_loopback(self.refused))
        self.page: Page = self.context.new_page()
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def close(self) -> None:
        self.context.close()


def register(
    ingest: httpx.Client, name: str, category: str, address: str, lat: float, lon: float, capacity: int
) -> dict[str, str]:
    body = {
        "name": name,
        "category": category,
        "address": address,
        "province_code": "38",
        "district_code": "380",
        "ward_code": "14755",
        "lat": lat,
        "lon": lon,
        "capacity": capacity,
    }
    response = ingest.post("/v1/venues", json=body)
    assert response.status_code == 201, response.text
    venue: dict[str, str] = response.json()
    return venue


def check_in(ingest: httpx.Client, venue: dict[str, str], person_id: str) -> None:
    body = {
        "venue_qr": venue["qr"],
        "person_id": person_id,
        "direction": "in",
        "app": "pc-covid",
        "client_event_id": str(uuid.uuid4()),
    }
    response = ingest.post("/v1/checkins", json=body)
    assert response.status_code == 202, response.text


def map_levels(running_services: RunningServices) -> dict[str, int]:
    response = httpx.get(f"{running_services.safety_map}/v1/map/venues.geojson", timeout=5)
    if response.status_code != 200:
        return {}
    return {feature["id"]: feature["properties"]["level"] for feature in response.json()["features"]}


def served_at(running_services: RunningServices, expected: dict[str, int], what: str) -> dict[str, int]:
    """Waits until the map's GeoJSON serves these venues at these levels."""

    def matches() -> dict[str, int] | None:
        levels = map_levels(running_services)
        return levels if all(levels.get(venue_id) == level for venue_id, level in expected.items()) else None

    return wait_for(matches, timeout=60, interval=0.3, what=what)


def open_map(page: Page, running_services: RunningServices) -> None:
    """Opens the map and waits for its first load: the view fitted to the venues and their markers placed."""
    page.goto(f"{running_services.safety_map}/")
    page.locator('body[data-loaded="true"]').wait_for(state="attached")


def marker(page: Page, venue_id: str) -> Any:
    return page.locator(f'.venue-dot[data-venue-id="{venue_id}"]')


def shows(page: Page, venue_id: str, level: str, colour: str, timeout_ms: float = 10_000) -> None:
    """Waits until the venue's marker is on the page at this level, painted in this colour. (Markers are
    re-rendered on every change, so the element is looked up afresh each time.)"""
    page.wait_for_function(
        """([id, level, colour]) => {
            const dot = document.querySelector(`.venue-dot[data-venue-id="${id}"]`);
            return dot !== null && dot.dataset.level === level && getComputedStyle(dot).backgroundColor === colour;
        }""",
        arg=[venue_id, level, colour],
        timeout=timeout_ms,
    )


VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def case_window_words(running_services: RunningServices, venue_id: str) -> str:
    """What the panel must say of the venue's case presence, worked out here from the API's reason: the window
    as a past interval in Vietnam's time ("trong khoảng 08:00–10:00 ngày 02/12"), or "từ 08:00 ngày 02/12" while
    its end has not come yet."""
    view = httpx.get(f"{running_services.safety_map}/v1/map/venues/{venue_id}", timeout=5).json()
    (reason,) = [r for r in view["reasons"] if r["code"] in ("case_present_72h", "case_present_14d")]
    start = datetime.fromisoformat(reason["detail"]["present_from"]).astimezone(VIETNAM)
    end = datetime.fromisoformat(reason["detail"]["last_present_at"]).astimezone(VIETNAM)
    ago = "trong 72 giờ qua" if reason["code"] == "case_present_72h" else "trong 14 ngày qua"
    if end > datetime.now(UTC):
        return f"Một ca bệnh đã có mặt tại đây từ {start:%H:%M} ngày {start:%d/%m} ({ago})"
    if start.date() == end.date():
        return f"Một ca bệnh đã có mặt tại đây trong khoảng {start:%H:%M}–{end:%H:%M} ngày {end:%d/%m} ({ago})"
    span = f"{start:%H:%M} ngày {start:%d/%m} – {end:%H:%M} ngày {end:%d/%m}"
    return f"Một ca bệnh đã có mặt tại đây trong khoảng {span} ({ago})"


def panel_says(page: Page, text: str) -> None:
    try:
        page.wait_for_function("(text) => document.querySelector('#panel')?.innerText.includes(text)", arg=text)
    except PlaywrightTimeout:
        pytest.fail(f"the panel never said {text!r}; it says {page.locator('#panel').inner_text()!r}")


def screenshot_paths(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "map-desktop.png", tmp_path / "map-phone.png"


def publish(shot: Path, name: str) -> None:
    """Copies a screenshot to where ANTOAN_SCREENSHOT asks (relative to the repository), if it asks."""
    target = os.environ.get("ANTOAN_SCREENSHOT")
    print(f"screenshot: {shot}")
    if not target:
        return
    desktop = Path(target) if Path(target).is_absolute() else stack.repo_root() / target
    destination = desktop if name == "desktop" else desktop.with_name(f"{desktop.stem}-{name}{desktop.suffix}")
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, destination)
    print(f"screenshot: {destination}")


def test_map_shows_coloured_venues_and_follows_a_live_change_offline(
    running_services: RunningServices, ingest: httpx.Client, browser: Browser, tmp_path: Path
) -> None:
    # Given four venues in Thanh Hóa city, a few kilometres apart so that none is clustered at first sight:
    # a calm hospital, a café near its capacity, a school a confirmed case was at, and a small kiosk
    hospital = register(
        ingest, "Bệnh viện Đa khoa tỉnh Thanh Hóa", "hospital", "181 Hải Thượng Lãn Ông", 19.8075, 105.776, 500
    )
    cafe = register(ingest, "Cà phê Hạc Thành", "cafe", "25 Hạc Thành, Phường Điện Biên", 19.826, 105.793, 5)
    school = register(
        ingest, "Trường THPT chuyên Lam Sơn", "school", "307 Lê Lai, Phường Đông Sơn", 19.79, 105.764, 800
    )
    kiosk = register(ingest, "Ki-ốt Chợ Vườn Hoa", "shop", "Chợ Vườn Hoa, Phường Lam Sơn", 19.801, 105.812, 1)
    # and, a stone's throw from each other, three restaurants of one street, which the map clusters
    street = [
        register(
            ingest, f"Nhà hàng {name}", "restaurant", f"{n} Trần Phú, Phường Điện Biên", 19.8130 + n / 2e4, 105.7790, 80
        )
        for n, name in enumerate(("Hương Quê", "Sông Mã", "Hàm Rồng"), start=1)
    ]
    for n in range(4):
        check_in(ingest, cafe, f"09120001{n:02d}")
    check_in(ingest, school, "0912000150")
    case = {"person_id": "0912000150", "tested_at": events.utc_now().isoformat()}
    confirmed = ingest.post("/v1/cases", json=case, headers={"authorization": f"Bearer {running_services.ha_token}"})
    assert confirmed.status_code == 202, confirmed.text
    served_at(
        running_services,
        {
            hospital["venue_id"]: 1,
            cafe["venue_id"]: 2,
            school["venue_id"]: 4,
            kiosk["venue_id"]: 1,
            **{restaurant["venue_id"]: 1 for restaurant in street},
        },
        what="the venues at their levels on the map's GeoJSON",
    )

    desktop = OfflineContext(browser, DESKTOP)
    try:
        page = desktop.page
        # When the map is opened with nothing but loopback reachable
        open_map(page, running_services)
        # Then every venue shows as a marker coloured by its level, and the stream is live
        for venue_id, level, colour in (
            (hospital["venue_id"], "1", GREEN),
            (cafe["venue_id"], "2", YELLOW),
            (school["venue_id"], "4", RED),
            (kiosk["venue_id"], "1", GREEN),
        ):
            marker(page, venue_id).wait_for(state="visible")
            shows(page, venue_id, level, colour)
        # And the three restaurants are one cluster, all of it green
        cluster = page.locator('.venue-cluster .cluster[data-counts="0,3,0,0,0"]')
        cluster.wait_for()
        assert cluster.inner_text() == "3"
        assert count_is_on_top(page, "0,3,0,0,0")  # painted over the ring, not under it
        page.locator('#status[data-state="live"]').wait_for()
        page.evaluate("() => { window.antoanNotReloaded = true; }")

        # When two people check in at the kiosk, whose capacity is one
        check_in(ingest, kiosk, "0912345678")
        check_in(ingest, kiosk, "0912345679")
        # Then, without a reload, its marker turns orange (level 3: over capacity)
        shows(page, kiosk["venue_id"], "3", ORANGE, timeout_ms=LIVE_CHANGE_TIMEOUT_MS)
        assert page.evaluate("() => window.antoanNotReloaded") is True

        # And its panel tells why, in Vietnamese, with occupancy against capacity
        marker(page, kiosk["venue_id"]).click()
        panel = page.locator("#panel")
        panel.wait_for(state="visible")
        page.wait_for_function(
            "() => document.querySelector('#panel .occupancy-text')?.textContent.startsWith('2 / 1')",
            timeout=LIVE_CHANGE_TIMEOUT_MS,
        )
        assert "Nguy cơ cao" in panel.inner_text()
        assert "Vượt sức chứa: 2/1 người" in panel.inner_text()
        assert "Nguy cơ rất cao" in page.locator("#legend").inner_text()
        desktop_shot, phone_shot = screenshot_paths(tmp_path)
        page.screenshot(path=str(desktop_shot))
        publish(desktop_shot, "desktop")

        # When the English switch is pressed, the legend and the panel speak English
        page.locator('button[data-lang="en"]').click()
        assert "Very high risk" in page.locator("#legend").inner_text()
        assert "Nguy cơ" not in page.locator("#legend").inner_text()
        assert "Over capacity: 2/1 people" in panel.inner_text()
        # And the choice is remembered on the next visit
        page.reload()
        page.locator("#legend li").first.wait_for()
        assert "Very high risk" in page.locator("#legend").inner_text()
        assert page.evaluate("() => document.documentElement.lang") == "en"
        # And nothing beyond loopback was ever asked for, nor did the page's script fail
        assert desktop.refused == []
        assert desktop.errors == []
    finally:
        desktop.close()

    # Given a phone-sized screen: the panel is a bottom sheet over the map
    phone = OfflineContext(browser, PHONE)
    try:
        page = phone.page
        open_map(page, running_services)
        marker(page, school["venue_id"]).wait_for(state="visible")
        marker(page, school["venue_id"]).click()
        sheet = page.locator("#panel")
        sheet.wait_for(state="visible")
        box = sheet.bounding_box()
        assert box is not None
        assert box["width"] == PHONE["width"]
        assert box["y"] + box["height"] == pytest.approx(PHONE["height"], abs=1)
        # And the venue it describes is moved into sight above it
        page.wait_for_function(
            """([id, top]) => {
                const dot = document.querySelector(`.venue-dot[data-venue-id="${id}"]`);
                return dot !== null && dot.getBoundingClientRect().bottom < top;
            }""",
            arg=[school["venue_id"], box["y"]],
        )
        # And it says when the case was there as a past interval, never "present until" a time to come
        panel_says(page, case_window_words(running_services, school["venue_id"]))
        assert "có mặt đến" not in sheet.inner_text()
        page.screenshot(path=str(phone_shot))
        publish(phone_shot, "phone")
        assert phone.refused == []
        assert phone.errors == []
    finally:
        phone.close()


AXE = stack.repo_root() / "web" / "test-vendor" / "axe-core" / "axe.min.js"


def serious_accessibility_problems(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it stands."""
    page.add_script_tag(path=str(AXE))
    violations: list[dict[str, Any]] = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        f"{v['id']} ({v['impact']}): {[node['target'] for node in v['nodes']][:5]}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]


def test_a_person_finds_a_venue_by_typing_its_name_without_accents_and_its_panel_opens(
    running_services: RunningServices, ingest: httpx.Client, browser: Browser
) -> None:
    # Given a café in Vinh among other venues, and another venue whose address only has the same words
    tag = uuid.uuid4().hex[:6]
    cafe = register(ingest, f"Cà phê Sông Lam {tag}", "cafe", "12 Quang Trung, Vinh", 18.6733, 105.6923, 40)
    other = register(ingest, f"Nhà thuốc {tag}", "shop", f"Ngõ Cà phê Sông Lam {tag}", 18.6790, 105.6810, 10)
    served_at(running_services, {cafe["venue_id"]: 1, other["venue_id"]: 1}, what="the two venues on the map")

    context = OfflineContext(browser, PHONE)
    try:
        page = context.page
        open_map(page, running_services)
        # When a person types the name without diacritics and picks the first result with the keyboard
        box = page.get_by_role("combobox")
        box.click()
        # (a pause in the typing searches what is typed so far, which lists more: the test waits for the
        # answer to the whole of it, and then for the list to show it)
        with page.expect_response(lambda answer: "/v1/map/search" in answer.url and tag in answer.url):
            page.keyboard.type(f"ca phe song lam {tag}", delay=20)
        options = page.get_by_role("listbox").get_by_role("option")
        # Then both are listed, the one named so first
        expect(options).to_have_count(2)
        assert options.nth(0).get_attribute("data-venue-id") == cafe["venue_id"]
        assert options.nth(1).get_attribute("data-venue-id") == other["venue_id"]
        page.keyboard.press("ArrowDown")
        assert options.nth(0).get_attribute("aria-selected") == "true"
        assert box.get_attribute("aria-activedescendant") == options.nth(0).get_attribute("id")
        page.keyboard.press("Enter")
        # And the map flies there and opens its panel
        panel_says(page, f"Cà phê Sông Lam {tag}")
        marker(page, cafe["venue_id"]).wait_for(state="visible")
        page.wait_for_function(
            "(id) => document.querySelector(`.venue-dot[data-venue-id=\"${id}\"]`)?.classList.contains('selected')",
            arg=cafe["venue_id"],
        )
        assert "12 Quang Trung, Vinh" in page.locator("#panel").inner_text()
        # And a name found nowhere says so
        box.fill("")
        page.keyboard.type("khong co dau ca", delay=10)
        page.get_by_role("listbox").get_by_text("Không tìm thấy địa điểm nào").wait_for()
        page.keyboard.press("Escape")
        assert context.refused == []
        assert context.errors == []
    finally:
        context.close()


def test_search_answers_bounded_lists_and_refuses_bad_input(running_services: RunningServices) -> None:
    search = f"{running_services.safety_map}/v1/map/search"
    # A limit beyond 50, an empty or over-long query, or one with no word: 4xx with an error code
    for params, status, code in (
        ({"q": "cafe", "limit": "51"}, 422, "invalid_request"),
        ({"q": "cafe", "limit": "0"}, 422, "invalid_request"),
        ({"q": ""}, 422, "invalid_request"),
        ({"q": "x" * 101}, 422, "invalid_request"),
        ({"q": " -,. "}, 400, "invalid_query"),
        ({}, 422, "invalid_request"),
    ):
        response = httpx.get(search, params=params, timeout=10)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), params
    # And a good query answers at most `limit` venues, saying there were more
    answer = httpx.get(search, params={"q": "nha hang", "limit": 1}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["results"]) <= 1


def count_is_on_top(page: Page, counts: str) -> bool:
    """Whether the number of the cluster with these counts is what the screen shows at its own centre."""
    return bool(
        page.evaluate(
            """(counts) => {
                const count = document.querySelector(`.venue-cluster .cluster[data-counts="${counts}"] .count`);
                const box = count.getBoundingClientRect();
                return document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2) === count;
            }""",
            counts,
        )
    )


def arc_colours(page: Page, counts: str) -> list[tuple[str, str]]:
    """The arcs of the cluster with these counts by level: (level, painted colour), as the browser draws them."""
    arcs: list[list[str]] = page.evaluate(
        """(counts) => [...document.querySelectorAll(`.venue-cluster .cluster[data-counts="${counts}"] .arc`)]
            .map(arc => [arc.dataset.level, getComputedStyle(arc).stroke])""",
        counts,
    )
    return [(level, colour) for level, colour in arcs]


def test_a_cluster_shows_how_many_of_its_venues_are_at_each_level(
    running_services: RunningServices, ingest: httpx.Client, browser: Browser
) -> None:
    # Given three shops side by side in Pleiku, one of them over its capacity (level 3), two at level 1
    shops = [
        register(ingest, f"Cửa hàng Phố Núi {n}", "shop", f"{n} Hùng Vương, Pleiku", 13.9830 + n / 5e4, 108.0000, 1)
        for n in range(3)
    ]
    check_in(ingest, shops[0], "0912000301")
    check_in(ingest, shops[0], "0912000302")
    served_at(
        running_services,
        {shops[0]["venue_id"]: 3, shops[1]["venue_id"]: 1, shops[2]["venue_id"]: 1},
        what="one shop over capacity, two calm",
    )
    context = OfflineContext(browser, DESKTOP)
    try:
        page = context.page
        # When the map opens at a zoom where they are one cluster
        open_map(page, running_services)
        cluster = page.locator('.venue-cluster .cluster[data-counts="0,2,0,1,0"]')
        cluster.wait_for()
        # Then the cluster is not simply orange: it shows an orange arc a third long and a green one two thirds
        assert cluster.inner_text() == "3"
        assert arc_colours(page, "0,2,0,1,0") == [("3", ORANGE), ("1", GREEN)]
        dashes = cluster.locator(".arc").evaluate_all("arcs => arcs.map(a => a.getAttribute('stroke-dasharray'))")
        assert [float(d.split()[0]) for d in dashes] == pytest.approx([100 / 3, 200 / 3], abs=0.01)
        # And it says so to a screen reader, and the legend explains the ring
        assert cluster.get_attribute("aria-label") == "3 địa điểm: 1 nguy cơ cao, 2 nguy cơ thấp (bình thường mới)"
        assert "mỗi cung màu" in page.locator("#legend").inner_text()
        assert context.errors == []
    finally:
        context.close()


@pytest.mark.parametrize("language", ["vi", "en"])
def test_the_map_with_its_search_results_and_a_panel_has_no_serious_accessibility_violation(
    running_services: RunningServices, ingest: httpx.Client, browser: Browser, language: str
) -> None:
    # Given a venue, and the map opened in a context that lets axe-core be injected (the page's CSP would not)
    venue = register(ingest, "Nhà sách Phương Nam Huế", "shop", "15 Lê Lợi, Huế", 16.4637, 107.5909, 50)
    served_at(running_services, {venue["venue_id"]: 1}, what="the bookshop on the map")
    context = OfflineContext(browser, PHONE, bypass_csp=True)
    try:
        page = context.page
        page.add_init_script(f"localStorage.setItem('antoan.lang', '{language}')")
        open_map(page, running_services)
        # When search results are listed, and then a venue's panel is open
        page.get_by_role("combobox").fill("nha sach phuong nam")
        page.get_by_role("listbox").get_by_role("option").first.wait_for()
        listed = serious_accessibility_problems(page)
        page.keyboard.press("Enter")
        panel_says(page, "Nhà sách Phương Nam Huế")
        # Then axe-core finds no serious or critical violation in either state
        assert listed == []
        assert serious_accessibility_problems(page) == []
    finally:
        context.close()


def load_areas(running_services: RunningServices, areas: list[dict[str, Any]]) -> None:
    response = httpx.put(
        f"{running_services.safety_map}/v1/areas",
        json={"areas": areas},
        headers={"authorization": f"Bearer {running_services.ha_token}"},
        timeout=10,
    )
    assert response.status_code == 202, response.text


def test_the_area_panel_lists_a_province_its_districts_and_wards_with_their_levels(
    running_services: RunningServices, browser: Browser
) -> None:
    # Given area data for a province, one of its districts (no population loaded) and one of its wards
    load_areas(
        running_services,
        [
            {"area_code": "93", "area_kind": "province", "name": "Tỉnh Hậu Giang", "population": 730000},
            {"area_code": "930", "area_kind": "district", "name": "Thành phố Vị Thanh", "parent_code": "93"},
            {"area_code": "31321", "area_kind": "ward", "name": "Phường I", "parent_code": "930", "population": 100},
        ],
    )
    wait_for(
        lambda: httpx.get(f"{running_services.safety_map}/v1/areas/31321/risk", timeout=5).status_code == 200,
        timeout=60,
        interval=0.3,
        what="the ward's level",
    )
    ward = httpx.get(f"{running_services.safety_map}/v1/areas/31321/risk", timeout=5).json()
    context = OfflineContext(browser, PHONE)
    try:
        page = context.page
        open_map(page, running_services)
        # When a person opens the areas from the map, then the province and its district
        page.get_by_role("button", name="Khu vực").click()
        tree = page.locator("#area-tree")
        province = tree.locator('.area[data-area-code="93"]')
        province.wait_for()
        assert "Tỉnh Hậu Giang" in province.inner_text()
        province.get_by_role("button", name="Xem các khu vực thuộc Tỉnh Hậu Giang").click()
        district = tree.locator('.area[data-area-code="930"]')
        district.get_by_role("button", name="Xem các khu vực thuộc Thành phố Vị Thanh").click()
        # Then the ward is listed with its level and why, in words
        row = tree.locator('.area[data-area-code="31321"]')
        row.wait_for()
        assert row.get_attribute("data-level") == str(ward["level"])
        assert f"Cấp độ {ward['level']}" in row.inner_text()
        assert "ca mới trong 7 ngày qua" in row.inner_text()
        assert "Phường/xã" in row.inner_text()
        # And Escape closes the panel, giving the focus back to its button
        page.keyboard.press("Escape")
        assert page.locator("#areas").is_hidden()
        assert page.evaluate("() => document.activeElement.id") == "areas-toggle"
        assert context.errors == []
    finally:
        context.close()


def zoom_until(page: Page, key: str, done: Any) -> int:
    """Presses + or - on the map (as a person would with a keyboard) until `done(zoom)`; the zoom reached."""
    page.locator("#map").focus()
    for _ in range(20):
        zoom = int(page.locator("#map").get_attribute("data-zoom") or 0)
        if done(zoom):
            return zoom
        page.keyboard.press(key)
        page.wait_for_function(
            """(zoom) => document.querySelector('#map').dataset.zoom !== String(zoom)
                && !document.querySelector('.leaflet-zoom-anim')""",
            arg=zoom,
        )
    pytest.fail(f"pressing {key} never got the map to the zoom wanted")


def test_with_no_tile_server_the_map_draws_vietnam_and_names_its_provinces_when_zoomed_in(
    running_services: RunningServices, browser: Browser
) -> None:
    context = OfflineContext(browser, DESKTOP)
    try:
        page = context.page
        # Given the map with no tile server, showing the whole country
        open_map(page, running_services)
        page.locator("path.land-vietnam").first.wait_for(state="attached")
        zoom_until(page, "Minus", lambda zoom: zoom <= 6)
        # Then Vietnam's land is drawn, its archipelagos named, and no province name crowds the view yet
        assert page.locator("path.land-neighbour").count() >= 1
        assert page.locator(".island-label").all_inner_texts() == [
            "Quần đảo Hoàng Sa (Việt Nam)",
            "Quần đảo Trường Sa (Việt Nam)",
        ]
        assert page.locator(".province-label").count() == 0
        # When the person zooms in with the keyboard
        zoom_until(page, "Equal", lambda zoom: zoom >= 7)
        # Then the 63 provinces are named, Thanh Hóa among them
        labels = page.locator(".province-label")
        assert labels.count() == 63
        assert "Thanh Hóa" in labels.all_inner_texts()
        assert context.refused == []
        assert context.errors == []
    finally:
        context.close()
