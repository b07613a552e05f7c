"""The public map page: its embedded configuration, its Content-Security-Policy and its assets (SPEC §4.1)."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from antoan_safety_map.api.routes import page
from antoan_safety_map.settings import SafetyMapSettings


def settings(**fields: str) -> SafetyMapSettings:
    return SafetyMapSettings.model_validate({"ANTOAN_HA_TOKEN": "ha-token-for-unit-tests-0123456789abcdef", **fields})


def client_for(config: SafetyMapSettings) -> TestClient:
    app = FastAPI()
    app.state.runtime = SimpleNamespace(settings=config)  # the page needs only the settings
    page.install(app)
    return TestClient(app)


def embedded_config(html: str) -> dict[str, str]:
    match = re.search(r'<script id="antoan-config" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the page carries its configuration"
    config: dict[str, str] = json.loads(match.group(1))
    return config


def test_page_embeds_the_tile_configuration() -> None:
    # Given a deployment with a tile server
    config = settings(
        SAFETY_MAP_TILE_URL="https://{s}.tile.example.org/{z}/{x}/{y}.png", SAFETY_MAP_TILE_ATTRIBUTION="© Example"
    )
    # When the page is fetched
    response = client_for(config).get("/")
    # Then it carries the tile template and attribution for the script, and lets images come from that host only
    assert response.status_code == 200
    assert embedded_config(response.text) == {
        "tile_url": "https://{s}.tile.example.org/{z}/{x}/{y}.png",
        "tile_attribution": "© Example",
    }
    assert "img-src 'self' data: https://*.tile.example.org" in response.headers["content-security-policy"]


def test_page_without_tiles_may_reach_nothing_but_the_service() -> None:
    # Given the default deployment (no tile server)
    response = client_for(settings()).get("/")
    # Then the page is Vietnamese, has no tile layer, and its policy admits only its own origin
    assert '<html lang="vi">' in response.text
    assert embedded_config(response.text)["tile_url"] == ""
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "connect-src 'self'" in policy
    assert "img-src 'self' data:;" in policy
    assert "http" not in policy


def test_configuration_cannot_close_the_script_element() -> None:
    # Given an attribution that tries to end the JSON script element and inject markup
    html = page.render_page("<head><!--antoan-config--></head>", {"tile_attribution": "</script><script>x()</script>&"})
    # Then the value stays JSON inside the one element, and reads back unchanged
    assert html.count("</script>") == 1
    assert embedded_config(html) == {"tile_attribution": "</script><script>x()</script>&"}


@pytest.mark.parametrize(
    ("tile_url", "source"),
    [
        ("", None),
        ("https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png", "https://*.tile.openstreetmap.org"),
        ("http://127.0.0.1:8080/tiles/{z}/{x}/{y}.png", "http://127.0.0.1:8080"),
        ("https://tiles-{s}.example.org/{z}/{x}/{y}.png", "https:"),
        ("javascript:alert(1)", None),
        ("/tiles/{z}/{x}/{y}.png", None),
    ],
)
def test_tile_source_admits_just_the_tile_host(tile_url: str, source: str | None) -> None:
    assert page.tile_source(tile_url) == source


def test_relative_tile_url_is_served_by_the_service_itself() -> None:
    # A tile server behind the same origin needs no extra image source.
    policy = page.content_security_policy(settings(SAFETY_MAP_TILE_URL="/tiles/{z}/{x}/{y}.png"))
    assert "img-src 'self' data:;" in policy


def test_vendored_libraries_are_served_with_their_licences() -> None:
    client = client_for(settings())
    for path in (
        "/static/vendor/leaflet/leaflet.js",
        "/static/vendor/leaflet/leaflet.css",
        "/static/vendor/leaflet/LICENSE",
        "/static/vendor/leaflet.markercluster/leaflet.markercluster.js",
        "/static/vendor/leaflet.markercluster/MarkerCluster.css",
        "/static/vendor/leaflet.markercluster/LICENSE",
        "/static/app.js",
        "/static/app.css",
    ):
        assert client.get(path).status_code == 200, path


def test_every_asset_the_page_loads_is_on_the_service() -> None:
    # Given the page's own markup, script and style
    html = client_for(settings()).get("/").text
    own = [html, *(path.read_text("utf-8") for path in (page.STATIC_DIR / "app.js", page.STATIC_DIR / "app.css"))]
    # Then nothing names another host (no CDN, no web font, no tile server by default)
    for text in own:
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I)
    for src in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert src.startswith("/static/"), src
