"""Request and response bodies of the ingest API."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, StrictBool, StrictFloat, StrictInt

from antoan_ingest.domain.identity import IdentifierKind
from antoan_shared.events import CheckInApp, Direction, HealthDeclaration, Symptom, VenueCategory
from antoan_shared.web import ErrorBody

AreaCodes = dict[str, str]
ProvinceCode = Annotated[str, Field(pattern=r"^(\d{2})?$", description="2 digits, national code list (Thanh Hóa: 38)")]
DistrictCode = Annotated[str, Field(pattern=r"^(\d{3})?$")]
WardCode = Annotated[str, Field(pattern=r"^(\d{5})?$")]
PersonIdText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        description="A Vietnamese phone number (any spelling), a 12-digit CCCD, a 9-digit CMND or a passport number",
        examples=["0912345678"],
    ),
]


# The examples are dated from the day the service started (Vietnam time), so that an example tried as it is
# ("Try it out" in the API docs) is within the API's time bounds: scans and tests yesterday, trips today.
_VIETNAM = timezone(timedelta(hours=7))
_TODAY = datetime.now(_VIETNAM).date()


def _example_day(days_ago: int = 0) -> str:
    return (_TODAY - timedelta(days=days_ago)).isoformat()


def _example_at(clock: str, days_ago: int = 1) -> str:
    return f"{_example_day(days_ago)}T{clock}+07:00"


class _Strict(BaseModel):
    """A request body: no unknown fields, and numbers and booleans as JSON has them (`true` is not 1)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- venues --------------------------------------------------------------------------------------

_VENUE_EXAMPLE: dict[str, JsonValue] = {
    "name": "Cà phê Hạc Thành",
    "category": "cafe",
    "address": "12 Lê Lợi, Phường Điện Biên, TP Thanh Hóa",
    "province_code": "38",
    "district_code": "380",
    "ward_code": "14755",
    "lat": 19.8067,
    "lon": 105.7852,
    "capacity": 40,
    "owner_phone": "0912345678",
}


class VenueRegistration(_Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [_VENUE_EXAMPLE]})

    name: str = Field(min_length=1, max_length=200)
    category: VenueCategory
    address: str = Field(default="", max_length=500)
    province_code: ProvinceCode = ""
    district_code: DistrictCode = ""
    ward_code: WardCode = ""
    lat: StrictFloat | None = Field(default=None, ge=8.0, le=24.0, description="Vietnam, with its islands")
    lon: StrictFloat | None = Field(default=None, ge=102.0, le=118.0)
    capacity: StrictInt = Field(ge=1, le=1_000_000)
    rotating_qr_only: StrictBool = Field(
        default=False,
        description="Take check-ins by QR only from the rotating code on an entrance screen (`GET /v1/venues/{venue_id}"
        "/qr/rotating`), not from the printed poster, which can be photographed and scanned from anywhere",
    )
    owner_phone: PersonIdText | None = Field(default=None, description="Kept in the identity vault, not on topics")


class VenueUpdate(_Strict):
    """Fields to change; those left out keep their value."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"capacity": 60, "name": "Cà phê Hạc Thành 2"}]})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    category: VenueCategory | None = None
    address: str | None = Field(default=None, max_length=500)
    province_code: ProvinceCode | None = None
    district_code: DistrictCode | None = None
    ward_code: WardCode | None = None
    lat: StrictFloat | None = Field(default=None, ge=8.0, le=24.0)
    lon: StrictFloat | None = Field(default=None, ge=102.0, le=118.0)
    capacity: StrictInt | None = Field(default=None, ge=1, le=1_000_000)
    rotating_qr_only: StrictBool | None = None


class VenueCreated(BaseModel):
    venue_id: str
    qr: str = Field(description="The poster's signed QR token (what check-ins send as `venue_qr`)")
    qr_url: str = Field(description="What the poster's QR code encodes: the check-in page for the token")
    api_key: str = Field(description="Key for the venue's scanner devices; shown once, stored only as a hash")


class VenueView(BaseModel):
    venue_id: str
    name: str
    category: VenueCategory
    address: str
    province_code: str
    district_code: str
    ward_code: str
    lat: float | None
    lon: float | None
    capacity: int
    active: bool
    rotating_qr_only: bool


class RotatingQr(BaseModel):
    qr: str = Field(description="The screen code's signed token")
    url: str = Field(description="What the screen's QR code encodes: the check-in page for the token")
    expires_at: AwareDatetime


class VenueOfQr(BaseModel):
    """What a person sees before checking in with a venue's QR code: the venue it names, as the public knows it."""

    venue_id: str
    name: str
    category: VenueCategory
    address: str
    capacity: int
    kind: Literal["static", "rotating"] = Field(description="a printed poster's code or a screen's expiring one")
    expires_at: AwareDatetime | None = Field(description="when a screen's code stops being accepted")


