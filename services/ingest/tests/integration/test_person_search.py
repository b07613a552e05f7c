"""The health authority finds a person by phone number or identity document (issue 16; SPEC §3.1, §7):
`POST /v1/persons/search`, through the real broker and Redis.

The identifier is normalised and keyed by the same rule as at check-in, so any spelling finds the person who
checked in; the read is audited with the person_key only, and the identifier itself reaches no topic.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from antoan_localstack.testing import RunningServices, TopicReader
from antoan_shared import events, topics

pytestmark = [pytest.mark.integration, pytest.mark.shared_services]


@pytest.fixture(scope="module")
def client(running_services: RunningServices) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running_services.ingest, timeout=15) as session:
        yield session


@pytest.fixture(scope="module")
def authority(running_services: RunningServices) -> dict[str, str]:
    return {"authorization": f"Bearer {running_services.ha_token}"}


@pytest.fixture(scope="module")
def venue(client: httpx.Client) -> dict[str, str]:
    body = {"name": "Nhà thuốc Minh Châu", "category": "shop", "address": "88 Bà Triệu, TP Thanh Hóa", "capacity": 15}
    response = client.post("/v1/venues", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, str] = response.json()
    return created


def checked_in(client: httpx.Client, venue: dict[str, str], person_id: str) -> str:
    """Checks the person in at the venue; returns the person_key ingest answered."""
    body = {"venue_qr": venue["qr"], "person_id": person_id, "app": "pc-covid", "client_event_id": str(uuid.uuid4())}
    response = client.post("/v1/checkins", json=body)
    assert response.status_code == 202, response.text
    key: str = response.json()["person_key"]
    return key


def search(client: httpx.Client, headers: dict[str, str], kind: str, value: str, purpose: str = "") -> httpx.Response:
    return client.post("/v1/persons/search", json={"kind": kind, "value": value, "purpose": purpose}, headers=headers)


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


def test_a_phone_number_in_another_spelling_finds_the_person_who_checked_in(
    client: httpx.Client, venue: dict[str, str], authority: dict[str, str]
) -> None:
    # Given someone who checked in with their phone number written nationally
    key = checked_in(client, venue, "0912000301")
    # When the health authority searches it written internationally, with spaces
    response = search(client, authority, "phone", "+84 91 200 0301")
    # Then it finds that person: their person_key and their number from the vault
    assert response.status_code == 200, response.text
    assert response.json()["person_key"] == key
    assert response.json()["contact"]["phone"] == "+84912000301"


@pytest.mark.parametrize(
    ("kind", "checked_in_as", "searched_as"),
    [
        ("cccd", "038099000302", "038 099 000 302"),
        ("cmnd", "173000303", "173000303"),
        ("passport", "C7000304", "c7000304"),
    ],
)
def test_each_kind_of_document_finds_the_person_who_checked_in_with_it(
    client: httpx.Client,
    venue: dict[str, str],
    authority: dict[str, str],
    kind: str,
    checked_in_as: str,
    searched_as: str,
) -> None:
    # Given someone who checked in with an identity document's number
    key = checked_in(client, venue, checked_in_as)
    # When the authority searches that number as that kind of document
    response = search(client, authority, kind, searched_as)
    # Then it finds the same person_key
    assert response.status_code == 200, response.text
    assert response.json()["person_key"] == key
    assert response.json()["contact"]["identifier"].startswith(f"{kind}:")


def test_a_number_of_another_kind_is_refused_and_nobody_known_is_not_found(
    client: httpx.Client, venue: dict[str, str], authority: dict[str, str]
) -> None:
    # Given a person who checked in by phone
    checked_in(client, venue, "0912000305")
    # When the authority gives that number as a CMND, Then it is told the number is not one
    wrong_kind = search(client, authority, "cmnd", "0912000305")
    assert (wrong_kind.status_code, error_code(wrong_kind)) == (400, "invalid_person_id")
    assert "0912000305" not in wrong_kind.text
    # When it searches a phone number nobody checked in with, Then the answer is 404 person_not_found
    nobody = search(client, authority, "phone", "0912000399")
    assert (nobody.status_code, error_code(nobody)) == (404, "person_not_found")
    # When it names a kind that does not exist, Then the schema refuses it, listing the kinds
    unknown = search(client, authority, "email", "an@example.vn")
    assert unknown.status_code == 422
    assert all(kind in unknown.text for kind in ("phone", "cccd", "cmnd", "passport"))


def test_the_search_needs_the_authoritys_token(client: httpx.Client, venue: dict[str, str]) -> None:
    # Given a person who checked in
    checked_in(client, venue, "0912000306")
    # When someone searches without a token, or with another one, Then they learn nothing
    anonymous = search(client, {}, "phone", "0912000306")
    assert (anonymous.status_code, error_code(anonymous)) == (401, "token_required")
    wrong = search(client, {"authorization": "Bearer not-the-token"}, "phone", "0912000306")
    assert (wrong.status_code, error_code(wrong)) == (403, "invalid_token")
    assert "person_key" not in anonymous.text + wrong.text


def test_every_search_is_audited_by_person_key_and_the_identifier_reaches_no_topic(
    client: httpx.Client, venue: dict[str, str], authority: dict[str, str], running_services: RunningServices
) -> None:
    # Given a person who checked in, and a phone number nobody did
    key = checked_in(client, venue, "0912000307")
    # When the authority searches both
    purpose = f"Truy vết ca bệnh {uuid.uuid4().hex[:8]}"
    assert search(client, authority, "phone", "0912 000 307", purpose).status_code == 200
    missing = search(client, authority, "phone", "0912000398", purpose)
    assert missing.status_code == 404
    # Then each search left a PersonalDataRead naming the authority, the resource, the purpose and the key
    reader = TopicReader(running_services.settings(), topics.AUDIT)
    try:

        def searches(batch: list[events.Event]) -> list[events.PersonalDataRead]:
            return [e for e in batch if isinstance(e, events.PersonalDataRead) and e.purpose == purpose]

        audit = searches(reader.wait_until(lambda batch: len(searches(batch)) >= 2, what="both searches audited"))
    finally:
        reader.close()
    assert {(e.actor, e.resource) for e in audit} == {("health-authority", "/v1/persons/search")}
    assert key in {k for e in audit for k in e.person_keys}
    assert all(len(k) == 64 for e in audit for k in e.person_keys)
    # And the identifiers searched appear on the audit topic in no spelling
    text = " ".join(e.model_dump_json() for e in audit)
    for spelling in ("0912000307", "912000307", "0912000398", "912000398"):
        assert spelling not in text
