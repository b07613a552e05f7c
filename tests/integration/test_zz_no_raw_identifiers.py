"""No raw personal identifier on any topic this test session wrote (SPEC §3.1: topics carry `person_key` only).

Runs last (its file name sorts last in the last test path; `make test` runs it on its own after the parallel
phase, see antoan_localstack.suite): it reads every record of every topic of every namespace the run made,
from the beginning to the end offsets, and searches each key and value for Vietnamese phone numbers, CCCD and
CMND numbers, passport numbers and long integers. Pseudonyms (64-hex keys and hashes), UUIDs, RFC 3339
timestamps and the identity vault's ciphertexts are not identifiers and are skipped. Run alone, it first pushes
check-ins, a declaration and a case carrying every kind of identifier, so it always has something to look at.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from antoan_localstack.testing import RunningServices, TopicReader, random_namespace, run_namespaces
from antoan_shared import events, topics

pytestmark = pytest.mark.integration

# The identifiers of SPEC §3.1.
PHONE = re.compile(r"(?<!\d)(?:\+?84|0)[35789]\d{8}(?!\d)")
CCCD = re.compile(r"(?<!\d)\d{12}(?!\d)")
CMND = re.compile(r"(?<!\d)\d{9}(?!\d)")
PASSPORT = re.compile(r"\b[A-Z]\d{7}\b")
PATTERNS = {"phone number": PHONE, "CCCD": CCCD, "CMND": CMND, "passport number": PASSPORT}
LONG_INTEGER = 10**8  # integers of 9 digits or more

# Not identifiers, whole values or inside text: pseudonyms and hashes, ids, timestamps.
HEX64 = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])")
# Random hex ids (`v_` + 16 hex for venues, `c_` + 16 hex for cases) hold digit runs by chance.
HEX_ID = re.compile(r"(?<![0-9a-fA-F])(?=[0-9a-f]*[a-f])[0-9a-f]{16,}(?![0-9a-fA-F])")
UUID = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}(?![0-9a-fA-F])")
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:?\d{2})?")
NOT_IDENTIFIERS = (HEX64, UUID, RFC3339, HEX_ID)
DIGIT_RUN = re.compile(r"\d{7}")
# The vault's fields are base64 of nonce (12 bytes) + AES-GCM ciphertext and tag (16 bytes).
MIN_SEALED_BYTES = 12 + 16
VAULT_TOPIC = topics.IDENTITY_VAULT.name

MIN_RECORDS = 50


@dataclass(frozen=True)
class Finding:
    where: str  # a path in the record: "key", "value.details.places_visited[1]", ...
    kind: str
    text: str


def _sealed(value: object) -> bool:
    """An identity-vault ciphertext: strict base64 of at least a nonce and a tag."""
    if not isinstance(value, str) or len(value) % 4:
        return False
    try:
        return len(base64.b64decode(value, validate=True)) >= MIN_SEALED_BYTES
    except (binascii.Error, ValueError):
        return False


def _without_non_identifiers(text: str) -> str:
    """The text with pseudonyms, ids and timestamps blanked out; "" when no 7-digit run (which every identifier
    holds) is left, checked after each pattern since that is much quicker than blanking everything."""
    if not DIGIT_RUN.search(text):
        return ""
    for pattern in NOT_IDENTIFIERS:
        text = pattern.sub(" ", text)
        if not DIGIT_RUN.search(text):
            return ""
    return text


def scan_text(text: str, where: str, planted: tuple[str, ...] = ()) -> list[Finding]:
    """Raw identifiers in a text, and any of the `planted` texts known to be personal."""
    found = [Finding(where, "personal detail", t) for t in planted if t in text]
    text = _without_non_identifiers(text)
    if not text:
        return found
    return found + [
        Finding(where, kind, match) for kind, pattern in PATTERNS.items() for match in pattern.findall(text)
    ]


# The tracer's internal messages (antoan_tracer.domain.person and venue) carry instants as integer microseconds
# since the epoch: these fields, and an exposure's instants (`x`: [degree, exposed_at, venue, start, end, source]).
TRACER_INBOXES = tuple(spec.name for spec in topics.TRACER_INTERNAL)
INSTANT_FIELDS = frozenset({"t", "s", "e", "f", "u"})
EXPOSURE_INSTANTS = (1, 3, 4)


def _without_instants(message: Any) -> Any:
    """A tracer inbox message less its instants, which the message's own layout says are instants."""
    if not isinstance(message, dict):
        return message
    kept = {k: v for k, v in message.items() if not (k in INSTANT_FIELDS and isinstance(v, int))}
    exposure = kept.get("x")
    if isinstance(exposure, list) and len(exposure) == 6:
        kept["x"] = [v for i, v in enumerate(exposure) if not (i in EXPOSURE_INSTANTS and isinstance(v, int))]
    return kept


