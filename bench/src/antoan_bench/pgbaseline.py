"""What a team would build instead: one PostgreSQL table of visits, a GiST index on the visit interval,
batched inserts, and an overlap join for a case's contacts. Same visits, same machine."""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime

from antoan_bench.infra import Postgres, peak_rss_mb
from antoan_bench.province import Province, expected_contacts
from antoan_bench.stages import case_interval, latency_summary

log = logging.getLogger(__name__)

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
    rows: int = 0
    load_seconds: float = 0.0
    single_insert_ms: list[float] = field(default_factory=list)
    query_ms: list[float] = field(default_factory=list)
    agrees_with_reference: bool = True
    peak_rss_mb: float | None = None

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.load_seconds if self.load_seconds else 0.0

    def summary(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "load_seconds": round(self.load_seconds, 1),
            "batched_insert_rows_per_s": round(self.rows_per_s),
            "single_insert": latency_summary(self.single_insert_ms),
            "contacts_query": latency_summary(self.query_ms),
            "agrees_with_reference": self.agrees_with_reference,
            "peak_rss_mb": self.peak_rss_mb,
        }


def run_baseline(
    pg: Postgres,
    province: Province,
    venue_ids: list[str],
    cases: list[int],
    queries: int,
    single_inserts: int,
    seed: int,
    batch_size: int = 1000,
) -> PgOutcome:
    import psycopg
    from psycopg.types.range import Range

    out = PgOutcome()
    rows = [(province.people[v.person], venue_ids[v.venue], Range(v.start, v.end, "[]")) for v in province.visits]
    with psycopg.connect(pg.dsn, autocommit=True) as conn:
        conn.execute(SCHEMA)
        log.info("PostgreSQL: loading %d visits in batches of %d", len(rows), batch_size)
        started = time.monotonic()
        with conn.cursor() as cur:
            for i in range(0, len(rows), batch_size):
                with conn.transaction():
                    cur.executemany(
                        "INSERT INTO visits (person_id, venue_id, during) VALUES (%s, %s, %s)", rows[i : i + batch_size]
                    )
        out.load_seconds = time.monotonic() - started
        out.rows = len(rows)
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


def _params(case: str, since: datetime, until: datetime) -> dict[str, object]:
    return {"case": case, "since": since, "until": until}
