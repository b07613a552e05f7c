"""Venues: visits and spreader windows matched both ways, and live occupancy.

Everything here is keyed by venue (`tracer.venue-updates.v1`), so one agent owns a venue's visits, the
windows seen there and who is present. Visits are stored in one table entry per venue and day (a busy
venue's three weeks would make one entry too large to rewrite on every visit); a window looks up only
the days a visit overlapping it can have started on.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

from antoan_shared import topics
from antoan_shared.events import (
    ContactFound,
    OccupancyChanged,
    PresenceChanged,
    RetentionSweepDue,
    SpreaderWindowChanged,
    VenueVisitChanged,
    utc_now,
)
from antoan_tracer.app import Tracer, json_table
from antoan_tracer.domain.exposure import Window
from antoan_tracer.domain.venue import (
    Contact,
    Presence,
    StoredVisit,
    StoredWindow,
    contact_of,
    visits_from_json,
    visits_to_json,
    windows_from_json,
    windows_to_json,
)

log = logging.getLogger(__name__)


def day_key(venue_id: str, day: date) -> str:
    return f"{venue_id}|{day.isoformat()}"


def days_between(first: datetime, last: datetime) -> list[date]:
    days, day = [], first.date()
    while day <= last.date():
        days.append(day)
        day += timedelta(days=1)
    return days


def register(tracer: Tracer) -> tuple[Any, Any, Any]:
    app, settings = tracer.app, tracer.settings
    visits_by_day = json_table(app, "venue-visits")  # "<venue>|<day>" -> {visit_id: [person, start, end]}
    venue_meta = json_table(app, "venue-meta")  # venue -> {"windows": {...}, "days": [...]}
    presence_table = json_table(app, "venue-presence")  # venue -> {person: [start, until, revision]}
    published: dict[str, int] = {}  # last occupancy this worker published per venue

    async def send_contacts(contacts: list[Contact]) -> None:
        for contact in contacts:
            e = contact.exposure
            await tracer.send(
                topics.TRACER_PERSON_CONTACTS,
                ContactFound(
                    producer="tracer",
                    person_key=contact.person_key,
                    case_id=contact.case_id,
                    degree=e.degree,
                    exposed_at=e.exposed_at,
                    venue_id=e.venue_id,
                    window_start=e.window_start,
                    window_end=e.window_end,
                    source_person_key=e.source_person_key,
                ),
            )

    async def publish_occupancy(venue_id: str, presence: Presence) -> None:
        now = utc_now()
        count = presence.occupancy(now)
        if published.get(venue_id) == count:
            return
        await tracer.send(
            topics.OCCUPANCY, OccupancyChanged(producer="tracer", venue_id=venue_id, current=count, as_of=now)
        )
        published[venue_id] = count

    def on_visit(change: VenueVisitChanged, meta: dict[str, Any]) -> list[Contact]:
        key = day_key(change.venue_id, change.start.date())
        stored = visits_from_json(visits_by_day[key])
        known = stored.get(change.visit_id)
        visit = StoredVisit(change.person_key, change.start, change.end, change.revision, change.removed)
        if known is not None and (known.revision > change.revision or known == visit):
            return []  # a replay, or older news than what is stored
        stored[change.visit_id] = visit
        visits_by_day[key] = visits_to_json(stored)
        days = set(meta.get("days", []))
        days.add(change.start.date().isoformat())
        meta["days"] = sorted(days)
        windows = windows_from_json(meta.get("windows"))
        return [c for w in windows.values() if (c := contact_of(visit, w)) is not None]

    def on_window(change: SpreaderWindowChanged, meta: dict[str, Any]) -> list[Contact]:
        windows = windows_from_json(meta.get("windows"))
        window = StoredWindow(
            Window(change.window_id, change.venue_id, change.start, change.end),
            change.case_id,
            change.spreader_key,
            change.spreader_degree,
            change.revision,
        )
        known = windows.get(change.window_id)
        if known is not None and (known.revision > change.revision or known == window):
            return []  # a replay, or older news than what is stored
        windows[change.window_id] = window
        meta["windows"] = windows_to_json(windows)
        contacts = []
        for day in days_between(change.start - settings.longest_visit, change.end):
            for visit in visits_from_json(visits_by_day.get(day_key(change.venue_id, day))).values():
                if (contact := contact_of(visit, window)) is not None:
                    contacts.append(contact)
        return contacts

    def forget_old(venue_id: str, meta: dict[str, Any], to_the_visit: bool = False) -> None:
        """Retention: days of visits and windows older than the retention period leave the state; with
        `to_the_visit` (the periodic sweep), so do the visits of the oldest day kept that ended before it."""
        cutoff = tracer.cutoff(utc_now())
        keep = []
        for day in meta.get("days", []):
            key = day_key(venue_id, date.fromisoformat(day))
            if date.fromisoformat(day) < cutoff.date():
                visits_by_day.pop(key, None)
                continue
            if to_the_visit and date.fromisoformat(day) == cutoff.date():
                visits = visits_from_json(visits_by_day[key])
                kept = {visit_id: v for visit_id, v in visits.items() if v.end >= cutoff}
                if not kept:
                    visits_by_day.pop(key, None)
                    continue
                if len(kept) < len(visits):
                    visits_by_day[key] = visits_to_json(kept)
            keep.append(day)
        meta["days"] = keep
        windows = windows_from_json(meta.get("windows"))
        meta["windows"] = windows_to_json({wid: w for wid, w in windows.items() if w.window.end >= cutoff})

    def holds_old(venue_id: str, meta: dict[str, Any]) -> bool:
        cutoff = tracer.cutoff(utc_now())
        if any(w.window.end < cutoff for w in windows_from_json(meta.get("windows")).values()):
            return True
        for day in meta.get("days", []):
            if date.fromisoformat(day) < cutoff.date():
                return True
            if date.fromisoformat(day) == cutoff.date():
                visits = visits_from_json(visits_by_day.get(day_key(venue_id, date.fromisoformat(day))))
                return any(v.end < cutoff for v in visits.values())
        return False

    @app.agent(tracer.topic(topics.TRACER_VENUE_UPDATES), name="venues")
    async def venues(stream: Any) -> None:
        async for event in tracer.events(stream):
            if isinstance(event, PresenceChanged):
                presence = Presence.from_json(presence_table[event.venue_id])
                now = utc_now()
                if presence.apply(event.person_key, event.start, event.until, event.revision, now):
                    presence.forget_before(now - settings.longest_visit)
                    presence_table[event.venue_id] = presence.to_json()
                    await publish_occupancy(event.venue_id, presence)
                continue
            if isinstance(event, RetentionSweepDue):
                meta = dict(venue_meta[event.venue_id])
                forget_old(event.venue_id, meta, to_the_visit=True)
                venue_meta[event.venue_id] = meta
                continue
            if not isinstance(event, VenueVisitChanged | SpreaderWindowChanged):
                continue
            meta = dict(venue_meta[event.venue_id])
            contacts = on_visit(event, meta) if isinstance(event, VenueVisitChanged) else on_window(event, meta)
            forget_old(event.venue_id, meta)
            venue_meta[event.venue_id] = meta
            await send_contacts(contacts)

    @app.timer(interval=settings.retention_sweep_interval_s)
    async def sweep_venues() -> None:
        """Venues whose visits or windows reach past the retention period."""
        for venue_id, meta in list(venue_meta.items()):
            if holds_old(venue_id, meta):
                await tracer.send(topics.TRACER_VENUE_UPDATES, RetentionSweepDue(producer="tracer", venue_id=venue_id))

    @app.timer(interval=settings.auto_checkout_interval_s)
    async def apply_automatic_checkouts() -> None:
        """Occupancy falls when open visits reach their automatic check-out, with no event to say so."""
        for venue_id, data in list(presence_table.items()):
            try:
                await publish_occupancy(venue_id, Presence.from_json(data))
            except (ValueError, TypeError, KeyError):
                # A timer that raises stops the whole worker; one bad entry must not.
                log.exception("cannot count occupancy", extra={"venue_id": venue_id})

    return visits_by_day, venue_meta, presence_table
