"""The one registry of Kafka topics: name, key, value schema, partitions, compaction, retention, access.

Nothing else in the code base spells a topic name. A deployment may set a namespace
(`ANTOAN_TOPIC_NAMESPACE`), which prefixes every name: tests use it to get topics of their own on a
shared broker, and a staging environment can live beside production on one cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from antoan_shared import events

DAY_MS = 24 * 60 * 60 * 1000
DEFAULT_SEGMENT_MS = 7 * DAY_MS  # the broker's default segment.ms
# SPEC §3.7: check-ins, visits, declarations and exposures are kept 21 days (configurable).
DEFAULT_RETENTION_DAYS = 21


class Access(StrEnum):
    PUBLIC = "public"  # any subscribing agency
    RESTRICTED = "restricted"  # only authorised agencies (ACLs in production)
    INTERNAL = "internal"  # the platform's own services


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str  # the event field the record is keyed by
    value_types: tuple[type[events.Event], ...]
    writer: str
    access: Access
    compacted: bool = False
    partitions: int = 6
    # None: kept forever (compacted registries); otherwise the retention period applies.
    retained_days: int | None = DEFAULT_RETENTION_DAYS
    description: str = ""
    # Internal topics another service reads besides its writer (the ACLs grant them READ).
    readers: tuple[str, ...] = ()

    def address(self, namespace: str = "") -> str:
        """The topic's name on the broker for a deployment namespace."""
        return f"{namespace}.{self.name}" if namespace else self.name

    def retention_ms(
        self, retention_days: int = DEFAULT_RETENTION_DAYS, retention: timedelta | None = None
    ) -> int | None:
        """Topics with the default retention follow the configured period (`retention` wins over days)."""
        if self.retained_days is None:
            return None
        if self.retained_days != DEFAULT_RETENTION_DAYS:
            return self.retained_days * DAY_MS
        if retention is not None:
            return int(retention.total_seconds() * 1000)
        return retention_days * DAY_MS

    def broker_config(
        self, retention_days: int = DEFAULT_RETENTION_DAYS, retention: timedelta | None = None
    ) -> dict[str, str]:
        config = {"cleanup.policy": "compact" if self.compacted else "delete"}
        retention_ms = self.retention_ms(retention_days, retention)
        config["retention.ms"] = "-1" if retention_ms is None else str(retention_ms)
        if retention_ms is not None and retention_ms < DEFAULT_SEGMENT_MS:
            # Retention deletes whole segments: a period shorter than a segment's life needs shorter segments.
            config["segment.ms"] = str(retention_ms)
        return config


