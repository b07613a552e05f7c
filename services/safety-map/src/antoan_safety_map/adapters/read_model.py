"""The Redis read model: the safety map's whole state, rebuilt at any time from Kafka.

One JSON document per venue and per area (what the engine knows and what it last published), a geo index
of venues, the venues of each ward and district, the confirmed cases of each area by time, the moments at
which a level may step down with nothing new happening, and the engine's input offsets. Offsets are
written in the same transaction as the state they produced, so the state is exactly the topics' prefix
up to them. A marker key says the state is whole; without it the engine rebuilds from the topics.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict

from antoan_shared.events import AreaKind, Reason


class VenueRecord(BaseModel):
    """What the map knows of one venue, and the risk it last published for it."""

    model_config = ConfigDict(extra="ignore")

    venue_id: str
    known: bool = False  # its registration was seen on venues.v1
    state_at: datetime | None = None  # occurred_at of the latest registration record applied
    name: str = ""
    category: str = ""
    address: str = ""
    lat: float | None = None
    lon: float | None = None
    capacity: int = 1
    province_code: str = ""
    district_code: str = ""
    ward_code: str = ""
    api_key_hash: str = ""
    active: bool = True
    current: int = 0
    occupancy_as_of: datetime | None = None
    # case_id -> [until, recorded_at] of that case's latest presence window at the venue
    case_presences: dict[str, tuple[datetime, datetime]] = {}
    # case_id -> the start of that case's latest presence window (a separate field: records written before
    # it was kept still read)
    case_presence_starts: dict[str, datetime] = {}
    cleared_at: datetime | None = None
    self_assessment_score: int | None = None
    assessed_at: datetime | None = None
    # The risk as last published on venue-risk.v1.
    level: int | None = None
    color: str | None = None
    reasons: tuple[Reason, ...] = ()
    risk_as_of: datetime | None = None

    def area_codes(self) -> tuple[str, ...]:
        """The areas whose level can raise the venue's (SPEC §3.6: its ward and district)."""
        return tuple(code for code in (self.ward_code, self.district_code) if code)

    def properties(self) -> dict[str, Any]:
        """What the public sees of the venue (no API key hash, no owner)."""
        return {
            "venue_id": self.venue_id,
            "name": self.name,
            "category": self.category,
            "address": self.address,
            "level": self.level,
            "color": self.color,
            "reasons": [reason.model_dump(mode="json") for reason in self.reasons],
            "current": self.current,
            "capacity": self.capacity,
            "active": self.active,
            "as_of": self.risk_as_of.isoformat() if self.risk_as_of else None,
        }

    def feature(self) -> dict[str, Any]:
        """The venue as a GeoJSON Feature (RFC 7946: coordinates are longitude, latitude)."""
        return {
            "type": "Feature",
            "id": self.venue_id,
            "geometry": {"type": "Point", "coordinates": [self.lon, self.lat]},
            "properties": self.properties(),
        }

    def risk(self) -> dict[str, Any]:
        return {
            "venue_id": self.venue_id,
            "level": self.level,
            "color": self.color,
            "reasons": [reason.model_dump(mode="json") for reason in self.reasons],
            "as_of": self.risk_as_of.isoformat() if self.risk_as_of else None,
        }

    def occupancy(self) -> dict[str, Any]:
        return {
            "venue_id": self.venue_id,
            "current": self.current,
            "capacity": self.capacity if self.known else None,
            "as_of": self.occupancy_as_of.isoformat() if self.occupancy_as_of else None,
        }


class AreaRecord(BaseModel):
    """An administrative area as loaded by the health authority, and the risk last published for it."""

    model_config = ConfigDict(extra="ignore")

    area_code: str
    defined: bool = False
    defined_at: datetime | None = None
    area_kind: AreaKind = "province"
    name: str = ""
    parent_code: str | None = None
    population: int | None = None
    vaccination_coverage: float | None = None
    level: int | None = None
    color: str | None = None
    reasons: tuple[Reason, ...] = ()
    cases_7d: int = 0
    cases_per_100k: float | None = None
    risk_as_of: datetime | None = None

    def risk(self) -> dict[str, Any]:
        return {
            "area_code": self.area_code,
            "area_kind": self.area_kind,
            "name": self.name,
            "parent_code": self.parent_code,
            "level": self.level,
            "color": self.color,
            "reasons": [reason.model_dump(mode="json") for reason in self.reasons],
            "cases_7d": self.cases_7d,
            "population": self.population,
            "cases_per_100k": self.cases_per_100k,
            "as_of": self.risk_as_of.isoformat() if self.risk_as_of else None,
        }


@dataclass(frozen=True)
class Keys:
    prefix: str

    def venue(self, venue_id: str) -> str:
        return f"{self.prefix}venue:{venue_id}"

    def area(self, code: str) -> str:
        return f"{self.prefix}area:{code}"

    def area_cases(self, code: str) -> str:
        return f"{self.prefix}area-cases:{code}"

    def area_children(self, code: str) -> str:
        return f"{self.prefix}area-children:{code}"

    def area_venues(self, code: str) -> str:
        return f"{self.prefix}area-venues:{code}"

    @property
    def venues(self) -> str:
        return f"{self.prefix}venues"

    @property
    def areas(self) -> str:
        return f"{self.prefix}areas"

    @property
    def geo(self) -> str:
        return f"{self.prefix}geo"

    @property
    def due(self) -> str:
        return f"{self.prefix}due"

    @property
    def offsets(self) -> str:
        return f"{self.prefix}offsets"

    @property
    def complete(self) -> str:
        """Present while the state is whole; Redis emptied (or never built) means rebuild."""
        return f"{self.prefix}complete"

    @property
    def changes(self) -> str:
        """The pub/sub channel of live changes for the map's event stream."""
        return f"{self.prefix}changes"

    @property
    def everything(self) -> str:
        return f"{self.prefix}*"


