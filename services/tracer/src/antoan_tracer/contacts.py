"""The health authority's contact list per case: exposures re-keyed by case, lowest degree per person."""

from __future__ import annotations

import logging
from typing import Any

from antoan_shared.events import ExposureDetected
from antoan_shared.topics import TRACER_CASE_CONTACTS
from antoan_tracer.app import Tracer, json_table

log = logging.getLogger(__name__)
_LISTED = {"degree", "venue_id", "window_start", "window_end", "exposed_at", "source_person_key"}


def register(tracer: Tracer) -> Any:
    case_contacts = json_table(tracer.app, "case-contacts")  # case_id -> {person_key: exposure fields}

    @tracer.app.agent(tracer.topic(TRACER_CASE_CONTACTS), name="case-contacts")
    async def collect(stream: Any) -> None:
        async for exposure in tracer.events(stream):
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

    return case_contacts
