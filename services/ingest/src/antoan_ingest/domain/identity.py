"""People: normalising identifiers and turning them into pseudonymous keys (SPEC §3.1)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from antoan_ingest.domain.keyed import hmac_sha256


class IdentifierKind(StrEnum):
    PHONE = "phone"
    CCCD = "cccd"  # 12-digit citizen identity card
    CMND = "cmnd"  # 9-digit identity card (older)
    PASSPORT = "passport"


class InvalidPersonIdError(ValueError):
    """The identifier is none of: a Vietnamese phone number, a CCCD, a CMND or a passport number."""


@dataclass(frozen=True)
class PersonId:
    kind: IdentifierKind
    value: str  # normalised: phones as 84XXXXXXXXX, documents upper-case without separators

    @property
    def canonical(self) -> str:
        return f"{self.kind.value}:{self.value}"


_SEPARATORS = re.compile(r"[\s.\-()]")
# Vietnamese mobile numbers: 0 + 9 digits nationally, 84 + 9 digits internationally (prefixes 3,5,7,8,9).
_PHONE_NATIONAL = re.compile(r"0([35789][0-9]{8})")
_PHONE_INTERNATIONAL = re.compile(r"\+?84([35789][0-9]{8})")
_CCCD = re.compile(r"[0-9]{12}")
_CMND = re.compile(r"[0-9]{9}")
_PASSPORT = re.compile(r"[A-Z](?=[A-Z0-9]*[0-9])[A-Z0-9]{5,11}")  # a letter first, and digits in it


def _plain(raw: str) -> str:
    """Compatibility forms folded (NFKC: full-width `０９１２`, `＋`) and every decimal digit of any script as its
    ASCII digit (Arabic-Indic `٠١٢`, Devanagari, …): one number written any way is one person, never two."""
    folded = unicodedata.normalize("NFKC", raw)
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() and not c.isascii() else c for c in folded)


def normalise_person_id(raw: str) -> PersonId:
    """`0912345678`, `+84912345678` and `84912345678` are one person; documents lose case and spaces."""
    compact = _SEPARATORS.sub("", _plain(raw).strip()).upper()
    if match := _PHONE_NATIONAL.fullmatch(compact) or _PHONE_INTERNATIONAL.fullmatch(compact):
        return PersonId(IdentifierKind.PHONE, "84" + match.group(1))
    if _CCCD.fullmatch(compact):
        return PersonId(IdentifierKind.CCCD, compact)
    if _CMND.fullmatch(compact):
        return PersonId(IdentifierKind.CMND, compact)
    if _PASSPORT.fullmatch(compact):
        return PersonId(IdentifierKind.PASSPORT, compact)
    raise InvalidPersonIdError("not a Vietnamese phone number, CCCD, CMND or passport number")


def normalise_person_id_of_kind(kind: IdentifierKind, raw: str) -> PersonId:
    """`raw` normalised by the one rule above, and refused unless it reads as an identifier of `kind`.

    A caller who says what the identifier is (the health authority searching a person) gets no other kind:
    nine digits given as a phone number are a CMND to the rule, so they find nobody's phone.
    """
    person = normalise_person_id(raw)
    if person.kind is not kind:
        raise InvalidPersonIdError(f"not a {kind.value} (it reads as a {person.kind.value})")
    return person


def person_key(pepper: bytes, person: PersonId) -> str:
    """The pseudonym that travels on topics: HMAC-SHA256 of the normalised identifier."""
    return hmac_sha256(pepper).hexdigest(person.canonical.encode())
