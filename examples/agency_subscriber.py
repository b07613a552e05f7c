"""An agency's subscriber to Antoan's public topics: copy it and adapt it.

It needs only Python 3.11+ and kafka-python (`pip install kafka-python`; tested with 3.0). It follows one of
the public topics of the contract (`contract/asyncapi.yaml`), keeps the latest state per venue or area, and
prints a line each time that state changes:

    venue-risk.v1        each venue's risk level (1-4, green to red) with its reasons; compacted
    area-risk.v1         each ward's, district's and province's risk level, cases in 7 days; compacted
    occupancy.v1         how many people are inside each venue now; compacted
    venue-exposures.v1   a confirmed case's presence window at a venue (no person data); kept 21 days
    venues.v1            the venue registry: registrations, changes, deactivations; compacted

Venues are shown by name and address: the subscriber also reads `venues.v1` (name, address, capacity and
the ward, district and province codes of every venue) and `area-risk.v1` (the names of the areas behind
those codes) from the beginning, without a consumer group. Area risk records carry their area's name.

A new consumer group starts at the beginning of the topic: on a compacted topic that gives the current state
of every venue or area first, then every change as it happens. Offsets are committed after the records are
handled, so a restart in the same group resumes where it stopped; `--from-beginning` reads everything
again in the same group. Records are read with `isolation_level=read_committed` (the tracer writes in
transactions), and the subscriber ignores event types and fields it does not know, as the contract asks.

Every value is UTF-8 JSON: the envelope (`event_id`, `type`, `schema_version`, `occurred_at`, `producer`)
with the event's fields at the top level (schemas: `contract/schemas/<topic>/<type>.json`).

    python agency_subscriber.py --topic area-risk.v1 --bootstrap broker:9093 --group agency.moh-dashboard \\
        --security-protocol SASL_SSL --sasl-username moh --ssl-cafile ca.pem   # password: KAFKA_SASL_PASSWORD

Options (each can also come from the environment variable shown):

    --topic TOPIC              one of the topics above (ANTOAN_TOPIC; default venue-risk.v1)
    --bootstrap HOST:PORT,...  the brokers (KAFKA_BOOTSTRAP; default 127.0.0.1:9092)
    --namespace PREFIX         the deployment's topic prefix, if any (ANTOAN_TOPIC_NAMESPACE)
    --group GROUP              the consumer group (AGENCY_GROUP_ID; default agency.<topic>, after the namespace)
    --from-beginning           read the topic from its beginning again, even in a group that has read it
    --security-protocol NAME   PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (KAFKA_SECURITY_PROTOCOL)
    --sasl-mechanism NAME      SCRAM-SHA-512 by default (KAFKA_SASL_MECHANISM)
    --sasl-username NAME       the agency's login (KAFKA_SASL_USERNAME); the password is only ever read
                               from KAFKA_SASL_PASSWORD, never from the command line
    --ssl-cafile PATH          the operator's CA certificate, for SSL and SASL_SSL (KAFKA_SSL_CAFILE)
    --connect-timeout SECONDS  give up when the brokers cannot be reached or refuse the login (default 5)
    --json                     print each change as a JSON object on its own line
    --exit-when-idle SECONDS   stop after this long without a record (default: follow until Ctrl-C)

A wrong address or login ends the subscriber at once with a one-line message on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.errors import (
    GroupAuthorizationFailedError,
    KafkaError,
    KafkaTimeoutError,
    TopicAuthorizationFailedError,
)

VENUES = "venues.v1"
VENUE_RISK = "venue-risk.v1"
AREA_RISK = "area-risk.v1"
OCCUPANCY = "occupancy.v1"
VENUE_EXPOSURES = "venue-exposures.v1"
PUBLIC_TOPICS = (VENUE_RISK, AREA_RISK, OCCUPANCY, VENUE_EXPOSURES, VENUES)
COLORS = {1: "green", 2: "yellow", 3: "orange", 4: "red"}
Event = dict[str, Any]


# --- what the records say ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Venue:
    """A venue as `venues.v1` last described it (the record carries the venue's full state)."""

    venue_id: str
    name: str
    category: str
    address: str
    province_code: str
    district_code: str
    ward_code: str
    capacity: int | None
    active: bool
    change: str  # registered, updated or deactivated
    occurred_at: datetime
    event_id: str


def parse_venue(event: Event) -> Venue | None:
    if event.get("type") not in ("venue.registered", "venue.updated", "venue.deactivated"):
        return None
    return Venue(
        venue_id=str(event["venue_id"]),
        name=str(event.get("name") or ""),
        category=str(event.get("category") or ""),
        address=str(event.get("address") or ""),
        province_code=str(event.get("province_code") or ""),
        district_code=str(event.get("district_code") or ""),
        ward_code=str(event.get("ward_code") or ""),
        capacity=None if event.get("capacity") is None else int(event["capacity"]),
        active=bool(event.get("active", True)),
        change=str(event["type"]).removeprefix("venue."),
        occurred_at=datetime.fromisoformat(event["occurred_at"]),
        event_id=str(event["event_id"]),
    )


@dataclass(frozen=True)
class Risk:
    """A level on `venue-risk.v1` (key: a venue id) or `area-risk.v1` (key: an area code)."""

    key: str
    level: int
    color: str
    reasons: tuple[str, ...]
    as_of: datetime
    event_id: str
    # area-risk.v1 only
    area_kind: str = ""
    name: str = ""
    cases_7d: int | None = None
    population: int | None = None
    cases_per_100k: float | None = None


def parse_risk(event: Event) -> Risk | None:
    if event.get("type") == "venue_risk.changed":
        key, area = str(event["venue_id"]), False
    elif event.get("type") == "area_risk.changed":
        key, area = str(event["area_code"]), True
    else:
        return None
    level = int(event["level"])
    return Risk(
        key=key,
        level=level,
        color=str(event.get("color") or COLORS.get(level, "")),
        reasons=tuple(str(reason.get("code", "")) for reason in event.get("reasons", [])),
        as_of=datetime.fromisoformat(event["as_of"]),
        event_id=str(event["event_id"]),
        area_kind=str(event.get("area_kind") or "area") if area else "",
        name=str(event.get("name") or "") if area else "",
        cases_7d=int(event.get("cases_7d") or 0) if area else None,
        population=None if event.get("population") is None else int(event["population"]),
        cases_per_100k=None if event.get("cases_per_100k") is None else float(event["cases_per_100k"]),
    )


@dataclass(frozen=True)
class Occupancy:
    venue_id: str
    current: int
    as_of: datetime
    event_id: str


def parse_occupancy(event: Event) -> Occupancy | None:
    if event.get("type") != "occupancy.changed":
        return None
    return Occupancy(
        str(event["venue_id"]), int(event["current"]), datetime.fromisoformat(event["as_of"]), str(event["event_id"])
    )


@dataclass(frozen=True)
class Exposure:
    """A spreader's presence window at a venue: the case itself (degree 0) or one of its F1s (degree 1)."""

    venue_id: str
    case_id: str
    spreader_degree: int
    window_start: datetime
    window_end: datetime
    event_id: str


def parse_exposure(event: Event) -> Exposure | None:
    if event.get("type") != "venue_exposure.recorded":
        return None
    return Exposure(
        venue_id=str(event["venue_id"]),
        case_id=str(event["case_id"]),
        spreader_degree=int(event.get("spreader_degree") or 0),
        window_start=datetime.fromisoformat(event["window_start"]),
        window_end=datetime.fromisoformat(event["window_end"]),
        event_id=str(event["event_id"]),
    )


# --- names: venues.v1 and area-risk.v1 ----------------------------------------------------------------


class Names:
    """What `venues.v1` says of every venue, and the area names `area-risk.v1` carries."""

    def __init__(self) -> None:
        self.venues: dict[str, Venue] = {}
        self.areas: dict[str, str] = {}

    def learn(self, event: Event) -> None:
        venue = parse_venue(event)
        if venue is not None:
            self.venues[venue.venue_id] = venue  # the latest record in partition order is the venue's state
        elif event.get("type") == "area_risk.changed" and event.get("name"):
            self.areas[str(event["area_code"])] = str(event["name"])

    def venue(self, venue_id: str) -> dict[str, Any]:
        """The venue's name, address and areas, for a JSON line (only the id while venues.v1 has not named it)."""
        venue = self.venues.get(venue_id)
        if venue is None:
            return {"id": venue_id}
        return {
            "id": venue_id,
            "name": venue.name,
            "category": venue.category,
            "address": venue.address,
            "capacity": venue.capacity,
            "active": venue.active,
            **{f"{kind}_code": code for kind, code in self._codes(venue)},
            **{f"{kind}_name": self.areas.get(code) for kind, code in self._codes(venue)},
        }

    def label(self, venue_id: str) -> str:
        """`Name (venue id; address, ward, district, province)`, with the names that are known."""
        venue = self.venues.get(venue_id)
        if venue is None:
            return f"venue {venue_id}"
        where = [venue.address] if venue.address else []
        where += [self.areas[code] for _, code in self._codes(venue) if code in self.areas]
        return f"{venue.name or 'unnamed venue'} ({'; '.join([venue_id, ', '.join(where)]) if where else venue_id})"

    @staticmethod
    def _codes(venue: Venue) -> list[tuple[str, str]]:
        return [("ward", venue.ward_code), ("district", venue.district_code), ("province", venue.province_code)]


# --- one follower per topic: the latest state per key, and a line per change --------------------------


@dataclass(frozen=True)
class Line:
    text: str
    fields: dict[str, Any]

    def render(self, as_json: bool) -> str:
        return json.dumps(self.fields, ensure_ascii=False) if as_json else self.text


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _level(level: int | None, color: str) -> str:
    return f"level {level} ({color})"


class RiskFollower:
    """venue-risk.v1 and area-risk.v1: a line when a venue's or area's level (or an area's case count) changes.

    A repeated record (the same event id) or an older one (an earlier `as_of`, say a replay) changes nothing.
    """

    def __init__(self, names: Names, areas: bool) -> None:
        self.names = names
        self.areas = areas
        self.latest: dict[str, Risk] = {}

    def handle(self, event: Event) -> Line | None:
        risk = parse_risk(event)
        if risk is None or bool(risk.area_kind) != self.areas:
            return None
        known = self.latest.get(risk.key)
        if known is not None and (risk.event_id == known.event_id or risk.as_of < known.as_of):
            return None
        self.latest[risk.key] = risk
        if known is not None and (known.level, known.cases_7d) == (risk.level, risk.cases_7d):
            return None
        return self._area_line(known, risk) if self.areas else self._venue_line(known, risk)

    def _venue_line(self, known: Risk | None, risk: Risk) -> Line:
        was = f"from {_level(known.level, known.color)}" if known else "first seen"
        why = ", ".join(risk.reasons) or "no reasons given"
        text = f"{_iso(risk.as_of)} {self.names.label(risk.key)}: {_level(risk.level, risk.color)}, {was}; {why}"
        fields = {
            "venue_id": risk.key,
            "venue": self.names.venue(risk.key),
            "level": risk.level,
            "color": risk.color,
            "previous_level": known.level if known else None,
            "reasons": list(risk.reasons),
            "as_of": _iso(risk.as_of),
        }
        return Line(text, fields)

    def _area_line(self, known: Risk | None, risk: Risk) -> Line:
        if known is None:
            was = "first seen"
        elif known.level != risk.level:
            was = f"from {_level(known.level, known.color)}"
        else:
            was = "level unchanged"
        cases = f"{risk.cases_7d} cases in 7 days"
        if risk.cases_per_100k is not None:
            cases += f" ({risk.cases_per_100k:g} per 100,000)"
        why = ", ".join(risk.reasons) or "no reasons given"
        area = f"{risk.area_kind} {risk.name or 'unnamed'} ({risk.key})"
        text = f"{_iso(risk.as_of)} {area}: {_level(risk.level, risk.color)}, {was}; {cases}; {why}"
        fields = {
            "area_code": risk.key,
            "area_kind": risk.area_kind,
            "name": risk.name,
            "level": risk.level,
            "color": risk.color,
            "previous_level": known.level if known else None,
            "cases_7d": risk.cases_7d,
            "population": risk.population,
            "cases_per_100k": risk.cases_per_100k,
            "reasons": list(risk.reasons),
            "as_of": _iso(risk.as_of),
        }
        return Line(text, fields)


class OccupancyFollower:
    """occupancy.v1: a line when the number of people inside a venue changes (older records change nothing)."""

    def __init__(self, names: Names) -> None:
        self.names = names
        self.latest: dict[str, Occupancy] = {}

    def handle(self, event: Event) -> Line | None:
        now = parse_occupancy(event)
        if now is None:
            return None
        known = self.latest.get(now.venue_id)
        if known is not None and (now.event_id == known.event_id or now.as_of < known.as_of):
            return None
        self.latest[now.venue_id] = now
        if known is not None and known.current == now.current:
            return None
        venue = self.names.venue(now.venue_id)
        of = f" of {venue['capacity']}" if venue.get("capacity") else ""
        was = f"was {known.current}" if known else "first seen"
        text = f"{_iso(now.as_of)} {self.names.label(now.venue_id)}: {now.current} inside{of}, {was}"
        fields = {
            "venue_id": now.venue_id,
            "venue": venue,
            "current": now.current,
            "previous": known.current if known else None,
            "as_of": _iso(now.as_of),
        }
        return Line(text, fields)


class ExposureFollower:
    """venue-exposures.v1: a line for each new presence window of a case at a venue.

    The same window again (a replay, or a restart before the commit) changes nothing; a window whose end moved
    (a late check-out) is a new line. Kept per venue: each case's latest window there.
    """

    def __init__(self, names: Names) -> None:
        self.names = names
        self.latest: dict[str, dict[str, Exposure]] = {}
        self.seen: set[tuple[str, str, int, datetime, datetime]] = set()

    def handle(self, event: Event) -> Line | None:
        exposure = parse_exposure(event)
        if exposure is None:
            return None
        window = (exposure.venue_id, exposure.case_id, exposure.spreader_degree)
        seen = (*window, exposure.window_start, exposure.window_end)
        if seen in self.seen:
            return None
        self.seen.add(seen)
        cases = self.latest.setdefault(exposure.venue_id, {})
        known = cases.get(exposure.case_id)
        if known is None or exposure.window_end >= known.window_end:
            cases[exposure.case_id] = exposure
        who = "the case itself" if exposure.spreader_degree == 0 else f"a degree-{exposure.spreader_degree} contact"
        text = (
            f"{_iso(exposure.window_start)} to {_iso(exposure.window_end)} {self.names.label(exposure.venue_id)}: "
            f"case {exposure.case_id} present ({who}); {len(cases)} case(s) at this venue"
        )
        fields = {
            "venue_id": exposure.venue_id,
            "venue": self.names.venue(exposure.venue_id),
            "case_id": exposure.case_id,
            "spreader_degree": exposure.spreader_degree,
            "window_start": _iso(exposure.window_start),
            "window_end": _iso(exposure.window_end),
            "cases_at_venue": len(cases),
        }
        return Line(text, fields)


class VenueFollower:
    """venues.v1: a line when a venue is registered, deactivated, or its name, address, areas or capacity change."""

    def __init__(self, names: Names) -> None:
        self.names = names

    @staticmethod
    def _shown(venue: Venue) -> tuple[object, ...]:
        return (venue.name, venue.address, venue.ward_code, venue.district_code, venue.province_code, venue.capacity)

    def handle(self, event: Event) -> Line | None:
        venue = parse_venue(event)
        if venue is None:
            return None
        known = self.names.venues.get(venue.venue_id)
        self.names.learn(event)
        if known is not None and (
            venue.event_id == known.event_id
            or (known.active == venue.active and self._shown(known) == self._shown(venue))
        ):
            return None
        change = venue.change
        capacity = f", capacity {venue.capacity}" if venue.capacity else ""
        text = f"{_iso(venue.occurred_at)} {self.names.label(venue.venue_id)}: {change}, {venue.category}{capacity}"
        fields = {
            "venue_id": venue.venue_id,
            "venue": self.names.venue(venue.venue_id),
            "change": change,
            "as_of": _iso(venue.occurred_at),
        }
        return Line(text, fields)


Follower = RiskFollower | OccupancyFollower | ExposureFollower | VenueFollower


def follower_for(topic: str, names: Names) -> Follower:
    makers: dict[str, Callable[[], Follower]] = {
        VENUE_RISK: lambda: RiskFollower(names, areas=False),
        AREA_RISK: lambda: RiskFollower(names, areas=True),
        OCCUPANCY: lambda: OccupancyFollower(names),
        VENUE_EXPOSURES: lambda: ExposureFollower(names),
        VENUES: lambda: VenueFollower(names),
    }
    return makers[topic]()


def followed(follower: Follower) -> str:
    if isinstance(follower, RiskFollower):
        return f"{len(follower.latest)} {'areas' if follower.areas else 'venues'} followed"
    if isinstance(follower, VenueFollower):
        return f"{len(follower.names.venues)} venues followed"
    return f"{len(follower.latest)} venues followed"


def decode(value: bytes | None) -> Event | None:
    """A record's value as an event, or None for a tombstone or a malformed record (said on stderr)."""
    if value is None:
        return None
    try:
        event = json.loads(value)
    except ValueError as exc:
        print(f"skipping a malformed record: {exc}", file=sys.stderr)
        return None
    return event if isinstance(event, dict) else None


# --- Kafka ---------------------------------------------------------------------------------------------


def options(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        description="Follow one of Antoan's public topics and print a line per change (see the module docstring).",
    )
    parser.add_argument(
        "--topic", default=env("ANTOAN_TOPIC", VENUE_RISK), choices=PUBLIC_TOPICS, help="env ANTOAN_TOPIC"
    )
    parser.add_argument(
        "--bootstrap",
        default=env("KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
        metavar="HOST:PORT,...",
        help="env KAFKA_BOOTSTRAP",
    )
    parser.add_argument(
        "--namespace",
        default=env("ANTOAN_TOPIC_NAMESPACE", ""),
        metavar="PREFIX",
        help="the deployment's topic prefix, if any; env ANTOAN_TOPIC_NAMESPACE",
    )
    parser.add_argument(
        "--group",
        default=env("AGENCY_GROUP_ID"),
        help="env AGENCY_GROUP_ID; default agency.<topic> after the namespace",
    )
    parser.add_argument(
        "--from-beginning",
        action="store_true",
        help="read the topic from its beginning again, even in a group that has read it",
    )
    parser.add_argument(
        "--security-protocol",
        default=env("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT"),
        choices=("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"),
        help="env KAFKA_SECURITY_PROTOCOL",
    )
    parser.add_argument(
        "--sasl-mechanism", default=env("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"), help="env KAFKA_SASL_MECHANISM"
    )
    parser.add_argument(
        "--sasl-username",
        default=env("KAFKA_SASL_USERNAME"),
        help="env KAFKA_SASL_USERNAME; the password only from env KAFKA_SASL_PASSWORD",
    )
    parser.add_argument("--ssl-cafile", default=env("KAFKA_SSL_CAFILE"), help="the operator's CA; env KAFKA_SSL_CAFILE")
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="give up when the brokers cannot be reached or refuse the login (default 5)",
    )
    parser.add_argument("--json", action="store_true", help="print each change as a JSON object on its own line")
    parser.add_argument(
        "--exit-when-idle",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop after this long without a record (default: follow until Ctrl-C)",
    )
    opts = parser.parse_args(argv)
    if opts.group is None:
        opts.group = f"{opts.namespace}.agency.{opts.topic}" if opts.namespace else f"agency.{opts.topic}"
    if opts.security_protocol.startswith("SASL") and not (opts.sasl_username and env("KAFKA_SASL_PASSWORD")):
        parser.error(f"{opts.security_protocol} needs --sasl-username and KAFKA_SASL_PASSWORD in the environment")
    return opts


class KafkaLog(logging.Handler):
    """kafka-python's own log: while connecting, the reason the last attempt failed is kept (a refused login
    is kept over the disconnections that follow it); once connected, its errors are shown on stderr."""

    FAILURE = re.compile(r"(?:failed|lost): (.+?)(?: \(backoff [^)]*\))?$")

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.connecting = True
        self.cause = ""

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if not self.connecting:
            # A refusal (AuthorizationFailed) ends the subscriber, which says so itself.
            if record.levelno >= logging.ERROR and "AuthorizationFailed" not in message:
                print(f"kafka: {message}", file=sys.stderr)
            return
        failure = self.FAILURE.search(message)
        # "Unable to bootstrap" is the timeout itself, said anyway.
        if failure and "Authentication" not in self.cause and "Unable to bootstrap" not in failure.group(1):
            self.cause = failure.group(1)


def client_config(opts: argparse.Namespace) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap_servers": opts.bootstrap.split(","),
        "security_protocol": opts.security_protocol,
        "isolation_level": "read_committed",  # the tracer writes in transactions
    }
    # How long the first connection may take: kafka-python 3 calls it bootstrap_timeout_ms, 2.x
    # api_version_auto_timeout_ms (each refuses the other's name).
    for name in ("bootstrap_timeout_ms", "api_version_auto_timeout_ms"):
        if name in KafkaConsumer.DEFAULT_CONFIG:
            config[name] = int(opts.connect_timeout * 1000)
    if opts.security_protocol.startswith("SASL"):
        config.update(
            sasl_mechanism=opts.sasl_mechanism,
            sasl_plain_username=opts.sasl_username,
            sasl_plain_password=os.environ.get("KAFKA_SASL_PASSWORD"),  # never on the command line
        )
    if opts.ssl_cafile:
        config["ssl_cafile"] = opts.ssl_cafile
    return config


