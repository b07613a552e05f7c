"""The map's query parameters: `bbox=minLon,minLat,maxLon,maxLat` (the GeoJSON order) and `level=3,4`."""

from __future__ import annotations

import pytest

from antoan_safety_map.api.routes.map import parse_bbox, parse_levels
from antoan_shared.web import ApiError

# --- bbox -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("105.7,19.7,105.9,19.9", (105.7, 19.7, 105.9, 19.9)),  # around Thanh Hóa city
        ("-180,-85,180,85", (-180.0, -85.0, 180.0, 85.0)),  # the whole map, bounds included
        (" 105 , 19 , 106 , 20 ", (105.0, 19.0, 106.0, 20.0)),
        ("105,19,106,20", (105.0, 19.0, 106.0, 20.0)),
    ],
)
def test_a_bbox_is_read_in_geojson_order(text: str, expected: tuple[float, float, float, float]) -> None:
    assert parse_bbox(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "105.9,19.7,105.7,19.9",  # min longitude above max
        "105.7,19.9,105.9,19.7",  # min latitude above max
        "19.7,105.7,19.9,105.9",  # latitude and longitude swapped: latitude out of range
        "105.7,19.7,105.7,19.9",  # no width
        "105.7,19.7,105.9,19.7",  # no height
    ],
    ids=["lon-order", "lat-order", "swapped", "zero-width", "zero-height"],
)
def test_a_bbox_in_the_wrong_order_or_empty_is_refused(text: str) -> None:
    with pytest.raises(ApiError) as raised:
        parse_bbox(text)
    assert (raised.value.status, raised.value.code) == (400, "invalid_bbox")


@pytest.mark.parametrize(
    "text",
    ["-180.1,0,10,10", "0,0,180.1,10", "0,-85.1,10,10", "0,0,10,85.1", "0,0,10,90"],
)
def test_a_bbox_beyond_longitude_180_or_latitude_85_is_refused(text: str) -> None:
    with pytest.raises(ApiError) as raised:
        parse_bbox(text)
    assert (raised.value.status, raised.value.code) == (400, "invalid_bbox")


@pytest.mark.parametrize(
    "text",
    ["", "a,b,c,d", "1,2,3", "1,2,3,4,5", "1;2;3;4", "1,2,,4", "nan,0,10,10", "0,0,inf,10", "0,0,10,10,"],
)
def test_a_bbox_that_is_not_four_numbers_is_refused(text: str) -> None:
    # Given a bbox that is not four finite numbers
    # When it is parsed
    with pytest.raises(ApiError) as raised:
        parse_bbox(text)
    # Then it is a client error with a stable code and a message saying the format
    assert (raised.value.status, raised.value.code) == (400, "invalid_bbox")
    assert "bbox" in raised.value.message


# --- levels ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["3,4"], {3, 4}),
        (["3", "4"], {3, 4}),
        (["1,2", "3,4"], {1, 2, 3, 4}),
        (["3", "3,3"], {3}),  # repeated levels count once
        (["4,"], {4}),
        ([], set()),  # no filter
    ],
)
def test_levels_are_read_repeated_or_comma_separated(values: list[str], expected: set[int]) -> None:
    assert parse_levels(values) == expected


@pytest.mark.parametrize(
    "values",
    [["0"], ["5"], ["-1"], ["red"], ["3,red"], ["1.5"], ["3", "9"], ["3;4"]],
)
def test_a_level_other_than_1_to_4_is_refused(values: list[str]) -> None:
    with pytest.raises(ApiError) as raised:
        parse_levels(values)
    assert (raised.value.status, raised.value.code) == (400, "invalid_level")
