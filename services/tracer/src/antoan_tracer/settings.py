"""Tracer settings, from the environment."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import Field

from antoan_shared import topics
from antoan_shared.events import VenueCategory
from antoan_shared.processes import process_count
from antoan_shared.settings import HttpServiceSettings, RedisSettings


class TracerSettings(HttpServiceSettings, RedisSettings):
    host: str = Field(default="127.0.0.1", validation_alias="TRACER_HOST")
    port: int = Field(default=8002, validation_alias="TRACER_PORT")
    rate_limit_per_s: float = Field(default=200.0, ge=0, validation_alias="TRACER_RATE_LIMIT_PER_S")
    rate_limit_burst: float = Field(default=400.0, ge=1, validation_alias="TRACER_RATE_LIMIT_BURST")
    data_dir: Path = Field(default=Path(".run/tracer-data"), validation_alias="TRACER_DATA_DIR")
    # Contacts' windows enter the venue inbox while the stages are at most this many records behind (relay.py).
    relay_max_lag: int = Field(default=500, ge=0, validation_alias="TRACER_RELAY_MAX_LAG")
    # Stream processes per worker (each a Quix Streams application of the group, see `supervisor`); 0: one per
    # core. One process's Python runs on one core: on the flood of 30,000 check-ins the stream process was the
    # part at its limit (about 7 CPU-s a flood), and two cleared it faster than one (decision 0001).
    stream_processes: int = Field(default=0, ge=0, le=64, validation_alias="TRACER_STREAM_PROCESSES")
    replication_factor: int = Field(default=1, ge=1, validation_alias="TRACER_REPLICATION_FACTOR")
    ingest_url: str = Field(default="http://127.0.0.1:8001", validation_alias="INGEST_URL")
    redis_prefix: str = Field(default="antoan:tracer:", validation_alias="TRACER_REDIS_PREFIX")
    # Partitions of the tracer's own topics (its two inboxes, and so its state stores): how many workers can
    # share the work. 24 lets a national deployment spread 10,000 check-ins/s over up to 24 workers
    # (~420/s each at peak, a quarter of one core's measured rate); one machine runs them all as well.
    partitions: int = Field(default=24, ge=1, le=512, validation_alias="TRACER_PARTITIONS")
    # Exactly-once: every hop between the tracer's stages becomes visible at a commit, so a check-in reaches
    # occupancy after about two commit intervals (SPEC §6: p99 ≤ 2 s).
    commit_interval_s: float = Field(default=0.4, gt=0, le=30, validation_alias="TRACER_COMMIT_INTERVAL_S")
    exactly_once: bool = Field(default=True, validation_alias="TRACER_EXACTLY_ONCE")
    # Clock ticks sent to every partition: automatic check-outs, missed quarantine updates, retention.
    tick_interval_s: float = Field(default=5.0, gt=0, le=60, validation_alias="TRACER_TICK_INTERVAL_S")
    # A worker whose input lag exceeds this many records reports not ready on /readyz.
    max_ready_lag: int = Field(default=50_000, ge=1, validation_alias="TRACER_MAX_READY_LAG")
    # A worker that stops heartbeating (killed, cut off) loses its partitions after this long.
    session_timeout_s: float = Field(default=10.0, ge=6, le=90, validation_alias="TRACER_SESSION_TIMEOUT_S")
    # Time buckets of the venue stage's index: a window reads the buckets it overlaps, no more.
    bucket_minutes: int = Field(default=60, ge=1, le=1440, validation_alias="TRACER_BUCKET_MINUTES")
    # Bounds on one person's stored state (SPEC: every stored value has a bound): a person who scans more
    # than this within the retention period keeps the latest ones (~95 a day for 21 days).
    max_scans_per_person: int = Field(default=2000, ge=10, validation_alias="TRACER_MAX_SCANS_PER_PERSON")
    # SPEC §3.3: 60 minutes for every category unless configured, e.g. "hotel=720,hospital=120".
    dwell_minutes: int = Field(default=60, ge=1, validation_alias="ANTOAN_DWELL_MINUTES")
    dwell_by_category: str = Field(default="", validation_alias="ANTOAN_DWELL_BY_CATEGORY")
    exposure_buffer_minutes: int = Field(default=60, ge=0, validation_alias="ANTOAN_EXPOSURE_BUFFER_MINUTES")
    max_degree: int = Field(default=2, ge=1, le=5, validation_alias="ANTOAN_MAX_DEGREE")
    fever_celsius: float = Field(default=37.5, validation_alias="ANTOAN_FEVER_CELSIUS")
    quarantine_days: int = Field(default=14, ge=1, validation_alias="ANTOAN_QUARANTINE_DAYS")
    quarantine_update_interval_s: int = Field(
        default=24 * 3600, ge=1, validation_alias="ANTOAN_QUARANTINE_UPDATE_INTERVAL_S"
    )
    # The health-authority console (console.py): live streams a worker serves at once (beyond: 503), and
    # the newest alerts and audit entries the read model keeps (each also within its retention period).
    max_streams: int = Field(default=200, ge=1, validation_alias="TRACER_MAX_STREAMS")
    max_alerts: int = Field(default=10_000, ge=10, validation_alias="TRACER_MAX_ALERTS")
    max_audit_entries: int = Field(default=10_000, ge=10, validation_alias="TRACER_MAX_AUDIT_ENTRIES")

    @property
    def dwell(self) -> timedelta:
        return timedelta(minutes=self.dwell_minutes)

    def dwell_for(self, category: VenueCategory | None) -> timedelta:
        overrides = self.dwell_overrides
        return overrides.get(category, self.dwell) if category is not None else self.dwell

    @property
    def dwell_overrides(self) -> dict[VenueCategory, timedelta]:
        overrides = {}
        for entry in self.dwell_by_category.split(","):
            name, _, minutes = entry.strip().partition("=")
            if name:
                overrides[VenueCategory(name)] = timedelta(minutes=int(minutes))
        return overrides

    @property
    def longest_visit(self) -> timedelta:
        """No visit lasts longer: an `out` closes visits up to 12 h, anything else lasts a dwell time."""
        return max([timedelta(hours=12), self.dwell, *self.dwell_overrides.values()])

    @property
    def exposure_buffer(self) -> timedelta:
        return timedelta(minutes=self.exposure_buffer_minutes)

    @property
    def stream_process_count(self) -> int:
        return process_count(self.stream_processes)


@lru_cache
def get_settings() -> TracerSettings:
    return TracerSettings()  # required fields come from the environment


# What the stream processing reads from the contract (its inboxes and the read model's inputs aside).
STREAM_INPUTS = (topics.CHECKINS, topics.CASES, topics.DECLARATIONS)


def tracer_topics(settings: TracerSettings) -> tuple[topics.TopicSpec, ...]:
    """The topics the tracer writes, its own inboxes with the tracer's partition count. (Here rather than in
    `pipeline.app`, so that the worker's process, which makes the topics, does not import Quix Streams.)"""
    return tuple(
        replace(spec, partitions=settings.partitions) if spec in topics.TRACER_INTERNAL else spec
        for spec in topics.topics_written_by("tracer")
    )
