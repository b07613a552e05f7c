"""The health authority's contact list per case: exposures re-keyed by case, lowest degree per person."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from antoan_shared.events import ExposureDetected, RetentionSweepDue, utc_now
from antoan_shared.topics import TRACER_CASE_CONTACTS
from antoan_tracer.app import Tracer, json_table

log = logging.getLogger(__name__)
_LISTED = {"degree", "venue_id", "window_start", "window_end", "exposed_at", "source_person_key"}


def register(tracer: Tracer) -> Any:
    case_contacts = json_table(tracer.app, "case-contacts")  # case_id -> {person_key: exposure fields}

    @tracer.app.agent(tracer.topic(TRACER_CASE_CONTACTS), name="case-contacts")
    async def collect(stream: Any) -> None:
        async for exposure in tracer.events(stream):
            if isinstance(exposure, RetentionSweepDue):
                cutoff = tracer.cutoff(utc_now())
                kept = {p: c for p, c in case_contacts[exposure.case_id].items() if not _expired(c, cutoff)}
                if kept:
                    case_contacts[exposure.case_id] = kept
                else:
                    case_contacts.pop(exposure.case_id, None)
                continue
            if not isinstance(exposure, ExposureDetected):
                continue
            contacts = dict(case_contacts[exposure.case_id])
            known = contacts.get(exposure.person_key)
            if known is not None and (known["degree"], known["exposed_at"]) <= (
                exposure.degree,
                exposure.exposed_at.isoformat(),
            ):
                continue
            contacts[exposure.person_key] = exposure.model_dump(mode="json", include=_LISTED)
            case_contacts[exposure.case_id] = contacts

    @tracer.app.timer(interval=tracer.settings.retention_sweep_interval_s)
    async def sweep_case_contacts() -> None:
        """Cases with contacts exposed before the retention period."""
        cutoff = tracer.cutoff(utc_now())
        for case_id, contacts in list(case_contacts.items()):
            if any(_expired(contact, cutoff) for contact in contacts.values()):
                await tracer.send(TRACER_CASE_CONTACTS, RetentionSweepDue(producer="tracer", case_id=case_id))

    return case_contacts


def _expired(contact: dict[str, Any], cutoff: datetime) -> bool:
    return datetime.fromisoformat(contact["exposed_at"]) < cutoff