def raw_identifiers(
    value: Any, where: str = "value", *, vault: bool = False, planted: tuple[str, ...] = ()
) -> list[Finding]:
    """Every raw identifier in a decoded JSON value (walked recursively); `vault` for identity-vault records."""
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return []
    if isinstance(value, int):
        return [Finding(where, "long integer", str(value))] if abs(value) >= LONG_INTEGER else []
    if isinstance(value, str):
        return scan_text(value, where, planted)
    if isinstance(value, list):
        return [
            f
            for i, item in enumerate(value)
            for f in raw_identifiers(item, f"{where}[{i}]", vault=vault, planted=planted)
        ]
    if isinstance(value, dict):
        found = []
        for name, item in value.items():
            found += scan_text(str(name), f"{where}.<name {name!r}>", planted)
            if vault and where == "value" and name == "fields" and isinstance(item, dict):
                # Encrypted: only the field names and any value that is not a ciphertext are searched.
                for field, sealed in item.items():
                    found += scan_text(str(field), f"{where}.fields.<name {field!r}>", planted)
                    if not _sealed(sealed):
                        found += raw_identifiers(sealed, f"{where}.fields.{field}", planted=planted)
                continue
            found += raw_identifiers(item, f"{where}.{name}", vault=vault, planted=planted)
        return found
    return scan_text(str(value), where, planted)


def _may_hold_identifiers(text: str, planted: tuple[str, ...]) -> bool:
    """A quick look at a whole record: most hold no 7-digit run outside their pseudonyms, ids and timestamps."""
    if any(t in text or json.dumps(t)[1:-1] in text for t in planted):
        return True
    return bool(_without_non_identifiers(text))


def record_findings(topic: str, key: bytes | None, value: bytes | None, planted: tuple[str, ...] = ()) -> list[Finding]:
    """Raw identifiers in a record's key and value, and any of the `planted` texts known to be personal."""
    found = scan_text(key.decode("utf-8", "replace"), "key", planted) if key is not None else []
    if value is None:  # a tombstone
        return found
    text = value.decode("utf-8", "replace")
    if not _may_hold_identifiers(text, planted):
        return found
    try:
        decoded = json.loads(text)
    except ValueError:
        return found + scan_text(text, "value (not JSON)", planted)
    if topic.endswith(TRACER_INBOXES):
        decoded = _without_instants(decoded)
    return found + raw_identifiers(decoded, vault=topic.endswith("." + VAULT_TOPIC), planted=planted)


# --- the scanner can fail (no broker) ---------------------------------------------------------------


def _envelope(**fields: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "checkin.recorded",
        "schema_version": 1,
        "occurred_at": "2021-09-01T08:30:00.123456789+07:00",
        "producer": "ingest",
        # A pseudonym whose hex happens to hold a phone-like digit run is still a pseudonym.
        "person_key": "0912345678" + "ab" * 27,
        **fields,
    }


@pytest.mark.parametrize(
    ("planted", "kind"),
    [
        ("0912345678", "phone number"),
        ("+84912345678", "phone number"),
        ("84912345678", "phone number"),
        ("038099001234", "CCCD"),
        ("186543210", "CMND"),
        ("C1234567", "passport number"),
    ],
)
def test_the_scanner_flags_an_identifier_planted_in_a_nested_value(planted: str, kind: str) -> None:
    # Given an event with an identifier deep inside free text
    value = _envelope(details={"places_visited": ["Chợ Điện Biên", f"gọi {planted} nếu cần"]})
    # When it is scanned, Then that identifier is found, where it is
    found = raw_identifiers(value)
    assert Finding("value.details.places_visited[1]", kind, planted) in found, found
    # And nothing else is flagged
    assert len(found) == 1, found


def test_the_scanner_flags_a_long_integer_and_a_raw_key() -> None:
    found = record_findings("t1.checkins.v1", b"0912345678", json.dumps(_envelope(cmnd=186543210)).encode())
    assert {(f.where, f.kind) for f in found} == {("key", "phone number"), ("value.cmnd", "long integer")}, found


def test_the_scanner_leaves_the_test_namespaces_alone() -> None:
    # Given dead letters naming their source topic, in many test namespaces (hex ones read as CMND numbers
    # when nine digits came in a row: CI saw 'ta779628266')
    for _ in range(500):
        source = f"{random_namespace()}.checkins.v1"
        dead = json.dumps(_envelope(type="deadletter.recorded", source_topic=source)).encode()
        # When the record is scanned, Then neither its key nor its value is flagged
        assert record_findings(source, source.encode(), dead) == [], source


