"""Recording check-ins: one scan or an offline batch, each item accepted or refused on its own.

The single and the batch endpoints both come through here, so an item of a batch gets exactly the answer
it would get alone. Every event is acknowledged by the broker before its item is reported accepted.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from prometheus_client import Counter, Histogram

from antoan_ingest.adapters.idempotency import Claim, ClaimOutcome, IdempotencyStore
from antoan_ingest.adapters.recent_venues import VenueLookup
from antoan_ingest.adapters.vault import Added, IdentityVault, Source
from antoan_ingest.domain import checkins, identity, personal_qr, qr
from antoan_ingest.settings import IngestSettings
from antoan_shared import events, topics
from antoan_shared.events import CheckInApp, CheckInMethod, Direction, HealthDeclaration, VenueState
from antoan_shared.kafka import EventPublisher
from antoan_shared.venues import api_key_hash
from antoan_shared.web import ApiError, credential_verified

ACCEPTED = Counter("antoan_ingest_checkins_accepted_total", "Check-in events acknowledged by Kafka", ["method"])
REJECTED_ITEMS = Counter("antoan_ingest_checkins_rejected_total", "Check-in items refused, by reason", ["code"])
ACK_SECONDS = Histogram(
    "antoan_ingest_broker_ack_seconds",
    "From handing a batch of events to the producer to the broker's acknowledgement (acks=all)",
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10),
)
COALESCED = Histogram(
    "antoan_ingest_single_scans_per_recording",
    "Single scans recorded together (ScanCoalescer): 1 when idle, more under load",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)


@dataclass(frozen=True)
class ScanCommand:
    """One scan: a person at a venue, by either of the two ways in (SPEC §3.3)."""

    app: CheckInApp
    direction: Direction = Direction.IN
    venue_qr: str | None = None
    person_id: str | None = None
    person_qr: str | None = None
    scanned_at: datetime | None = None
    client_event_id: str | None = None
    declaration: HealthDeclaration | None = None
    dependants: tuple[str, ...] = ()


@dataclass(frozen=True)
class PersonRecorded:
    event_id: str
    person_key: str


@dataclass(frozen=True)
class ScanAccepted:
    event_id: str
    person_key: str
    venue_id: str
    dependants: tuple[PersonRecorded, ...] = ()


@dataclass
class _Pending:
    """An item that passed validation: its events and what the vault should learn."""

    venue: VenueState
    events: list[events.CheckInRecorded]
    contacts: list[tuple[str, dict[str, str]]]
    fingerprint: str
    source: Source  # who vouches for the contacts: the person (a venue's QR), or the venue's staff
    outcome: ClaimOutcome | None = None
    failed: bool = False
    published: list[bool] = field(default_factory=list)


class CheckInRecorder:
    def __init__(
        self,
        settings: IngestSettings,
        venues: VenueLookup,
        publisher: EventPublisher,
        idempotency: IdempotencyStore,
        vault: IdentityVault,
    ) -> None:
        self._venues = venues
        self._publisher = publisher
        self._idempotency = idempotency
        self._vault = vault
        self._pepper = settings.pepper.get_secret_value().encode()
        self._signed_qr = qr.SignedQrMemo(settings.qr_keys)
        self._shown_for = timedelta(seconds=settings.rotating_qr_ttl_s)
        self._skew = settings.max_clock_skew
        self._retention = settings.retention

    async def venue_for_key(self, api_key: str | None) -> VenueState | None:
        """The venue a scanner's API key belongs to; None without a key, ApiError for a wrong one."""
        if api_key is None:
            return None
        venue = await self._venues.by_api_key_hash(api_key_hash(api_key))
        if venue is None:
            self._venues.directory.require_loaded()
        if venue is None or not venue.active:
            raise ApiError(401, "invalid_venue_key", "the venue API key is not valid")
        credential_verified()
        return venue

    async def record(self, commands: Sequence[ScanCommand], api_key: str | None) -> list[ScanAccepted | ApiError]:
        keyed_venue = await self.venue_for_key(api_key)
        now = events.utc_now()
        results = self._validate_all(commands, keyed_venue, now)
        unknown = [i for i, item in enumerate(results) if isinstance(item, ApiError) and item.code == "venue_not_found"]
        if unknown:
            # Venues this process's directory has not read yet may have been written through another: look
            # there, then validate those items again.
            await self._venues.fill(filter(None, (self._venue_id_of(commands[i], now) for i in unknown)))
            again = self._validate_all([commands[i] for i in unknown], keyed_venue, now)
            for i, item in zip(unknown, again, strict=True):
                results[i] = item
        pending, repeats = _repeats_apart(results)
        added = await self._claim(pending)
        new = [item for item in pending if item.outcome is ClaimOutcome.NEW]
        await self._vault.publish_added(added)
        await self._publish(new, added)
        answers = [self._answer(repeats.get(index, item)) for index, item in enumerate(results)]
        _count(REJECTED_ITEMS, (answer.code for answer in answers if isinstance(answer, ApiError)))
        return answers

    def _validate_all(
        self, commands: Sequence[ScanCommand], keyed_venue: VenueState | None, now: datetime
    ) -> list[ScanAccepted | ApiError | _Pending]:
        results: list[ScanAccepted | ApiError | _Pending] = []
        for command in commands:
            try:
                results.append(self._validate(command, keyed_venue, now))
            except ApiError as error:
                results.append(error)
        return results

    def _venue_id_of(self, command: ScanCommand, now: datetime) -> str | None:
        if command.venue_qr is None:
            return None
        try:
            return self._verified_qr(command.venue_qr, command.scanned_at or now).venue_id
        except ApiError:
            return None

    def _verified_qr(self, payload: str, scanned_at: datetime) -> qr.VenueQr:
        try:
            venue_qr = self._signed_qr(payload)
            qr.check_scanned_while_shown(venue_qr, scanned_at, self._shown_for, self._skew)
        except qr.QrError as exc:
            raise ApiError(400, exc.code, str(exc)) from exc
        return venue_qr

    def _validate(self, command: ScanCommand, keyed_venue: VenueState | None, now: datetime) -> _Pending:
        scanned_at = command.scanned_at or now
        if command.venue_qr is not None:
            venue = self._venue_from_qr(command.venue_qr, scanned_at)
            method = CheckInMethod.VENUE_QR
        elif keyed_venue is not None:
            venue = keyed_venue
            method = CheckInMethod.PERSON_QR if command.person_qr is not None else CheckInMethod.STAFF
        else:
            raise ApiError(401, "venue_key_required", "without a venue QR code, a check-in needs the venue's API key")
        person, contact = self._person(command)
        try:
            checkins.check_scanned_at(scanned_at, now, self._skew, self._retention)
        except checkins.ScannedAtOutOfRangeError as exc:
            raise ApiError(400, exc.code, str(exc)) from exc

        people = [(person, contact, command.client_event_id)]
        for index, dependant_id in enumerate(command.dependants):
            dependant = self._normalise(dependant_id, "invalid_dependant_id")
            people.append(
                (
                    dependant,
                    {"identifier": dependant.canonical},
                    checkins.dependant_client_event_id(command.client_event_id, index),
                )
            )
        recorded, contacts = [], []
        for each, each_contact, client_event_id in people:
            person_key = identity.person_key(self._pepper, each)
            recorded.append(
                events.CheckInRecorded(
                    event_id=checkins.checkin_event_id(person_key, client_event_id),
                    producer="ingest",
                    venue_id=venue.venue_id,
                    person_key=person_key,
                    direction=command.direction,
                    scanned_at=scanned_at,
                    app=command.app,
                    method=method,
                    client_event_id=checkins.client_reference(self._pepper, client_event_id),
                    declaration=command.declaration if each is person else None,
                )
            )
            contacts.append((person_key, each_contact))
        # What the client said, not what the server filled in: a retry of a scan sent without `scanned_at`
        # arrives at another "now" and is still the same scan.
        said_at = command.scanned_at.isoformat() if command.scanned_at is not None else "-"
        fingerprint = checkins.fingerprint(
            venue.venue_id, command.direction, said_at, *(e.person_key for e in recorded)
        )
        source: Source = "self_declared" if method is CheckInMethod.VENUE_QR else "venue_staff"
        return _Pending(venue, recorded, contacts, fingerprint, source)

    async def venue_of_qr(self, payload: str) -> tuple[VenueState, qr.VenueQr]:
        """The venue a code scanned now would check a person in at, and the code read; or the ApiError a
        check-in would get."""
        now = events.utc_now()
        venue_qr = self._verified_qr(payload, now)
        await self._venues.fill([venue_qr.venue_id])  # registered through another process just now, perhaps
        return self._admitting_venue(venue_qr), venue_qr

    def _venue_from_qr(self, payload: str, scanned_at: datetime) -> VenueState:
        return self._admitting_venue(self._verified_qr(payload, scanned_at))

    def _admitting_venue(self, venue_qr: qr.VenueQr) -> VenueState:
        venue = self._venues.directory.get(venue_qr.venue_id)
        if venue is None:
            self._venues.directory.require_loaded()
        if venue is None or not venue.active:
            raise ApiError(404, "venue_not_found", "no active venue has this QR code")
        if venue.rotating_qr_only and venue_qr.expires_at is None:
            # A poster can be photographed and scanned from anywhere; the screen's code only at the door.
            raise ApiError(403, "rotating_qr_required", "this venue takes only the code on its entrance screen")
        return venue

    def _person(self, command: ScanCommand) -> tuple[identity.PersonId, dict[str, str]]:
        if command.person_qr is not None and command.person_id is not None:
            raise ApiError(422, "ambiguous_person", "give either person_qr or person_id, not both")
        if command.person_qr is not None:
            try:
                scanned = personal_qr.parse_personal_qr(command.person_qr)
            except personal_qr.InvalidPersonalQrError as exc:
                raise ApiError(400, exc.code, str(exc)) from exc
            person = self._normalise(scanned.document_number, "invalid_person_qr")
            contact = {
                "identifier": person.canonical,
                "full_name": scanned.full_name,
                "birth_date": scanned.birth_date,
                "id_type": scanned.id_type,
            }
            return person, contact
        if command.person_id is None:
            raise ApiError(422, "person_required", "a check-in needs person_id or person_qr")
        person = self._normalise(command.person_id, "invalid_person_id")
        contact = {"identifier": person.canonical}
        if person.kind is identity.IdentifierKind.PHONE:
            contact["phone"] = "+" + person.value
        return person, contact

    @staticmethod
    def _normalise(raw: str, code: str) -> identity.PersonId:
        try:
            return identity.normalise_person_id(raw)
        except identity.InvalidPersonIdError as exc:
            raise ApiError(400, code, str(exc)) from exc

    async def _claim(self, pending: list[_Pending]) -> Added:
        """One round trip to Redis: items with client event ids claim them (items without are always new), and
        the contacts of the items claimed now go to the vault."""
        with_ids: list[_Pending] = []
        contacts: list[tuple[str, Mapping[str, str], Source, int]] = []
        for item in pending:
            gate = 0  # an item without a client event id is always new: its contacts are kept
            if item.events[0].client_event_id is not None:
                with_ids.append(item)
                gate = len(with_ids)
            contacts += [(person_key, contact, item.source, gate) for person_key, contact in item.contacts]
        claims = [Claim(item.events[0].event_id, item.fingerprint) for item in with_ids]
        set_now, added = await self._vault.remember_gated(
            self._idempotency.gates(claims), self._idempotency.pending_ttl_s, contacts
        )
        for item in pending:
            item.outcome = ClaimOutcome.NEW
        for item, outcome in zip(with_ids, self._idempotency.outcomes(claims, set_now), strict=True):
            item.outcome = outcome
        return added

    async def _publish(self, items: list[_Pending], added: Added) -> None:
        """The check-ins published, then their claims settled and the vault's people (published before them)
        unmarked, in one round trip."""
        batch = [event for item in items for event in item.events]
        if batch:
            started = time.perf_counter()
            outcomes = await self._publisher.publish_many_settled(topics.CHECKINS, batch)
            ACK_SECONDS.observe(time.perf_counter() - started)
            position = 0
            for item in items:
                item.published = [
                    not isinstance(o, BaseException) for o in outcomes[position : position + len(item.events)]
                ]
                position += len(item.events)
                item.failed = not all(item.published)
            _count(
                ACCEPTED,
                (
                    event.method.value
                    for item in items
                    for event, ok in zip(item.events, item.published, strict=True)
                    if ok
                ),
            )
        with_ids = [item for item in items if item.events[0].client_event_id is not None]
        await self._idempotency.settle(
            published=[Claim(i.events[0].event_id, i.fingerprint) for i in with_ids if not i.failed],
            failed=[Claim(i.events[0].event_id, i.fingerprint) for i in with_ids if i.failed],
            unmark=(self._vault.unpublished_key, added.people),
        )

    @staticmethod
    def _answer(item: ScanAccepted | ApiError | _Pending) -> ScanAccepted | ApiError:
        if not isinstance(item, _Pending):
            return item
        if item.outcome is ClaimOutcome.CONFLICT:
            return _conflict()
        if item.outcome is ClaimOutcome.IN_PROGRESS:
            return ApiError(409, "request_in_progress", "this check-in is being recorded; retry in a moment")
        if item.failed:
            return ApiError(503, "broker_unavailable", "the event broker did not acknowledge; retry")
        main, *dependants = item.events
        return ScanAccepted(
            event_id=main.event_id,
            person_key=main.person_key,
            venue_id=item.venue.venue_id,
            dependants=tuple(PersonRecorded(e.event_id, e.person_key) for e in dependants),
        )


