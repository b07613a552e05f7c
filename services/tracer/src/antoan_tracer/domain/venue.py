"""The venue stage: visits and spreaders' windows matched at one venue, and its live occupancy (SPEC §3.3–3.4).

State under one venue, every value the size of one visit or one window, whatever the venue's traffic:
- `x|<visit>`: a visit as it now stands [person, start, end, open, counted in occupancy];
- `v|<bucket>|<visit>`: the visit's id under every time bucket it overlaps (an hour by default), so that a
  window finds the visits it may overlap; written when the visit comes to overlap the bucket, not on every
  change of the visit (a visit changes often, a window seldom reads);
- `y|<window>` and `w|<bucket>|<window>`: a spreader's window, likewise;
- `c`: [the occupancy as last published, how many windows are stored (none: a visit matches nothing)].
- `m|<case>|<person>|<match>`: each contact match made here (one per overlapping visit and window), and
  `k|<case>|<person>`: the best of them, as last sent to the person's stage.
A window reads only the buckets it overlaps, a visit only the windows in its own buckets: what one event
costs depends on what it can touch, not on how many visits the venue has had.

Matching runs both ways and publishes differences: when a visit or a window changes, the matches it made
before and the ones it makes now are compared and stored, and when a contact's best match at this venue in a
case changes (or goes), that alone is sent to the contact's person stage, which keeps the best of the venues'
bests. Matches are a function of the current visits and windows, so the arrival order does not matter.

Occupancy counts the open visits that began at or before now and less than dwell ago (an open visit ends
at its automatic check-out). Each open visit's next change of state (it begins, it falls due) is entered
in the partition's due list, which a clock tick reads: automatic check-outs need no new scan.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from antoan_shared import topics
from antoan_shared.events import SCHEMA_VERSION, OccupancyChanged
from antoan_tracer.domain.outputs import Out
from antoan_tracer.domain.person import ExposureRow, match_message
from antoan_tracer.domain.store import PARTITION_KEY, Store, Stores, prefix_stop
from antoan_tracer.domain.times import from_us, sortable

# (contact person, case, match id) -> the exposure the match gives
Matches = dict[tuple[str, str, str], ExposureRow]


class VenueStage:
    def __init__(self, bucket_us: int, clock: Callable[[], int]) -> None:
        self.bucket_us = bucket_us
        self.clock = clock

    def handle(self, stores: Stores, venue: str, message: dict[str, Any]) -> list[Out]:
        kind = message["k"]
        if kind == "tick":
            return self.on_tick(stores, message["t"])
        store = stores.of(venue)
        if kind == "visit":
            return self.on_visit(stores, store, venue, message)
        if kind == "win":
            return self.on_window(store, venue, message)
        raise ValueError(f"unknown venue message {kind!r}")

    def _buckets(self, start: int, end: int) -> range:
        return range(start // self.bucket_us, end // self.bucket_us + 1)

    def _in_buckets(self, store: Store, kind: str, *intervals: tuple[int, int]) -> dict[str, list[Any]]:
        """The entries of one kind (`v` visits, `w` windows) filed under the buckets that the intervals
        [start, end] overlap, each bucket read once."""
        found: dict[str, list[Any]] = {}
        for bucket in sorted({bucket for interval in intervals for bucket in self._buckets(*interval)}):
            prefix = f"{kind}|{bucket:09d}|"
            for key, value in store.scan(prefix, prefix_stop(prefix)):
                found.setdefault(key[len(prefix) :], value)
        return found

    def _file(
        self,
        store: Store,
        kind: str,
        entry_id: str,
        old: tuple[int, int] | None,
        new: tuple[int, int] | None,
        value: list[Any],
    ) -> None:
        """Keep an entry under exactly the buckets its new interval overlaps."""
        old_buckets = set(self._buckets(*old)) if old else set()
        new_buckets = set(self._buckets(*new)) if new else set()
        for bucket in old_buckets - new_buckets:
            store.delete(f"{kind}|{bucket:09d}|{entry_id}")
        for bucket in new_buckets:
            store.set(f"{kind}|{bucket:09d}|{entry_id}", value)

    def _file_visit(
        self, store: Store, visit_id: str, old: tuple[int, int] | None, new: tuple[int, int] | None
    ) -> None:
        """Keep a visit's id under exactly the buckets its new interval overlaps, touching only those that change."""
        old_buckets = set(self._buckets(*old)) if old else set()
        new_buckets = set(self._buckets(*new)) if new else set()
        for bucket in old_buckets - new_buckets:
            store.delete(f"v|{bucket:09d}|{visit_id}")
        for bucket in new_buckets - old_buckets:
            store.set(f"v|{bucket:09d}|{visit_id}", 1)

    # --- matching --------------------------------------------------------------------------------------

    @staticmethod
    def _match(venue: str, window_id: str, window: list[Any], visit_id: str, visit: list[Any], into: Matches) -> None:
        """Record the contact a visit makes with a spreader's window, if it overlaps (bounds inclusive) and is
        not the spreader's own: exposed from the later of the visit's start and the window's."""
        case_id, spreader, degree, w_start, w_end = window
        person, start, end = visit[0], visit[1], visit[2]
        if person != spreader and start <= w_end and end >= w_start:
            into[(person, case_id, f"{window_id}~{visit_id}")] = [
                degree + 1,
                max(start, w_start),
                venue,
                w_start,
                w_end,
                spreader,
            ]

    def _matches_of_visit(
        self, store: Store, venue: str, visit_id: str, old: list[Any] | None, new: list[Any] | None
    ) -> tuple[Matches, Matches]:
        """The matches a visit made as it was and makes as it is now, from one read of the windows filed where
        either can overlap (a visit changes at every scan: in, out, a late upload)."""
        before: Matches = {}
        after: Matches = {}
        intervals = [(v[1], v[2]) for v in (old, new) if v is not None]
        for window_id, window in self._in_buckets(store, "w", *intervals).items():
            if old is not None:
                self._match(venue, window_id, window, visit_id, old, before)
            if new is not None:
                self._match(venue, window_id, window, visit_id, new, after)
        return before, after

    def _matches_of_window(self, store: Store, venue: str, window_id: str, window: list[Any] | None) -> Matches:
        matches: Matches = {}
        if window is not None:
            for visit_id in self._in_buckets(store, "v", (window[3], window[4])):
                visit = store.get(f"x|{visit_id}")
                if visit is not None:
                    self._match(venue, window_id, window, visit_id, visit, matches)
        return matches

    @staticmethod
    def _matches_changed(store: Store, venue: str, before: Matches, after: Matches) -> list[Out]:
        """Keep the venue's matches as they now stand, and tell a contact's person stage only when the contact's
        best exposure at this venue in a case changed (one record per venue and case, not per match: a person
        at a busy venue overlaps many spreaders' windows, and only the best of them can count).

        `k|<case>|<person>` is always the best of the stored `m|<case>|<person>|…`, so a match that appears or
        improves is compared with it alone; only when the match that was the best goes or gets worse are the
        person's other matches in the case read again. A case with hundreds of F1 at one venue (each F1's
        window matching the same visitors) would otherwise cost every window a read of all of them."""
        gained: dict[tuple[str, str], list[ExposureRow]] = {}  # new or changed matches' exposures
        lost: dict[tuple[str, str], list[ExposureRow]] = {}  # exposures that went (removed, or changed from)
        for person, case_id, match_id in before.keys() - after.keys():
            store.delete(f"m|{case_id}|{person}|{match_id}")
            lost.setdefault((person, case_id), []).append(before[(person, case_id, match_id)])
        for (person, case_id, match_id), exposure in after.items():
            previous = before.get((person, case_id, match_id))
            if previous != exposure:
                store.set(f"m|{case_id}|{person}|{match_id}", exposure)
                gained.setdefault((person, case_id), []).append(exposure)
                if previous is not None:
                    lost.setdefault((person, case_id), []).append(previous)
        outs: list[Out] = []
        for person, case_id in sorted(gained.keys() | lost.keys()):
            sent_key = f"k|{case_id}|{person}"
            sent: ExposureRow | None = store.get(sent_key)
            if sent is not None and sent in lost.get((person, case_id), ()):
                prefix = f"m|{case_id}|{person}|"  # the best went: the next best is among the others
                best = min((exposure for _, exposure in store.scan(prefix, prefix_stop(prefix))), default=None)
            else:
                best = min([*gained.get((person, case_id), ()), *([] if sent is None else [sent])], default=None)
            if sent == best:
                continue
            if best is None:
                store.delete(sent_key)
            else:
                store.set(sent_key, best)
            outs.append(Out(topics.TRACER_PERSON_INBOX, person, match_message(case_id, venue, best)))
        return outs

    # --- visits ----------------------------------------------------------------------------------------

    def on_visit(self, stores: Stores, store: Store, venue: str, message: dict[str, Any]) -> list[Out]:
        visit_id = message["i"]
        old: list[Any] | None = store.get(f"x|{visit_id}")
        new = None if message.get("x") else [message["p"], message["s"], message["e"], message["o"]]
        if (old is None and new is None) or (old is not None and old[:4] == new):
            return []  # nothing changes
        outs: list[Out] = []
        counts = store.get("c") or [0, 0]
        if counts[1]:  # most venues have no spreader's window at all: nothing to match
            outs = self._matches_changed(store, venue, *self._matches_of_visit(store, venue, visit_id, old, new))
        self._file_visit(store, visit_id, (old[1], old[2]) if old else None, (new[1], new[2]) if new else None)
        now = self.clock()
        was_counted = bool(old and old[4])
        if new is None:
            store.delete(f"x|{visit_id}")
            counted = False
        else:
            counted = self._counted(new, now)
            store.set(f"x|{visit_id}", [*new, counted])
            self._schedule(stores, venue, visit_id, new, now)
        if counted != was_counted:
            outs += self._count(store, venue, 1 if counted else -1, now, counts)
        return outs

    @staticmethod
    def _counted(visit: list[Any], now: int) -> bool:
        """In the venue's occupancy now: an open visit that has begun and not reached its check-out."""
        return bool(visit[3]) and visit[1] <= now < visit[2]

    @staticmethod
    def _schedule(stores: Stores, venue: str, visit_id: str, visit: list[Any], now: int) -> None:
        """Enter the open visit's next change of state (it begins, or it falls due) in the due list."""
        if not visit[3]:
            return
        at = visit[1] if now < visit[1] else visit[2] if now < visit[2] else None
        if at is not None:
            stores.of(PARTITION_KEY).set(f"d|{sortable(at)}|{venue}|{visit_id}", 1)

    def _count(self, store: Store, venue: str, delta: int, now: int, counts: list[int] | None = None) -> list[Out]:
        counts = counts or store.get("c") or [0, 0]
        current = counts[0] = max(0, counts[0] + delta)
        store.set("c", counts)
        at = from_us(now)
        event = OccupancyChanged.model_construct(
            event_id=str(uuid.uuid4()),
            type="occupancy.changed",
            schema_version=SCHEMA_VERSION,
            occurred_at=at,
            producer="tracer",
            venue_id=venue,
            current=current,
            as_of=at,
        )
        return [Out(topics.OCCUPANCY, venue, event)]

    def on_tick(self, stores: Stores, now: int) -> list[Out]:
        partition = stores.of(PARTITION_KEY)
        changed: dict[str, int] = {}
        for key, _ in partition.scan("d|", f"d|{sortable(now + 1)}"):
            partition.delete(key)
            venue, visit_id = key.split("|", 2)[2].rsplit("|", 1)
            store = stores.of(venue)
            visit = store.get(f"x|{visit_id}")
            if visit is None:
                continue  # withdrawn or closed since
            counted = self._counted(visit, now)
            if counted != visit[4]:
                store.set(f"x|{visit_id}", [*visit[:4], counted])
                changed[venue] = changed.get(venue, 0) + (1 if counted else -1)
            self._schedule(stores, venue, visit_id, visit, now)
        outs: list[Out] = []
        for venue, delta in changed.items():
            if delta:
                outs += self._count(stores.of(venue), venue, delta, now)
        return outs

    # --- windows ---------------------------------------------------------------------------------------

    def on_window(self, store: Store, venue: str, message: dict[str, Any]) -> list[Out]:
        window_id = message["i"]
        old: list[Any] | None = store.get(f"y|{window_id}")
        new = None if message.get("x") else [message["c"], message["p"], message["g"], message["s"], message["e"]]
        if old == new:
            return []
        outs = self._matches_changed(
            store,
            venue,
            self._matches_of_window(store, venue, window_id, old),
            self._matches_of_window(store, venue, window_id, new),
        )
        self._file(
            store, "w", window_id, (old[3], old[4]) if old else None, (new[3], new[4]) if new else None, new or []
        )
        if new is None:
            store.delete(f"y|{window_id}")
        else:
            store.set(f"y|{window_id}", new)
        if old is None or new is None:
            counts = store.get("c") or [0, 0]
            counts[1] += 1 if old is None else -1
            store.set("c", counts)
        return outs