VENUES = TopicSpec(
    "venues.v1",
    key="venue_id",
    value_types=(events.VenueRegistered, events.VenueUpdated, events.VenueDeactivated),
    writer="ingest",
    access=Access.PUBLIC,
    compacted=True,
    retained_days=None,
    description=(
        "The venue registry: the latest full state of every venue, without key material (owner_key null, "
        "api_key_hash empty)."
    ),
)
VENUE_REGISTRY = TopicSpec(
    "venue-registry.v1",
    key="venue_id",
    value_types=(events.VenueRegistered, events.VenueUpdated, events.VenueDeactivated),
    writer="ingest",
    access=Access.INTERNAL,
    compacted=True,
    retained_days=None,
    readers=("tracer", "safety-map"),
    description=(
        "The venue registry as the services read it: venues.v1's records with the owner's person_key and the "
        "venue key's hash, which the services check venue keys against. ingest copies each onto venues.v1 "
        "without them."
    ),
)
CHECKINS = TopicSpec(
    "checkins.v1",
    key="venue_id",
    value_types=(events.CheckInRecorded,),
    writer="ingest",
    access=Access.RESTRICTED,
    description="Every accepted QR scan, keyed by venue so one venue's scans stay in order.",
)
DECLARATIONS = TopicSpec(
    "declarations.v1",
    key="person_key",
    value_types=(events.DeclarationSubmitted,),
    writer="ingest",
    access=Access.RESTRICTED,
    description="Health, entry, domestic-move and quarantine daily declarations.",
)
CASES = TopicSpec(
    "cases.v1",
    key="person_key",
    value_types=(events.CaseConfirmed,),
    writer="ingest",
    access=Access.RESTRICTED,
    retained_days=None,
    description="Confirmed cases (F0) as the health authority confirms them.",
)
VISITS = TopicSpec(
    "visits.v1",
    key="venue_id",
    value_types=(events.VisitClosed,),
    writer="tracer",
    access=Access.RESTRICTED,
    description="Closed visit intervals.",
)
OCCUPANCY = TopicSpec(
    "occupancy.v1",
    key="venue_id",
    value_types=(events.OccupancyChanged,),
    writer="tracer",
    access=Access.PUBLIC,
    compacted=True,
    retained_days=None,
    description="Live occupancy per venue (coalesced changes).",
)
EXPOSURES = TopicSpec(
    "exposures.v1",
    key="person_key",
    value_types=(events.ExposureDetected,),
    writer="tracer",
    access=Access.RESTRICTED,
    description=(
        "F1/F2 contacts of a case, keyed by the contact: the best exposure found so far (keep the lowest degree, "
        "then the earliest). Kept for the transition to exposures.v2, which can also correct and withdraw."
    ),
)
EXPOSURES_V2 = TopicSpec(
    "exposures.v2",
    key="person_key",
    value_types=(events.ExposureChanged,),
    writer="tracer",
    access=Access.RESTRICTED,
    description=(
        "F1/F2 contacts of a case, keyed by the contact, exact: the latest record per (case_id, person_key) "
        "wins; corrections and withdrawals are explicit."
    ),
)
VENUE_EXPOSURES = TopicSpec(
    "venue-exposures.v1",
    key="venue_id",
    value_types=(events.VenueExposureRecorded,),
    writer="tracer",
    access=Access.PUBLIC,
    description="A case's presence window at a venue; no person data.",
)
ALERTS = TopicSpec(
    "alerts.v1",
    key="person_key",
    value_types=(events.QuarantineAlertRaised,),
    writer="tracer",
    access=Access.RESTRICTED,
    description="Quarantine alerts for the health authority.",
)
VENUE_RISK = TopicSpec(
    "venue-risk.v1",
    key="venue_id",
    value_types=(events.VenueRiskChanged,),
    writer="safety-map",
    access=Access.PUBLIC,
    compacted=True,
    retained_days=None,
    description="Each venue's current risk level with reasons.",
)
AREA_RISK = TopicSpec(
    "area-risk.v1",
    key="area_code",
    value_types=(events.AreaRiskChanged,),
    writer="safety-map",
    access=Access.PUBLIC,
    compacted=True,
    retained_days=None,
    description="Each ward's, district's and province's current risk level.",
)
# The safety map's own inputs, kept so that its state can be rebuilt from Kafka alone.
VENUE_ASSESSMENTS = TopicSpec(
    "safety-map.assessments.v1",
    key="venue_id",
    value_types=(events.VenueSelfAssessed,),
    writer="safety-map",
    access=Access.INTERNAL,
    compacted=True,
    retained_days=None,
    description="Each venue's latest self-assessment.",
)
VENUE_CLEARANCES = TopicSpec(
    "safety-map.clearances.v1",
    key="venue_id",
    value_types=(events.VenueCleared,),
    writer="safety-map",
    access=Access.INTERNAL,
    compacted=True,
    retained_days=None,
    description="Each venue's latest clearance after disinfection, by the health authority.",
)
AREAS = TopicSpec(
    "safety-map.areas.v1",
    key="area_code",
    value_types=(events.AreaDefined,),
    writer="safety-map",
    access=Access.INTERNAL,
    compacted=True,
    retained_days=None,
    description="Administrative areas (code, kind, name, parent, population) loaded by the health authority.",
)
SAFETY_MAP_INTERNAL = (VENUE_ASSESSMENTS, VENUE_CLEARANCES, AREAS)

