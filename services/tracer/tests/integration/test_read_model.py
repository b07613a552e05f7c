"""The read model behind the tracer's HTTP reads, on a real Redis; its follower and the lag probe on a real
broker. Each test has a namespace of its own: its own topics, consumer groups and Redis prefix."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import redis
from confluent_kafka import Producer  # type: ignore[import-untyped,unused-ignore]

from antoan_localstack.testing import Servers, TopicReader, free_port, wait_for
from antoan_shared import codec, topics
from antoan_shared.events import (
    CaseConfirmed,
    DeadLettered,
    ExposureChanged,
    PersonalDataRead,
    QuarantineAlertRaised,
    VisitClosed,
    utc_now,
)
from antoan_shared.kafka import EventPublisher, ensure_topics, make_consumer, records_of
from antoan_tracer.lag import consumer_group_lag
from antoan_tracer.readmodel import INPUTS, ReadModel, ReadModelFollower
from antoan_tracer.settings import TracerSettings

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)


def person(n: int | str) -> str:
    return hashlib.sha256(f"person-{n}".encode()).hexdigest()


def tracer_settings(servers: Servers, namespace: str, **overrides: Any) -> TracerSettings:
    return TracerSettings(
        environment="test",
        kafka_bootstrap=servers.kafka_bootstrap,
        redis_url=servers.redis_url,
        topic_namespace=namespace,
        redis_prefix=f"{namespace}:tracer:",
        ha_token="h" * 32,
        **overrides,
    )


@pytest.fixture
def settings(servers: Servers, namespace: str) -> TracerSettings:
    return tracer_settings(servers, namespace)


@pytest.fixture
def client(settings: TracerSettings) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(settings.redis_url)
    yield client
    keys = list(client.scan_iter(match=settings.redis_prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def read_model(client: redis.Redis, settings: TracerSettings) -> ReadModel:
    return ReadModel(client, settings)


def visit(
    visit_id: str,
    start: datetime,
    end: datetime,
    who: str = "a",
    venue_id: str = "v1",
    withdrawn: bool = False,
    open: bool = False,
    closed_by: str | None = None,
) -> VisitClosed:
    return VisitClosed(
        producer="tracer",
        venue_id=venue_id,
        person_key=person(who),
        visit_id=visit_id,
        visit_start=start,
        visit_end=end,
        closed_by=closed_by or ("auto_checkout" if open else "checkout"),
        withdrawn=withdrawn,
        open=open,
    )


def exposure(case_id: str, who: str, degree: int = 1, exposed_at: datetime = NOW, **fields: Any) -> ExposureChanged:
    if fields.get("withdrawn"):
        return ExposureChanged(producer="tracer", case_id=case_id, person_key=person(who), **fields)
    return ExposureChanged(
        producer="tracer",
        case_id=case_id,
        person_key=person(who),
        degree=degree,
        venue_id="v1",
        window_start=exposed_at - timedelta(minutes=10),
        window_end=exposed_at + timedelta(minutes=50),
        exposed_at=exposed_at,
        source_person_key=person("case"),
        **fields,
    )


def confirmed(case_id: str, at: datetime = NOW) -> CaseConfirmed:
    return CaseConfirmed(producer="ingest", case_id=case_id, person_key=person("case"), tested_at=at, confirmed_at=at)


def history(read_model: ReadModel, start: datetime, end: datetime, venue_id: str = "v1") -> list[tuple[str, str]]:
    return [(v["visit_id"], v["end"]) for v in read_model.venue_visits(venue_id, start, end)]


# --- visits ------------------------------------------------------------------------------------------


def test_a_visits_latest_record_replaces_it_and_a_withdrawal_removes_it(read_model: ReadModel) -> None:
    # Given a visit recorded open, then closed by a check-out, and another visit
    start = NOW - timedelta(hours=2)
    read_model.record_visits(
        [
            visit("x", start, start + timedelta(hours=1), open=True),
            visit("x", start, start + timedelta(minutes=20)),
            visit("y", start + timedelta(minutes=5), start + timedelta(minutes=30), who="b"),
        ]
    )
    # When the history is read
    listed = read_model.venue_visits("v1", start - timedelta(hours=1), NOW)
    # Then the visit is there once, as its latest record says
    assert [(v["visit_id"], v["end"], v["open"]) for v in listed] == [
        ("x", (start + timedelta(minutes=20)).isoformat(), False),
        ("y", (start + timedelta(minutes=30)).isoformat(), False),
    ]
    # And when the other visit is withdrawn (late data undid it), it leaves the history
    read_model.record_visits([visit("y", start + timedelta(minutes=5), start + timedelta(minutes=30), withdrawn=True)])
    assert history(read_model, start - timedelta(hours=1), NOW) == [("x", (start + timedelta(minutes=20)).isoformat())]


def test_a_venues_history_holds_the_visits_overlapping_the_range_only(read_model: ReadModel) -> None:
    # Given visits before, across the start of, inside, across the end of and after a range, at two venues
    start, end = NOW - timedelta(hours=6), NOW - timedelta(hours=2)
    read_model.record_visits(
        [
            visit("before", start - timedelta(hours=3), start - timedelta(hours=2)),
            visit("across-start", start - timedelta(hours=11), start + timedelta(minutes=1)),  # 12 h stay
            visit("inside", start + timedelta(hours=1), start + timedelta(hours=2)),
            visit("across-end", end - timedelta(minutes=1), end + timedelta(hours=1)),
            visit("after", end + timedelta(minutes=1), end + timedelta(hours=1)),
            visit("elsewhere", start + timedelta(hours=1), start + timedelta(hours=2), venue_id="v2"),
        ]
    )
    # When the history of the range is read
    listed = read_model.venue_visits("v1", start, end)
    # Then it holds the visits of the venue that overlap it, by start
    assert [v["visit_id"] for v in listed] == ["across-start", "inside", "across-end"]


def test_a_range_given_in_another_time_zone_finds_the_same_visits(read_model: ReadModel) -> None:
    # Given a visit just after midnight UTC, which is morning in Vietnam
    midnight = datetime.combine(NOW.date(), datetime.min.time(), UTC)
    read_model.record_visits([visit("early", midnight + timedelta(minutes=5), midnight + timedelta(minutes=50))])
    # When the range is given in Vietnam's time zone (the day before's evening included, in UTC days)
    vietnam = timezone(timedelta(hours=7))
    listed = read_model.venue_visits(
        "v1", midnight.astimezone(vietnam), (midnight + timedelta(hours=1)).astimezone(vietnam)
    )
    # Then the visit is found
    assert [v["visit_id"] for v in listed] == ["early"]


def test_an_out_only_visit_whose_start_moves_to_the_day_before_is_listed_once(read_model: ReadModel) -> None:
    # Given an out-only visit recorded with a short dwell time, starting just after midnight
    midnight = datetime.combine(NOW.date(), datetime.min.time(), UTC)
    out = midnight + timedelta(minutes=30)
    read_model.record_visits([visit("o", out - timedelta(minutes=20), out, closed_by="out_only")])
    # When it is recorded again with a longer dwell time, starting the day before
    read_model.record_visits([visit("o", out - timedelta(hours=2), out, closed_by="out_only")])
    # Then the history holds it once, with its new start
    listed = read_model.venue_visits("v1", midnight - timedelta(hours=3), out)
    assert [(v["visit_id"], v["start"]) for v in listed] == [("o", (out - timedelta(hours=2)).isoformat())]


def test_a_venues_day_expires_once_the_retention_period_has_passed_since_it(
    read_model: ReadModel, client: redis.Redis, settings: TracerSettings
) -> None:
    # Given a recent visit and one from before the retention period (a late record, or a replay)
    start = NOW - timedelta(hours=1)
    read_model.record_visits(
        [
            visit("recent", start, NOW),
            visit("old", NOW - timedelta(days=30), NOW - timedelta(days=30) + timedelta(hours=1)),
        ]
    )
    # Then its day's key (the UTC day it began: yesterday's in the first hour after midnight) expires a day
    # after the retention period has passed since the day's visits could end
    key = read_model.visits_key("v1", start.date())
    end_of_day = datetime.combine(start.date() + timedelta(days=1), datetime.min.time(), UTC)
    expected = end_of_day + settings.longest_visit + settings.retention + timedelta(days=1)
    assert abs(client.pexpiretime(key) / 1000 - expected.timestamp()) < 1
    # And the old one is not kept at all
    assert not client.exists(read_model.visits_key("v1", (NOW - timedelta(days=30)).date()))


def test_visits_and_contacts_past_the_retention_period_are_not_read(
    servers: Servers, namespace: str, client: redis.Redis
) -> None:
    # Given a retention period of one hour, a visit and a contact of two hours ago and others of now
    settings = tracer_settings(servers, namespace, retention_seconds=3600)
    read_model = ReadModel(client, settings)
    earlier = NOW - timedelta(hours=2)
    read_model.record_visits(
        [visit("old", earlier, earlier + timedelta(minutes=30)), visit("new", NOW - timedelta(minutes=5), NOW)]
    )
    read_model.record_exposures([exposure("c1", "old", exposed_at=earlier), exposure("c1", "new")])
    # When they are read
    visits = read_model.venue_visits("v1", NOW - timedelta(minutes=59), NOW)
    contacts = read_model.case_contacts("c1")
    # Then only those within the retention period are there
    assert [v["visit_id"] for v in visits] == ["new"]
    assert contacts is not None
    assert [c["person_key"] for c in contacts] == [person("new")]


# --- contacts -----------------------------------------------------------------------------------------


def test_contacts_are_listed_f1_before_f2_each_by_exposure_time(read_model: ReadModel) -> None:
    # Given a case's contacts of both degrees, found in no particular order
    read_model.record_exposures(
        [
            exposure("c1", "f2-early", degree=2, exposed_at=NOW - timedelta(hours=3)),
            exposure("c1", "f1-late", exposed_at=NOW - timedelta(hours=1)),
            exposure("c1", "f1-early", exposed_at=NOW - timedelta(hours=2)),
            exposure("c2", "someone-else"),
        ]
    )
    # When the case's contacts are read
    contacts = read_model.case_contacts("c1")
    # Then F1 come first, each degree by exposure time, with the exposure's fields
    assert contacts is not None
    assert [c["person_key"] for c in contacts] == [person("f1-early"), person("f1-late"), person("f2-early")]
    published = exposure("c1", "f1-early", exposed_at=NOW - timedelta(hours=2)).model_dump(mode="json")
    listed = ("person_key", "degree", "venue_id", "window_start", "window_end", "exposed_at", "source_person_key")
    assert contacts[0] == {name: published[name] for name in listed}


def test_a_contacts_correction_replaces_it_and_a_withdrawal_removes_it(read_model: ReadModel) -> None:
    # Given a contact found as F2, then corrected to F1, and another contact
    read_model.record_exposures(
        [exposure("c1", "a", degree=2), exposure("c1", "a", degree=1), exposure("c1", "b", degree=1)]
    )
    contacts = read_model.case_contacts("c1")
    assert contacts is not None
    assert {c["person_key"]: c["degree"] for c in contacts} == {person("a"): 1, person("b"): 1}
    # When the other is withdrawn
    read_model.record_exposures([exposure("c1", "b", withdrawn=True)])
    # Then it leaves the list, and the case stays known
    assert [c["person_key"] for c in read_model.case_contacts("c1") or []] == [person("a")]
    read_model.record_exposures([exposure("c1", "a", withdrawn=True)])
    assert read_model.case_contacts("c1") == []


def test_a_confirmed_case_without_contacts_is_known_and_an_unheard_of_one_is_not(
    read_model: ReadModel, client: redis.Redis, settings: TracerSettings
) -> None:
    # Given a case confirmed, with no contacts, and one confirmed before the retention period
    read_model.record_cases([confirmed("c1"), confirmed("ancient", at=NOW - timedelta(days=60))])
    # Then the first is known with no contacts, the ancient one and a case never seen are not known
    assert read_model.case_contacts("c1") == []
    assert read_model.case_contacts("ancient") is None
    assert read_model.case_contacts("never-seen") is None
    # And the mark expires a day after the retention period
    ttl = client.ttl(read_model.case_key("c1"))
    assert settings.retention.total_seconds() < ttl <= (settings.retention + timedelta(days=1)).total_seconds()


# --- the follower ---------------------------------------------------------------------------------------


def _publish(settings: TracerSettings, spec: topics.TopicSpec, writer: str, *events: Any) -> None:
    publisher = EventPublisher(settings, writer)
    try:
        for event in events:
            publisher.publish_sync(spec, event)
    finally:
        publisher.close()


def test_the_follower_builds_the_read_model_from_the_topics_and_rebuilds_it_when_redis_is_emptied(
    settings: TracerSettings, read_model: ReadModel, client: redis.Redis
) -> None:
    # Given the topics with a visit (recorded open then closed), a contact, a case without contacts, garbage,
    # and a visit in a transaction that was aborted
    ensure_topics(settings, [*INPUTS, topics.DEAD_LETTERS["tracer"]])
    start = NOW - timedelta(hours=1)
    _publish(
        settings,
        topics.VISITS,
        "tracer",
        visit("x", start, start + timedelta(hours=1), open=True),
        visit("x", start, start + timedelta(minutes=30)),
    )
    _publish(settings, topics.EXPOSURES_V2, "tracer", exposure("c1", "a"))
    _publish(settings, topics.CASES, "ingest", confirmed("c2"))
    producer = Producer({**settings.librdkafka_config(), "transactional.id": f"{settings.topic_namespace}-t"})
    producer.init_transactions()
    producer.begin_transaction()
    aborted = visit("aborted", start, start + timedelta(minutes=5))
    producer.produce(settings.topic(topics.VISITS), key=b"v1", value=codec.encode_event(aborted))
    producer.flush(10)
    producer.abort_transaction()
    producer.begin_transaction()
    producer.produce(settings.topic(topics.VISITS), key=b"v1", value=b"{not json")
    producer.commit_transaction(10)
    _publish(settings, topics.VISITS, "tracer", visit("y", start, start + timedelta(minutes=10), who="b"))
    publisher = EventPublisher(settings, "tracer")
    follower = ReadModelFollower(settings, read_model, publisher, check_interval_s=0.5)
    follower.start()
    try:
        # When the follower has read them
        def everything() -> bool:
            # the case without contacts too: a rebuild reads each topic's partitions as they come, so it may be last
            return (
                len(read_model.venue_visits("v1", start, NOW)) == 2
                and bool(read_model.case_contacts("c1"))
                and read_model.case_contacts("c2") is not None
            )

        wait_for(everything, timeout=60, what="the visits and the contact in the read model")
        # Then the read model holds the latest of each, the case without contacts, and no aborted record
        assert history(read_model, start, NOW) == [
            ("x", (start + timedelta(minutes=30)).isoformat()),
            ("y", (start + timedelta(minutes=10)).isoformat()),
        ]
        assert read_model.case_contacts("c2") == []
        assert follower.ready()
        # And the garbage is kept on the dead-letter topic
        dead = TopicReader(settings, topics.DEAD_LETTERS["tracer"])
        try:
            letters = dead.wait_until(lambda found: bool(found), what="the dead letter")
        finally:
            dead.close()
        assert isinstance(letters[0], DeadLettered)
        assert letters[0].value == "{not json"
        # And when Redis loses the read model
        assert client.delete(*client.scan_iter(match=settings.redis_prefix + "*"))
        # Then the follower rebuilds it from the topics
        wait_for(everything, timeout=60, what="the read model rebuilt")
        assert history(read_model, start, NOW) == [
            ("x", (start + timedelta(minutes=30)).isoformat()),
            ("y", (start + timedelta(minutes=10)).isoformat()),
        ]
        assert read_model.case_contacts("c2") == []
    finally:
        follower.stop()
        follower.join(15)
    assert not follower.is_alive()
    # And when Redis loses it while no follower runs (the group's commits say everything was read)
    assert client.delete(*client.scan_iter(match=settings.redis_prefix + "*"))
    restarted = ReadModelFollower(settings, read_model, publisher)
    restarted.start()
    try:
        # Then the next follower rebuilds it from the topics all the same
        wait_for(everything, timeout=60, what="the read model rebuilt on start")
        assert read_model.case_contacts("c2") == []
    finally:
        restarted.stop()
        restarted.join(15)
        publisher.close()


def test_two_followers_share_the_partitions_and_the_read_model_stays_whole_through_rebalances(
    settings: TracerSettings, read_model: ReadModel
) -> None:
    # Given a follower, and visits at venues on every partition, each recorded open and then closed
    ensure_topics(settings, [*INPUTS, topics.DEAD_LETTERS["tracer"]])
    start = NOW - timedelta(hours=1)
    venues = [f"venue-{n}" for n in range(12)]

    def publish_round(tag: str) -> None:
        _publish(
            settings,
            topics.VISITS,
            "tracer",
            *(visit(f"{tag}-{v}", start, start + timedelta(hours=1), venue_id=v, open=True) for v in venues),
            *(visit(f"{tag}-{v}", start, start + timedelta(minutes=20), venue_id=v) for v in venues),
        )

    def all_closed(tags: list[str]) -> bool:
        for v in venues:
            listed = read_model.venue_visits(v, start, NOW)
            if sorted(x["visit_id"] for x in listed) != sorted(f"{t}-{v}" for t in tags):
                return False
            if any(x["open"] for x in listed):
                return False
        return True

    publisher = EventPublisher(settings, "tracer")
    first = ReadModelFollower(settings, read_model, publisher, check_interval_s=0.5)
    second = ReadModelFollower(settings, read_model, publisher, check_interval_s=0.5)
    first.start()
    try:
        publish_round("one")
        wait_for(lambda: all_closed(["one"]), timeout=60, what="the first round")
        # When a second follower joins the group, and more visits come
        second.start()
        wait_for(second.assigned.is_set, timeout=60, what="the second follower in the group")
        publish_round("two")
        # Then every visit is there, as its latest record says
        wait_for(lambda: all_closed(["one", "two"]), timeout=60, what="the second round")
        # And when the first leaves, the second carries on with all the partitions
        first.stop()
        first.join(15)
        publish_round("three")
        wait_for(lambda: all_closed(["one", "two", "three"]), timeout=60, what="the third round")
        assert second.ready()
    finally:
        for follower in (first, second):
            follower.stop()
            follower.join(15)
        publisher.close()


# --- lag ------------------------------------------------------------------------------------------------


def test_a_groups_lag_is_what_it_has_still_to_read_and_none_without_a_broker(settings: TracerSettings) -> None:
    # Given a topic with three records and a group that has read none
    ensure_topics(settings, [topics.EXPOSURES_V2])
    name = settings.topic(topics.EXPOSURES_V2)
    _publish(settings, topics.EXPOSURES_V2, "tracer", *(exposure("c1", str(n)) for n in range(3)))
    group = settings.group_id("tracer", "lag-test")
    # Then the group has all three to read, and a topic that does not exist adds nothing
    assert consumer_group_lag(settings, group, [name, f"{name}.missing"]) == 3
    # And when the group has read them and committed, nothing (once the cached answer is stale)
    consumer = make_consumer(settings, [topics.EXPOSURES_V2], group)
    read: list[Any] = []

    def all_read() -> bool:
        read.extend(records_of(consumer.consume(num_messages=10, timeout=0.5)))
        return len(read) == 3

    wait_for(all_read, what="the three records read")
    consumer.commit(asynchronous=False)
    consumer.close()
    wait_for(lambda: consumer_group_lag(settings, group, [name]) == 0, timeout=10, what="no lag")
    # And with no broker to ask, the lag is unknown
    nowhere = settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{free_port()}"})
    assert consumer_group_lag(nowhere, group, [name]) is None


# --- the health-authority console's part: alerts, the audit, the live channel ----------------------------

BOUND = 10  # alerts and audit entries kept, in these tests


@pytest.fixture
def bounded(client: redis.Redis, servers: Servers, namespace: str) -> ReadModel:
    """A read model keeping at most BOUND alerts and audit entries (same Redis prefix as `client` cleans)."""
    return ReadModel(client, tracer_settings(servers, namespace, max_alerts=BOUND, max_audit_entries=BOUND))


@pytest.fixture
def live(client: redis.Redis, bounded: ReadModel) -> Iterator[list[dict[str, Any]]]:
    """What the live channel is told, as it is told."""
    heard: list[dict[str, Any]] = []
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(**{bounded.live_channel: lambda message: heard.append(json.loads(message["data"]))})
    thread = pubsub.run_in_thread(sleep_time=0.05, daemon=True)
    yield heard
    thread.stop()
    thread.join(5)
    pubsub.close()


def fever(minutes_ago: int, person_key: str = "pk") -> QuarantineAlertRaised:
    return QuarantineAlertRaised(
        producer="tracer",
        person_key=person_key,
        reason="fever",
        detail={"temperature_c": 38.5},
        occurred_at=utc_now() - timedelta(minutes=minutes_ago),
    )


def test_alerts_keep_the_newest_within_their_bound_newest_first(bounded: ReadModel, client: redis.Redis) -> None:
    # Given more alerts than the bound, and one past the retention period
    raised = [fever(minutes_ago=n, person_key=f"pk{n}") for n in range(BOUND + 5)]
    stale = fever(minutes_ago=int(timedelta(days=22).total_seconds() // 60))
    bounded.record([*raised, stale])
    # Then the newest are listed, newest first, and the index holds no more than the bound
    listed = bounded.alerts("all", 100)
    assert [a["alert_id"] for a in listed] == [e.event_id for e in raised[:BOUND]]
    assert client.zcard(bounded.alerts_key) == BOUND
    assert not client.exists(bounded.alert_key(stale.event_id))
    # and each alert's key expires, as does the index
    assert client.ttl(bounded.alert_key(raised[0].event_id)) > 0
    assert client.ttl(bounded.alerts_key) > 0


def test_an_acknowledgement_is_kept_once_and_survives_a_replay(bounded: ReadModel, live: list[dict[str, Any]]) -> None:
    # Given two alerts, one acknowledged twice by different actors
    first, second = fever(2, "a"), fever(1, "b")
    bounded.record([first, second])
    acknowledged = bounded.acknowledge_alert(first.event_id, "health-authority")
    again = bounded.acknowledge_alert(first.event_id, "someone-else")
    # Then the first acknowledgement stands
    assert acknowledged is not None and again == acknowledged
    assert acknowledged["acknowledged_by"] == "health-authority"
    # When the follower replays the alerts (a partition read again)
    bounded.record([first, second])
    # Then the acknowledgement stays, and the statuses split the alerts
    assert [a["alert_id"] for a in bounded.alerts("acknowledged", 10)] == [first.event_id]
    assert [a["alert_id"] for a in bounded.alerts("open", 10)] == [second.event_id]
    assert bounded.acknowledge_alert("no-such-alert", "health-authority") is None
    # and the live channel heard each alert once and the acknowledgement once: the replay announced nothing
    wait_for(lambda: len(live) >= 3, timeout=5, what="three announcements")
    assert [(c["kind"], c["data"]["alert_id"], c["data"]["acknowledged_by"]) for c in live] == [
        ("alert", first.event_id, None),
        ("alert", second.event_id, None),
        ("alert", first.event_id, "health-authority"),
    ]


def test_a_contact_s_changes_are_announced_for_its_case(bounded: ReadModel, live: list[dict[str, Any]]) -> None:
    now = utc_now()
    exposed = ExposureChanged(
        producer="tracer",
        case_id="BN1",
        person_key="pk",
        degree=1,
        venue_id="v",
        window_start=now,
        window_end=now,
        exposed_at=now,
        source_person_key="case",
    )
    withdrawn = ExposureChanged(producer="tracer", case_id="BN1", person_key="pk", withdrawn=True)
    bounded.record([exposed, withdrawn])
    wait_for(lambda: len(live) >= 2, timeout=5, what="two announcements")
    assert [(c["kind"], c["case_id"], c["data"]["withdrawn"], c["data"]["degree"]) for c in live] == [
        ("contact", "BN1", False, 1),
        ("contact", "BN1", True, None),
    ]
    assert "contact" not in live[0]["data"]


def test_the_audit_keeps_the_newest_entries_within_its_bound(bounded: ReadModel, client: redis.Redis) -> None:
    reads = [
        PersonalDataRead(
            producer="ingest",
            actor="health-authority",
            resource=f"/v1/persons/pk{n}",
            person_keys=(f"pk{n}",),
            occurred_at=utc_now() - timedelta(seconds=n),
        )
        for n in range(BOUND + 5)
    ]
    bounded.record(reads)
    bounded.record(reads[:3])  # replayed: the same entries
    entries = bounded.audit(100)
    assert [e["audit_id"] for e in entries] == [r.event_id for r in reads[:BOUND]]
    assert entries[0] == {
        "audit_id": reads[0].event_id,
        "actor": "health-authority",
        "resource": "/v1/persons/pk0",
        "person_keys": ["pk0"],
        "purpose": "",
        "read_at": reads[0].occurred_at.isoformat(),
    }
    assert client.zcard(bounded.audit_key) == BOUND
    assert client.ttl(bounded.audit_key) > 0
    assert [e["audit_id"] for e in bounded.audit(2)] == [r.event_id for r in reads[:2]]
