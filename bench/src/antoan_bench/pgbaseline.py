"""What a team would build instead: one PostgreSQL table of visits, a GiST index on the visit interval,
batched inserts, and an overlap join for a case's contacts. Same visits, same machine."""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from antoan_bench.infra import Postgres, peak_rss_mb
from antoan_bench.province import Province, expected_contacts, rfc3339_ms
from antoan_bench.stages import case_interval, latency_summary

log = logging.getLogger(__name__)
COPY_CHUNK = 100_000
PROGRESS_EVERY_S = 10.0

SCHEMA = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE TABLE visits (
    person_id text NOT NULL,
    venue_id  text NOT NULL,
    during    tstzrange NOT NULL
);
CREATE INDEX visits_venue_during ON visits USING gist (venue_id, during);
CREATE INDEX visits_person ON visits (person_id);
"""

# SPEC §3.4 for F1: windows [max(start - 1 h, since), end + 1 h] of the case's visits overlapping the
# infectious interval; contacts are the other people whose visit overlaps a window, bounds inclusive.
CONTACTS_SQL = """
WITH windows AS (
    SELECT venue_id,
           tstzrange(greatest(lower(during) - interval '60 minutes', %(since)s),
                     upper(during) + interval '60 minutes', '[]') AS win
    FROM visits
    WHERE person_id = %(case)s AND during && tstzrange(%(since)s, %(until)s, '[]')
)
SELECT v.person_id, min(greatest(lower(v.during), lower(w.win))) AS exposed_at
FROM windows w
JOIN visits v ON v.venue_id = w.venue_id AND v.during && w.win
WHERE v.person_id <> %(case)s
GROUP BY v.person_id
"""


@dataclass
class PgOutcome:
    rows: int = 0  # visits in the table, counted there once loaded
    timed_rows: int = 0  # of which inserted in timed batches (the rest by an untimed COPY before them)
    copy_seconds: float = 0.0
    load_seconds: float = 0.0
    single_insert_ms: list[float] = field(default_factory=list)
    query_ms: list[float] = field(default_factory=list)
    agrees_with_reference: bool = True
    peak_rss_mb: float | None = None

    @property
    def rows_per_s(self) -> float:
        return self.timed_rows / self.load_seconds if self.load_seconds else 0.0

    def summary(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "timed_rows": self.timed_rows,
            "copy_seconds": round(self.copy_seconds, 1),
            "load_seconds": round(self.load_seconds, 1),
            "batched_insert_rows_per_s": round(self.rows_per_s),
            "single_insert": latency_summary(self.single_insert_ms),
            "contacts_query": latency_summary(self.query_ms),
            "agrees_with_reference": self.agrees_with_reference,
            "peak_rss_mb": self.peak_rss_mb,
        }


def _copy_lines(province: Province, venue_ids: list[str], index: npt.NDArray[np.intp]) -> Iterator[bytes]:
    """COPY text rows of the visits at `index`, in chunks."""
    v = province.visits
    for lo in range(0, len(index), COPY_CHUNK):
        part = index[lo : lo + COPY_CHUNK]
        starts = rfc3339_ms(v.start[part])
        ends = rfc3339_ms(v.end[part])
        people = v.person[part].tolist()
        venues = v.venue[part].tolist()
        yield "".join(
            f"{province.people[p]}\t{venue_ids[q]}\t[{a},{b}]\n"
            for p, q, a, b in zip(people, venues, starts, ends, strict=True)
        ).encode()


def copy_streams() -> int:
    """How many COPY streams load the bulk: one per core (up to four), as a team's loader would on a machine
    where nothing else runs (a GiST insert keeps one PostgreSQL backend busy on a core: on 2 cores two streams
    loaded a million visits in 45 s where one took 79)."""
    return max(1, min(4, os.cpu_count() or 1))


def _copy_bulk(dsn: str, province: Province, venue_ids: list[str], bulk: npt.NDArray[np.intp]) -> None:
    """COPY the rows at `bulk` over `copy_streams()` connections at once, each its own share."""
    import psycopg

    n = copy_streams()
    log.info("PostgreSQL: COPY of %d visits in %d streams (not timed as inserts)", len(bulk), n)
    failures: list[BaseException] = []
    sent = [0] * n  # rows each stream has handed to PostgreSQL so far

    def stream(i: int) -> None:
        try:
            with (
                psycopg.connect(dsn, autocommit=True) as conn,
                conn.cursor() as cur,
                cur.copy("COPY visits (person_id, venue_id, during) FROM STDIN") as copy,
            ):
                for data in _copy_lines(province, venue_ids, bulk[i::n]):
                    copy.write(data)
                    sent[i] += data.count(b"\n")
        except BaseException as exc:  # raised again in the caller's thread
            failures.append(exc)

    threads = [threading.Thread(target=stream, args=(i,), name=f"copy-{i}", daemon=True) for i in range(n)]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    for thread in threads:
        while thread.is_alive():
            thread.join(timeout=PROGRESS_EVERY_S)
            if thread.is_alive():
                log.info(
                    "  PostgreSQL COPY: %d/%d visits sent in %.0f s", sum(sent), len(bulk), time.monotonic() - started
                )
    if failures:
        raise failures[0]


def run_baseline(
    pg: Postgres,
    province: Province,
    venue_ids: list[str],
    cases: list[int],
    queries: int,
    single_inserts: int,
    seed: int,
    batch_size: int = 1000,
    timed_rows: int = 200_000,
) -> PgOutcome:
    """The visits into the table (the bulk by COPY, then the last `timed_rows` in timed batches of
    `batch_size`, one transaction each, into the table as full as it gets), single-row inserts, and the
    contacts of the benchmark's cases and of random people by the overlap join."""
    import psycopg
    from psycopg.types.range import Range

    out = PgOutcome()
    v = province.visits
    order = np.random.default_rng(seed + 5).permutation(len(v))  # arrival order: any
    bulk, timed = order[: max(0, len(v) - timed_rows)], order[max(0, len(v) - timed_rows) :]
    with psycopg.connect(pg.dsn, autocommit=True) as conn:
        conn.execute(SCHEMA)
        if len(bulk):
            started = time.monotonic()
            _copy_bulk(pg.dsn, province, venue_ids, bulk)
            out.copy_seconds = time.monotonic() - started
        rows = [
            (province.people[int(v.person[i])], venue_ids[int(v.venue[i])], Range(_at(v.start[i]), _at(v.end[i]), "[]"))
            for i in timed
        ]
        log.info("PostgreSQL: inserting %d visits in batches of %d", len(rows), batch_size)
        started = time.monotonic()
        with conn.cursor() as cur:
            for i in range(0, len(rows), batch_size):
                with conn.transaction():
                    cur.executemany(
                        "INSERT INTO visits (person_id, venue_id, during) VALUES (%s, %s, %s)", rows[i : i + batch_size]
                    )
        out.load_seconds = time.monotonic() - started
        out.timed_rows = len(rows)
        counted = conn.execute("SELECT count(*) FROM visits").fetchone()
        out.rows = int(counted[0]) if counted else 0  # what the table holds, all streams' COPY and the batches
        conn.execute("ANALYZE visits")

        log.info("PostgreSQL: %d single-row inserts, each its own transaction", single_inserts)
        rng = random.Random(seed + 3)
        for _ in range(single_inserts):
            person, venue, during = rng.choice(rows)
            t = time.perf_counter()
            conn.execute(
                "INSERT INTO visits (person_id, venue_id, during) VALUES (%s, %s, %s)", (person + "x", venue, during)
            )
            out.single_insert_ms.append((time.perf_counter() - t) * 1000)
        conn.execute("DELETE FROM visits WHERE person_id LIKE '%x'")

        _, since, until = case_interval(province)
        others = rng.sample(range(len(province.people)), min(queries, len(province.people)))
        log.info("PostgreSQL: contacts of %d cases by an overlap join", len(cases) + len(others))
        for n, case in enumerate([*cases, *others]):
            t = time.perf_counter()
            found = conn.execute(CONTACTS_SQL, _params(province.people[case], since, until)).fetchall()
            out.query_ms.append((time.perf_counter() - t) * 1000)
            if n < len(cases):
                reference = expected_contacts(province, case, since, until)
                if {row[0] for row in found} != {province.people[p] for p in reference}:
                    out.agrees_with_reference = False
                    log.warning("PostgreSQL and the reference disagree on case %s", province.people[case])
        out.peak_rss_mb = peak_rss_mb(pg.pid())
    return out


def _at(ms: np.int64) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, UTC)


def _params(case: str, since: datetime, until: datetime) -> dict[str, object]:
    return {"case": case, "since": since, "until": until}
