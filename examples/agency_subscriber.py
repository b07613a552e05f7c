"""An agency's subscriber to Antoan's venue risk levels (`venue-risk.v1`): copy it and adapt it.

It needs only Python 3.11+ and kafka-python (`pip install kafka-python`). It reads the topic from the
beginning with a consumer group of its own, keeps the latest risk level of every venue, and prints a line
each time a venue's level changes. Because `venue-risk.v1` is compacted, reading it from the beginning gives
the current level of every venue first, then every change as it happens. Offsets are committed after the
records are handled, so a restart resumes where it stopped (use a new group, or `--from-beginning`, to read
everything again).

Every value is UTF-8 JSON: the envelope (`event_id`, `type`, `schema_version`, `occurred_at`, `producer`)
with the event's fields at the top level (schema: `contract/schemas/venue-risk.v1/venue_risk.changed.json`).
The subscriber ignores types and fields it does not know, as the contract asks.

    python agency_subscriber.py --bootstrap broker:9093 --group moh-dashboard \\
        --security-protocol SASL_SSL --sasl-username moh   # password from KAFKA_SASL_PASSWORD

Every option can also come from the environment (shown by `--help`).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kafka import KafkaConsumer

TOPIC = "venue-risk.v1"
EVENT_TYPE = "venue_risk.changed"
COLORS = {1: "green", 2: "yellow", 3: "orange", 4: "red"}


@dataclass(frozen=True)
class VenueRisk:
    venue_id: str
    level: int
    color: str
    reasons: tuple[str, ...]
    as_of: datetime
    event_id: str


def parse(value: bytes | None) -> VenueRisk | None:
    """A record's value as a risk level, or None for anything else (another type, a malformed record)."""
    if value is None:
        return None
    try:
        event = json.loads(value)
        if event.get("type") != EVENT_TYPE:
            return None  # a type this subscriber does not know: skip it
        return VenueRisk(
            venue_id=str(event["venue_id"]),
            level=int(event["level"]),
            color=str(event.get("color") or COLORS.get(int(event["level"]), "")),
            reasons=tuple(str(reason.get("code", "")) for reason in event.get("reasons", [])),
            as_of=datetime.fromisoformat(event["as_of"]),
            event_id=str(event["event_id"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        print(f"skipping a malformed record: {exc}", file=sys.stderr)
        return None


class RiskBoard:
    """The latest level per venue; says which records change it."""

    def __init__(self) -> None:
        self.venues: dict[str, VenueRisk] = {}

    def apply(self, risk: VenueRisk) -> VenueRisk | None:
        """The previous state when `risk` changes the venue's level, else None (a repeat, a replay, an older one)."""
        known = self.venues.get(risk.venue_id)
        if known is not None and (risk.event_id == known.event_id or risk.as_of < known.as_of):
            return None
        self.venues[risk.venue_id] = risk
        if known is not None and known.level == risk.level:
            return None
        return known or VenueRisk(risk.venue_id, 0, "none", (), risk.as_of, "")


def describe(previous: VenueRisk, risk: VenueRisk, as_json: bool) -> str:
    if as_json:
        return json.dumps(
            {
                "venue_id": risk.venue_id,
                "level": risk.level,
                "color": risk.color,
                "previous_level": previous.level or None,
                "reasons": list(risk.reasons),
                "as_of": risk.as_of.isoformat(),
            },
            ensure_ascii=False,
        )
    was = f"from {previous.level} ({previous.color})" if previous.level else "first seen"
    why = ", ".join(risk.reasons) or "no reasons given"
    return f"{risk.as_of.isoformat()} venue {risk.venue_id}: level {risk.level} ({risk.color}), {was}; {why}"


def options(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description="Follow Antoan's venue risk levels (venue-risk.v1).")
    parser.add_argument("--bootstrap", default=env("KAFKA_BOOTSTRAP", "127.0.0.1:9092"), help="env KAFKA_BOOTSTRAP")
    parser.add_argument("--topic", default=env("ANTOAN_TOPIC", TOPIC), help="env ANTOAN_TOPIC")
    parser.add_argument(
        "--namespace", default=env("ANTOAN_TOPIC_NAMESPACE", ""), help="the deployment's topic prefix, if any"
    )
    parser.add_argument("--group", default=env("AGENCY_GROUP_ID", "agency-venue-risk"), help="env AGENCY_GROUP_ID")
    parser.add_argument("--security-protocol", default=env("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT"))
    parser.add_argument("--sasl-mechanism", default=env("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"))
    parser.add_argument("--sasl-username", default=env("KAFKA_SASL_USERNAME"))
    parser.add_argument("--ssl-cafile", default=env("KAFKA_SSL_CAFILE"), help="the operator's CA, for SASL_SSL")
    parser.add_argument("--json", action="store_true", help="print each change as a JSON object on its own line")
    parser.add_argument(
        "--exit-when-idle",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop after this long without a record (default: follow forever)",
    )
    return parser.parse_args(argv)


def consumer(opts: argparse.Namespace) -> KafkaConsumer:
    config: dict[str, Any] = {
        "bootstrap_servers": opts.bootstrap.split(","),
        "group_id": opts.group,
        "auto_offset_reset": "earliest",  # a new group starts from the first record: every venue's level
        "enable_auto_commit": False,  # committed after the records are handled, below
        "security_protocol": opts.security_protocol,
    }
    if opts.security_protocol.startswith("SASL"):
        config.update(
            sasl_mechanism=opts.sasl_mechanism,
            sasl_plain_username=opts.sasl_username,
            sasl_plain_password=os.environ.get("KAFKA_SASL_PASSWORD"),  # never on the command line
        )
    if opts.ssl_cafile:
        config["ssl_cafile"] = opts.ssl_cafile
    topic = f"{opts.namespace}.{opts.topic}" if opts.namespace else opts.topic
    source = KafkaConsumer(**config)
    # Asking for the partitions first loads the topic's metadata, so the group assigns them at once.
    if not source.partitions_for_topic(topic):
        print(f"{topic} does not exist (yet); waiting for it", file=sys.stderr)
    source.subscribe([topic])
    return source


def main(argv: list[str] | None = None) -> int:
    opts = options(argv)
    source = consumer(opts)
    board = RiskBoard()
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    last_record = time.monotonic()
    try:
        while not stopping:
            batches = source.poll(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    risk = parse(record.value)
                    if risk is None:
                        continue
                    previous = board.apply(risk)
                    if previous is not None:
                        print(describe(previous, risk, opts.json), flush=True)
            if batches:
                source.commit()
                last_record = time.monotonic()
            elif opts.exit_when_idle is not None and time.monotonic() - last_record > opts.exit_when_idle:
                break
    finally:
        source.close()
    print(f"{len(board.venues)} venues followed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
