"""The tracer's HTTP pages on Faust's web server: health and readiness."""

from __future__ import annotations

from typing import Any

import faust
from faust.web import Request, Response, View

from antoan_tracer.app import Readiness


def register(app: faust.App, readiness: Readiness) -> None:
    @app.on_partitions_assigned.connect
    async def on_assigned(*_: Any, **__: Any) -> None:
        readiness.assigned = True

    @app.page("/healthz")
    async def healthz(self: View, request: Request) -> Response:
        return self.json({"status": "ok"})

    @app.page("/readyz")
    async def readyz(self: View, request: Request) -> Response:
        checks = {"kafka_assignment": readiness.assigned, "not_rebalancing": not app.rebalancing}
        if all(checks.values()):
            return self.json({"status": "ready", "checks": checks})
        body = {"error": {"code": "not_ready", "message": "the worker has no assignment yet", "detail": checks}}
        return self.json(body, status=503)
