"""A steady check-in load for the fault suite: unique client ids, every answer recorded, retried until accepted."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from antoan_localstack.testing import RunningServices, TopicReader, wait_for
from antoan_shared import events, topics
from antoan_shared.events import Direction
from antoan_tracer.domain.visits import Scan, build_visits, open_visit, present_at

DWELL = timedelta(minutes=60)


@dataclass
class Figures:
    sent: int = 0  # requests made, retries included
    acknowledged: int = 0  # distinct check-ins answered 202
    statuses: Counter[str] = field(default_factory=Counter)  # every answer: "202", "503 broker_unavailable", …
    on_topic: int = 0  # acknowledged event ids found on checkins.v1
    doubled: int = 0  # acknowledged event ids found more than once
    doubled_after_503: int = 0  # of which retries of a request whose first outcome was unknown (503, lost)
    occupancy: int = 0  # people counted across the load's venues

    def line(self, fault: str) -> str:
        return (
            f"{fault}: sent {self.sent} requests, {self.acknowledged} check-ins acknowledged, "
            f"{self.on_topic} found on the topic ({self.doubled} twice, all retries of a 503 or a lost answer), "
            f"{self.occupancy} counted in occupancy; "
            f"answers {dict(self.statuses)}"
        )


def _error_code(response: httpx.Response) -> str:
    """The answer's error code, or what it was instead of an error body (a bare 500 from the server itself)."""
    try:
        body = response.json()
    except ValueError:
        return f"not JSON: {response.text[:80]!r}"
    code = body.get("error", {}).get("code") if isinstance(body, dict) else None
    return str(code) if code else f"no error code: {str(body)[:80]}"


