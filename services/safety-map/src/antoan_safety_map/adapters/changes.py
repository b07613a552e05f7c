"""Which live changes a stream of one view of the map passes on.

The stream itself is `antoan_shared.live`'s: one Redis subscription per process, fanned out in memory to every
open stream through a bounded queue each (a subscription per stream once emptied the Redis pool at about a
hundred open maps).
"""

from __future__ import annotations

from typing import Any

Box = tuple[float, float, float, float]  # min lon, min lat, max lon, max lat


def in_view(change: dict[str, Any], box: Box | None) -> bool:
    """Whether a stream of this view passes the change on: every change without a view; with one, area changes
    and a venue's changes inside the view (one published without its place, by an engine before `at`, too)."""
    at = change.get("at")
    if box is None or change.get("kind") == "area-risk" or not isinstance(at, list) or len(at) != 2:
        return True
    lon, lat = float(at[0]), float(at[1])
    return box[0] <= lon <= box[2] and box[1] <= lat <= box[3]
