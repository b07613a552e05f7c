"""What the tracer's routes depend on (`api.py`, `console.py`): the reads, the ids of paths, the credentials."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request

from antoan_shared.venues import VenueDirectory
from antoan_shared.web import bearer_token, check_health_authority
from antoan_tracer.readmodel import ReadModel
from antoan_tracer.settings import TracerSettings


@dataclass(frozen=True)
class Reads:
    settings: TracerSettings
    read_model: ReadModel
    venues: VenueDirectory


async def get_reads(request: Request) -> Reads:
    reads: Reads = request.app.state.reads
    return reads


ReadsDep = Annotated[Reads, Depends(get_reads)]
BearerToken = Annotated[str | None, Depends(bearer_token)]
CaseId = Annotated[
    str,
    Path(
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The case's id: the health authority's own (e.g. BN12345) or the one ingest gave it",
        openapi_examples={"case": {"summary": "A case the authority numbered", "value": "BN12345"}},
    ),
]


async def require_health_authority(reads: ReadsDep, token: BearerToken) -> str:
    """The caller's token, once it is the health authority's (401 without one, 403 for another)."""
    check_health_authority(token, reads.settings.ha_token.get_secret_value())
    assert token is not None
    return token


async def health_authority_actor(reads: ReadsDep, token: BearerToken) -> str:
    """The actor's name for what the health authority does (401 without a token, 403 for another)."""
    return check_health_authority(token, reads.settings.ha_token.get_secret_value())


HealthAuthorityToken = Annotated[str, Depends(require_health_authority)]
HealthAuthorityActor = Annotated[str, Depends(health_authority_actor)]
