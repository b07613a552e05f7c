"""Identifier normalisation and pseudonyms (SPEC §3.1)."""

from __future__ import annotations

import pytest

from antoan_ingest.domain.identity import (
    IdentifierKind,
    InvalidPersonIdError,
    normalise_person_id,
    normalise_person_id_of_kind,
    person_key,
)

PEPPER = b"pepper-for-tests"


@pytest.mark.parametrize("spelling", ["0912345678", "+84912345678", "84912345678", "091 234 5678", "+84-91-234-5678"])
def test_every_spelling_of_a_phone_number_is_one_person(spelling: str) -> None:
    person = normalise_person_id(spelling)
    assert person.kind is IdentifierKind.PHONE
    assert person_key(PEPPER, person) == person_key(PEPPER, normalise_person_id("0912345678"))


def test_a_12_digit_number_is_a_cccd_and_a_9_digit_number_a_cmnd() -> None:
    assert normalise_person_id("038099001234").kind is IdentifierKind.CCCD
    assert normalise_person_id("173456789").kind is IdentifierKind.CMND


def test_passport_numbers_ignore_case_and_spaces() -> None:
    assert normalise_person_id("c 1234567").value == normalise_person_id("C1234567").value == "C1234567"


@pytest.mark.parametrize("raw", ["", "abc", "nobody", "12345", "0112345678", "+1 415 555 0100"])
def test_what_is_no_identifier_is_refused(raw: str) -> None:
    with pytest.raises(InvalidPersonIdError):
        normalise_person_id(raw)


def test_the_key_depends_on_the_secret_and_never_contains_the_identifier() -> None:
    person = normalise_person_id("0912345678")
    key = person_key(PEPPER, person)
    assert key != person_key(b"another pepper", person)
    assert "912345678" not in key
    assert len(key) == 64


def test_a_phone_number_and_a_document_with_the_same_digits_are_different_people() -> None:
    # 9 digits starting with 9 could be read as a CMND; with the national 0 it is a phone number.
    assert person_key(PEPPER, normalise_person_id("0912345678")) != person_key(PEPPER, normalise_person_id("912345678"))


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        (IdentifierKind.PHONE, "+84 91 234 5678"),
        (IdentifierKind.CCCD, "038 099 001 234"),
        (IdentifierKind.CMND, "173456789"),
        (IdentifierKind.PASSPORT, "c1234567"),
    ],
)
def test_an_identifier_of_a_stated_kind_is_the_same_person_as_without_it(kind: IdentifierKind, raw: str) -> None:
    assert person_key(PEPPER, normalise_person_id_of_kind(kind, raw)) == person_key(PEPPER, normalise_person_id(raw))


@pytest.mark.parametrize(
    ("kind", "raw"),
    [(IdentifierKind.PHONE, "912345678"), (IdentifierKind.CMND, "0912345678"), (IdentifierKind.CCCD, "C1234567")],
)
def test_an_identifier_that_reads_as_another_kind_is_refused(kind: IdentifierKind, raw: str) -> None:
    with pytest.raises(InvalidPersonIdError, match=f"not a {kind.value}"):
        normalise_person_id_of_kind(kind, raw)
