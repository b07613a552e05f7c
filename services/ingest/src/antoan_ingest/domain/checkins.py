"""Rules on accepting a scan (SPEC §3.3)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta

from antoan_ingest.domain.keyed import hmac_sha256

# Idempotency: a retry with the same client_event_id is the same event, so its id is derived from it.
_EVENT_NAMESPACE = uuid.UUID("6f1d3c1e-8a4b-4f7e-9c55-2b0d5e7a9a10")
_EVENT_NAMESPACE_BYTES = _EVENT_NAMESPACE.bytes


class ScannedAtOutOfRangeError(ValueError):
    code = "scanned_at_out_of_range"


def check_scanned_at(scanned_at: datetime, now: datetime, max_skew: timedelta, retention: timedelta) -> None:
    """Up to `max_skew` in the future (device clocks), at most the retention period in the past."""
    if scanned_at > now + max_skew:
        raise ScannedAtOutOfRangeError(f"scanned_at is more than {max_skew} in the future")
    if scanned_at < now - retention:
        raise ScannedAtOutOfRangeError(f"scanned_at is older than the retention period ({retention})")


def derived_event_id(scope: str, client_event_id: str | None) -> str:
    """The event id: stable for a client's retries within a scope (a person), fresh otherwise."""
    if client_event_id is None:
        return str(uuid.uuid4())
    return uuid5_text(_EVENT_NAMESPACE_BYTES, f"{scope}/{client_event_id}")


def uuid5_text(namespace: bytes, name: str) -> str:
    """`str(uuid.uuid5(UUID(bytes=namespace), name))` without building the UUID object (a batch derives a
    thousand ids; a unit test holds it to the standard library's)."""
    digest = bytearray(hashlib.sha1(namespace + name.encode(), usedforsecurity=False).digest()[:16])  # as uuid5
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # the RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def checkin_event_id(person_key: str, client_event_id: str | None) -> str:
    return derived_event_id(person_key, client_event_id)


def dependant_client_event_id(client_event_id: str | None, index: int) -> str | None:
    """A household scan's dependants get ids of their own, derived from the scan's."""
    return None if client_event_id is None else f"{client_event_id}#dependant-{index}"


def client_reference(pepper: bytes, client_event_id: str | None) -> str | None:
    """What travels on the topic instead of the client's own id, which may be built from personal data."""
    if client_event_id is None:
        return None
    return hmac_sha256(pepper).hexdigest(f"client-event/{client_event_id}".encode())[:32]


def fingerprint(*parts: object) -> str:
    """What a retry must repeat for it to be the same request."""
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()[:32]
