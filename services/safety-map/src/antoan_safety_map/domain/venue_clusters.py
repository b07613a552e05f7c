"""The venues on the map counted in a grid per zoom, for drawing a whole country's venues as clusters.

At each zoom from 0 to `MAX_CLUSTER_ZOOM` the world in Web Mercator (the map's projection) is cut into square
cells `CELL_PX` screen pixels wide, and every cell keeps how many venues of each level it holds and the sum
of their coordinates (for the cluster's centre: their mean). A venue added, moved, re-levelled or removed
changes one cell per zoom, so the grid follows the engine's changes at a constant cost; a view asks for the
cells it covers, so answering costs what the screen holds (a few hundred cells), not what the country holds.
Coordinates are kept as integer millionths of a degree: the sums are exact after any number of changes, so
a cell left with one venue names it by its exact point.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

CELL_PX = 80
MAX_CLUSTER_ZOOM = 14  # from 15 the map shows every venue in view
MAX_LAT = 85.05112878  # Web Mercator's square world
LEVELS = 5  # index 0: not assessed yet; 1-4 the levels of SPEC §3.6
_E6 = 1_000_000

Box = tuple[float, float, float, float]  # min lon, min lat, max lon, max lat
Cell = tuple[int, int]


def _fractions(lon: float, lat: float) -> tuple[float, float]:
    """The point's place in the Web Mercator world, 0 to 1 from the west and from the north."""
    lat = max(-MAX_LAT, min(MAX_LAT, lat))
    sin = math.sin(math.radians(lat))
    x = (lon + 180.0) / 360.0
    y = 0.5 - math.log((1 + sin) / (1 - sin)) / (4 * math.pi)
    return min(max(x, 0.0), 1.0 - 1e-12), min(max(y, 0.0), 1.0 - 1e-12)


def _latitude(y: float) -> float:
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y))))


def cells_across(zoom: int) -> float:
    """How many cells span the world's width at this zoom (a 256-pixel world at zoom 0)."""
    return float(256 * 2**zoom / CELL_PX)


@dataclass(frozen=True)
class Cluster:
    """One cell's venues: their mean position, how many at each level, the cell's box, and the venue itself
    when the cell holds only one."""

    lon: float
    lat: float
    counts: tuple[int, int, int, int, int]
    cell_box: Box
    venue_id: str | None

    @property
    def total(self) -> int:
        return sum(self.counts)


