"""The venues as GeoJSON (RFC 7946) for the map and for anyone who wants to draw them, one venue's panel, and
finding a venue by name or address."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from antoan_safety_map.adapters.venue_directory import VenueDirectory
from antoan_safety_map.api.deps import Runtime, RuntimeDep
from antoan_safety_map.api.routes import venues
from antoan_safety_map.domain.venue_clusters import MAX_CLUSTER_ZOOM, Cluster
from antoan_shared.web import ApiError, ErrorResponse

router = APIRouter(prefix="/v1/map", tags=["map"])
MAX_FEATURES = 20_000
MAX_SEARCH_RESULTS = 50
MAX_QUERY_LENGTH = 100
SEARCH_READY_WAIT_S = 10.0
CLUSTERS_READY_WAIT_S = 30.0
WORLD = (-180.0, -85.0, 180.0, 85.0)


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """`minLon,minLat,maxLon,maxLat` (the GeoJSON bbox order)."""
    try:
        min_lon, min_lat, max_lon, max_lat = (float(part) for part in text.split(","))
    except ValueError as exc:
        raise ApiError(400, "invalid_bbox", "bbox is minLon,minLat,maxLon,maxLat in degrees") from exc
    if not (-180 <= min_lon < max_lon <= 180 and -85 <= min_lat < max_lat <= 85):
        raise ApiError(400, "invalid_bbox", "bbox must be a non-empty box within longitude ±180 and latitude ±85")
    return min_lon, min_lat, max_lon, max_lat


def parse_levels(values: list[str]) -> set[int]:
    """`level=3&level=4` or `level=3,4`."""
    try:
        levels = {int(part) for value in values for part in value.split(",") if part}
    except ValueError as exc:
        raise ApiError(400, "invalid_level", "level is 1, 2, 3 or 4") from exc
    if not levels <= {1, 2, 3, 4}:
        raise ApiError(400, "invalid_level", "level is 1, 2, 3 or 4")
    return levels


@router.get(
    "/venues.geojson",
    response_class=JSONResponse,
    responses={
        200: {"content": {"application/geo+json": {}}, "description": "A GeoJSON FeatureCollection of venues"},
        400: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
    },
)
async def venues_geojson(
    request: Request,
    runtime: RuntimeDep,
    bbox: Annotated[str | None, Query(max_length=100, description="minLon,minLat,maxLon,maxLat")] = None,
    level: Annotated[list[str] | None, Query(description="only these levels: level=3&level=4 or level=3,4")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_FEATURES)] = 5000,
    zoom: Annotated[
        int | None, Query(ge=0, le=22, description="the map's zoom: up to 14, the venues in view as clusters")
    ] = None,
) -> JSONResponse:
    """Venues with a location, each with its level, colour, reasons and occupancy. With a bbox the venues
    nearest its centre come first; `truncated` says the limit cut the list.

    With `zoom` up to 14, the venues in the bbox (the whole world without one) as clusters instead: one
    Feature per grid cell the bbox touches, `properties.cluster` true, `count`, `level_counts` (`"0"` not
    assessed yet, `"1"`-`"4"`), the cell as the Feature's `bbox`; a cell of one venue is that venue's own
    Feature. The collection says `clustered`, the `zoom`, and `extent`: the box of every venue on the map.
    From zoom 15 the answer is the venues in view, as without `zoom`."""
    read_model = runtime.read_model
    wanted_levels = parse_levels(level or [])
    if zoom is not None and zoom <= MAX_CLUSTER_ZOOM:
        view = parse_bbox(bbox) if bbox is not None else WORLD
        return await clustered_venues(request, runtime, view, zoom, wanted_levels, limit)
    if bbox is not None:
        box = parse_bbox(bbox)
        venue_ids = await read_model.venue_ids_in_box(*box, limit=limit)
    else:
        box = None
        venue_ids = await read_model.venue_ids_on_map(limit)
    features: list[dict[str, Any]] = []
    for venue in await read_model.venues(venue_ids):
        if venue.lat is None or venue.lon is None or not venue.active:
            continue
        if box is not None and not (box[0] <= venue.lon <= box[2] and box[1] <= venue.lat <= box[3]):
            continue
        if wanted_levels and venue.level not in wanted_levels:
            continue
        features.append(venue.feature())
    collection: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if len(venue_ids) >= limit:
        collection["truncated"] = True
    if zoom is not None:
        collection |= {"clustered": False, "zoom": zoom}
    return JSONResponse(collection, media_type="application/geo+json")


def cluster_feature(cluster: Cluster, zoom: int) -> dict[str, Any]:
    west, south, east, north = cluster.cell_box
    return {
        "type": "Feature",
        "id": f"cluster/{zoom}/{cluster.lon:.6f},{cluster.lat:.6f}",
        "bbox": [round(west, 6), round(south, 6), round(east, 6), round(north, 6)],
        "geometry": {"type": "Point", "coordinates": [round(cluster.lon, 6), round(cluster.lat, 6)]},
        "properties": {
            "cluster": True,
            "count": cluster.total,
            "level_counts": {str(level): count for level, count in enumerate(cluster.counts)},
        },
    }


async def clustered_venues(
    request: Request,
    runtime: Runtime,
    box: tuple[float, float, float, float],
    zoom: int,
    wanted_levels: set[int],
    limit: int,
) -> JSONResponse:
    """The venues in the box at this zoom as the cluster grid's cells, answered from the process's grid (what
    the screen holds costs, not what the country holds); the cells of one venue as the venue."""
    directory = venue_directory(request, runtime)
    try:
        grid = await asyncio.wait_for(directory.ready_grid(), CLUSTERS_READY_WAIT_S)
    except TimeoutError as exc:
        raise ApiError(503, "map_unavailable", "the venue grid is still loading; retry shortly") from exc
    clusters = grid.clusters(box, zoom, wanted_levels)
    truncated = len(clusters) > limit
    clusters = clusters[:limit]
    singles = {c.venue_id: c for c in clusters if c.venue_id is not None}
    records = {v.venue_id: v for v in await runtime.read_model.venues(list(singles))}
    features: list[dict[str, Any]] = []
    for cluster in clusters:
        record = records.get(cluster.venue_id) if cluster.venue_id is not None else None
        if record is not None and record.lat is not None and record.lon is not None and record.active:
            features.append(record.feature())
        else:  # a cluster, or a venue the grid holds that Redis no longer does: counted, not shown
            features.append(cluster_feature(cluster, zoom))
    collection: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": features,
        "clustered": True,
        "zoom": zoom,
        "extent": list(extent) if (extent := grid.extent()) is not None else None,
    }
    if truncated:
        collection["truncated"] = True
    return JSONResponse(collection, media_type="application/geo+json")


# Under /v1/map/ as well as /v1/venues/{venue_id}: at the public origin, /v1/venues/{id} is ingest's view of a
# venue (the gateway routes by path), so the map's page asks for its panel here.
router.add_api_route(
    "/venues/{venue_id}",
    venues.venue_view,
    response_model=venues.VenueView,
    responses=venues.NOT_FOUND,
    summary="Venue View On The Map",
)


class SearchResult(BaseModel):
    venue_id: str
    name: str
    address: str
    category: str
    level: int | None
    color: str | None
    lon: float
    lat: float


class SearchResults(BaseModel):
    query: str
    results: list[SearchResult]
    truncated: bool


def venue_directory(request: Request, runtime: Runtime) -> VenueDirectory:
    """The process's one search index, made with its first search."""
    directory: VenueDirectory | None = getattr(request.app.state, "venue_directory", None)
    if directory is None:
        directory = VenueDirectory(runtime.read_model.client, runtime.read_model.keys)
        request.app.state.venue_directory = directory
    return directory


