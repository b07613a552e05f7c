"""Clock ticks for the stages: Quix Streams has no wall-clock timers, so time is a message.

Every few seconds a tick goes to every partition of both inboxes (explicit partitions, not keys). A stage
keeps, per partition, a list of entries by due time (an open visit's automatic check-out, a quarantined
person's next update, a person's oldest scan leaving the retention period); a tick handles those due by
its time and nothing else, so it costs what fell due, not what is stored. Ticks are idempotent: two
workers ticking the same partition do the same work once.
"""

from __future__ import annotations

import logging
import threading
import time

import orjson
from confluent_kafka import Producer

from antoan_tracer.domain.person import tick_message

log = logging.getLogger(__name__)


class Ticker(threading.Thread):
    def __init__(self, producer_config: dict[str, str], topic_names: list[str], interval_s: float) -> None:
        super().__init__(name="tracer-ticker", daemon=True)
        self._config = producer_config
        self._topics = topic_names
        self._interval_s = interval_s
        self._stop_requested = threading.Event()

    def stop(self) -> None:
        self._stop_requested.set()

    def run(self) -> None:
        producer = Producer({**self._config, "linger.ms": 0, "acks": "all"})
        try:
            while not self._stop_requested.wait(self._interval_s):
                try:
                    self._tick(producer)
                except Exception:  # the broker away for a while: the next round tries again
                    log.warning("clock tick not sent", exc_info=True)
        finally:
            producer.flush(5)

    def _tick(self, producer: Producer) -> None:
        value = orjson.dumps(tick_message(time.time_ns() // 1000))
        for name in self._topics:
            # Every partition the topic has (it may have been created with another count than configured now).
            topic = producer.list_topics(topic=name, timeout=self._interval_s).topics.get(name)
            for partition in topic.partitions if topic is not None else ():
                producer.produce(name, value=value, key=b"~tick", partition=partition)
        producer.poll(0)
        producer.flush(self._interval_s)
