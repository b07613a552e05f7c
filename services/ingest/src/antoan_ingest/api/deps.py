"""Dependencies of the routes, resolved from the application's state (built once in the lifespan)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from antoan_ingest.adapters.venue_directory import VenueDirectory, VenueDirectoryFollower
from antoan_ingest.settings import IngestSettings
from antoan_shared.kafka import EventPublisher


@dataclass
class Runtime:
    settings: IngestSettings
    publisher: EventPublisher
    venues: VenueDirectory
    follower: VenueDirectoryFollower


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
