"""A simulated province (Thanh Hóa, code 38): venues register, people check in and out.

Everything goes through the ingest HTTP API on loopback, at a steady rate, reproducibly from a seed,
until a stop event is set (or an optional duration passes). A person who arrives stays 5 to 55 minutes and
then scans out; `make demo`'s world is 400 venues and 100,000 people, so that at 20 scans a second a person
checks in about once an hour and a venue has about 45 visits an hour. (Its first world, 40 venues and 2,000
people, had each person scanning every 100 s and each case, one every 45 s, with about 30 % of the
population as F1 within ten minutes: a province where everyone is everyone's contact, which no tracer keeps
up with and no province is; decision record 0007.)
"""

from __future__ import annotations

import heapq
import logging
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

log = logging.getLogger(__name__)

PROVINCE_CODE = "38"
PROVINCE_NAME = "Thanh Hóa"
APPS = ("tokhaiyte", "ncovi", "bluezone", "pc-covid")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


# Populations are rounded census figures (2019), enough for the per-100,000 rates the map shows.
PROVINCE_POPULATION = 3_640_000


@dataclass(frozen=True)
class District:
    code: str
    name: str
    lat: float
    lon: float
    wards: tuple[tuple[str, str], ...]
    population: int = 100_000


DISTRICTS: tuple[District, ...] = (
    District(
        "380",
        "Thành phố Thanh Hóa",
        19.8075,
        105.7764,
        population=360_000,
        wards=(
            ("14755", "Phường Hàm Rồng"),
            ("14758", "Phường Đông Thọ"),
            ("14761", "Phường Nam Ngạn"),
            ("14764", "Phường Trường Thi"),
            ("14767", "Phường Điện Biên"),
            ("14770", "Phường Phú Sơn"),
            ("14773", "Phường Lam Sơn"),
            ("14776", "Phường Ba Đình"),
            ("14779", "Phường Ngọc Trạo"),
            ("14782", "Phường Đông Vệ"),
        ),
    ),
    District(
        "381",
        "Thị xã Bỉm Sơn",
        20.0781,
        105.8603,
        population=60_000,
        wards=(
            ("14809", "Phường Bắc Sơn"),
            ("14812", "Phường Ba Đình"),
            ("14815", "Phường Lam Sơn"),
            ("14818", "Phường Ngọc Trạo"),
        ),
    ),
    District(
        "382",
        "Thành phố Sầm Sơn",
        19.7353,
        105.9036,
        population=110_000,
        wards=(
            ("14830", "Phường Trung Sơn"),
            ("14833", "Phường Bắc Sơn"),
            ("14836", "Phường Trường Sơn"),
            ("14839", "Phường Quảng Cư"),
        ),
    ),
)

STREETS = (
    "Lê Lợi",
    "Trần Phú",
    "Bà Triệu",
    "Lê Hoàn",
    "Quang Trung",
    "Nguyễn Trãi",
    "Hạc Thành",
    "Phan Chu Trinh",
    "Tống Duy Tân",
    "Đại lộ Hùng Vương",
)

# category -> (weight when generating venues, name patterns, capacity range)
CATEGORIES: dict[str, tuple[int, tuple[str, ...], tuple[int, int]]] = {
    "office": (5, ("UBND {ward}", "Văn phòng Sở Y tế {n}", "Trung tâm Hành chính công {n}"), (40, 200)),
    "hospital": (3, ("Bệnh viện Đa khoa {district}", "Trạm Y tế {ward}", "Phòng khám {n}"), (100, 800)),
    "school": (5, ("Trường THPT {n}", "Trường THCS {ward}", "Trường Tiểu học {street}"), (300, 1500)),
    "company": (4, ("Công ty CP May {n}", "Công ty TNHH Điện tử {n}", "Nhà máy Xi măng {n}"), (100, 2000)),
    "supermarket": (4, ("Siêu thị Co.opmart {n}", "Siêu thị Vinmart+ {street}", "Chợ {ward}"), (80, 600)),
    "hotel": (4, ("Khách sạn Mường Thanh {n}", "Khách sạn Biển {n}", "Nhà nghỉ {street}"), (30, 400)),
    "restaurant": (6, ("Nhà hàng Hải sản {n}", "Quán Nem chua {street}", "Nhà hàng {n}"), (30, 200)),
    "cafe": (6, ("Cà phê {n}", "Cà phê Phố {street}", "Trà sữa {n}"), (15, 80)),
    "public_transport": (3, ("Xe buýt tuyến {route:02d}", "Xe khách Thanh Hóa - Hà Nội {route:02d}"), (30, 60)),
}
NAME_WORDS = ("Lam Sơn", "Hàm Rồng", "Sông Mã", "Hạc Thành", "Đông Sơn", "Phù Đổng", "Hòa Bình", "Thành Công")


@dataclass(frozen=True)
class VenueDraft:
    name: str
    category: str
    address: str
    province_code: str
    district_code: str
    ward_code: str
    lat: float
    lon: float
    capacity: int

    def body(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "category": self.category,
            "address": self.address,
            "province_code": self.province_code,
            "district_code": self.district_code,
            "ward_code": self.ward_code,
            "lat": self.lat,
            "lon": self.lon,
            "capacity": self.capacity,
        }


