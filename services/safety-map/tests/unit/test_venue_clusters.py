"""The map's cluster grid: per-level counts per cell and zoom, kept current by each change (SPEC §3.6's levels)."""

from __future__ import annotations

import random
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from antoan_safety_map.domain.venue_clusters import MAX_CLUSTER_ZOOM, ClusterGrid

VIETNAM: tuple[float, float, float, float] = (102.0, 8.0, 110.0, 23.5)
WORLD: tuple[float, float, float, float] = (-180.0, -85.0, 180.0, 85.0)


def level_totals(grid: ClusterGrid, box: tuple[float, float, float, float], zoom: int) -> list[int]:
    totals = [0] * 5
    for cluster in grid.clusters(box, zoom):
        for level, count in enumerate(cluster.counts):
            totals[level] += count
    return totals


def test_every_zoom_counts_every_venue_once_by_level() -> None:
    # Given venues in Hà Nội, Đà Nẵng and Hồ Chí Minh at several levels, one not assessed yet
    grid = ClusterGrid()
    grid.put("hn-1", 105.85, 21.03, 1)
    grid.put("hn-2", 105.86, 21.02, 4)
    grid.put("dn-1", 108.20, 16.05, 2)
    grid.put("hcm-1", 106.70, 10.78, 3)
    grid.put("hcm-2", 106.69, 10.77, None)
    # Then at every zoom the country's cells count each venue once, at its level
    for zoom in range(MAX_CLUSTER_ZOOM + 1):
        assert level_totals(grid, VIETNAM, zoom) == [1, 1, 1, 1, 1], zoom


def test_a_venue_relevelled_moved_or_removed_leaves_its_old_cell() -> None:
    grid = ClusterGrid()
    grid.put("a", 105.85, 21.03, 1)
    grid.put("b", 105.851, 21.031, 1)
    # When one venue turns red, then its cluster counts one green and one red
    grid.set_level("a", 4)
    (cluster,) = grid.clusters(VIETNAM, 6)
    assert cluster.counts == (0, 1, 0, 0, 1)
    # When it moves to Hồ Chí Minh, then each city holds one venue, named as such
    grid.put("a", 106.70, 10.78, 4)
    clusters = sorted(grid.clusters(VIETNAM, 6), key=lambda c: c.lat)
    assert [(c.venue_id, c.counts) for c in clusters] == [("a", (0, 0, 0, 0, 1)), ("b", (0, 1, 0, 0, 0))]
    # When both are removed, then no cell is left
    grid.remove("a")
    grid.remove("b")
    assert grid.clusters(WORLD, 6) == []
    assert len(grid) == 0


def test_a_cell_of_one_venue_names_it_and_sits_on_it() -> None:
    grid = ClusterGrid()
    grid.put("lonely", 103.0171, 21.3856, 2)
    grid.put("x", 106.7, 10.78, 1)
    grid.put("y", 106.7001, 10.7801, 1)
    by_total = {c.total: c for c in grid.clusters(VIETNAM, 8)}
    assert by_total[1].venue_id == "lonely"
    assert (by_total[1].lon, by_total[1].lat) == (103.0171, 21.3856)
    assert by_total[2].venue_id is None
    assert abs(by_total[2].lon - 106.70005) < 1e-9


def test_only_the_cells_the_box_touches_are_answered_and_levels_filter_counts() -> None:
    grid = ClusterGrid()
    grid.put("north", 105.85, 21.03, 1)
    grid.put("south", 106.70, 10.78, 4)
    around_hanoi = (105.0, 20.5, 106.5, 21.5)
    assert [c.venue_id for c in grid.clusters(around_hanoi, 10)] == ["north"]
    assert [c.venue_id for c in grid.clusters(VIETNAM, 10, levels=[4])] == ["south"]
    for cluster in grid.clusters(around_hanoi, 10):
        west, south, east, north = cluster.cell_box
        assert west <= cluster.lon <= east and south <= cluster.lat <= north