def address(opts: argparse.Namespace, topic: str) -> str:
    return f"{opts.namespace}.{topic}" if opts.namespace else topic


class FromBeginning(ConsumerRebalanceListener):  # type: ignore[misc]  # kafka-python has no type hints
    """Seeks every partition the group gives this run to its beginning, once (for `--from-beginning`)."""

    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer
        self.done: set[Any] = set()

    def on_partitions_revoked(self, revoked: Any) -> None:
        pass

    def on_partitions_assigned(self, assigned: Any) -> None:
        fresh = [partition for partition in assigned if partition not in self.done]
        self.done.update(fresh)
        if fresh:
            self.consumer.seek_to_beginning(*fresh)


def subscribe(opts: argparse.Namespace, config: dict[str, Any]) -> Any:
    """The topic's consumer, in the agency's group; raises when the brokers cannot be reached in time."""
    topic = address(opts, opts.topic)
    source = KafkaConsumer(
        **config,
        group_id=opts.group,
        auto_offset_reset="earliest",  # a new group starts from the first record: every venue's or area's state
        enable_auto_commit=False,  # committed after the records are handled, below
    )
    # Asking for the partitions first loads the topic's metadata, so the group assigns them at once.
    if not source.partitions_for_topic(topic):
        print(f"{topic} does not exist (yet) or this login may not read it; waiting for it", file=sys.stderr)
    source.subscribe([topic], listener=FromBeginning(source) if opts.from_beginning else None)
    return source


