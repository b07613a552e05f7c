"""Quarantine alerts (SPEC §3.5): fever or a listed symptom in a daily update, or a missed update."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any, Literal

from antoan_shared import topics
from antoan_shared.events import (
    DeclarationKind,
    DeclarationSubmitted,
    QuarantineAlertMarked,
    QuarantineAlertRaised,
    RetentionSweepDue,
    utc_now,
)
from antoan_tracer.app import Tracer, json_table

log = logging.getLogger(__name__)
AlertReason = Literal["fever", "symptom", "missed_update"]
_ALERT_IDS = uuid.UUID("a4d1c0de-7b2f-4c55-8f3e-5e9f6f1b2c3d")


def missed_update_day(since: datetime, last: datetime, now: datetime, every: timedelta, days: int) -> str | None:
    """The missed update to alert about (as 'the n-th interval after the last update'), if any."""
    if now >= since + timedelta(days=days):
        return None  # the quarantine is over
    overdue = now - last
    if overdue <= every:
        return None
    return f"{last.isoformat()}+{int(overdue / every)}"


def register(tracer: Tracer) -> Any:
    app, settings = tracer.app, tracer.settings
    quarantine = json_table(app, "quarantine")  # person -> {"since", "last", "marked": [...]}
    every = timedelta(seconds=settings.quarantine_update_interval_s)
    pending_marks: set[tuple[str, str]] = set()  # raised by the timer, not yet recorded in the table

    async def alert(person_key: str, reason: AlertReason, detail: dict[str, Any], dedupe: str) -> None:
        await tracer.send(
            topics.ALERTS,
            QuarantineAlertRaised(
                event_id=str(uuid.uuid5(_ALERT_IDS, f"{person_key}|{reason}|{dedupe}")),
                producer="tracer",
                person_key=person_key,
                reason=reason,
                detail=detail,
            ),
        )

    @app.agent(tracer.topic(topics.DECLARATIONS, topics.TRACER_QUARANTINE_MARKS), name="quarantine")
    async def follow_quarantine(stream: Any) -> None:
        async for event in tracer.events(stream):
            if isinstance(event, RetentionSweepDue):
                state = quarantine[event.person_key]
                if "last" in state and datetime.fromisoformat(state["last"]) < tracer.cutoff(utc_now()):
                    quarantine.pop(event.person_key, None)
                continue
            if isinstance(event, QuarantineAlertMarked):
                state = dict(quarantine[event.person_key])
                state["marked"] = sorted({*state.get("marked", []), event.day})
                quarantine[event.person_key] = state
                pending_marks.discard((event.person_key, event.day))
                continue
            if not isinstance(event, DeclarationSubmitted):
                continue
            if event.kind is DeclarationKind.ENTRY or event.kind is DeclarationKind.QUARANTINE_DAILY:
                state = dict(quarantine[event.person_key])
                at = event.declared_at.isoformat()
                state["since"] = min(state.get("since", at), at)
                state["last"] = max(state.get("last", at), at)
                quarantine[event.person_key] = state
            if event.kind is not DeclarationKind.QUARANTINE_DAILY:
                continue
            if event.temperature_c is not None and event.temperature_c >= settings.fever_celsius:
                await alert(event.person_key, "fever", {"temperature_c": event.temperature_c}, event.event_id)
            elif event.symptoms:
                await alert(
                    event.person_key, "symptom", {"symptoms": [s.value for s in event.symptoms]}, event.event_id
                )

    @app.timer(interval=settings.retention_sweep_interval_s)
    async def sweep_quarantine() -> None:
        """People whose last quarantine news is older than the retention period."""
        cutoff = tracer.cutoff(utc_now())
        for person_key, state in list(quarantine.items()):
            if "last" in state and datetime.fromisoformat(state["last"]) < cutoff:
                await tracer.send(
                    topics.TRACER_QUARANTINE_MARKS, RetentionSweepDue(producer="tracer", person_key=person_key)
                )

    @app.timer(interval=settings.quarantine_check_interval_s)
    async def find_missed_updates() -> None:
        now = utc_now()
        for person_key, state in list(quarantine.items()):
            if "since" not in state:
                continue
            last = datetime.fromisoformat(state["last"])
            day = missed_update_day(datetime.fromisoformat(state["since"]), last, now, every, settings.quarantine_days)
            if day is None or day in state.get("marked", []) or (person_key, day) in pending_marks:
                continue
            await alert(person_key, "missed_update", {"last_update_at": state["last"]}, day)
            # Tables change only inside a stream: the mark goes round through a topic of our own.
            pending_marks.add((person_key, day))
            await tracer.send(
                topics.TRACER_QUARANTINE_MARKS, QuarantineAlertMarked(producer="tracer", person_key=person_key, day=day)
            )

    return quarantine
