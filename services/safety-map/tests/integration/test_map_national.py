"""The public map at a national size (issue 14 item 7): 100,000 venues drawn as the server's clusters, and a
live stream that carries only the changes of the viewer's area.

The venues are seeded straight into the map's Redis read model as the engine writes it (each venue's record,
the set of venues, the geo index, through the production `Keys` and `VenueRecord`), in the test's own
namespace: going through venues.v1 would first time the engine's registration of 100,000 venues, which is not
what this measures. Venues registered during the test go through ingest and the engine as usual.

The first view in Chromium (navigation to clusters drawn) is measured and printed, and written to the test's
tmp dir as `map_national.json`: reported, never asserted.

In the default suite the module seeds 20,000 venues (about 40 s on two busy cores); the national size, 100,000
(about 75 s), is `ANTOAN_MAP_NATIONAL_VENUES=100000`.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import redis
from playwright.sync_api import Browser, Page

from antoan_localstack.browser import chromium, only_loopback
from antoan_localstack.testing import RunningServices, kill_service, restart_services, wait_for
from antoan_safety_map.adapters.read_model import Keys, VenueRecord
from antoan_safety_map.domain.venue_clusters import CELL_PX

pytestmark = pytest.mark.integration

VENUES = int(os.environ.get("ANTOAN_MAP_NATIONAL_VENUES", "20000"))
PROVINCES = Path(__file__).resolve().parents[2] / "web" / "provinces.json"
VIETNAM = (102.0, 8.0, 110.0, 23.5)
HANOI = (105.6, 20.8, 106.1, 21.25)
LEVELS = (None, 1, 1, 1, 1, 2, 2, 3, 4)
# The venues the page draws: the lone venues' dots and every cluster's count (the server's and the page's own).
COUNT_DRAWN = """
    let total = document.querySelectorAll(".venue-dot").length;
    document.querySelectorAll(".venue-cluster .cluster").forEach((c) => {
        total += c.dataset.counts.split(",").reduce((a, b) => a + Number(b), 0);
    });"""
COUNTED = "() => {" + COUNT_DRAWN + " return total; }"
COUNTED_IS = "(wanted) => {" + COUNT_DRAWN + " return total === wanted; }"  # functions: the page's CSP forbids eval


def seed(services: RunningServices, count: int) -> list[tuple[str, float, float, int | None]]:
    """`count` venues around the 63 provincial capitals, written as the engine writes them."""
    rng = random.Random(14)
    capitals = json.loads(PROVINCES.read_text(encoding="utf-8"))["provinces"]
    keys = Keys(services.env["SAFETY_MAP_REDIS_PREFIX"])
    client = redis.Redis.from_url(services.servers.redis_url)
    venues = []
    try:
        for start in range(0, count, 5000):
            pipe = client.pipeline(transaction=False)
            for n in range(start, min(count, start + 5000)):
                capital = capitals[n % len(capitals)]
                lon, lat = round(capital["lon"] + rng.gauss(0, 0.05), 6), round(capital["lat"] + rng.gauss(0, 0.05), 6)
                record = VenueRecord(
                    venue_id=f"national-{n:06d}",
                    known=True,
                    name=f"Địa điểm {n}",
                    category="shop",
                    address=f"{n} đường số {n % 97}, {capital['name']}",
                    lat=lat,
                    lon=lon,
                    capacity=50,
                    province_code=capital["code"],
                    level=rng.choice(LEVELS),
                )
                pipe.set(keys.venue(record.venue_id), record.model_dump_json())
                pipe.sadd(keys.venues, record.venue_id)
                pipe.geoadd(keys.geo, (lon, lat, record.venue_id))
                venues.append((record.venue_id, lon, lat, record.level))
            pipe.execute()
    finally:
        client.close()
    return venues


@pytest.fixture(scope="module")
def national(running_services: RunningServices) -> list[tuple[str, float, float, int | None]]:
    """The venues seeded, and the map restarted on them: a process loads its venues as it starts."""
    started = time.perf_counter()
    venues = seed(running_services, VENUES)
    print(f"\nseeded {len(venues):,} venues into the map's Redis in {time.perf_counter() - started:.1f} s")
    kill_service(running_services, "safety-map")
    started = time.perf_counter()
    restart_services(running_services)
    ready_s = time.perf_counter() - started
    response = httpx.get(f"{running_services.safety_map}/v1/map/venues.geojson?zoom=6", timeout=60)
    assert response.status_code == 200, response.text
    print(
        f"map restarted: ready in {ready_s:.1f} s, its clusters answered {time.perf_counter() - started:.1f} s "
        "after the restart (the venues load as it starts)"
    )
    return venues


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def clusters(services: RunningServices, box: tuple[float, ...], zoom: int) -> dict[str, Any]:
    bbox = ",".join(str(v) for v in box)
    response = httpx.get(f"{services.safety_map}/v1/map/venues.geojson?bbox={bbox}&zoom={zoom}", timeout=60)
    assert response.status_code == 200, response.text
    collection: dict[str, Any] = response.json()
    return collection


def level_totals(collection: dict[str, Any]) -> Counter[int]:
    totals: Counter[int] = Counter()
    for feature in collection["features"]:
        properties = feature["properties"]
        if properties.get("cluster"):
            totals.update({int(level): n for level, n in properties["level_counts"].items() if n})
        else:
            totals[properties["level"] or 0] += 1
    return totals


def inside(box: tuple[float, ...], lon: float, lat: float) -> bool:
    return box[0] <= lon <= box[2] and box[1] <= lat <= box[3]


def test_the_countrys_clusters_count_every_venue_at_its_level(
    running_services: RunningServices, national: list[tuple[str, float, float, int | None]]
) -> None:
    # Given a country's venues on the map, when the whole country is asked for at zoom 6
    timings = []
    for zoom, box in ((6, VIETNAM), (10, HANOI), (13, (105.80, 21.00, 105.90, 21.06))):
        started = time.perf_counter()
        answer = clusters(running_services, box, zoom)
        timings.append(
            f"zoom {zoom}: {len(answer['features'])} features in {(time.perf_counter() - started) * 1000:.0f} ms"
        )
    country = clusters(running_services, VIETNAM, 6)
    # What a page clustering by itself would have to download instead: every venue as a Feature
    started = time.perf_counter()
    plain = httpx.get(f"{running_services.safety_map}/v1/map/venues.geojson?limit=20000", timeout=120)
    timings.append(
        f"without zoom, up to 20,000 venues (the most one answer gives): {len(plain.content) / 1e6:.1f} MB in "
        f"{time.perf_counter() - started:.2f} s"
    )
    print("\n" + "; ".join(timings))
    # Then a few clusters count every venue once, each at its level
    assert country["clustered"] is True
    assert len(country["features"]) < 1000
    assert level_totals(country) == Counter(level or 0 for _, _, _, level in national)
    west, south, east, north = country["extent"]
    assert inside(VIETNAM, west, south) and inside(VIETNAM, east, north)
    # And around Hà Nội at zoom 10, the clusters count the venues in the cells the view touches: every venue
    # inside it, and none further than a cell beyond it
    cell = CELL_PX / (256 * 2**10) * 360 * 1.5  # a cell's width in degrees, with a margin for latitude
    grown = (HANOI[0] - cell, HANOI[1] - cell, HANOI[2] + cell, HANOI[3] + cell)
    counted = sum(level_totals(clusters(running_services, HANOI, 10)).values())
    strictly = sum(1 for _, lon, lat, _ in national if inside(HANOI, lon, lat))
    nearby = sum(1 for _, lon, lat, _ in national if inside(grown, lon, lat))
    assert strictly > 0
    assert strictly <= counted <= nearby
    # And without a zoom the answer is the venues themselves, as before
    plain = httpx.get(f"{running_services.safety_map}/v1/map/venues.geojson?bbox=105.84,21.02,105.86,21.04", timeout=30)
    assert plain.status_code == 200
    assert "clustered" not in plain.json()
    assert all(feature["properties"]["venue_id"] for feature in plain.json()["features"])


class EventStream(threading.Thread):
    """A server-sent event stream read in the background: (event, data) as they come."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.connected = threading.Event()
        self._stop = threading.Event()

    def run(self) -> None:
        with contextlib.suppress(httpx.HTTPError):  # the service closing the stream at the module's end
            self._read()

    def _read(self) -> None:
        with httpx.Client(timeout=httpx.Timeout(5, read=None)) as client, client.stream("GET", self.url) as response:
            event = ""
            for line in response.iter_lines():
                if line.startswith(": connected"):
                    self.connected.set()
                elif line.startswith("event: "):
                    event = line[len("event: ") :]
                elif line.startswith("data: "):
                    self.events.append((event, json.loads(line[len("data: ") :])))
                if self._stop.is_set():
                    return

    def venue_ids(self, kind: str) -> list[str]:
        return [str(data.get("venue_id") or data.get("id")) for event, data in self.events if event == kind]

    def stop(self) -> None:
        self._stop.set()