def _repeats_apart(
    results: Sequence[ScanAccepted | ApiError | _Pending],
) -> tuple[list[_Pending], dict[int, _Pending | ApiError]]:
    """The items to record, and what each repeat of one of them (the same client_event_id for the same person,
    later in the same request) answers: the first's answer when it is the same scan, a conflict when not.

    An offline phone may upload a scan twice in one batch, and coalesced single scans may hold a client's retry
    beside its first attempt: each is the same event, recorded once, not an attempt "in progress" to come back for.
    """
    first: dict[str, _Pending] = {}
    pending: list[_Pending] = []
    repeats: dict[int, _Pending | ApiError] = {}
    for index, item in enumerate(results):
        if not isinstance(item, _Pending):
            continue
        if item.events[0].client_event_id is None:
            pending.append(item)
            continue
        earlier = first.setdefault(item.events[0].event_id, item)
        if earlier is item:
            pending.append(item)
        elif earlier.fingerprint == item.fingerprint:
            repeats[index] = earlier
        else:
            repeats[index] = _conflict()
    return pending, repeats


def _conflict() -> ApiError:
    return ApiError(409, "client_event_id_conflict", "this client_event_id was used for another check-in")


def _count(counter: Counter, labels: Iterable[str]) -> None:
    """Count each label's occurrences with one increment per label, not one per item (a batch has a thousand)."""
    for label, n in collections.Counter(labels).items():
        counter.labels(label).inc(n)


