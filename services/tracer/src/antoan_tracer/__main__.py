"""`python -m antoan_tracer`: one tracer worker.

Workers started with the same settings form one consumer group and share the partitions. A worker is two
processes: this one, which serves the HTTP reads (port TRACER_PORT) from the read model it feeds (visits.v1
and exposures.v2 into Redis), sends the clock ticks, relays contacts' windows (`pipeline.relay`) and answers
readiness; and its stream processing
(`antoan_tracer.stream`, Quix Streams), a child it starts, watches and starts again if it stops, and which
dies with it. Stopping this process (SIGTERM, Ctrl-C) stops both.
"""

from __future__ import annotations

import logging
import threading

from antoan_shared import topics
from antoan_shared.kafka import ensure_topics
from antoan_shared.logs import configure_logging
from antoan_shared.venues import VenueDirectory, VenueDirectoryFollower
from antoan_tracer import readmodel
from antoan_tracer.pipeline.relay import WindowRelay
from antoan_tracer.pipeline.ticker import Ticker
from antoan_tracer.settings import STREAM_INPUTS, get_settings, tracer_topics
from antoan_tracer.supervisor import StreamSupervisor
from antoan_tracer.worker import Worker

log = logging.getLogger("antoan_tracer")


def main() -> None:
    settings = get_settings()
    configure_logging("tracer", settings.log_level)
    written = tracer_topics(settings)
    # The read model's inputs too (ingest's audit.v1 among them): a topic made after the subscription would be
    # noticed only at librdkafka's next metadata refresh, minutes later.
    ensure_topics(settings, (topics.VENUE_REGISTRY, *STREAM_INPUTS, *written, *readmodel.INPUTS))
    settings.data_dir.mkdir(parents=True, exist_ok=True)

    directory = VenueDirectory()  # for the venue owners' keys
    VenueDirectoryFollower(settings, directory, "tracer").start()
    inboxes = [settings.topic(spec) for spec in topics.TRACER_INBOXES]
    Ticker(settings.librdkafka_config(), inboxes, settings.tick_interval_s).start()
    WindowRelay(settings).start()

    supervisor = StreamSupervisor(settings.data_dir, settings.stream_process_count)
    worker = Worker(settings, directory, supervisor.alive)
    worker.warm_up()
    threading.Thread(target=worker.serve, name="tracer-http", daemon=True).start()
    raise SystemExit(supervisor.run())


if __name__ == "__main__":
    main()
