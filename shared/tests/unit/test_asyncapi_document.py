"""contract/asyncapi.yaml: a valid AsyncAPI 3.0 document of every contract topic, and nothing internal."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import jsonschema
import pytest
import yaml

from antoan_shared import contract, topics

VENDORED = contract.CONTRACT_DIR / "asyncapi-3.0.0.schema.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(json.loads(VENDORED.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((contract.CONTRACT_DIR / "asyncapi.yaml").read_text(encoding="utf-8"))
    return loaded


def test_the_vendored_asyncapi_schema_is_the_recorded_one() -> None:
    digest = hashlib.sha256(VENDORED.read_bytes()).hexdigest()
    readme = (contract.CONTRACT_DIR / "README.md").read_text(encoding="utf-8")
    assert digest in readme, f"asyncapi-3.0.0.schema.json changed (sha256 {digest}); record its source in README"
    assert "@asyncapi/specs" in readme


def test_the_document_is_valid_asyncapi_3(validator: jsonschema.Draft7Validator, document: dict[str, Any]) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
    assert document["asyncapi"] == "3.0.0"
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d["channels"]["venue-risk.v1"].__setitem__("address", 5),
        lambda d: d["channels"]["venue-risk.v1"]["bindings"]["kafka"].__setitem__("partitions", "six"),
        lambda d: d["operations"]["publish.venue-risk.v1"].__setitem__("action", "publish"),
        lambda d: d.pop("info"),
    ],
    ids=["address", "kafka binding", "operation action", "no info"],
)
def test_the_validation_catches_a_damaged_document(
    validator: jsonschema.Draft7Validator, document: dict[str, Any], damage: Any
) -> None:
    # Given the document with one structural mistake, Then the AsyncAPI schema refuses it
    damaged = copy.deepcopy(document)
    damage(damaged)
    assert not validator.is_valid(damaged)


def test_every_contract_topic_is_a_channel_with_its_key_access_and_retention(document: dict[str, Any]) -> None:
    channels = document["channels"]
    assert list(channels) == [spec.name for spec in topics.CONTRACT_TOPICS]
    for spec in topics.CONTRACT_TOPICS:
        channel = channels[spec.name]
        assert channel["address"] == spec.name
        assert channel["x-antoan-key"] == spec.key
        assert channel["x-antoan-access"] == spec.access.value in ("public", "restricted")
        assert channel["tags"] == [{"name": spec.access.value}]
        config = channel["bindings"]["kafka"]["topicConfiguration"]
        assert config["cleanup.policy"] == ["compact" if spec.compacted else "delete"]
        assert config["retention.ms"] == (spec.retention_ms() or -1)
    assert channels["venue-risk.v1"]["x-antoan-access"] == "public"
    assert channels["exposures.v1"]["x-antoan-access"] == "restricted"
    assert channels["checkins.v1"]["bindings"]["kafka"]["topicConfiguration"]["retention.ms"] == 21 * 86_400_000


def test_exposures_v2_says_how_to_reduce_it_and_v1_that_it_is_kept_for_the_transition(
    document: dict[str, Any],
) -> None:
    v1, v2 = document["channels"]["exposures.v1"], document["channels"]["exposures.v2"]
    # exposures.v2: keyed by the contact, the latest record per (case, person) wins, withdrawals are explicit
    assert v2["x-antoan-key"] == "person_key"
    assert v2["x-antoan-access"] == "restricted"
    assert v2["x-antoan-supersedes"] == ["exposures.v1"]
    text = " ".join(v2["description"].split())
    for phrase in (
        "keyed by the contact",
        "latest record (in partition order, not by `occurred_at`) per (`case_id`, `person_key`)",
        "`withdrawn` true removes the person",
        "The key is the contact's `person_key`",
        "`schema_version` 2",
    ):
        assert phrase in text, phrase
    message = document["components"]["messages"]["exposure.changed"]
    assert message["x-antoan-schema-version"] == 2
    assert message["payload"]["$ref"] == "schemas/exposures.v2/exposure.changed.json"
    # exposures.v1: the best exposure so far, kept for the transition, and why it cannot be exact
    assert v1["x-antoan-superseded-by"] == "exposures.v2"
    text = " ".join(v1["description"].split())
    for phrase in (
        "best exposure found so far",
        "Kept for the transition to exposures.v2",
        "cannot express a correction",
        "until every subscriber has moved to exposures.v2",
    ):
        assert phrase in text, phrase
    assert document["components"]["messages"]["exposure.detected"]["x-antoan-schema-version"] == 1


def test_every_channel_note_is_about_a_contract_topic() -> None:
    names = {spec.name for spec in topics.CONTRACT_TOPICS}
    assert set(contract.CHANNEL_NOTES) <= names
    assert set(contract.SUPERSEDED_BY) | set(contract.SUPERSEDED_BY.values()) <= names


def test_internal_topics_are_not_in_the_contract(document: dict[str, Any]) -> None:
    text = (contract.CONTRACT_DIR / "asyncapi.yaml").read_text(encoding="utf-8")
    internal = [spec for spec in topics.ALL_TOPICS if spec.access is topics.Access.INTERNAL]
    assert internal
    for spec in internal:
        assert spec.name not in document["channels"]
        assert f"address: {spec.name}" not in text


def test_every_message_payload_is_a_checked_in_schema_file(document: dict[str, Any]) -> None:
    messages = document["components"]["messages"]
    for spec in topics.CONTRACT_TOPICS:
        for ref in document["channels"][spec.name]["messages"].values():
            message = messages[ref["$ref"].rsplit("/", 1)[1]]
            payload = contract.CONTRACT_DIR / message["payload"]["$ref"]
            assert payload.is_file(), payload
            assert json.loads(payload.read_text())["properties"]["type"]["const"] == message["title"]
            assert message["bindings"]["kafka"]["key"]["type"] == "string"


def test_the_readme_lists_every_contract_topic_with_its_key_and_access() -> None:
    readme = (contract.ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Subscribing as an agency", 1)[1].split("\n## ", 1)[0]
    rows = {
        cells[0].strip("`"): (cells[1].strip("`"), cells[2])
        for line in section.splitlines()
        if line.startswith("| `") and (cells := [c.strip() for c in line.strip("|").split("|")])
    }
    assert rows == {spec.name: (spec.key, spec.access.value) for spec in topics.CONTRACT_TOPICS}
