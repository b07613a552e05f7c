"""`python -m antoan_tracer.stream`: a tracer worker's stream processing (Quix Streams), alone in its process.

`python -m antoan_tracer` starts it and watches it (see `supervisor`). The Quix loop is one Python thread;
in a process of its own no other Python thread (the read model's consumer, the HTTP server) takes the GIL
from it. Measured on the flood (30,000 check-ins, one worker, fetch wait 20 ms): 2,858 check-ins/s with the
read model and the HTTP server in the same process, 4,011/s with them in the supervisor.

It dies with its supervisor (Linux's parent-death signal), so a SIGKILL of the worker stops its stream
processing mid-transaction exactly as before: nothing since the last commit counts.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta

from antoan_shared.logs import configure_logging
from antoan_shared.processes import die_with
from antoan_shared.venues import VenueDirectory, VenueDirectoryFollower
from antoan_tracer.domain.visits import Dwell
from antoan_tracer.pipeline import app as pipeline
from antoan_tracer.settings import TracerSettings, get_settings
from antoan_tracer.supervisor import SUPERVISOR_PID_VAR

log = logging.getLogger("antoan_tracer.stream")


def dwell_of(settings: TracerSettings, directory: VenueDirectory) -> Dwell:
    overrides, default = settings.dwell_overrides, settings.dwell  # parsed once

    def dwell(venue_id: str) -> timedelta:
        venue = directory.get(venue_id)
        return overrides.get(venue.category, default) if venue is not None else default

    return dwell


def die_with_supervisor() -> None:
    """Ask the kernel for SIGKILL when the supervisor goes, and go now if it already has."""
    supervisor = os.environ.get(SUPERVISOR_PID_VAR)
    if supervisor is not None:  # else started by hand
        die_with(int(supervisor))


def main() -> None:
    die_with_supervisor()
    settings = get_settings()
    configure_logging("tracer", settings.log_level)
    directory = VenueDirectory()
    VenueDirectoryFollower(settings, directory, "tracer").start()
    # Dwell times depend on venue categories: the directory is read before the first scan is.
    if not directory.loaded.wait(60):
        log.warning("venue directory not loaded after 60 s; starting with the default dwell for unknown venues")
    pipeline.build(settings, dwell_of(settings, directory)).run()  # until SIGTERM (a clean stop) or an error


if __name__ == "__main__":
    main()
