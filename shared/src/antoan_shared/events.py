"""Event models for every v1 topic (SPEC §4.2).

Every value on a topic is UTF-8 JSON: the envelope (`event_id`, `type`, `schema_version`, `occurred_at`,
`producer`) with the event's own fields at the top level. Models are frozen; within a version only
additive optional fields are allowed (a breaking change means a new `.v2` topic).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_event_id() -> str:
    return str(uuid.uuid4())


class Event(BaseModel):
    """The envelope every topic value carries."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: str = Field(default_factory=new_event_id, description="Unique id; consumers dedupe on it")
    type: str
    schema_version: int = SCHEMA_VERSION
    occurred_at: AwareDatetime = Field(default_factory=utc_now)
    producer: str = Field(description="Writing service, e.g. `ingest`")


# --- shared vocabularies -------------------------------------------------------------------------


class VenueCategory(StrEnum):
    OFFICE = "office"
    HOSPITAL = "hospital"
    SCHOOL = "school"
    COMPANY = "company"
    SUPERMARKET = "supermarket"
    MARKET = "market"
    HOTEL = "hotel"
    RESTAURANT = "restaurant"
    CAFE = "cafe"
    SHOP = "shop"
    FACTORY = "factory"
    GOVERNMENT = "government"
    PLACE_OF_WORSHIP = "place_of_worship"
    PUBLIC_TRANSPORT = "public_transport"
    OTHER = "other"


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class CheckInApp(StrEnum):
    TOKHAIYTE = "tokhaiyte"
    NCOVI = "ncovi"
    BLUEZONE = "bluezone"
    PC_COVID = "pc-covid"
    VENUE_SCANNER = "venue-scanner"
    STAFF = "staff"


class CheckInMethod(StrEnum):
    VENUE_QR = "venue_qr"  # the person scanned the venue's poster or screen
    PERSON_QR = "person_qr"  # venue staff scanned the person's personal QR
    STAFF = "staff"  # staff checked the person in by identifier, on their behalf


class Symptom(StrEnum):
    FEVER = "fever"
    COUGH = "cough"
    DIFFICULTY_BREATHING = "difficulty_breathing"
    PNEUMONIA = "pneumonia"
    SORE_THROAT = "sore_throat"
    FATIGUE = "fatigue"


class Reason(BaseModel):
    """A machine-readable reason behind a risk level."""

    model_config = ConfigDict(frozen=True)

    code: str
    detail: dict[str, Any] = Field(default_factory=dict)


