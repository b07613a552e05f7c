"""One person, one key: a number written with other digits is the same person, never a second key.

Issue 12's finding: non-ASCII digits were accepted as person ids (`09١٢٠٠٠٥٠٠`, full-width digits), each giving
a different `person_key` from the same number in ASCII digits, so one person could appear as several.
"""

from __future__ import annotations

import pytest

from antoan_ingest.domain.identity import InvalidPersonIdError, normalise_person_id, person_key

PEPPER = b"a test pepper of enough length!!"
ASCII = "0912000500"


@pytest.mark.parametrize(
    "spelling",
    [
        "09١٢٠٠٠٥٠٠",  # Arabic-Indic digits
        "０９１２０００５００",  # full-width digits
        "＋８４９１２０００５００",  # full-width plus and digits
        "09۱۲۰۰۰۵۰۰",  # Extended Arabic-Indic (Persian) digits
        "0९१२०००५००",  # Devanagari digits
    ],
)
def test_a_number_in_any_script_s_digits_is_the_same_person(spelling: str) -> None:
    assert person_key(PEPPER, normalise_person_id(spelling)) == person_key(PEPPER, normalise_person_id(ASCII))


def test_a_symbol_that_is_not_a_digit_is_refused_not_keyed() -> None:
    with pytest.raises(InvalidPersonIdError):
        normalise_person_id("09½2000500")  # NFKC makes ½ "1⁄2": not a number any more