# --- check-ins -----------------------------------------------------------------------------------


class CheckInRequest(_Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "venue_qr": "ANTOAN1.S.k1.v_3f2a9c1b7d4e5a60.N5eI9VN3fjaqqDpiKNo6Qw",
                    "person_id": "0912345678",
                    "direction": "in",
                    "scanned_at": _example_at("08:30:00"),
                    "app": "pc-covid",
                    "client_event_id": "3b8e2a4e-5a0b-4d7f-9a43-0c2f7c1f6b9e",
                },
                {
                    "person_qr": "038099001234|Nguyễn Văn An|01/02/1990|CCCD|Q123|",
                    "direction": "in",
                    "app": "venue-scanner",
                },
            ]
        }
    )

    venue_qr: str | None = Field(default=None, min_length=1, max_length=512, description="Scanned venue QR code")
    person_id: PersonIdText | None = None
    person_qr: str | None = Field(
        default=None,
        min_length=1,
        max_length=512,
        description="Personal QR (SoGiayTo|HoTen|NgaySinh|LoaiDinhDanh|QID|EXT), scanned by staff with the venue key",
    )
    direction: Direction = Direction.IN
    scanned_at: AwareDatetime | None = Field(
        default=None, description="When the scan happened (RFC 3339); now if left out"
    )
    app: CheckInApp
    client_event_id: str | None = Field(default=None, min_length=1, max_length=128, description="Retries reuse it")
    declaration: HealthDeclaration | None = None
    dependants: list[PersonIdText] = Field(
        default_factory=list, max_length=10, description="A household check-in: people without a phone, with this one"
    )


class DependantAccepted(BaseModel):
    event_id: str
    person_key: str


class CheckInAccepted(BaseModel):
    event_id: str
    person_key: str
    venue_id: str
    dependants: list[DependantAccepted] = Field(default_factory=list)


class CheckInBatch(_Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "venue_qr": "ANTOAN1.S.k1.v_3f2a9c1b7d4e5a60.N5eI9VN3fjaqqDpiKNo6Qw",
                            "person_id": "0912345678",
                            "direction": "in",
                            "scanned_at": _example_at("08:30:00"),
                            "app": "venue-scanner",
                            "client_event_id": f"quet-cong-1/{_example_day(1)}/0001",
                        },
                        {
                            "person_qr": "038099001234|Trần Văn Bình|15/06/1985|CCCD|Q456|",
                            "direction": "in",
                            "scanned_at": _example_at("08:31:10"),
                            "app": "venue-scanner",
                            "client_event_id": f"quet-cong-1/{_example_day(1)}/0002",
                        },
                        {
                            "venue_qr": "ANTOAN1.S.k1.v_3f2a9c1b7d4e5a60.N5eI9VN3fjaqqDpiKNo6Qw",
                            "person_id": "0912345678",
                            "direction": "out",
                            "scanned_at": _example_at("09:05:00"),
                            "app": "venue-scanner",
                            "client_event_id": f"quet-cong-1/{_example_day(1)}/0003",
                        },
                    ]
                }
            ]
        }
    )

    items: list[CheckInRequest] = Field(
        min_length=1,
        max_length=10_000,  # the ceiling of ANTOAN_BATCH_MAX_ITEMS; the OpenAPI document gives the configured one
        description="Up to 1,000 scans (an offline upload; ANTOAN_BATCH_MAX_ITEMS)",
    )