def test_the_extent_follows_additions_and_removals() -> None:
    grid = ClusterGrid()
    assert grid.extent() is None
    grid.put("a", 105.85, 21.03, 1)
    grid.put("b", 106.70, 10.78, 1)
    assert grid.extent() == (105.85, 10.78, 106.70, 21.03)
    grid.remove("b")
    assert grid.extent() == (105.85, 21.03, 105.85, 21.03)


venue_ids = st.sampled_from([f"v{i}" for i in range(12)])
changes = st.lists(
    st.one_of(
        st.tuples(
            st.just("put"), venue_ids, st.floats(102, 110), st.floats(8, 23.5), st.sampled_from([None, 1, 2, 3, 4])
        ),
        st.tuples(st.just("level"), venue_ids, st.just(0.0), st.just(0.0), st.sampled_from([None, 1, 2, 3, 4])),
        st.tuples(st.just("remove"), venue_ids, st.just(0.0), st.just(0.0), st.just(None)),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(changes=changes, zoom=st.integers(0, MAX_CLUSTER_ZOOM))
def test_a_grid_kept_by_changes_equals_one_built_from_the_final_venues(
    changes: list[tuple[str, str, float, float, int | None]], zoom: int
) -> None:
    # Given any sequence of changes applied one by one
    grid = ClusterGrid()
    final: dict[str, tuple[float, float, int | None]] = {}
    for kind, venue_id, lon, lat, level in changes:
        if kind == "put":
            grid.put(venue_id, lon, lat, level)
            final[venue_id] = (lon, lat, level)
        elif kind == "level":
            grid.set_level(venue_id, level)
            if venue_id in final:
                final[venue_id] = (*final[venue_id][:2], level)
        else:
            grid.remove(venue_id)
            final.pop(venue_id, None)
    # Then it answers as a grid given only the venues as they ended
    fresh = ClusterGrid()
    for venue_id, (lon, lat, level) in final.items():
        fresh.put(venue_id, lon, lat, level)

    def answer(g: ClusterGrid) -> list[tuple[object, ...]]:
        return sorted(
            (c.cell_box, c.counts, c.venue_id, round(c.lon, 6), round(c.lat, 6)) for c in g.clusters(WORLD, zoom)
        )

    assert answer(grid) == answer(fresh)
    assert sum(c.total for c in grid.clusters(WORLD, zoom)) == len(final)


def test_100000_venues_measured() -> None:
    """Not a timing assertion: prints what building and asking cost at a national size."""
    rng = random.Random(7)
    cities = [(105.85, 21.03, 0.3), (106.70, 10.78, 0.3), (108.20, 16.05, 0.15), (105.78, 19.81, 0.4)]
    grid = ClusterGrid()
    start = time.perf_counter()
    for i in range(100_000):
        lon, lat, spread = cities[i % len(cities)] if i % 3 else (rng.uniform(103, 109), rng.uniform(9, 23), 0.0)
        grid.put(f"v{i}", lon + rng.gauss(0, spread), lat + rng.gauss(0, spread), rng.choice([None, 1, 1, 1, 2, 3, 4]))
    built = time.perf_counter() - start
    start = time.perf_counter()
    national = grid.clusters(VIETNAM, 6)
    national_s = time.perf_counter() - start
    start = time.perf_counter()
    city = grid.clusters((105.6, 20.85, 106.1, 21.2), 12)
    city_s = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(10_000):
        grid.set_level(f"v{i}", 4)
    change_s = (time.perf_counter() - start) / 10_000
    print(
        f"\n100,000 venues: grid built in {built:.2f} s; zoom 6 national view {len(national)} clusters in "
        f"{national_s * 1000:.2f} ms; zoom 12 Hà Nội view {len(city)} clusters in {city_s * 1000:.2f} ms; "
        f"one level change {change_s * 1e6:.1f} µs"
    )
    assert sum(c.total for c in grid.clusters(WORLD, 3)) == 100_000
