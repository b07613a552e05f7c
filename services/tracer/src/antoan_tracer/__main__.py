"""`python -m antoan_tracer`: run one Faust worker of the tracer."""

from __future__ import annotations

import faust

from antoan_shared import topics
from antoan_shared.kafka import ensure_topics
from antoan_shared.logs import logging_config
from antoan_tracer import web
from antoan_tracer.app import Readiness, create_app
from antoan_tracer.occupancy import agents as occupancy_agents
from antoan_tracer.settings import TracerSettings, get_settings

# Topics the tracer reads or writes; creating them is idempotent, so start-up order does not matter.
TRACER_TOPICS = (topics.CHECKINS, topics.CASES, topics.DECLARATIONS, *topics.topics_written_by("tracer"))


def build(settings: TracerSettings) -> faust.App:
    app = create_app(settings)
    occupancy_agents.register(app, settings)
    web.register(app, Readiness())
    return app


def main() -> None:
    settings = get_settings()
    ensure_topics(settings, TRACER_TOPICS)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = build(settings)
    worker = faust.Worker(
        app,
        loglevel=settings.log_level,
        logging_config=logging_config("tracer", settings.log_level),
        redirect_stdouts=False,
    )
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