class Directory:
    """Reads the topics that name things (venues.v1, area-risk.v1) from the beginning, without a group."""

    def __init__(self, config: dict[str, Any], topics: Iterable[str], names: Names) -> None:
        self.names = names
        self.consumer = KafkaConsumer(**config, group_id=None, enable_auto_commit=False)
        self.partitions: list[Any] = []
        for topic in topics:
            found = self.consumer.partitions_for_topic(topic)
            if not found:
                print(f"{topic} does not exist or this login may not read it: no names from it", file=sys.stderr)
            self.partitions += [TopicPartition(topic, partition) for partition in sorted(found or ())]
        self.consumer.assign(self.partitions)
        if self.partitions:
            self.consumer.seek_to_beginning(*self.partitions)

    def catch_up(self, timeout: float = 30.0) -> None:
        """Read every partition up to its end as it is now: what was named before a record is known for it."""
        if not self.partitions:
            return
        ends = self.consumer.end_offsets(self.partitions)
        deadline = time.monotonic() + timeout
        while any(self.consumer.position(p) < end for p, end in ends.items()) and time.monotonic() < deadline:
            for records in self.consumer.poll(timeout_ms=200).values():
                for record in records:
                    event = decode(record.value)
                    try:
                        if event is not None:
                            self.names.learn(event)
                    except (ValueError, KeyError, TypeError, AttributeError) as exc:
                        print(f"skipping a malformed record on {record.topic}: {exc!r}", file=sys.stderr)

    def close(self) -> None:
        self.consumer.close()