@dataclass(frozen=True)
class Venue:
    venue_id: str
    qr: str
    capacity: int


@dataclass
class SimStats:
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record(self, outcome: str) -> None:
        with self.lock:
            setattr(self, outcome, getattr(self, outcome) + 1)


def make_venues(rng: random.Random, count: int) -> list[VenueDraft]:
    cats = list(CATEGORIES)
    weights = [CATEGORIES[c][0] for c in cats]
    drafts = []
    for i in range(count):
        # Every category at least once, then weighted.
        category = cats[i] if i < len(cats) else rng.choices(cats, weights)[0]
        district = rng.choices(DISTRICTS, weights=(6, 2, 2))[0]
        ward_code, ward_name = rng.choice(district.wards)
        street = rng.choice(STREETS)
        _, patterns, (cap_lo, cap_hi) = CATEGORIES[category]
        name = rng.choice(patterns).format(
            ward=ward_name.removeprefix("Phường "),
            district=district.name.split(" ", 2)[-1],
            street=street,
            n=rng.choice(NAME_WORDS),
            route=rng.randint(1, 20),
        )
        drafts.append(
            VenueDraft(
                name=name,
                category=category,
                address=f"{rng.randint(1, 399)} {street}, {ward_name}, {district.name}, {PROVINCE_NAME}",
                province_code=PROVINCE_CODE,
                district_code=district.code,
                ward_code=ward_code,
                lat=round(district.lat + rng.uniform(-0.025, 0.025), 6),
                lon=round(district.lon + rng.uniform(-0.025, 0.025), 6),
                capacity=rng.randint(cap_lo, cap_hi),
            )
        )
    return drafts


def make_people(rng: random.Random, count: int) -> list[str]:
    seen: set[str] = set()
    while len(seen) < count:
        seen.add(f"09{rng.randrange(10**8):08d}")
    return sorted(seen)


def _now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _check_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"the simulator only talks to loopback addresses, not {url!r}")


def area_data_csv() -> str:
    """The province, its districts and their wards, in the safety map's area-data format."""
    rows = [
        "area_code,area_kind,name,parent_code,population",
        f"{PROVINCE_CODE},province,{PROVINCE_NAME},,{PROVINCE_POPULATION}",
    ]
    for district in DISTRICTS:
        rows.append(f"{district.code},district,{district.name},{PROVINCE_CODE},{district.population}")
        ward_population = district.population // len(district.wards)
        rows += [f"{code},ward,{name},{district.code},{ward_population}" for code, name in district.wards]
    return "\n".join(rows) + "\n"


def load_areas(client: httpx.Client, safety_map_url: str, ha_token: str) -> None:
    resp = client.put(
        f"{safety_map_url}/v1/areas",
        content=area_data_csv().encode(),
        headers={"Authorization": f"Bearer {ha_token}", "Content-Type": "text/csv"},
    )
    if resp.status_code != 202:
        raise RuntimeError(f"loading area data failed: HTTP {resp.status_code} {resp.text[:300]}")
    log.info("area data loaded", extra={"areas": resp.json().get("accepted")})


def register_venues(
    client: httpx.Client, ingest_url: str, drafts: list[VenueDraft], stop: threading.Event, timeout: float = 60
) -> list[Venue]:
    venues: list[Venue] = []
    for draft in drafts:
        deadline = time.monotonic() + timeout
        while True:
            if stop.is_set():
                return venues
            try:
                resp = client.post(f"{ingest_url}/v1/venues", json=draft.body())
            except httpx.TransportError as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"ingest unreachable at {ingest_url}: {exc!r}") from exc
                stop.wait(1.0)
                continue
            if resp.status_code in (200, 201):
                data = resp.json()
                venues.append(Venue(str(data["venue_id"]), str(data["qr"]), draft.capacity))
                break
            if resp.status_code >= 500 and time.monotonic() < deadline:
                stop.wait(1.0)
                continue
            raise RuntimeError(f"registering venue {draft.name!r} failed: HTTP {resp.status_code} {resp.text[:300]}")
    log.info("venues registered", extra={"venues": len(venues), "province": PROVINCE_CODE})
    return venues


def confirm_case(client: httpx.Client, ingest_url: str, ha_token: str, person: str) -> None:
    try:
        resp = client.post(
            f"{ingest_url}/v1/cases",
            json={"person_id": person, "tested_at": _now_rfc3339(), "province_code": PROVINCE_CODE},
            headers={"Authorization": f"Bearer {ha_token}"},
        )
    except httpx.HTTPError as exc:
        log.warning("confirming a case failed", extra={"error": repr(exc)})
        return
    log.info("case confirmed", extra={"status": resp.status_code})


