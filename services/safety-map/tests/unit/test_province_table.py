"""The provinces the map names: our own table (web/provinces.json, GSO codes, the provincial capitals), every
capital inside Vietnam's vendored outline, and the served file built from it (no third-party province data)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import antoan_safety_map
from antoan_safety_map.domain.venue_search import fold

SERVICE = Path(__file__).resolve().parents[2]
TABLE = SERVICE / "web" / "provinces.json"
GEO = Path(antoan_safety_map.__file__).parent / "static" / "vendor" / "geo"
# Another team's list of the GSO's codes (the venue portal's); compared with when present.
PORTAL_AREAS = SERVICE.parents[1] / "web" / "public" / "co-so" / "areas.json"

Ring = list[list[float]]


def provinces() -> list[dict[str, Any]]:
    table: list[dict[str, Any]] = json.loads(TABLE.read_text(encoding="utf-8"))["provinces"]
    return table


@cache
def outline() -> list[list[Ring]]:
    """Vietnam's polygons (each an outer ring, then its holes), longitude first."""
    polygons: list[list[Ring]] = json.loads((GEO / "vietnam.json").read_text(encoding="utf-8"))["vietnam"][
        "coordinates"
    ]
    return polygons


def in_ring(ring: Ring, lon: float, lat: float) -> bool:
    """Even-odd rule: a ray eastwards from the point crosses the ring an odd number of times."""
    inside = False
    for (lon1, lat1), (lon2, lat2) in zip(ring, ring[-1:] + ring[:-1], strict=True):
        if (lat1 > lat) != (lat2 > lat) and lon < lon1 + (lon2 - lon1) * (lat - lat1) / (lat2 - lat1):
            inside = not inside
    return inside


def in_vietnam(lon: float, lat: float) -> bool:
    return any(
        in_ring(rings[0], lon, lat) and not any(in_ring(hole, lon, lat) for hole in rings[1:]) for rings in outline()
    )


def test_the_table_names_63_provinces_by_distinct_gso_codes() -> None:
    # Given our table, then it holds the 63 provinces and centrally-run cities, each under its own GSO code
    table = provinces()
    codes = [province["code"] for province in table]
    assert len(table) == 63
    assert len(set(codes)) == 63
    assert all(len(code) == 2 and code.isdigit() for code in codes)
    names = {province["code"]: province["name"] for province in table}
    assert {code: names[code] for code in ("01", "79", "38", "48", "31", "92")} == {
        "01": "Hà Nội",
        "79": "Hồ Chí Minh",
        "38": "Thanh Hóa",
        "48": "Đà Nẵng",
        "31": "Hải Phòng",
        "92": "Cần Thơ",
    }


@pytest.mark.parametrize("province", provinces(), ids=lambda p: f"{p['code']}-{p['name']}")
def test_every_provincial_capital_lies_inside_vietnams_outline(province: dict[str, Any]) -> None:
    assert in_vietnam(province["lon"], province["lat"]), f"{province['capital']} is placed outside Vietnam"


@pytest.mark.parametrize(
    ("place", "lon", "lat"),
    [
        ("Hà Nội with longitude and latitude swapped", 21.028, 105.854),
        ("Vientiane, Laos", 102.633, 17.975),
        ("the sea east of Đà Nẵng", 108.5, 16.05),
        ("Nanning, China", 108.366, 22.817),
        ("Phnom Penh, Cambodia", 104.917, 11.55),
    ],
)
def test_a_point_outside_vietnam_is_found_outside(place: str, lon: float, lat: float) -> None:
    # The check above can fail: a wrong coordinate is outside the outline
    assert not in_vietnam(lon, lat), place


def test_the_served_file_names_the_tables_provinces_and_nothing_else_supplies_them() -> None:
    # Given the vendored file the page draws, then its provinces are the table's, at the table's capitals
    served = json.loads((GEO / "vietnam.json").read_text(encoding="utf-8"))
    assert served["provinces"] == [
        {"code": p["code"], "name": p["name"], "lat": p["lat"], "lon": p["lon"]} for p in provinces()
    ]
    assert "country-state-city" not in served["source"]
    package = json.loads((SERVICE / "web" / "package.json").read_text(encoding="utf-8"))
    assert "country-state-city" not in package["dependencies"]
    assert not (GEO / "LICENSE-country-state-city").exists()


def bare_name(name: str) -> str:
    """'Tỉnh Hoà Bình' and 'Hòa Bình' alike: the administrative prefix dropped, diacritics and dashes folded."""
    words = fold(name).replace("-", " ").replace("–", " ").split()
    for prefix in (["tinh"], ["thanh", "pho"]):
        if words[: len(prefix)] == prefix:
            words = words[len(prefix) :]
    return " ".join(words)


def test_codes_and_names_agree_with_the_venue_portals_area_list() -> None:
    portal = json.loads(PORTAL_AREAS.read_text(encoding="utf-8"))["provinces"]
    assert {p["code"]: bare_name(p["name"]) for p in provinces()} == {p["code"]: bare_name(p["name"]) for p in portal}