class BatchItemResult(BaseModel):
    index: int
    status: int
    result: CheckInAccepted | None = None
    error: ErrorBody | None = None


class BatchResults(BaseModel):
    accepted: int
    rejected: int
    results: list[BatchItemResult]


# --- declarations --------------------------------------------------------------------------------


class Contact(_Strict):
    """Contact details: kept encrypted in the identity vault, never on a topic."""

    full_name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    address: str | None = Field(default=None, max_length=500)
    birth_date: date | None = None


class _DeclarationBase(_Strict):
    person_id: PersonIdText
    declared_by: PersonIdText | None = Field(default=None, description="Who declares, when on behalf of someone")
    declared_at: AwareDatetime | None = None
    contact: Contact | None = None
    client_event_id: str | None = Field(default=None, min_length=1, max_length=128)


# One realistic body per kind: shown in each model's schema and as the named examples of the operation.
DECLARATION_EXAMPLES: dict[str, dict[str, JsonValue]] = {
    "domestic": {
        "kind": "domestic",
        "person_id": "0912345678",
        "contact": {
            "full_name": "Nguyễn Thị Lan",
            "phone": "0912345678",
            "address": "25 Trần Phú, Phường Ba Đình, TP Thanh Hóa",
            "birth_date": "1988-04-12",
        },
        "symptoms": ["cough", "sore_throat"],
        "contact_with_case": False,
        "contact_with_suspected_case": True,
        "places_visited": ["Chợ Vườn Hoa, TP Thanh Hóa", "Bến xe phía Bắc Thanh Hóa"],
    },
    "entry": {
        "kind": "entry",
        "person_id": "038099001234",
        "contact": {"full_name": "Lê Minh Tuấn", "address": "Thôn Đông, Xã Quảng Tâm, TP Thanh Hóa"},
        "nationality": "Việt Nam",
        "flight_or_vehicle": "VN51",
        "seat": "12A",
        "origin": "Tokyo, Nhật Bản",
        "border_gate": "Sân bay quốc tế Nội Bài",
        "arrival_date": _example_day(),
        "travel_history_14d": ["Nhật Bản"],
        "quarantine_address": "Khu cách ly tập trung Trường Quân sự tỉnh Thanh Hóa",
        "symptoms": [],
    },
    "domestic_move": {
        "kind": "domestic_move",
        "person_id": "0987654321",
        "vehicle": "Xe khách Hoàng Long",
        "route_from": "TP Hồ Chí Minh",
        "route_to": "TP Thanh Hóa",
        "departure_gate": "Bến xe Miền Đông",
        "arrival_gate": "Chốt kiểm soát Bỉm Sơn",
        "travel_date": _example_day(),
        "symptoms": [],
    },
    "quarantine_daily": {
        "kind": "quarantine_daily",
        "person_id": "0356789012",
        "declared_by": "0912345678",
        "temperature_c": 37.8,
        "symptoms": ["fever"],
    },
}


class DomesticDeclaration(_DeclarationBase):
    model_config = ConfigDict(json_schema_extra={"examples": [DECLARATION_EXAMPLES["domestic"]]})

    kind: Literal["domestic"]
    symptoms: list[Symptom] = Field(default_factory=list, description="In the last 14 days")
    contact_with_case: StrictBool = False
    contact_with_suspected_case: StrictBool = False
    places_visited: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list, max_length=50)