def register(services: RunningServices, name: str, lat: float, lon: float) -> str:
    body = {
        "name": name,
        "category": "shop",
        "address": name,
        "province_code": "01",
        "lat": lat,
        "lon": lon,
        "capacity": 9,
    }
    response = httpx.post(f"{services.ingest}/v1/venues", json=body, timeout=15)
    assert response.status_code == 201, response.text
    return str(response.json()["venue_id"])


def test_a_views_stream_carries_the_changes_inside_it_and_not_those_outside(
    running_services: RunningServices, national: list[tuple[str, float, float, int | None]]
) -> None:
    # Given a stream of Hà Nội's view and a stream of everything
    bbox = ",".join(str(v) for v in HANOI)
    hanoi = EventStream(f"{running_services.safety_map}/v1/stream?bbox={bbox}")
    everything = EventStream(f"{running_services.safety_map}/v1/stream")
    before = sum(level_totals(clusters(running_services, HANOI, 10)).values())
    for stream in (hanoi, everything):
        stream.start()
        assert stream.connected.wait(30), "the stream never said it was connected"
    try:
        # When a venue opens in Cần Thơ, then one in Hà Nội
        outside = register(running_services, "Cửa hàng Ninh Kiều", 10.03, 105.78)
        within = register(running_services, "Cửa hàng Hoàn Kiếm", 21.03, 105.85)
        # Then the stream of everything carries both, and Hà Nội's the one in Hà Nội only (it carried the later
        # one, so it had its chance at the earlier: changes reach each stream in the order they were published)
        wait_for(lambda: {outside, within} <= set(everything.venue_ids("venue")), timeout=60, what="both venues")
        wait_for(lambda: within in hanoi.venue_ids("venue"), what="Hà Nội's venue on its stream")
        assert outside not in hanoi.venue_ids("venue")
        assert everything.venue_ids("venue").index(outside) < everything.venue_ids("venue").index(within)
        # And Hà Nội's clusters count the new venue, from the engine's change alone
        wait_for(
            lambda: sum(level_totals(clusters(running_services, HANOI, 10)).values()) == before + 1 or None,
            what="the new venue counted in Hà Nội's clusters",
        )
    finally:
        hanoi.stop()
        everything.stop()


