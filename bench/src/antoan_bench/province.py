"""A synthetic province for the benchmark: venues of every kind, people with a realistic day, their scans.

Reproducible from a seed, and drawn with numpy in columns so that SPEC §6's national figure (7 days of
500,000 visits a day and today so far, about 5 million check-ins) takes seconds, not minutes. Visits are drawn
first and the scans derived from them so that the visits the tracer builds from the scans (SPEC §3.3) are
exactly the drawn ones: a person scanning only on entry stays one dwell time (the automatic check-out), one who
also scans on exit stays as long as drawn; visits of a person never overlap. Times are whole milliseconds since
the epoch, the resolution of `scanned_at` on the wire, so the reference answer and the tracer see the same
instants. The PostgreSQL baseline loads the drawn visits, so both sides hold the same data.

People of the different populations the benchmark uses never share an identifier: each has its own
phone-number prefix (the province `09`, the tracer flood `08`, the hot venue `05`, live and ingest traffic
`03`, the occupancy probe `07`).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property

import numpy as np
import numpy.typing as npt

from antoan_localstack.simulate import APPS, VenueDraft, make_venues

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
BOOL = npt.NDArray[np.bool_]

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
DWELL = timedelta(minutes=60)  # SPEC §3.3 default, the tracer's too
DWELL_MS = 60 * MINUTE_MS
EXPOSURE_BUFFER_MS = 60 * MINUTE_MS  # SPEC §3.4
LOCAL_TZ_OFFSET = timedelta(hours=7)  # the province lives in UTC+7: days run 06:00-22:00 local
# History ends this long before "now": live traffic (and its late uploads, at most an hour old) never
# overlaps a benchmark case's exposure windows (visit end + 60 min), so the expected F1 sets stay exact.
HISTORY_GAP = timedelta(hours=3)
MAX_VISITS_PER_DAY = 8

PROVINCE_PREFIX = "09"
FLOOD_PREFIX = "08"
HOT_PREFIX = "05"
LIVE_PREFIX = "03"
PROBE_PREFIX = "07"


@dataclass(frozen=True)
class Scale:
    """How big the province is and how hard each stage pushes."""

    # SPEC §6 asks for 500,000 visits/day (`--scale national`); the default is the largest history the tracer
    # of this version clears within `make bench`'s 20 minutes on two cores (README, Benchmark).
    visits_per_day: int = 50_000
    days: int = 7
    visits_per_person_per_day: float = 3.0
    people_per_venue: int = 25
    exit_scan_share: float = 0.3  # the rest scan only on entry
    duplicate_share: float = 0.05  # a second `in` scan within the dwell time (ignored by the tracer)
    retry_share: float = 0.02  # the same scan sent again with its client_event_id (idempotent retry)
    late_share: float = 0.05  # live scans uploaded late by an offline phone
    ingest_checkins: int = 30_000  # through the batch endpoint, with the tracer stopped
    ingest_warmup: int = 10_000  # sent first, by other people, and not timed: a started ingest's first traffic
    batch_clients: int = 4
    single_rate: float = 2000.0  # SPEC §6: p99 at 2,000 requests/s
    single_seconds: float = 10.0
    probe_rate: float = 5.0  # occupancy probes per second during the single-scan stage
    flood_checkins: int = 30_000  # issue 11: written straight onto checkins.v1 with ingest idle
    flood_venues: int = 60
    hot_visits: int = 8_000  # one venue's visits in one day (in and out scans)
    fresh_scans: int = 5  # scans at the hot venue once its backlog is cleared, timed to occupancy.v1
    cases: int = 5
    case_timeout_s: float = 60.0
    pg_queries: int = 200
    pg_timed_rows: int = 200_000  # batched inserts are timed on this many visits; the rest is COPY'd
    ceiling_records: int = 500_000

    @property
    def people(self) -> int:
        return max(10, round(self.visits_per_day / self.visits_per_person_per_day))

    @property
    def venues(self) -> int:
        return max(12, self.people // self.people_per_venue)


NATIONAL = Scale(visits_per_day=500_000, days=7)  # SPEC §6
SCALES: dict[str, Scale] = {
    "tiny": Scale(
        visits_per_day=300,
        days=2,
        people_per_venue=10,
        ingest_checkins=2_000,
        ingest_warmup=1_000,
        single_rate=50.0,
        single_seconds=5.0,
        flood_checkins=2_000,
        flood_venues=12,
        hot_visits=300,
        fresh_scans=3,
        cases=2,
        pg_queries=20,
        pg_timed_rows=400,  # the rest (about 200) by COPY, so that the smoke test loads the table both ways
        ceiling_records=20_000,
        batch_clients=2,
    ),
    "default": Scale(),
    "national": NATIONAL,
}


@dataclass(frozen=True)
class Visits:
    """Visits in columns: who, where (indexes into the province's people and venues), [start, end] in ms."""

    person: I32
    venue: I32
    start: I64
    end: I64

    def __len__(self) -> int:
        return len(self.person)


@dataclass(frozen=True)
class Scans:
    """Check-ins in columns, in `at` order. `retry` marks a client's second send of the scan before it
    (ingest publishes it once, so a record written straight onto the topic leaves retries out)."""

    person: I32
    venue: I32
    out: BOOL  # direction `out`, else `in`
    at: I64  # scanned_at, ms since the epoch
    app: npt.NDArray[np.int8]  # index into APPS
    serial: I64  # the scan's own number (its client_event_id); a retry repeats it
    retry: BOOL

    def __len__(self) -> int:
        return len(self.person)

    def take(self, index: npt.NDArray[np.intp] | slice) -> Scans:
        return Scans(
            self.person[index],
            self.venue[index],
            self.out[index],
            self.at[index],
            self.app[index],
            self.serial[index],
            self.retry[index],
        )

    def published(self) -> Scans:
        """What ingest would publish: every scan once (retries are deduplicated by their client_event_id)."""
        return self.take(np.flatnonzero(~self.retry))


@dataclass(frozen=True)
class Province:
    venues: list[VenueDraft]
    people: list[str]
    visits: Visits
    scans: Scans
    now: datetime

    @property
    def now_ms(self) -> int:
        return to_ms(self.now)

    @cached_property
    def venue_index(self) -> tuple[npt.NDArray[np.intp], I64]:
        """Visits ordered by (venue, start), and where each venue's run begins (for the reference answer)."""
        order = np.lexsort((self.visits.start, self.visits.venue))
        bounds = np.searchsorted(self.visits.venue[order], np.arange(len(self.venues) + 1))
        return order, bounds.astype(np.int64)


def to_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def phone(prefix: str, n: int) -> str:
    """A valid Vietnamese mobile number of a population: its prefix and an 8-digit serial."""
    return f"{prefix}{n:08d}"


def people_of(prefix: str, count: int, offset: int = 0) -> list[str]:
    return [phone(prefix, offset + i) for i in range(count)]


def _local_midnight(now: datetime) -> datetime:
    return (now + LOCAL_TZ_OFFSET).replace(hour=0, minute=0, second=0, microsecond=0) - LOCAL_TZ_OFFSET


def draw_visits(
    rng: np.random.Generator,
    people: int,
    venues: list[VenueDraft],
    first_day: datetime,
    days: int,
    end_ms: int,
    mean: float,
    exit_share: float,
) -> tuple[Visits, BOOL]:
    """Each person's day (06:00-22:00 local) for `days` days from `first_day`, ending no later than `end_ms`.

    A day has 1-8 visits (around `mean`), the first between 06:00 and 09:00, each followed by 10-150 min of
    travel; no visit starts after 22:00. Entry-only visits last the dwell time, a visit scanned on exit lasts
    10-240 min. Returns the visits and whether each was scanned on exit.
    """
    shape = (days, people, MAX_VISITS_PER_DAY)
    count = np.clip(np.rint(rng.normal(mean, 1.2, shape[:2])), 1, MAX_VISITS_PER_DAY)
    first = rng.uniform(0, 180, shape[:2])
    exits = rng.random(shape) < exit_share
    length = np.where(exits, rng.uniform(10, 240, shape), DWELL_MS / MINUTE_MS)
    gap = rng.uniform(10, 150, shape)
    step = length + gap
    start_min = 6 * 60 + first[..., None] + np.cumsum(step, axis=2) - step
    k = np.arange(MAX_VISITS_PER_DAY)
    day_ms = to_ms(first_day) + DAY_MS * np.arange(days, dtype=np.int64)
    start = day_ms[:, None, None] + np.rint(start_min * MINUTE_MS).astype(np.int64)
    end = start + np.rint(length * MINUTE_MS).astype(np.int64)
    keep = (k < count[..., None]) & (start_min <= 22 * 60) & (end <= end_ms)
    # Bigger venues draw more people; a person keeps a few usual places (home ward, work, cafe).
    weights = np.array([v.capacity for v in venues], dtype=np.float64)
    habits = rng.choice(len(venues), size=(people, 6), p=weights / weights.sum())
    habit = habits[np.arange(people)[None, :, None], rng.integers(0, 6, shape)]
    venue = np.where(rng.random(shape) < 0.8, habit, rng.integers(0, len(venues), shape))
    person = np.broadcast_to(np.arange(people)[None, :, None], shape)
    visits = Visits(
        person=person[keep].astype(np.int32),
        venue=venue[keep].astype(np.int32),
        start=start[keep],
        end=end[keep],
    )
    return visits, exits[keep]


def scans_of(
    rng: np.random.Generator, visits: Visits, exits: BOOL, duplicate_share: float, retry_share: float
) -> Scans:
    """The scans that make the tracer build exactly `visits`: `in` at the start, `out` at the end of a visit
    scanned on exit, some duplicate `in`s 1-5 min after the first, some client retries; in time order."""
    n = len(visits)
    dup = rng.random(n) < duplicate_share
    dup_at = visits.start[dup] + np.rint(rng.uniform(1, 5, int(dup.sum())) * MINUTE_MS).astype(np.int64)
    person = np.concatenate([visits.person, visits.person[dup], visits.person[exits]])
    venue = np.concatenate([visits.venue, visits.venue[dup], visits.venue[exits]])
    at = np.concatenate([visits.start, dup_at, visits.end[exits]])
    out = np.concatenate([np.zeros(n + len(dup_at), dtype=np.bool_), np.ones(int(exits.sum()), dtype=np.bool_)])
    serial = np.arange(1, len(at) + 1, dtype=np.int64)
    app = rng.integers(0, len(APPS), len(at)).astype(np.int8)
    retried = rng.random(len(at)) < retry_share
    # A retry is the same scan again, right after it.
    again = np.flatnonzero(retried)
    idx = np.concatenate([np.arange(len(at)), again])
    retry = np.concatenate([np.zeros(len(at), dtype=np.bool_), np.ones(len(again), dtype=np.bool_)])
    order = np.lexsort((retry, at[idx]))
    idx, retry = idx[order], retry[order]
    return Scans(person[idx], venue[idx], out[idx], at[idx], app[idx], serial[idx], retry)


def generate(
    scale: Scale,
    seed: int,
    now: datetime | None = None,
    *,
    prefix: str = PROVINCE_PREFIX,
    venues: int | None = None,
    people: int | None = None,
) -> Province:
    """The venues, people, visits of `scale.days` days (and today's so far) up to `now - HISTORY_GAP`, and
    their scans."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    venue_drafts = make_venues(random.Random(seed), venues or scale.venues)
    names = people_of(prefix, people or scale.people)
    rng = np.random.default_rng(seed)
    first_day = _local_midnight(now) - timedelta(days=scale.days)
    visits, exits = draw_visits(
        rng,
        len(names),
        venue_drafts,
        first_day,
        scale.days + 1,
        to_ms(now - HISTORY_GAP),
        scale.visits_per_person_per_day,
        scale.exit_scan_share,
    )
    scans = scans_of(rng, visits, exits, scale.duplicate_share, scale.retry_share)
    return Province(venues=venue_drafts, people=names, visits=visits, scans=scans, now=now)


def flood(scale: Scale, seed: int, now: datetime | None = None) -> Province:
    """The tracer flood's population: its own venues (a few busy ones) and people, the first
    `scale.flood_checkins` published scans of theirs (about three visits a person a day, over a few days)."""
    people = max(10, scale.flood_venues * 40)
    per_day = people * 3
    days = max(1, math.ceil(scale.flood_checkins / (per_day * 1.3)))
    flood_scale = Scale(visits_per_day=per_day, days=days)
    province = generate(flood_scale, seed + 100, now, prefix=FLOOD_PREFIX, venues=scale.flood_venues, people=people)
    published = province.scans.published()
    if len(published) < scale.flood_checkins:
        raise RuntimeError(f"the flood drew {len(published)} check-ins, fewer than {scale.flood_checkins}")
    return Province(
        venues=province.venues,
        people=province.people,
        visits=province.visits,
        scans=published.take(slice(0, scale.flood_checkins)),
        now=province.now,
    )


def hot_venue_day(visits_count: int, seed: int, now: datetime | None = None) -> tuple[list[str], Visits, Scans]:
    """One venue's busy day yesterday (local): `visits_count` people each scan in (06:00-19:00) and out
    10-240 min later, by 23:00. Everyone has left by the time the benchmark runs, even just after midnight
    (the day is over), so its occupancy is 0 after it."""
    now = now or datetime.now(UTC)
    rng = np.random.default_rng(seed + 200)
    day = to_ms(_local_midnight(now) - timedelta(days=1))
    start = day + 6 * HOUR_MS + rng.integers(0, 13 * HOUR_MS, visits_count)
    end = start + rng.integers(10 * MINUTE_MS, 240 * MINUTE_MS, visits_count)
    person = np.arange(visits_count, dtype=np.int32)
    venue = np.zeros(visits_count, dtype=np.int32)
    visits = Visits(person, venue, start.astype(np.int64), end.astype(np.int64))
    scans = scans_of(rng, visits, np.ones(visits_count, dtype=np.bool_), 0.0, 0.0)
    return people_of(HOT_PREFIX, visits_count), visits, scans


# --------------------------------------------------------------------------------------------------
# bodies for ingest


def rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def rfc3339_ms(at: I64) -> list[str]:
    """`scanned_at` of many instants at once, as ingest and the topic spell them."""
    return [s + "Z" for s in np.datetime_as_string(at.astype("datetime64[ms]"), unit="ms").tolist()]


def checkin_bodies(province: Province, venue_qrs: list[str], scans: Scans, tag: str) -> list[dict[str, str]]:
    """`POST /v1/checkins` bodies of `scans` (a retry repeats its scan's client_event_id)."""
    at = rfc3339_ms(scans.at)
    return [
        {
            "venue_qr": venue_qrs[int(scans.venue[i])],
            "person_id": province.people[int(scans.person[i])],
            "direction": "out" if scans.out[i] else "in",
            "scanned_at": at[i],
            "app": APPS[int(scans.app[i])],
            "client_event_id": f"{tag}-{int(scans.serial[i])}",
        }
        for i in range(len(scans))
    ]


# --------------------------------------------------------------------------------------------------
# the reference answer


def expected_contacts(province: Province, case: int, since: datetime, until: datetime) -> dict[int, int]:
    """F1 of a case by SPEC §3.4 over the drawn visits: person -> earliest exposure in ms (the reference answer).

    The case's windows are its visits overlapping [since, until], widened by the exposure buffer (the start
    not before `since`); a contact is anyone else whose visit at the same venue overlaps a window, bounds
    inclusive; exposed at the later of the visit's start and the window's start.
    """
    v = province.visits
    since_ms, until_ms = to_ms(since), to_ms(until)
    mine = np.flatnonzero((v.person == case) & (v.end >= since_ms) & (v.start <= until_ms))
    order, bounds = province.venue_index
    contacts: dict[int, int] = {}
    for i in mine:
        venue = int(v.venue[i])
        lo = max(int(v.start[i]) - EXPOSURE_BUFFER_MS, since_ms)
        hi = int(v.end[i]) + EXPOSURE_BUFFER_MS
        at_venue = order[bounds[venue] : bounds[venue + 1]]
        hit = at_venue[(v.start[at_venue] <= hi) & (v.end[at_venue] >= lo) & (v.person[at_venue] != case)]
        for person, start in zip(v.person[hit].tolist(), v.start[hit].tolist(), strict=True):
            at = max(start, lo)
            if person not in contacts or at < contacts[person]:
                contacts[person] = at
    return contacts