def test_the_scanner_leaves_pseudonyms_ids_timestamps_and_vault_ciphertexts_alone() -> None:
    # Given records with a person_key, random hex ids, UUIDs, timestamps with nanoseconds, and a vault
    # ciphertext whose base64 text happens to hold a CMND-like digit run
    person_key = "0912345678" + "ab" * 27
    sealed = "AAAA186543210" + "A" * 47
    assert _sealed(sealed)
    ids = {"venue_id": "v_e401349056016abc", "case_id": "c_9f038099001234ee", "resource": f"/v1/persons/{person_key}"}
    checkin = json.dumps(_envelope(**ids)).encode()
    vault = json.dumps(_envelope(type="identity.recorded", key_id="pepper-hkdf", fields={"identifier": sealed}))
    # When they are scanned, Then nothing is flagged
    assert record_findings("t1.checkins.v1", person_key.encode(), checkin) == []
    assert record_findings(f"t1.{VAULT_TOPIC}", person_key.encode(), vault.encode()) == []
    # But the ciphertext is skipped on the vault topic only
    assert [f.kind for f in record_findings("t1.checkins.v1", None, vault.encode())] == ["CMND"]
    # And a vault field that is not a ciphertext is searched like anything else
    leaked = json.dumps(_envelope(type="identity.recorded", fields={"phone": "+84912345678"}))
    assert [f.kind for f in record_findings(f"t1.{VAULT_TOPIC}", None, leaked.encode())] == ["phone number"]
    # And the instants of the tracer's internal messages (microseconds, of any date) are not taken for
    # identifiers, while the same number elsewhere in them, or on another topic, is
    match = {"k": "match", "c": "c1", "m": "w~v", "x": [1, 946684800000000, "v_1", -172800000000, 5, "p"]}
    scan = {"k": "scan", "t": 946684800000000, "v": "v_1"}
    for message in (match, scan):
        assert record_findings("t1.tracer.person-inbox.v2", person_key.encode(), json.dumps(message).encode()) == []
    assert [f.kind for f in record_findings("t1.checkins.v1", None, json.dumps(scan).encode())] == ["long integer"]
    planted_cccd = {"k": "scan", "t": 1, "v": "v_1", "id": 79201012345}
    assert [f.kind for f in record_findings("t1.tracer.person-inbox.v2", None, json.dumps(planted_cccd).encode())] == [
        "long integer"
    ]
    # And a name known to be personal is found wherever it is, however the JSON spells it
    named = json.dumps(_envelope(details={"note": "Nguyễn Văn An"}), ensure_ascii=True).encode()
    assert [f.kind for f in record_findings("t1.declarations.v1", None, named, planted=PLANTED_TEXT)] == [
        "personal detail"
    ]


# --- the session's topics ----------------------------------------------------------------------------

PHONE_SPELLINGS = ("0912345678", "+84912345678", "84912345678")
CCCD_ID = "079201012345"
CMND_ID = "186543210"
PASSPORT_ID = "C1234567"
PERSONAL_QR = "038099001234|Nguyễn Văn An|01/02/1990|CCCD|Q1|"
# Names and birth dates the seeding sends belong in the vault only, like the identifiers.
PLANTED_TEXT = ("Nguyễn Văn An", "01/02/1990", "Kim Min-jun")


@dataclass
class Seeded:
    contact_key: str  # the CCCD holder scanned by staff next to the case: an F1