def test_first_view_of_the_country_in_chromium_is_measured(
    running_services: RunningServices,
    national: list[tuple[str, float, float, int | None]],
    browser: Browser,
    tmp_path: Path,
) -> None:
    drawn = """() => {
        if (document.body.dataset.loaded !== "true" || !document.querySelector(".venue-cluster .cluster")) return false;
        return performance.now();
    }"""
    runs: list[dict[str, Any]] = []
    for attempt in ("first", "again"):
        refused: list[str] = []
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.route("**/*", only_loopback(refused))
        page = context.new_page()
        try:
            # When a person opens the map of the whole country
            page.goto(f"{running_services.safety_map}/")
            drawn_ms = page.wait_for_function(drawn, timeout=120_000, polling="raf").json_value()
            timing = page.evaluate("() => performance.getEntriesByType('navigation')[0].toJSON()")
            # Then the clusters and lone venues on the page count every venue, all of them being in view
            on_page = page.evaluate(COUNTED)
            runs.append(
                {
                    "run": attempt,
                    "venues": len(national),
                    "navigation_to_clusters_drawn_ms": round(drawn_ms),
                    "dom_content_loaded_ms": round(timing["domContentLoadedEventEnd"]),
                    "zoom": int(page.locator("#map").get_attribute("data-zoom") or -1),
                    "clusters_drawn": page.locator(".venue-cluster").count(),
                    "venues_counted_on_page": on_page,
                }
            )
            assert on_page >= len(national)  # the stream test may have added two venues
            assert refused == []
        finally:
            context.close()
    report = {"seeded_into": "the map's Redis read model, as the engine writes it", "runs": runs}
    (tmp_path / "map_national.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"\nfirst view of {len(national):,} venues: {json.dumps(runs)} (written to {tmp_path / 'map_national.json'})")


def stream_box(url: str) -> tuple[float, ...]:
    return tuple(float(v) for v in parse_qs(urlsplit(url).query)["bbox"][0].split(","))


def test_the_page_redraws_its_clusters_on_a_change_and_follows_the_view_on_the_stream(
    running_services: RunningServices, national: list[tuple[str, float, float, int | None]], browser: Browser
) -> None:
    refused: list[str] = []
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.route("**/*", only_loopback(refused))
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        # Given the country's clusters in view, on a stream of the view's area
        with page.expect_request(lambda r: "/v1/stream?bbox=" in r.url, timeout=60_000) as first_stream:
            page.goto(f"{running_services.safety_map}/")
        page.wait_for_function("() => document.querySelector('.venue-cluster .cluster') !== null", timeout=120_000)
        page.locator('#status[data-state="live"]').wait_for(timeout=30_000)
        before = page.evaluate(COUNTED)
        whole = stream_box(first_stream.value.url)
        assert inside(whole, 105.85, 21.03) and inside(whole, 105.15, 9.18)  # Hà Nội and Cà Mau
        # When a venue opens in Hà Nội, then the clusters drawn count it, without a reload
        register(running_services, "Cửa hàng Tràng Tiền", 21.025, 105.855)
        page.wait_for_function(COUNTED_IS, arg=before + 1, timeout=60_000)
        # When the person zooms in, then the page follows a smaller area inside the first
        zoom = int(page.locator("#map").get_attribute("data-zoom") or 0)
        with page.expect_request(lambda r: "/v1/stream?bbox=" in r.url, timeout=30_000) as later_stream:
            zoom_in(page, zoom + 3)
        closer = stream_box(later_stream.value.url)
        assert whole[0] <= closer[0] < closer[2] <= whole[2] and whole[1] <= closer[1] < closer[3] <= whole[3]
        assert (closer[2] - closer[0]) * (closer[3] - closer[1]) < (whole[2] - whole[0]) * (whole[3] - whole[1]) / 4
        page.locator('#status[data-state="live"]').wait_for(timeout=30_000)
        assert refused == []
        assert errors == []
    finally:
        context.close()


def zoom_in(page: Page, wanted: int) -> None:
    """Presses + on the map, as a person would with a keyboard, until the zoom wanted."""
    page.locator("#map").focus()
    for _ in range(10):
        zoom = int(page.locator("#map").get_attribute("data-zoom") or 0)
        if zoom >= wanted:
            return
        page.keyboard.press("Equal")
        page.wait_for_function(
            "(zoom) => document.querySelector('#map').dataset.zoom !== String(zoom)"
            " && !document.querySelector('.leaflet-zoom-anim')",
            arg=zoom,
        )
    pytest.fail("pressing + never got the map to the zoom wanted")