class ClusterGrid:
    def __init__(self) -> None:
        self._venues: dict[str, tuple[int, int, int]] = {}  # venue id -> (lon e6, lat e6, level 0-4)
        self._at: dict[tuple[int, int], set[str]] = {}  # exact point -> the venues there
        # zoom -> cell -> [count of level 0, 1, 2, 3, 4, sum of lon e6, sum of lat e6]
        self._grids: list[dict[Cell, list[int]]] = [{} for _ in range(MAX_CLUSTER_ZOOM + 1)]
        self._extent: Box | None = None

    def __len__(self) -> int:
        return len(self._venues)

    def put(self, venue_id: str, lon: float, lat: float, level: int | None) -> None:
        """Adds the venue, or moves or re-levels it."""
        entry = (round(lon * _E6), round(lat * _E6), level if level in (1, 2, 3, 4) else 0)
        before = self._venues.get(venue_id)
        if before == entry:
            return
        if before is not None:
            self._count(venue_id, before, -1)
        self._venues[venue_id] = entry
        self._count(venue_id, entry, +1)
        if before is not None and before[:2] != entry[:2]:
            self._extent = None
        elif self._extent is not None:
            west, south, east, north = self._extent
            lon, lat = entry[0] / _E6, entry[1] / _E6
            self._extent = (min(west, lon), min(south, lat), max(east, lon), max(north, lat))

    def set_level(self, venue_id: str, level: int | None) -> None:
        """A venue's new level (a venue not on the map is ignored)."""
        entry = self._venues.get(venue_id)
        if entry is not None:
            self.put(venue_id, entry[0] / _E6, entry[1] / _E6, level)

    def remove(self, venue_id: str) -> None:
        entry = self._venues.pop(venue_id, None)
        if entry is not None:
            self._count(venue_id, entry, -1)
            self._extent = None

    def location(self, venue_id: str) -> tuple[float, float] | None:
        entry = self._venues.get(venue_id)
        return (entry[0] / _E6, entry[1] / _E6) if entry else None

    def extent(self) -> Box | None:
        """The box of every venue on the map (recomputed after a removal, at most once per removal)."""
        if self._extent is None and self._venues:
            lons = [entry[0] for entry in self._venues.values()]
            lats = [entry[1] for entry in self._venues.values()]
            self._extent = (min(lons) / _E6, min(lats) / _E6, max(lons) / _E6, max(lats) / _E6)
        return self._extent

    def _count(self, venue_id: str, entry: tuple[int, int, int], sign: int) -> None:
        lon_e6, lat_e6, level = entry
        point = (lon_e6, lat_e6)
        if sign > 0:
            self._at.setdefault(point, set()).add(venue_id)
        else:
            here = self._at[point]
            here.discard(venue_id)
            if not here:
                del self._at[point]
        x, y = _fractions(lon_e6 / _E6, lat_e6 / _E6)
        for zoom, grid in enumerate(self._grids):
            across = cells_across(zoom)
            cell = (int(x * across), int(y * across))
            value = grid.get(cell)
            if value is None:
                value = grid[cell] = [0] * (LEVELS + 2)
            value[level] += sign
            value[LEVELS] += sign * lon_e6
            value[LEVELS + 1] += sign * lat_e6
            if sign < 0 and not any(value[:LEVELS]):
                del grid[cell]

    def _cells_in(self, box: Box, zoom: int) -> Iterator[tuple[Cell, list[int]]]:
        grid = self._grids[zoom]
        across = cells_across(zoom)
        west, north = _fractions(box[0], box[3])
        east, south = _fractions(box[2], box[1])
        x0, x1, y0, y1 = int(west * across), int(east * across), int(north * across), int(south * across)
        if (x1 - x0 + 1) * (y1 - y0 + 1) <= len(grid):
            for cx in range(x0, x1 + 1):
                for cy in range(y0, y1 + 1):
                    value = grid.get((cx, cy))
                    if value is not None:
                        yield (cx, cy), value
        else:  # a box far larger than the venues in it: walk the venues' cells instead
            for (cx, cy), value in grid.items():
                if x0 <= cx <= x1 and y0 <= cy <= y1:
                    yield (cx, cy), value

    def clusters(self, box: Box, zoom: int, levels: Iterable[int] = ()) -> list[Cluster]:
        """The cells at `zoom` that the box touches, with their venues (only those at `levels`, if given)."""
        zoom = max(0, min(MAX_CLUSTER_ZOOM, zoom))
        wanted = set(levels)
        across = cells_across(zoom)
        found: list[Cluster] = []
        for (cx, cy), value in self._cells_in(box, zoom):
            counts = tuple(n if not wanted or level in wanted else 0 for level, n in enumerate(value[:LEVELS]))
            all_there = sum(value[:LEVELS])
            if not any(counts):
                continue
            lon_e6, lat_e6 = value[LEVELS] / all_there, value[LEVELS + 1] / all_there
            venue_id = None
            if all_there == 1:
                (venue_id,) = self._at[(value[LEVELS], value[LEVELS + 1])]
            cell_box = (cx / across * 360 - 180, _latitude((cy + 1) / across), (cx + 1) / across * 360 - 180,
                        _latitude(cy / across))  # fmt: skip
            found.append(Cluster(lon_e6 / _E6, lat_e6 / _E6, counts, cell_box, venue_id))  # type: ignore[arg-type]
        return found
