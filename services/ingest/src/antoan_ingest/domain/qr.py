"""Venue QR payloads: signed static posters and rotating screen codes (SPEC §3.2).

Static:   ANTOAN1.S.<key id>.<venue id>.<signature>
Rotating: ANTOAN1.R.<key id>.<venue id>.<expires at, unix seconds>.<signature>

The printed and shown codes carry the token inside a web address, `<public url>/c/<token>`, so that any phone
camera opens the check-in page; apps may send either that address or the bare token (posters printed with
bare tokens keep working). Which host the address names does not matter: the signature does.

The signature is HMAC-SHA256 over everything before it, truncated to 128 bits, base64url. The key id lets
the signing key rotate: codes printed under an older key keep working while that key is configured.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import unquote, urlsplit

PREFIX = "ANTOAN1"
PAGE_PATH = "/c/"  # where the check-in page lives on the public address
STATIC = "S"
ROTATING = "R"
_SIGNATURE_BYTES = 16


class QrError(ValueError):
    code = "invalid_qr"


class MalformedQrError(QrError):
    code = "invalid_qr_format"


class UnknownQrKeyError(QrError):
    code = "unknown_qr_key"


class InvalidQrSignatureError(QrError):
    code = "invalid_qr_signature"


class ExpiredQrError(QrError):
    code = "qr_expired"


class ScannedBeforeShownError(QrError):
    code = "scanned_at_outside_qr_validity"


@dataclass(frozen=True)
class VenueQr:
    venue_id: str
    key_id: str
    expires_at: int | None  # None for the static poster code


def _sign(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()[:_SIGNATURE_BYTES]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def static_qr(keys: Mapping[str, bytes], key_id: str, venue_id: str) -> str:
    body = f"{PREFIX}.{STATIC}.{key_id}.{venue_id}"
    return f"{body}.{_sign(keys[key_id], body)}"


def rotating_qr(keys: Mapping[str, bytes], key_id: str, venue_id: str, expires_at: datetime) -> str:
    body = f"{PREFIX}.{ROTATING}.{key_id}.{venue_id}.{int(expires_at.timestamp())}"
    return f"{body}.{_sign(keys[key_id], body)}"


def qr_url(public_url: str, token: str) -> str:
    """The address a venue's QR code encodes: the check-in page for `token` on the public address."""
    return public_url.rstrip("/") + PAGE_PATH + token


def token_of(payload: str) -> str:
    """The signed token in a scanned payload: the payload itself, or the last path segment after `/c/` of a
    check-in page address (query and fragment ignored)."""
    text = payload.strip()
    if not text.lower().startswith(("https://", "http://")):
        return text
    try:
        path = urlsplit(text).path
    except ValueError as exc:
        raise MalformedQrError("not an Antoan venue QR code") from exc
    _, found, token = path.rpartition(PAGE_PATH)
    if not found or not token or "/" in token:
        raise MalformedQrError("not an Antoan venue QR code")
    return unquote(token)


def verify_qr(
    keys: Mapping[str, bytes],
    payload: str,
    scanned_at: datetime,
    shown_for: timedelta | None = None,
    skew: timedelta = timedelta(0),
) -> VenueQr:
    """The venue a payload scanned at `scanned_at` names, or the reason it is refused: `signed_qr`, then
    `check_scanned_while_shown`."""
    venue_qr = signed_qr(keys, payload)
    check_scanned_while_shown(venue_qr, scanned_at, shown_for, skew)
    return venue_qr


def signed_qr(keys: Mapping[str, bytes], payload: str) -> VenueQr:
    """The code a payload carries, if its signature holds under one of `keys`; whenever it was scanned (so the
    answer for a payload may be kept while the keys stay the same)."""
    token = token_of(payload)
    parts = token.split(".")
    if len(parts) < 5 or parts[0] != PREFIX or parts[1] not in (STATIC, ROTATING):
        raise MalformedQrError("not an Antoan venue QR code")
    kind, key_id = parts[1], parts[2]
    if (kind == STATIC and len(parts) != 5) or (kind == ROTATING and len(parts) != 6):
        raise MalformedQrError("not an Antoan venue QR code")
    if key_id not in keys:
        raise UnknownQrKeyError("the QR code was signed with a key this service does not know")
    body, signature = token.rsplit(".", 1)
    if not hmac.compare_digest(_sign(keys[key_id], body), signature):
        raise InvalidQrSignatureError("the QR code's signature does not match: altered or forged")
    venue_id = parts[3]
    if kind == STATIC:
        return VenueQr(venue_id, key_id, None)
    try:
        expires_at = int(parts[4])
    except ValueError as exc:
        raise MalformedQrError("not an Antoan venue QR code") from exc
    return VenueQr(venue_id, key_id, expires_at)


def check_scanned_while_shown(
    venue_qr: VenueQr, scanned_at: datetime, shown_for: timedelta | None = None, skew: timedelta = timedelta(0)
) -> None:
    """A rotating code is good for what was scanned while it was on the screen: from `shown_for` before its
    expiry until its expiry, each end widened by the devices' clock `skew`. So an offline scan made while the
    code showed is taken when it is uploaded later, and a visit claimed for another day with a code seen
    today is not. A static poster's code is good at any time."""
    expires_at = venue_qr.expires_at
    if expires_at is None:
        return
    scanned = scanned_at.timestamp()
    if scanned > expires_at + skew.total_seconds():
        raise ExpiredQrError("the rotating QR code had expired when it was scanned; scan the screen again")
    if shown_for is not None and scanned < expires_at - (shown_for + skew).total_seconds():
        raise ScannedBeforeShownError("scanned_at is before this rotating QR code was shown")


class SignedQrMemo:
    """`signed_qr` for the payloads verified last, kept (at most `size` of them, the oldest dropped first) so that
    a venue's code scanned again costs a lookup, not a signature: an offline upload holds hundreds of scans of
    a few codes. Only codes whose signature held are kept; refusals are worked out every time. A payload is at
    most 512 characters (the check-in schema), so the memo holds at most about 10 MB."""

    def __init__(self, keys: Mapping[str, bytes], size: int = 16_384) -> None:
        self._keys = dict(keys)
        self._size = size
        self._known: dict[str, VenueQr] = {}

    def __call__(self, payload: str) -> VenueQr:
        venue_qr = self._known.get(payload)
        if venue_qr is None:
            venue_qr = signed_qr(self._keys, payload)
            if len(self._known) >= self._size:
                del self._known[next(iter(self._known))]
            self._known[payload] = venue_qr
        return venue_qr