def run(
    ingest_url: str = "http://127.0.0.1:8001",
    *,
    stop: threading.Event | None = None,
    rate: float = 20.0,
    venues: int = 400,
    people: int = 100_000,
    seed: int = 38,
    workers: int = 8,
    duration: float | None = None,
    progress_every: float = 5.0,
    transport: httpx.BaseTransport | None = None,
    safety_map_url: str | None = None,
    ha_token: str | None = None,
    case_every: float = 45.0,
    stay_minutes: tuple[float, float] = (5.0, 55.0),
) -> SimStats:
    """Register venues, then send check-ins/outs at ``rate`` per second until ``stop`` is set. Given the
    safety map's address and the health authority's token, also load the province's area data and confirm
    one of the people present somewhere as a case every ``case_every`` seconds, so the map has levels to show.

    ``transport`` replaces the network (tests).
    """
    _check_loopback(ingest_url)
    authority = None if safety_map_url is None or ha_token is None else (safety_map_url.rstrip("/"), ha_token)
    if rate <= 0 or workers < 1 or venues < 1 or people < 1:
        raise ValueError("rate, workers, venues and people must be positive")
    ingest_url = ingest_url.rstrip("/")
    stop = stop or threading.Event()
    rng = random.Random(seed)
    drafts = make_venues(rng, venues)
    population = make_people(rng, people)
    stats = SimStats()
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)

    with httpx.Client(timeout=10.0, limits=limits, trust_env=False, transport=transport) as client:
        if authority is not None:
            _check_loopback(authority[0])
            load_areas(client, *authority)
        registered = register_venues(client, ingest_url, drafts, stop)
        if not registered:
            return stats
        next_case = time.monotonic() + case_every / 3
        venue_weights = [v.capacity for v in registered]
        inside: dict[str, Venue] = {}  # person -> venue of their open visit
        leaving: list[tuple[float, str]] = []  # (when they leave, person): a heap
        in_flight = threading.BoundedSemaphore(workers * 4)
        rejections_logged = 0

        def send(body: dict[str, Any]) -> None:
            nonlocal rejections_logged
            stats.record("sent")  # here, not when queued: a run's end cancels what is still queued
            try:
                resp = client.post(f"{ingest_url}/v1/checkins", json=body)
            except httpx.HTTPError as exc:
                stats.record("errors")
                log.debug("check-in failed", extra={"error": repr(exc)})
                return
            finally:
                in_flight.release()
            if resp.status_code in (200, 202):
                stats.record("accepted")
                return
            stats.record("rejected")
            if rejections_logged < 5:
                rejections_logged += 1
                log.warning("check-in rejected", extra={"status": resp.status_code, "body": resp.text[:300]})

        interval = 1.0 / rate
        started = time.monotonic()
        next_at = started
        next_report = started + progress_every
        last_report_at, last_sent = started, 0
        log.info("simulating check-ins", extra={"people": len(population), "rate_per_s": rate, "seed": seed})
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="simulate") as pool:
            while not stop.is_set():
                now = time.monotonic()
                if duration is not None and now - started >= duration:
                    break
                if now >= next_report:
                    sent = stats.sent
                    log.info(
                        "simulator progress",
                        extra={
                            "sent": sent,
                            "accepted": stats.accepted,
                            "rejected": stats.rejected,
                            "errors": stats.errors,
                            "rate_per_s": round((sent - last_sent) / (now - last_report_at), 1),
                            "inside": len(inside),
                        },
                    )
                    last_report_at, last_sent, next_report = now, sent, now + progress_every
                if authority is not None and now >= next_case and inside:
                    next_case = now + case_every
                    pool.submit(confirm_case, client, ingest_url, authority[1], rng.choice(sorted(inside)))
                if now < next_at:
                    stop.wait(min(next_at - now, 0.5))
                    continue
                next_at = max(next_at + interval, now - 1.0)  # catch up at most a second of lag
                if not in_flight.acquire(timeout=0.5):
                    continue
                # Someone whose stay is over leaves; otherwise someone not inside anywhere arrives and stays
                # `stay_minutes` (drawn). With everyone inside, the first due to leave leaves early.
                person = next((p for p in (rng.choice(population) for _ in range(8)) if p not in inside), None)
                if leaving and (leaving[0][0] <= now or person is None):
                    _, person = heapq.heappop(leaving)
                    venue = inside.pop(person)
                    direction = "out"
                elif person is not None:
                    venue = rng.choices(registered, weights=venue_weights)[0]
                    inside[person] = venue
                    heapq.heappush(leaving, (now + 60 * rng.uniform(*stay_minutes), person))
                    direction = "in"
                else:
                    in_flight.release()
                    continue
                body = {
                    "venue_qr": venue.qr,
                    "person_id": person,
                    "direction": direction,
                    "scanned_at": _now_rfc3339(),
                    "app": rng.choice(APPS),
                    # fresh on every run, so a re-run is not taken for retries of the last one
                    "client_event_id": str(uuid.uuid4()),
                }
                pool.submit(send, body)
            pool.shutdown(wait=True, cancel_futures=True)
    log.info(
        "simulator stopped",
        extra={"sent": stats.sent, "accepted": stats.accepted, "rejected": stats.rejected, "errors": stats.errors},
    )
    return stats
