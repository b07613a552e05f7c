"""`python -m antoan_ingest`: serve the ingest API, in `INGEST_WORKERS` processes (one per core by default).

Several processes share the port (uvicorn's supervisor starts them and starts a dead one again); each has its
own producer, venue directory and public-venue relay member, takes connections only once its directory is
loaded (so a ready port never has a loading process behind it), and dies with the supervisor. What a process
keeps in memory is its own: the rate limits count per process, as they count per instance behind a load
balancer. Venues written through one process are visible to the others at once (`adapters.recent_venues`).
"""

from __future__ import annotations

import os
import tempfile

from fastapi import FastAPI

from antoan_ingest.app import create_app
from antoan_ingest.settings import get_settings
from antoan_shared.logs import configure_logging
from antoan_shared.processes import die_with
from antoan_shared.web import serve, uvicorn_options

PARENT_PID_VAR = "ANTOAN_INGEST_PARENT_PID"


def worker_count(configured: int) -> int:
    return configured or os.cpu_count() or 1


def worker_app() -> FastAPI:
    """The app of one worker process (uvicorn's factory, imported in each process it starts)."""
    parent = os.environ.get(PARENT_PID_VAR)
    if parent is not None:
        die_with(int(parent))
    settings = get_settings()
    configure_logging("ingest", settings.log_level)
    return create_app(settings)


def main() -> None:
    settings = get_settings()
    workers = worker_count(settings.workers)
    if workers == 1:
        serve(create_app(settings), "ingest", settings)
        return
    import uvicorn

    configure_logging("ingest", settings.log_level)
    os.environ[PARENT_PID_VAR] = str(os.getpid())
    # Each process writes its metrics here and /metrics, answered by any, sums them (prometheus_client's
    # multiprocess mode; the processes read this variable when they start).
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="antoan-ingest-metrics-")
    uvicorn.run("antoan_ingest.__main__:worker_app", factory=True, workers=workers, **uvicorn_options(settings))


if __name__ == "__main__":
    main()
