"""Encoding of topic records: UTF-8 JSON values, UTF-8 string keys.

Models are serialised and validated by pydantic-core (Rust), which parses JSON bytes directly without an
intermediate dict; orjson handles plain dicts (HTTP bodies, Redis values).
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import TypeAdapter

from antoan_shared.events import AnyEvent, Event
from antoan_shared.topics import TopicSpec

_any_event: TypeAdapter[Event] = TypeAdapter(AnyEvent)


class DecodeError(ValueError):
    """A record that is not a valid event of its topic."""


def encode_event(event: Event) -> bytes:
    return event.model_dump_json().encode()


def encode_key(spec: TopicSpec, event: Event) -> bytes:
    return str(getattr(event, spec.key)).encode()


def decode_event(raw: bytes | str) -> Event:
    """Decode any v1 event, choosing the model by its `type` field."""
    try:
        return _any_event.validate_json(raw)
    except ValueError as exc:
        raise DecodeError(str(exc)) from exc


def decode_for_topic(spec: TopicSpec, raw: bytes | str) -> Event:
    event = decode_event(raw)
    if not isinstance(event, spec.value_types):
        raise DecodeError(f"{event.type!r} is not a value of {spec.name}")
    return event


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def loads(raw: bytes | str) -> Any:
    return orjson.loads(raw)
