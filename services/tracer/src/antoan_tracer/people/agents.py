"""People: check-ins re-keyed by person, visits built per person, cases and contacts kept per person.

`checkins.v1` is keyed by venue (one venue's scans in order), but visits are a person's: the scans are
re-keyed through `tracer.person-scans.v1`. That topic, `cases.v1` and `tracer.person-contacts.v1` all have
the same key (person_key) and partition count, so one agent sees everything about a person in order and
owns their state. What changes at venues is re-keyed back by venue (`tracer.venue-updates.v1`).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from antoan_shared import topics
from antoan_shared.events import (
    CaseConfirmed,
    CheckInRecorded,
    ContactFound,
    ExposureDetected,
    PresenceChanged,
    RetentionSweepDue,
    SpreaderWindowChanged,
    VenueExposureRecorded,
    VenueVisitChanged,
    VisitClosed,
    utc_now,
)
from antoan_tracer.app import Tracer, json_table
from antoan_tracer.domain.exposure import CaseExposure, case_interval
from antoan_tracer.domain.person import CaseFact, ContactFact, Effects, Fact, PersonState, Rules, ScanFact
from antoan_tracer.domain.visits import Scan

log = logging.getLogger(__name__)

_EXPOSURE_IDS = uuid.UUID("0c8f5f0e-3f0e-4a53-9b51-6c1a2d7a4e21")


def _derived_id(*parts: object) -> str:
    """Event ids derived from what an event says: a replay after a crash publishes the same id again."""
    return str(uuid.uuid5(_EXPOSURE_IDS, "|".join(str(part) for part in parts)))


def register(tracer: Tracer) -> Any:
    app, settings = tracer.app, tracer.settings
    persons = json_table(app, "persons")

    @app.agent(tracer.topic(topics.CHECKINS), name="rekey-checkins")
    async def rekey_checkins(stream: Any) -> None:
        """Venue-keyed scans to person-keyed scans (the value is passed on untouched)."""
        async for scan in tracer.events(stream):
            if isinstance(scan, CheckInRecorded):
                await tracer.send(topics.TRACER_PERSON_SCANS, scan)

    @app.agent(tracer.topic(topics.TRACER_PERSON_SCANS, topics.CASES, topics.TRACER_PERSON_CONTACTS), name="people")
    async def people(stream: Any) -> None:
        async for event in tracer.events(stream):
            if isinstance(event, CheckInRecorded):
                fact: Fact = ScanFact(Scan(event.scanned_at, event.event_id, event.venue_id, event.direction))
            elif isinstance(event, CaseConfirmed):
                interval = case_interval(event.tested_at, event.onset_at, event.isolated_at, event.confirmed_at)
                fact = CaseFact(event.case_id, interval)
                log.info("case confirmed", extra={"case_id": event.case_id})
            elif isinstance(event, RetentionSweepDue):
                state = PersonState.from_json(event.person_key, persons[event.person_key])
                if state.forget_before(tracer.cutoff(utc_now())):
                    persons[event.person_key] = state.to_json()
                continue
            elif isinstance(event, ContactFound):
                exposure = CaseExposure(
                    event.degree,
                    event.exposed_at,
                    event.venue_id,
                    event.window_start,
                    event.window_end,
                    event.source_person_key,
                )
                fact = ContactFact(event.case_id, exposure)
            else:
                continue
            rules = Rules(tracer.dwell, settings.exposure_buffer, tracer.cutoff(utc_now()), settings.max_degree)
            state = PersonState.from_json(event.person_key, persons[event.person_key])
            effects = state.apply([fact], rules)
            if effects.changed:
                persons[event.person_key] = state.to_json()
                await publish(state, effects)

    @app.timer(interval=settings.retention_sweep_interval_s)
    async def sweep_people() -> None:
        """People whose state holds scans, exposures or roles past the retention period."""
        cutoff = tracer.cutoff(utc_now())
        for person_key, data in list(persons.items()):
            if PersonState.from_json(person_key, data).forget_before(cutoff):  # a copy: tells, changes nothing
                await tracer.send(
                    topics.TRACER_PERSON_SCANS, RetentionSweepDue(producer="tracer", person_key=person_key)
                )

    async def publish(state: PersonState, effects: Effects) -> None:
        person_key = state.person_key
        news = [(visit, False) for visit in effects.changed_visits] + [(v, True) for v in effects.removed_visits]
        for visit, removed in news:
            await tracer.send(
                topics.TRACER_VENUE_UPDATES,
                VenueVisitChanged(
                    producer="tracer",
                    venue_id=visit.venue_id,
                    visit_id=visit.visit_id,
                    person_key=person_key,
                    start=visit.start,
                    end=visit.end,
                    removed=removed,
                    revision=state.revision,
                ),
            )
        for visit, withdrawn in news:
            await tracer.send(
                topics.VISITS,
                VisitClosed(
                    # One id per visit and shape, so a replay publishes the same event again.
                    event_id=_derived_id("visit", visit.visit_id, visit.end.isoformat(), withdrawn),
                    producer="tracer",
                    venue_id=visit.venue_id,
                    person_key=person_key,
                    visit_id=visit.visit_id,
                    visit_start=visit.start,
                    visit_end=visit.end,
                    closed_by=visit.closed_by,
                    withdrawn=withdrawn,
                ),
            )
        for venue_id, open_visit in effects.presence:
            await tracer.send(
                topics.TRACER_VENUE_UPDATES,
                PresenceChanged(
                    producer="tracer",
                    venue_id=venue_id,
                    person_key=person_key,
                    start=open_visit.start if open_visit else None,
                    until=open_visit.end if open_visit else None,
                    revision=state.revision,
                ),
            )
        for spread in effects.windows:
            window = spread.window
            await tracer.send(
                topics.TRACER_VENUE_UPDATES,
                SpreaderWindowChanged(
                    producer="tracer",
                    venue_id=window.venue_id,
                    window_id=window.window_id,
                    case_id=spread.case_id,
                    spreader_key=person_key,
                    spreader_degree=spread.degree,
                    start=window.start,
                    end=window.end,
                    revision=state.revision,
                ),
            )
            if spread.degree == 0:  # the case's own presence: public, without person data
                await tracer.send(
                    topics.VENUE_EXPOSURES,
                    VenueExposureRecorded(
                        event_id=_derived_id("venue", window.window_id, window.end.isoformat()),
                        producer="tracer",
                        case_id=spread.case_id,
                        venue_id=window.venue_id,
                        spreader_degree=0,
                        window_start=window.start,
                        window_end=window.end,
                    ),
                )
        for case_id, exposure in effects.exposures:
            detected = ExposureDetected(
                # Deterministic: a replay after a crash publishes the same event, which consumers drop.
                event_id=_derived_id(case_id, person_key, exposure.degree, exposure.exposed_at.isoformat()),
                producer="tracer",
                case_id=case_id,
                person_key=person_key,
                degree=exposure.degree,
                venue_id=exposure.venue_id,
                window_start=exposure.window_start,
                window_end=exposure.window_end,
                exposed_at=exposure.exposed_at,
                source_person_key=exposure.source_person_key,
            )
            await tracer.send(topics.EXPOSURES, detected)
            await tracer.send(topics.TRACER_CASE_CONTACTS, detected)

    return persons