class HealthDeclaration(BaseModel):
    """The short declaration that may travel with a check-in."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symptoms: tuple[Symptom, ...] = ()
    contact_with_case: bool = False
    contact_with_suspected_case: bool = False


# --- ingest ------------------------------------------------------------------------------------


class VenueState(Event):
    """Full state of a venue. Its topics are compacted, so every record carries everything.

    The internal `venue-registry.v1` carries the key material the services check venue keys against;
    the public `venues.v1` carries the same records without it (`public_copy`)."""

    venue_id: str
    name: str
    category: VenueCategory
    address: str = ""
    province_code: str = ""
    district_code: str = ""
    ward_code: str = ""
    lat: float | None = None
    lon: float | None = None
    capacity: int = Field(ge=1)
    owner_key: str | None = Field(
        default=None,
        description=(
            "person_key of the owner (contact in the vault), on the internal registry only; "
            "always null on venues.v1 since 2026-12-02"
        ),
    )
    api_key_hash: str = Field(
        description=(
            "SHA-256 of the venue API key (the key itself is never stored), on the internal registry only; "
            "always empty on venues.v1 since 2026-12-02"
        )
    )
    qr_key_id: str = ""
    active: bool = True
    rotating_qr_only: bool = Field(
        default=False, description="Check-ins by QR take only the rotating code of the entrance screen"
    )

    def public_copy(self) -> VenueState:
        """The record as `venues.v1` carries it: the same event (id, time, fields), without the owner's
        person_key and the venue key's hash, which only the platform's own services read."""
        return self.model_copy(update={"owner_key": None, "api_key_hash": ""})


class VenueRegistered(VenueState):
    type: Literal["venue.registered"] = "venue.registered"


class VenueUpdated(VenueState):
    type: Literal["venue.updated"] = "venue.updated"


class VenueDeactivated(VenueState):
    type: Literal["venue.deactivated"] = "venue.deactivated"
    active: bool = False


class CheckInRecorded(Event):
    type: Literal["checkin.recorded"] = "checkin.recorded"
    venue_id: str
    person_key: str
    direction: Direction
    scanned_at: AwareDatetime
    app: CheckInApp
    method: CheckInMethod = CheckInMethod.VENUE_QR
    client_event_id: str | None = Field(
        default=None, description="A keyed hash of the client's own id for the scan (never the id itself)"
    )
    declaration: HealthDeclaration | None = None


class DeclarationKind(StrEnum):
    DOMESTIC = "domestic"
    ENTRY = "entry"
    DOMESTIC_MOVE = "domestic_move"
    QUARANTINE_DAILY = "quarantine_daily"


class DeclarationSubmitted(Event):
    type: Literal["declaration.submitted"] = "declaration.submitted"
    person_key: str
    kind: DeclarationKind
    declared_at: AwareDatetime
    submitted_by_key: str | None = Field(default=None, description="Set when declared on behalf of someone")
    symptoms: tuple[Symptom, ...] = ()
    temperature_c: float | None = None
    contact_with_case: bool = False
    contact_with_suspected_case: bool = False
    details: dict[str, Any] = Field(
        default_factory=dict, description="Kind-specific fields (flight, seat, border gate, route, …)"
    )


class IdentityRecorded(Event):
    """Encrypted contact details of a person (the identity vault's durable copy; internal topic)."""

    type: Literal["identity.recorded"] = "identity.recorded"
    person_key: str
    key_id: str = Field(description="Which vault key encrypted the fields")
    fields: dict[str, str] = Field(description="field name -> base64 AES-GCM ciphertext (nonce first)")


class DeclarationDetailsRecorded(Event):
    """A declaration's free text (flight, seat, addresses, routes, places), sealed like the vault's contact
    details and kept apart from `declarations.v1` (internal topic; the same event id as the declaration)."""

    type: Literal["declaration.details_recorded"] = "declaration.details_recorded"
    person_key: str
    key_id: str = Field(description="Which vault key encrypted the fields")
    fields: dict[str, str] = Field(description="field name -> base64 AES-GCM ciphertext of its JSON value")


class PersonalDataRead(Event):
    """An audited read of personal data by the health authority."""

    type: Literal["personal_data.read"] = "personal_data.read"
    actor: str
    resource: str
    person_keys: tuple[str, ...] = ()
    purpose: str = ""


class CaseConfirmed(Event):
    type: Literal["case.confirmed"] = "case.confirmed"
    case_id: str
    person_key: str
    tested_at: AwareDatetime
    onset_at: AwareDatetime | None = None
    isolated_at: AwareDatetime | None = None
    confirmed_at: AwareDatetime
    province_code: str = ""
    district_code: str = ""
    ward_code: str = ""


# --- tracer ------------------------------------------------------------------------------------


class VisitClosed(Event):
    """A visit interval as it now stands. Late scans can change a visit: the latest record per `visit_id`
    is the current one, and `withdrawn` marks a visit that late data undid."""

    type: Literal["visit.closed"] = "visit.closed"
    venue_id: str
    person_key: str
    visit_id: str = ""
    visit_start: AwareDatetime
    visit_end: AwareDatetime
    closed_by: Literal["checkout", "auto_checkout", "moved", "out_only"]
    withdrawn: bool = False
    open: bool = Field(
        default=False, description="Still open after the person's last scan: visit_end is its automatic check-out"
    )


class OccupancyChanged(Event):
    type: Literal["occupancy.changed"] = "occupancy.changed"
    venue_id: str
    current: int = Field(ge=0)
    as_of: AwareDatetime


class ExposureDetected(Event):
    type: Literal["exposure.detected"] = "exposure.detected"
    case_id: str
    person_key: str = Field(description="The contact")
    degree: int = Field(ge=1, description="1 for F1, 2 for F2 (higher only if the maximum degree is raised)")
    venue_id: str
    window_start: AwareDatetime
    window_end: AwareDatetime
    exposed_at: AwareDatetime
    source_person_key: str = Field(description="The case, or the F1 through whom an F2 was exposed")


class ExposureChanged(Event):
    """How one person now stands in one case (`exposures.v2`, exact).

    The latest record per (`case_id`, `person_key`) wins: late data corrects a contact's degree, venue or
    exposure time with a new record, and a contact that no longer holds (a late `out` shrank a visit, an F1
    it came through was withdrawn) gets a record with `withdrawn` true and no exposure fields. Records of one
    person are on one partition, in the order the tracer decided them.
    """

    type: Literal["exposure.changed"] = "exposure.changed"
    schema_version: int = 2
    case_id: str
    person_key: str = Field(description="The contact")
    withdrawn: bool = Field(default=False, description="True: no longer a contact in this case")
    degree: int | None = Field(default=None, ge=1, description="1 for F1, 2 for F2; None when withdrawn")
    venue_id: str | None = None
    window_start: AwareDatetime | None = None
    window_end: AwareDatetime | None = None
    exposed_at: AwareDatetime | None = None
    source_person_key: str | None = Field(
        default=None, description="The case, or the F1 through whom an F2 was exposed; None when withdrawn"
    )


class VenueExposureRecorded(Event):
    """A spreader's presence window at a venue; carries no person data (public)."""

    type: Literal["venue_exposure.recorded"] = "venue_exposure.recorded"
    case_id: str
    venue_id: str
    spreader_degree: int = Field(ge=0, description="0 for the case itself, 1 for an F1")
    window_start: AwareDatetime
    window_end: AwareDatetime


class QuarantineAlertRaised(Event):
    type: Literal["quarantine_alert.raised"] = "quarantine_alert.raised"
    person_key: str
    reason: Literal["fever", "symptom", "missed_update"]
    detail: dict[str, Any] = Field(default_factory=dict)


# --- safety map --------------------------------------------------------------------------------

AreaKind = Literal["province", "district", "ward"]


class VenueSelfAssessed(Event):
    """A venue's answers to the safety self-assessment checklist, with the score they give."""

    type: Literal["venue.self_assessed"] = "venue.self_assessed"
    venue_id: str
    score: int = Field(ge=0, le=100)
    answers: dict[str, bool] = Field(description="criterion id -> met")
    checklist_version: int = 1
    assessed_at: AwareDatetime


class VenueCleared(Event):
    """The health authority cleared a venue after disinfection: case presence before `cleared_at` no longer
    counts towards its risk level."""

    type: Literal["venue.cleared"] = "venue.cleared"
    venue_id: str
    cleared_at: AwareDatetime
    actor: str
    note: str = ""


class AreaDefined(Event):
    """An administrative area as the health authority loaded it (national code list)."""

    type: Literal["area.defined"] = "area.defined"
    area_code: str
    area_kind: AreaKind
    name: str
    parent_code: str | None = None
    population: int | None = Field(default=None, ge=0)
    vaccination_coverage: float | None = Field(
        default=None, ge=0, le=1, description="Share of the population fully vaccinated, when known"
    )


class VenueRiskChanged(Event):
    type: Literal["venue_risk.changed"] = "venue_risk.changed"
    venue_id: str
    level: int = Field(ge=1, le=4)
    color: Literal["green", "yellow", "orange", "red"]
    reasons: tuple[Reason, ...] = ()
    as_of: AwareDatetime


class AreaRiskChanged(Event):
    type: Literal["area_risk.changed"] = "area_risk.changed"
    area_code: str
    area_kind: AreaKind
    name: str = ""
    level: int = Field(ge=1, le=4)
    color: Literal["green", "yellow", "orange", "red"]
    reasons: tuple[Reason, ...] = ()
    cases_7d: int = 0
    population: int | None = None
    cases_per_100k: float | None = None
    as_of: AwareDatetime


class DeadLettered(Event):
    """A record a service could not handle, kept with the error instead of being dropped."""

    type: Literal["dead_letter"] = "dead_letter"
    source_topic: str
    source_partition: int
    source_offset: int
    key: str | None = None
    value: str = Field(description="The original value, as text (undecodable bytes replaced)")
    error: str


AnyEvent = Annotated[
    VenueRegistered
    | VenueUpdated
    | VenueDeactivated
    | IdentityRecorded
    | DeclarationDetailsRecorded
    | PersonalDataRead
    | CheckInRecorded
    | DeclarationSubmitted
    | CaseConfirmed
    | VisitClosed
    | OccupancyChanged
    | ExposureDetected
    | ExposureChanged
    | VenueExposureRecorded
    | QuarantineAlertRaised
    | VenueRiskChanged
    | AreaRiskChanged
    | VenueSelfAssessed
    | VenueCleared
    | AreaDefined
    | DeadLettered,
    Field(discriminator="type"),
]