@pytest.fixture(scope="module")
def seeded(running_services: RunningServices) -> Seeded:
    """Check-ins, a declaration and a case carrying every kind of identifier, through the real services."""
    now = events.utc_now()
    with httpx.Client(base_url=running_services.ingest, timeout=15) as ingest:

        def accepted(path: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = ingest.post(path, json=body, headers=headers)
            assert response.status_code in (201, 202), f"{path}: {response.status_code} {response.text}"
            answer: dict[str, Any] = response.json()
            return answer

        venue = accepted(
            "/v1/venues",
            {"name": "Cà phê Hạc Thành", "category": "cafe", "capacity": 40, "owner_phone": "0977123456"},
        )

        def at_venue(person_id: str, minutes_ago: float, direction: str = "in") -> dict[str, Any]:
            scanned_at = (now - timedelta(minutes=minutes_ago)).isoformat()
            body = {"venue_qr": venue["qr"], "person_id": person_id, "app": "pc-covid", "direction": direction}
            return accepted("/v1/checkins", {**body, "scanned_at": scanned_at})

        # One person in the three spellings of their phone number, then a CCCD and a CMND holder
        at_venue(PHONE_SPELLINGS[0], 20)
        at_venue(PHONE_SPELLINGS[1], 19)
        at_venue(PHONE_SPELLINGS[2], 5, direction="out")
        at_venue(CCCD_ID, 18)
        at_venue(CMND_ID, 17)
        # Staff scanning a personal QR code with the venue's API key
        staff = accepted("/v1/checkins", {"person_qr": PERSONAL_QR, "app": "venue-scanner"}, token=venue["api_key"])
        # A traveller's entry declaration by passport, with contact details
        accepted(
            "/v1/declarations",
            {
                "kind": "entry",
                "person_id": PASSPORT_ID,
                "nationality": "KR",
                "flight_or_vehicle": "VN417",
                "origin": "Seoul",
                "border_gate": "Nội Bài",
                "arrival_date": now.date().isoformat(),
                "quarantine_address": "Khách sạn Lam Kinh, TP Thanh Hóa",
                "contact": {"full_name": "Kim Min-jun", "phone": "0987654321"},
            },
        )
        # The first person confirmed as a case, and the authority reading their contact (audited)
        case = accepted(
            "/v1/cases",
            {"person_id": PHONE_SPELLINGS[0], "tested_at": (now - timedelta(minutes=1)).isoformat()},
            token=running_services.ha_token,
        )
        read = ingest.get(
            f"/v1/persons/{case['person_key']}", headers={"Authorization": f"Bearer {running_services.ha_token}"}
        )
        assert read.status_code == 200, read.text

    # The tracer traced the case to the people next to them, so its topics are in the scan too
    reader = TopicReader(running_services.settings(), topics.EXPOSURES)
    try:
        reader.wait_until(
            lambda batch: any(getattr(e, "person_key", None) == staff["person_key"] for e in batch),
            timeout=60,
            what="the staff-scanned person's exposure on exposures.v1",
        )
    finally:
        reader.close()
    return Seeded(contact_key=staff["person_key"])


def _session_topics(bootstrap: str) -> list[str]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    try:
        names = admin.list_topics()
    finally:
        admin.close()
    prefixes = tuple(f"{namespace}." for namespace in run_namespaces())
    return sorted(name for name in names if name.startswith(prefixes))


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def _every_record(bootstrap: str, names: list[str], timeout: float = 120.0) -> Iterator[Record]:
    """Every record of the topics, from the beginning to the end offsets they had when the reading started."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap.split(","),
        enable_auto_commit=False,
        # The broker checked the batches; checking their CRCs again in Python makes reading 5x slower.
        check_crcs=False,
        fetch_max_wait_ms=50,
    )
    try:
        partitions = [TopicPartition(name, p) for name in names for p in consumer.partitions_for_topic(name) or ()]
        # Offsets asked for all partitions at once, and explicit seeks: no lazy reset per partition.
        begin, end = consumer.beginning_offsets(partitions), consumer.end_offsets(partitions)
        unread = {tp for tp in partitions if begin[tp] < end[tp]}
        consumer.assign(sorted(unread))
        for tp in unread:
            consumer.seek(tp, begin[tp])
        deadline = time.monotonic() + timeout
        while unread:
            for tp, records in consumer.poll(timeout_ms=500, max_records=10_000).items():
                for record in records:
                    if record.offset < end[tp]:
                        yield Record(tp.topic, tp.partition, record.offset, record.key, record.value)
            # The position passes compacted-away records and transaction markers too.
            unread = {tp for tp in unread if consumer.position(tp) < end[tp]}
            if unread and time.monotonic() > deadline:
                short = {f"{tp.topic}[{tp.partition}]": (consumer.position(tp), end[tp]) for tp in unread}
                raise AssertionError(f"could not read to the end offsets in {timeout}s (position, end): {short}")
    finally:
        consumer.close()


def test_no_topic_of_the_session_carries_a_raw_personal_identifier(
    running_services: RunningServices, seeded: Seeded
) -> None:
    # Given every topic of every namespace this test session made (this module's own included)
    bootstrap = running_services.servers.kafka_bootstrap
    names = _session_topics(bootstrap)
    assert any(name.startswith(running_services.namespace + ".") for name in names), names
    # When every record of them is read, from the beginning to the end
    scanned: dict[str, int] = {}
    findings: list[str] = []
    for record in _every_record(bootstrap, names):
        scanned[record.topic] = scanned.get(record.topic, 0) + 1
        found = record_findings(record.topic, record.key, record.value, planted=PLANTED_TEXT)
        findings += [
            f"{record.topic}[{record.partition}]@{record.offset} {f.where}: {f.kind} {f.text!r}" for f in found
        ]
    records = sum(scanned.values())
    summary = (
        f"scanned {records} records of {len(scanned)} non-empty topics ({len(names)} topics) "
        f"in {len(run_namespaces())} namespaces"
    )
    print(summary)
    # Then there was plenty to look at, the seeded exposure included
    assert records >= MIN_RECORDS, f"too little to judge: {summary}"
    assert scanned.get(topics.EXPOSURES.address(running_services.namespace), 0) > 0, summary
    # And not one raw identifier in any key or value
    shown = "\n".join(findings[:50])
    assert not findings, f"{len(findings)} raw identifiers on topics ({summary}), first ones:\n{shown}"
    assert seeded.contact_key  # the F1 was traced by pseudonym only
