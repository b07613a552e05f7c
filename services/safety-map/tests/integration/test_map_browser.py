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
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize

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

    def __init__(self, browser: Browser, viewport: ViewportSize) -> None:
        self.refused: list[str] = []
        self.errors: list[str] = []
        self.context: BrowserContext = browser.new_context(viewport=viewport, device_scale_factor=2)
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
        # And the three restaurants are one green cluster
        cluster = page.locator('.venue-cluster span[data-level="1"]')
        cluster.wait_for()
        assert cluster.inner_text() == "3"
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
        assert "Có ca bệnh" in sheet.inner_text()
        page.screenshot(path=str(phone_shot))
        publish(phone_shot, "phone")
        assert phone.refused == []
        assert phone.errors == []
    finally:
        phone.close()