class ScanCoalescer:
    """Single scans recorded together when they arrive together (group commit).

    A scan that arrives while fewer than `in_flight` recordings are running is recorded at once, alone: an idle
    service adds no wait. One that arrives while they all run waits for the next, with every other scan that
    arrived meanwhile (up to `max_items`), and that recording costs about what one batch item costs: one Redis
    script for the idempotency claims, one vault write, one wait for the broker's acknowledgement, instead of
    one of each per request. Each scan still gets exactly its own answer (`CheckInRecorder.record` answers
    item by item), and an error of the whole recording (the broker or Redis gone) is each one's error.

    Only scans without a venue key come here (a citizen scanning a venue's code, nearly all the traffic): a
    keyed scan's key is checked in its own request, where the rate limiter notes an accepted credential.
    """

    def __init__(self, recorder: CheckInRecorder, max_items: int, in_flight: int = 2) -> None:
        self._recorder = recorder
        self._max_items = max_items
        self._in_flight = in_flight
        self._running: set[asyncio.Task[None]] = set()
        self._waiting: list[tuple[ScanCommand, asyncio.Future[ScanAccepted | ApiError]]] = []

    async def record(self, command: ScanCommand) -> ScanAccepted | ApiError:
        answer: asyncio.Future[ScanAccepted | ApiError] = asyncio.get_running_loop().create_future()
        self._waiting.append((command, answer))
        self._start()
        # A client that hangs up does not take the recording with it: the others in it still get theirs,
        # and its scan is recorded all the same (a retry with its client_event_id answers the same event).
        return await asyncio.shield(answer)

    def _start(self) -> None:
        while self._waiting and len(self._running) < self._in_flight:
            taken, self._waiting = self._waiting[: self._max_items], self._waiting[self._max_items :]
            task = asyncio.get_running_loop().create_task(self._record(taken))
            self._running.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._start()

    async def _record(self, taken: list[tuple[ScanCommand, asyncio.Future[ScanAccepted | ApiError]]]) -> None:
        COALESCED.observe(len(taken))
        try:
            answers = await self._recorder.record([command for command, _ in taken], None)
        except BaseException as exc:  # each waiting request raises it, as it would have alone
            for _, answer in taken:
                if not answer.done():
                    answer.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, answer), result in zip(taken, answers, strict=True):
            if not answer.done():
                answer.set_result(result)
