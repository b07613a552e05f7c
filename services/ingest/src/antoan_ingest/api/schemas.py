"""Request and response bodies of the ingest API."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from antoan_shared.events import CheckInApp, Direction, HealthDeclaration, VenueCategory


class VenueRegistration(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Cà phê Hạc Thành",
                    "category": "cafe",
                    "address": "12 Lê Lợi, Phường Điện Biên, TP Thanh Hóa",
                    "province_code": "38",
                    "district_code": "380",
                    "ward_code": "14755",
                    "lat": 19.8067,
                    "lon": 105.7852,
                    "capacity": 40,
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    category: VenueCategory
    address: str = Field(default="", max_length=500)
    province_code: str = Field(default="", pattern=r"^(\d{2})?$")
    district_code: str = Field(default="", pattern=r"^(\d{3})?$")
    ward_code: str = Field(default="", pattern=r"^(\d{5})?$")
    lat: float | None = Field(default=None, ge=8.0, le=24.0)  # Vietnam, with its islands
    lon: float | None = Field(default=None, ge=102.0, le=118.0)
    capacity: int = Field(ge=1, le=1_000_000)


class VenueRegistered(BaseModel):
    venue_id: str
    qr: str = Field(description="Payload for the printed poster's QR code")
    api_key: str = Field(description="Key for the venue's scanner devices; shown once, stored only as a hash")


class CheckInRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "venue_qr": "ANTOAN1.S.k1.v_3f2a9c1b7d4e5a60.Q2xq…",
                    "person_id": "0912345678",
                    "direction": "in",
                    "scanned_at": "2021-09-01T08:30:00+07:00",
                    "app": "pc-covid",
                    "client_event_id": "3b8e2a4e-5a0b-4d7f-9a43-0c2f7c1f6b9e",
                }
            ]
        },
    )

    venue_qr: str = Field(min_length=1, max_length=512)
    person_id: str = Field(min_length=1, max_length=64)
    direction: Direction = Direction.IN
    scanned_at: AwareDatetime | None = Field(default=None, description="When the scan happened; default now")
    app: CheckInApp
    client_event_id: str | None = Field(default=None, min_length=1, max_length=128)
    declaration: HealthDeclaration | None = None


class CheckInAccepted(BaseModel):
    event_id: str
    person_key: str
    venue_id: str