IDENTITY_VAULT = TopicSpec(
    "identity-vault.v1",
    key="person_key",
    value_types=(events.IdentityRecorded,),
    writer="ingest",
    access=Access.INTERNAL,
    compacted=True,
    retained_days=None,
    description="Encrypted contact details by person_key, from which the vault can be rebuilt.",
)
DECLARATION_DETAILS = TopicSpec(
    "declaration-details.v1",
    key="person_key",
    value_types=(events.DeclarationDetailsRecorded,),
    writer="ingest",
    access=Access.INTERNAL,
    description="Declarations' free text, encrypted (the vault's key), by the declaration's event id.",
)
AUDIT = TopicSpec(
    "audit.v1",
    key="actor",
    value_types=(events.PersonalDataRead,),
    writer="ingest",
    access=Access.INTERNAL,
    retained_days=400,
    partitions=1,
    description="Every read of personal data, for the audit trail.",
    readers=("tracer",),  # the health-authority console's audit view (the tracer's read model)
)

# The tracer's internal topics (Quix Streams): compact JSON messages between its two keyed stages, defined
# in `antoan_tracer.pipeline.messages`. Their partition count is the tracer's (`TRACER_PARTITIONS`): it
# bounds how many workers can share the work, independent of the public topics'.
TRACER_PERSON_INBOX = TopicSpec(
    "tracer.person-inbox.v2",
    key="person_key",
    value_types=(),
    writer="tracer",
    access=Access.INTERNAL,
    description=(
        "Everything about one person, in order: their scans (checkins.v1 re-keyed), cases, quarantine "
        "declarations, and contact matches found at venues; plus clock ticks to every partition."
    ),
)
TRACER_VENUE_INBOX = TopicSpec(
    "tracer.venue-inbox.v2",
    key="venue_id",
    value_types=(),
    writer="tracer",
    access=Access.INTERNAL,
    description=(
        "Everything matched at one venue: visits and spreaders' windows as they now stand (or their "
        "removal); plus clock ticks to every partition, for automatic check-outs."
    ),
)
# A contact's windows (F1s' and beyond) wait here and enter the venue inbox only while the stages keep up:
# each fans out to many contacts of the next degree, and a new case's F1 must not queue behind that work.
TRACER_CONTACT_WINDOWS = TopicSpec(
    "tracer.contact-windows.v2",
    key="venue_id",
    value_types=(),
    writer="tracer",
    access=Access.INTERNAL,
    description=(
        "Windows of contacts (degree 1 and beyond) on their way to the venue inbox, same keys and partitions; "
        "the tracer's relay admits them while the stages are not behind."
    ),
)
TRACER_INTERNAL = (TRACER_PERSON_INBOX, TRACER_VENUE_INBOX, TRACER_CONTACT_WINDOWS)
# The topics the stages themselves read (the tracer's consumer group); the contact windows are the relay's.
TRACER_INBOXES = (TRACER_PERSON_INBOX, TRACER_VENUE_INBOX)


def _dead_letters(service: str) -> TopicSpec:
    return TopicSpec(
        f"deadletter.{service}.v1",
        key="source_topic",
        value_types=(events.DeadLettered,),
        writer=service,
        access=Access.INTERNAL,
        partitions=1,
        description=f"Records {service} could not handle, with the error.",
    )


DEAD_LETTERS = {service: _dead_letters(service) for service in ("ingest", "tracer", "safety-map")}

# The public contract of SPEC §4.2, in its order.
CONTRACT_TOPICS: tuple[TopicSpec, ...] = (
    VENUES,
    CHECKINS,
    DECLARATIONS,
    CASES,
    VISITS,
    OCCUPANCY,
    EXPOSURES,
    EXPOSURES_V2,
    VENUE_EXPOSURES,
    ALERTS,
    VENUE_RISK,
    AREA_RISK,
)
ALL_TOPICS: tuple[TopicSpec, ...] = (
    *CONTRACT_TOPICS,
    VENUE_REGISTRY,
    IDENTITY_VAULT,
    DECLARATION_DETAILS,
    AUDIT,
    *TRACER_INTERNAL,
    *SAFETY_MAP_INTERNAL,
    *DEAD_LETTERS.values(),
)


def topics_written_by(service: str) -> tuple[TopicSpec, ...]:
    return tuple(spec for spec in ALL_TOPICS if spec.writer == service)