def _text(value: Any) -> str:
    """Redis answers bytes (or str, with decode_responses)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _venues_from(raw: Sequence[Any], venue_ids: Sequence[str]) -> dict[str, VenueRecord]:
    return {
        venue_id: VenueRecord.model_validate_json(value)
        for venue_id, value in zip(venue_ids, raw, strict=True)
        if value is not None
    }


def _areas_from(raw: Sequence[Any], codes: Sequence[str]) -> dict[str, AreaRecord]:
    return {code: AreaRecord.model_validate_json(value) for code, value in zip(codes, raw, strict=True) if value}


class StateStore:
    """The engine's side: synchronous reads and one transaction per batch of changes."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    def venues(self, venue_ids: Iterable[str]) -> dict[str, VenueRecord]:
        ids = list(dict.fromkeys(venue_ids))
        return _venues_from(self.client.mget([self.keys.venue(v) for v in ids]), ids) if ids else {}

    def areas(self, codes: Iterable[str]) -> dict[str, AreaRecord]:
        wanted = list(dict.fromkeys(codes))
        return _areas_from(self.client.mget([self.keys.area(c) for c in wanted]), wanted) if wanted else {}

    def venues_in_areas(self, codes: Iterable[str]) -> set[str]:
        wanted = [self.keys.area_venues(code) for code in codes]
        return {_text(member) for member in self.client.sunion(wanted)} if wanted else set()

    def cases(self, codes: Iterable[str], since: float) -> dict[str, dict[str, float]]:
        """The cases each area names, confirmed after `since`: case id -> confirmation time."""
        wanted = list(codes)
        pipe = self.client.pipeline(transaction=False)
        for code in wanted:
            pipe.zrangebyscore(self.keys.area_cases(code), f"({since}", "+inf", withscores=True)
        return {
            code: {_text(case): float(at) for case, at in rows}
            for code, rows in zip(wanted, pipe.execute(), strict=True)
        }

    def children(self, codes: Iterable[str]) -> set[str]:
        wanted = [self.keys.area_children(code) for code in codes]
        return {_text(member) for member in self.client.sunion(wanted)} if wanted else set()

    def due(self, now: float, limit: int = 5000) -> list[str]:
        return [_text(member) for member in self.client.zrangebyscore(self.keys.due, "-inf", now, 0, limit)]

    def all_venue_ids(self) -> list[str]:
        return [_text(member) for member in self.client.smembers(self.keys.venues)]

    def all_area_codes(self) -> list[str]:
        return [_text(member) for member in self.client.smembers(self.keys.areas)]

    def offsets(self) -> dict[str, int]:
        return {_text(key): int(value) for key, value in self.client.hgetall(self.keys.offsets).items()}

    def is_complete(self) -> bool:
        return bool(self.client.exists(self.keys.complete))

    def mark_complete(self) -> None:
        self.client.set(self.keys.complete, "1")

    def wipe(self) -> None:
        """Remove every key of this read model (a rebuild starts from nothing)."""
        batch: list[bytes] = []
        for key in self.client.scan_iter(match=self.keys.everything, count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                self.client.unlink(*batch)
                batch.clear()
        if batch:
            self.client.unlink(*batch)


class ReadModel:
    """Reads for the HTTP routes."""

    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except redis.RedisError:
            return False

    async def venue(self, venue_id: str) -> VenueRecord | None:
        raw = await self.client.get(self.keys.venue(venue_id))
        return VenueRecord.model_validate_json(raw) if raw else None

    async def venues(self, venue_ids: Sequence[str]) -> list[VenueRecord]:
        if not venue_ids:
            return []
        raw = await self.client.mget([self.keys.venue(v) for v in venue_ids])
        return list(_venues_from(raw, venue_ids).values())

    async def area(self, code: str) -> AreaRecord | None:
        raw = await self.client.get(self.keys.area(code))
        return AreaRecord.model_validate_json(raw) if raw else None

    async def areas(self, codes: Sequence[str]) -> list[AreaRecord]:
        if not codes:
            return []
        raw = await self.client.mget([self.keys.area(c) for c in codes])
        return list(_areas_from(raw, codes).values())

    async def all_area_codes(self) -> list[str]:
        return sorted(_text(member) for member in await self.client.smembers(self.keys.areas))

    async def venue_ids_in_box(
        self, min_lon: float, min_lat: float, max_lon: float, max_lat: float, limit: int
    ) -> list[str]:
        """Venues in a longitude/latitude box, nearest its centre first (Redis searches a slightly larger
        box in metres; the caller keeps what lies inside)."""
        lon, lat = (min_lon + max_lon) / 2, (min_lat + max_lat) / 2
        height_km = (max_lat - min_lat) * 111.32
        width_km = (max_lon - min_lon) * 111.32  # at the equator: an over-estimate elsewhere
        rows = await self.client.geosearch(
            self.keys.geo,
            longitude=lon,
            latitude=lat,
            width=max(width_km, 0.001) * 1.01,
            height=max(height_km, 0.001) * 1.01,
            unit="km",
            sort="ASC",
            count=limit,
        )
        return [_text(row) for row in rows]

    async def venue_ids_on_map(self, limit: int) -> list[str]:
        return [_text(member) for member in await self.client.zrange(self.keys.geo, 0, limit - 1)]
