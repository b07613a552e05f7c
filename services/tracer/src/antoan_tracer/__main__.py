"""`python -m antoan_tracer`: one tracer worker (Quix Streams), with its HTTP reads on a thread.

Workers started with the same settings form one consumer group and share the partitions. Each also runs:
the venue directory (venue categories, for dwell times), the clock ticks, the read model that feeds the
HTTP reads (visits.v1 and exposures.v2 into Redis), and the HTTP server (port TRACER_PORT).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from datetime import timedelta

from antoan_shared import topics
from antoan_shared.kafka import ensure_topics
from antoan_shared.logs import configure_logging
from antoan_shared.venues import VenueDirectory, VenueDirectoryFollower
from antoan_tracer.domain.visits import Dwell
from antoan_tracer.pipeline import app as pipeline
from antoan_tracer.pipeline.ticker import Ticker
from antoan_tracer.settings import TracerSettings, get_settings
from antoan_tracer.worker import Worker

log = logging.getLogger("antoan_tracer")
RESTART_DELAY_S = 3.0


def dwell_of(settings: TracerSettings, directory: VenueDirectory) -> Dwell:
    overrides, default = settings.dwell_overrides, settings.dwell  # parsed once

    def dwell(venue_id: str) -> timedelta:
        venue = directory.get(venue_id)
        return overrides.get(venue.category, default) if venue is not None else default

    return dwell


def main() -> None:
    settings = get_settings()
    configure_logging("tracer", settings.log_level)
    written = pipeline.tracer_topics(settings)
    ensure_topics(settings, (topics.VENUES, *pipeline.INPUTS, *written))
    settings.data_dir.mkdir(parents=True, exist_ok=True)

    directory = VenueDirectory()
    VenueDirectoryFollower(settings, directory).start()
    # Dwell times depend on venue categories: the directory is read before the first scan is.
    if not directory.loaded.wait(60):
        log.warning("venue directory not loaded after 60 s; starting with the default dwell for unknown venues")

    app = pipeline.build(settings, dwell_of(settings, directory))
    inboxes = [settings.topic(spec) for spec in topics.TRACER_INTERNAL]
    Ticker(settings.librdkafka_config(), inboxes, settings.tick_interval_s).start()

    worker = Worker(settings, directory)
    worker.warm_up()
    threading.Thread(target=worker.serve, name="tracer-http", daemon=True).start()
    try:
        app.run()
    except Exception:
        # Quix stops on a failed transaction (the broker gone, the group rebalanced under it); nothing it did
        # since the last commit counts. The worker starts again in place, state restored from disk and the
        # changelogs, as a supervisor would restart it, but without one.
        log.exception("stream processing stopped; the worker starts again in %.0f s", RESTART_DELAY_S)
        time.sleep(RESTART_DELAY_S)
        os.execv(sys.executable, [sys.executable, "-m", "antoan_tracer"])  # noqa: S606 (this very program)


if __name__ == "__main__":
    main()
