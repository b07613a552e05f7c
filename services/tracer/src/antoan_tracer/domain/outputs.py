"""What a stream step asks to be published: a record for a topic of the registry, with its key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple

import orjson

from antoan_shared.events import SCHEMA_VERSION, Event, VisitClosed
from antoan_shared.topics import TopicSpec


class VisitRecord(NamedTuple):
    """A `visits.v1` value (`VisitClosed`) that encodes itself without building the model: the person stage
    publishes one or two for every scan, and `model_construct` + `model_dump_json` took about 6 % of a stream
    process loading the benchmark's history. The bytes are the model's own JSON (a unit test holds them equal);
    `event()` is the model, for whatever reads the record as an event. (A named tuple: made in 1.8 µs where a
    frozen dataclass took 4.5, measured alone.)"""

    event_id: str
    occurred_at: datetime
    venue_id: str
    person_key: str
    visit_id: str
    visit_start: datetime
    visit_end: datetime
    closed_by: Literal["checkout", "auto_checkout", "moved", "out_only"]
    withdrawn: bool
    open: bool

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "event_id": self.event_id,
                "type": "visit.closed",
                "schema_version": SCHEMA_VERSION,
                "occurred_at": self.occurred_at,
                "producer": "tracer",
                "venue_id": self.venue_id,
                "person_key": self.person_key,
                "visit_id": self.visit_id,
                "visit_start": self.visit_start,
                "visit_end": self.visit_end,
                "closed_by": self.closed_by,
                "withdrawn": self.withdrawn,
                "open": self.open,
            },
            option=orjson.OPT_UTC_Z,
        )

    def event(self) -> VisitClosed:
        return VisitClosed.model_validate_json(self.encode())


@dataclass(frozen=True, slots=True)
class Out:
    spec: TopicSpec
    key: str
    # an event for the public topics (visits.v1's as a VisitRecord), a compact message for the tracer's own
    value: Event | VisitRecord | dict[str, Any]