def directory_topics(topic: str) -> list[str]:
    if topic == AREA_RISK:
        return []  # area records carry their own names
    return [name for name in (VENUES, AREA_RISK) if name != topic]


def refusal(exc: KafkaError, opts: argparse.Namespace) -> str:
    if isinstance(exc, GroupAuthorizationFailedError):
        return f"error: this login may not use the consumer group {opts.group!r} ({exc}); ask the operator which it may"
    if isinstance(exc, TopicAuthorizationFailedError):
        return f"error: this login may not read {address(opts, opts.topic)} ({exc})"
    return f"error: {exc}"


def main(argv: list[str] | None = None) -> int:
    opts = options(argv)
    kafka_log = KafkaLog()
    logging.getLogger("kafka").addHandler(kafka_log)
    logging.getLogger("kafka").propagate = False
    config = client_config(opts)
    names = Names()
    follower = follower_for(opts.topic, names)
    try:
        source = subscribe(opts, config)
    except KafkaTimeoutError:
        sasl = opts.security_protocol.startswith("SASL")
        cause = kafka_log.cause
        if sasl and cause.endswith("socket disconnected"):
            # A broker refusing a SASL login answers and then closes the connection; when both arrive in one
            # read, kafka-python (3.0.12) reports only the disconnection.
            cause += ", as a broker does after refusing a login"
        why = f" ({cause})" if cause else ""
        login = f"as {opts.sasl_username} " if sasl else ""
        print(
            f"error: could not connect to Kafka at {opts.bootstrap} {login}over {opts.security_protocol} "
            f"within {opts.connect_timeout:g}s{why}; check --bootstrap, --security-protocol and the login",
            file=sys.stderr,
        )
        return 1
    except KafkaError as exc:
        print(refusal(exc, opts), file=sys.stderr)
        return 1
    kafka_log.connecting = False
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    directory: Directory | None = None
    try:
        directory = Directory(config, [address(opts, topic) for topic in directory_topics(opts.topic)], names)
        directory.catch_up()
        last_record = time.monotonic()
        while not stopping:
            batches = source.poll(timeout_ms=500)
            if batches:
                directory.catch_up()  # new venues and renamings, up to now
            for records in batches.values():
                for record in records:
                    event = decode(record.value)
                    if event is None:
                        continue
                    try:
                        line = follower.handle(event)
                    except (ValueError, KeyError, TypeError, AttributeError) as exc:
                        print(f"skipping a malformed record at offset {record.offset}: {exc!r}", file=sys.stderr)
                        continue
                    if line is not None:
                        print(line.render(opts.json), flush=True)
            if batches:
                source.commit()
                last_record = time.monotonic()
            elif opts.exit_when_idle is not None and time.monotonic() - last_record > opts.exit_when_idle:
                break
    except KafkaError as exc:  # refused by the broker's ACLs, say
        print(refusal(exc, opts), file=sys.stderr)
        return 1
    finally:
        if directory is not None:
            directory.close()
        source.close()
    print(followed(follower), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