@router.get(
    "/search",
    response_model=SearchResults,
    responses={s: {"model": ErrorResponse} for s in (400, 422, 503)},
)
async def search_venues(
    request: Request,
    runtime: RuntimeDep,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_LENGTH, description="words of a name or address")],
    limit: Annotated[int, Query(ge=1, le=MAX_SEARCH_RESULTS)] = 10,
) -> SearchResults:
    """Venues on the map whose name or address has words starting with every word typed, with or without
    diacritics ("ca phe" finds "Cà phê"); those matched by name first. `truncated` says there were more."""
    if not any(c.isalnum() for c in q):
        raise ApiError(400, "invalid_query", "type a word of a venue's name or address")
    directory = venue_directory(request, runtime)
    try:
        index = await asyncio.wait_for(directory.ready(), SEARCH_READY_WAIT_S)
    except TimeoutError as exc:
        raise ApiError(503, "search_unavailable", "the venue index is still loading; retry shortly") from exc
    venue_ids, truncated = index.search(q, limit)
    results = [
        SearchResult(
            venue_id=venue.venue_id,
            name=venue.name,
            address=venue.address,
            category=venue.category,
            level=venue.level,
            color=venue.color,
            lon=venue.lon,
            lat=venue.lat,
        )
        for venue in await runtime.read_model.venues(venue_ids)
        if venue.lat is not None and venue.lon is not None and venue.active
    ]
    return SearchResults(query=q, results=results, truncated=truncated)
