"""`python -m antoan_tracer`: run one Faust worker of the tracer."""

from __future__ import annotations

import faust

from antoan_shared import topics
from antoan_shared.kafka import ensure_changelog_topics, ensure_topics
from antoan_shared.logs import logging_config
from antoan_shared.venues import VenueDirectory, VenueDirectoryFollower
from antoan_tracer import contacts, web
from antoan_tracer.app import PARTITIONS, Tracer, create_app
from antoan_tracer.people import agents as people
from antoan_tracer.quarantine import agents as quarantine
from antoan_tracer.settings import TracerSettings, get_settings
from antoan_tracer.venues import agents as venues

# Topics the tracer reads or writes; creating them is idempotent, so start-up order does not matter.
TRACER_TOPICS = (
    topics.VENUES,
    topics.CHECKINS,
    topics.CASES,
    topics.DECLARATIONS,
    *topics.topics_written_by("tracer"),
)


def build(settings: TracerSettings) -> tuple[faust.App, VenueDirectoryFollower]:
    app = create_app(settings)
    directory = VenueDirectory()
    follower = VenueDirectoryFollower(settings, directory)
    tracer = Tracer(app, settings, directory, follower)
    people.register(tracer)
    visits_by_day, venue_meta, _ = venues.register(tracer)
    quarantine.register(tracer)
    case_contacts = contacts.register(tracer)
    web.register(tracer, web.Readiness(), case_contacts, venue_meta, visits_by_day)
    return app, follower


def main() -> None:
    settings = get_settings()
    ensure_topics(settings, TRACER_TOPICS)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app, follower = build(settings)
    # Faust would create its changelog topics itself, but a table written before the new topic reaches the
    # producer's metadata fails ("changelog topic has 0 partitions"): they are created before the worker.
    ensure_changelog_topics(
        settings,
        [table.changelog_topic.get_topic_name() for table in app.tables.values()],
        PARTITIONS,
        settings.replication_factor,
    )
    follower.start()
    worker = faust.Worker(
        app,
        loglevel=settings.log_level,
        logging_config=logging_config("tracer", settings.log_level),
        redirect_stdouts=False,
    )
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
