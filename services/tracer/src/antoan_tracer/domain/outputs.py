"""What a stream step asks to be published: a record for a topic of the registry, with its key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from antoan_shared.events import Event
from antoan_shared.topics import TopicSpec


@dataclass(frozen=True, slots=True)
class Out:
    spec: TopicSpec
    key: str
    value: Event | dict[str, Any]  # an event for the public topics, a compact message for the tracer's own
