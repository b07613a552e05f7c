"""Dependencies of the routes, resolved from the application's state (built once in the lifespan)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from antoan_safety_map.adapters.read_model import ReadModel
from antoan_safety_map.settings import SafetyMapSettings
from antoan_shared.kafka import ConsumerLoop, EventPublisher


@dataclass
class Runtime:
    settings: SafetyMapSettings
    read_model: ReadModel
    publisher: EventPublisher
    projector: ConsumerLoop


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