class CheckInLoad(threading.Thread):
    """Posts check-ins at `rate` a second (bounded by `total`); what is not acknowledged is retried later
    with the same client_event_id, as an app would, so at the end every check-in is acknowledged once."""

    def __init__(self, services: RunningServices, venues: int = 4, people: int = 120, rate: float = 50) -> None:
        super().__init__(name="check-in-load", daemon=True)
        self.services = services
        self.rate = rate
        self.rng = random.Random(uuid.uuid4().int)
        self.client = httpx.Client(base_url=services.ingest, timeout=30)
        self.venues = [self._register(n) for n in range(venues)]
        self.people = [f"09{self.rng.randrange(10**7, 10**8)}" for _ in range(people)]
        self.pending: list[dict[str, Any]] = []  # not yet acknowledged: retried
        self.accepted: dict[str, Scan] = {}  # event_id -> scan
        self.unacknowledged: set[str] = set()  # client ids whose outcome was once unknown (a 503, a lost answer)
        self.event_of: dict[str, str] = {}  # client id -> event_id
        self.person_of: dict[str, str] = {}  # event_id -> person_key
        self.figures = Figures()
        self.crashed: BaseException | None = None
        self._halt = threading.Event()
        self._lock = threading.Lock()

    def _register(self, n: int) -> dict[str, str]:
        response = self.client.post("/v1/venues", json={"name": f"Cửa hàng {n}", "category": "shop", "capacity": 500})
        assert response.status_code == 201, response.text
        return dict(response.json())

    def _new_item(self) -> dict[str, Any]:
        venue = self.rng.choice(self.venues)
        return {
            "venue_qr": venue["qr"],
            "person_id": self.rng.choice(self.people),
            "direction": "in",
            "scanned_at": events.utc_now().isoformat(),
            "app": "pc-covid",
            "client_event_id": str(uuid.uuid4()),
        }

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:
            # Not a silent stop: the test's next look at the load raises it (a thread's death is only a warning).
            self.crashed = exc
            raise

    def _run(self) -> None:
        interval = 1.0 / self.rate
        while not self._halt.is_set():
            started = time.monotonic()
            with self._lock:
                item = self.pending.pop(0) if self.pending else self._new_item()
            self._post(item)
            self._halt.wait(max(0.0, interval - (time.monotonic() - started)))

    def _post(self, item: dict[str, Any]) -> None:
        self.figures.sent += 1
        try:
            response = self.client.post("/v1/checkins", json=item)
            status = str(response.status_code)
            if response.status_code != 202:
                status += " " + _error_code(response)
        except httpx.HTTPError as exc:
            response, status = None, type(exc).__name__
        self.figures.statuses[status] += 1
        if response is None or response.status_code != 202:
            # A 503, or an answer lost with the connection (ingest killed mid-request), leaves it open whether
            # the record reached the broker; a refused connection (ConnectError) never reached ingest at all.
            outcome_unknown = status.startswith("503") or (response is None and status != "ConnectError")
            with self._lock:
                self.pending.append(item)
                if outcome_unknown:
                    self.unacknowledged.add(item["client_event_id"])
            return
        body = response.json()
        scan = Scan(datetime.fromisoformat(item["scanned_at"]), body["event_id"], body["venue_id"], Direction.IN)
        with self._lock:
            self.accepted[body["event_id"]] = scan
            self.person_of[body["event_id"]] = body["person_key"]
            self.event_of[item["client_event_id"]] = body["event_id"]

    def stop_and_settle(self, timeout: float = 90) -> None:
        """Stop making new check-ins; retry what is pending until every one is acknowledged."""
        self._halt.set()
        self.join(timeout=30)
        deadline = time.monotonic() + timeout
        while self.pending:
            assert time.monotonic() < deadline, f"{len(self.pending)} check-ins never acknowledged"
            self._post(self.pending.pop(0))
        self.figures.acknowledged = len(self.accepted)

    def answered(self, status: str) -> int:
        self._still_running()
        return self.figures.statuses[status]

    def acknowledged_more_than(self, count: int) -> bool:
        self._still_running()
        return len(self.accepted) > count

    def _still_running(self) -> None:
        if self.crashed is not None:
            raise AssertionError(f"the load stopped: {self.crashed!r}")  # the callers add the answers so far

    def expected_occupancy(self, now: datetime) -> dict[str, int]:
        scans: dict[str, list[Scan]] = {}
        for event_id, scan in self.accepted.items():
            scans.setdefault(self.person_of[event_id], []).append(scan)
        counts = {venue["venue_id"]: 0 for venue in self.venues}
        for person_scans in scans.values():
            visit = open_visit(build_visits(person_scans, lambda _: DWELL))
            if visit is not None and present_at(visit, now):
                counts[visit.venue_id] += 1
        return counts

    def shown_occupancy(self) -> dict[str, int | None]:
        shown: dict[str, int | None] = {}
        for venue in self.venues:
            response = httpx.get(f"{self.services.safety_map}/v1/venues/{venue['venue_id']}/occupancy", timeout=5)
            shown[venue["venue_id"]] = response.json()["current"] if response.status_code == 200 else None
        return shown

    def check_nothing_lost_nothing_doubled(self, fault: str) -> Figures:
        """Every acknowledged check-in exactly once on checkins.v1, occupancy as the rules say; the figures."""
        wanted = set(self.accepted)
        reader = TopicReader(self.services.settings(), topics.CHECKINS)
        try:

            def all_there() -> bool:
                reader.read(timeout_ms=500)
                return wanted <= {e.event_id for e in reader.events}

            wait_for(all_there, timeout=60, what="every acknowledged check-in on checkins.v1")
            seen = Counter(e.event_id for e in reader.events if e.event_id in wanted)
        finally:
            reader.close()
        self.figures.on_topic = len(seen)
        self.figures.doubled = sum(1 for count in seen.values() if count > 1)
        last: dict[str, Any] = {}

        def occupancy_matches() -> bool:
            last["shown"], last["expected"] = self.shown_occupancy(), self.expected_occupancy(events.utc_now())
            return bool(last["shown"] == last["expected"])

        try:
            wait_for(occupancy_matches, timeout=180, interval=0.5, what="occupancy")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: shown {last['shown']}, expected {last['expected']}") from exc
        self.figures.occupancy = sum(last["expected"].values())
        print(self.figures.line(fault))
        assert self.figures.on_topic == self.figures.acknowledged
        # A record whose answer the client never got (a 503 while the broker was away, or a connection that
        # died with the ingest handling it) may have landed; its retry then lands again with the same event
        # id, which every consumer drops (occupancy above is exact). Anything else found twice is a real double.
        retried = {self.event_of[client_id] for client_id in self.unacknowledged}
        assert {event_id for event_id, count in seen.items() if count > 1} <= retried
        self.figures.doubled_after_503 = sum(1 for event_id, count in seen.items() if count > 1)
        return self.figures

    def close(self) -> None:
        self._halt.set()
        self.client.close()