class EntryDeclaration(_DeclarationBase):
    model_config = ConfigDict(json_schema_extra={"examples": [DECLARATION_EXAMPLES["entry"]]})

    kind: Literal["entry"]
    nationality: str = Field(min_length=2, max_length=64)
    flight_or_vehicle: str = Field(min_length=1, max_length=64)
    seat: str = Field(default="", max_length=16)
    origin: str = Field(min_length=1, max_length=128)
    border_gate: str = Field(min_length=1, max_length=128)
    arrival_date: date
    travel_history_14d: list[Annotated[str, Field(max_length=128)]] = Field(default_factory=list, max_length=50)
    quarantine_address: str = Field(min_length=1, max_length=500)
    symptoms: list[Symptom] = Field(default_factory=list)


class DomesticMoveDeclaration(_DeclarationBase):
    model_config = ConfigDict(json_schema_extra={"examples": [DECLARATION_EXAMPLES["domestic_move"]]})

    kind: Literal["domestic_move"]
    vehicle: str = Field(min_length=1, max_length=64)
    route_from: str = Field(min_length=1, max_length=200)
    route_to: str = Field(min_length=1, max_length=200)
    departure_gate: str = Field(default="", max_length=128)
    arrival_gate: str = Field(default="", max_length=128)
    travel_date: date
    symptoms: list[Symptom] = Field(default_factory=list)


class QuarantineDailyDeclaration(_DeclarationBase):
    model_config = ConfigDict(json_schema_extra={"examples": [DECLARATION_EXAMPLES["quarantine_daily"]]})

    kind: Literal["quarantine_daily"]
    temperature_c: StrictFloat = Field(ge=30.0, le=45.0)
    symptoms: list[Symptom] = Field(default_factory=list)


DeclarationRequest = Annotated[
    DomesticDeclaration | EntryDeclaration | DomesticMoveDeclaration | QuarantineDailyDeclaration,
    Field(discriminator="kind"),
]


class DeclarationAccepted(BaseModel):
    event_id: str
    person_key: str


# --- cases and persons ---------------------------------------------------------------------------


class CaseConfirmation(_Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "person_id": "0912345678",
                    "tested_at": _example_at("10:00:00"),
                    "onset_at": _example_at("08:00:00", days_ago=2),
                    "province_code": "38",
                    "district_code": "380",
                    "ward_code": "14755",
                }
            ]
        }
    )

    person_id: PersonIdText
    case_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="The authority's own id (e.g. BN12345); a retry with it is the same case",
    )
    tested_at: AwareDatetime
    onset_at: AwareDatetime | None = None
    isolated_at: AwareDatetime | None = None
    province_code: ProvinceCode = ""
    district_code: DistrictCode = ""
    ward_code: WardCode = ""


class CaseAccepted(BaseModel):
    case_id: str
    person_key: str


class PersonSearch(_Strict):
    """A person looked up by an identifier the health authority was told (someone calling in)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"kind": "phone", "value": "0912 345 678", "purpose": "Người dân gọi đường dây nóng 1900 9095"},
                {"kind": "cccd", "value": "038099001234", "purpose": "Xác minh F1 tại Phường Điện Biên"},
            ]
        }
    )

    kind: IdentifierKind = Field(description="What the value is")
    value: str = Field(
        min_length=1, max_length=64, description="As given: any spelling of a phone number, a document's number"
    )
    purpose: str = Field(default="", max_length=200, description="Why: kept in the audit log (not the identifier)")


class ContactClaimView(BaseModel):
    field: str = Field(description="The detail: identifier, full_name, phone, address, birth_date, id_type, ...")
    value: str
    source: str = Field(
        description="Who claimed it: health_authority, venue_staff (from a personal QR or an identifier they "
        "checked), venue_owner, self_declared (a check-in or a declaration), or unknown (recorded before sources)"
    )
    claimed_at: AwareDatetime | None


class PersonContact(BaseModel):
    person_key: str
    contact: dict[str, str] = Field(
        description="One value per detail: the most trusted source's, the earliest of equals (all are in `claims`)"
    )
    claims: list[ContactClaimView] = Field(
        description="Every value claimed for this person, with its source and time; nothing is overwritten"
    )
