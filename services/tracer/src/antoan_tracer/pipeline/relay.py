"""The contact-window relay: contacts' windows enter the venue inbox only while the stages keep up.

A contact's window (an F1's, from their exposure on) finds the contacts of the next degree: many more of them
than a case's own windows find, so a busy case's F2 work is many times its F1 work. On one queue, the next
case's F1 waited behind it (the benchmark: the first case's 601 F1 in 1.8 s, the next cases' in 13 to 30 s).
So the person stage writes contacts' windows to their own topic (`tracer.contact-windows.v2`, same keys and
partition count as the venue inbox) and this relay copies them into the venue inbox, partition for partition,
in batches of 10 to 200 windows (halved while the stages are busy, doubled while they idle), only while the
stages' group is less than `TRACER_RELAY_MAX_LAG` records behind on the inboxes, and after each batch only once
its fan-out shows in that lag: a new case's F1 work waits at most for one batch of F2 work, never for a whole
backlog. Measured (7 days x 50,000 visits/day in state, five busy cases one after another): case -> all F1
2.4, 29.6, 23.8, 23.9, 12.9 s before; 2.4, 3.3, 1.9, 2.2, 2.3 s with the relay, the five cases' F2 work done
in the 190 s after the last F1, as its volume allows.

Delivery is at least once (a relay that stops between copying and committing copies a batch again), which
the venue stage absorbs: a window message states the window as it now is (or its removal), each window's
messages keep their order (one key, one partition, one lane), and stating the same window again changes
nothing. Once the stream is quiet, the matches are what the windows and visits give, as before.
"""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer  # type: ignore[import-untyped,unused-ignore]

from antoan_shared import topics
from antoan_shared.threads import RestartingThread
from antoan_tracer.lag import consumer_group_lag
from antoan_tracer.settings import TracerSettings

log = logging.getLogger(__name__)


class WindowRelay(RestartingThread):
    restart_on = (KafkaException,)

    def __init__(
        self, settings: TracerSettings, batch: int = 50, min_batch: int = 10, max_batch: int = 200, pause_s: float = 0.2
    ) -> None:
        super().__init__(name="tracer-window-relay")
        self._settings = settings
        self._batch = batch
        self._min_batch = min_batch
        self._max_batch = max_batch
        self._pause_s = pause_s
        self._source = settings.topic(topics.TRACER_CONTACT_WINDOWS)
        self._target = settings.topic(topics.TRACER_VENUE_INBOX)
        self._inboxes = [settings.topic(spec) for spec in topics.TRACER_INBOXES]
        self.relayed = 0

    def _wait_until_caught_up(self) -> bool:
        """Until the stages are at most TRACER_RELAY_MAX_LAG records behind (False: the relay is stopping); the
        batch size follows how busy they are."""
        limit = self._settings.relay_max_lag
        while not self._stop_requested.is_set():
            behind = self._behind()
            if behind is not None and behind <= limit:
                if behind <= limit // 4:
                    self._batch = min(self._max_batch, self._batch * 2)  # the stages idle: larger steps
                return True
            self._batch = max(self._min_batch, self._batch // 2)  # the stages are busy: smaller steps
            self._stop_requested.wait(self._pause_s)
        return False

    def _behind(self) -> int | None:
        return consumer_group_lag(
            self._settings, self._settings.group_id("tracer"), self._inboxes, max_age_s=self._pause_s / 2
        )

    def _run_once(self) -> None:
        config = self._settings.librdkafka_config()
        consumer = Consumer(
            {
                **config,
                "group.id": self._settings.group_id("tracer", "relay"),
                "isolation.level": "read_committed",  # only what the person stage committed
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": int(self._settings.session_timeout_s * 1000),
                # It may wait long between reads while the stages are behind; librdkafka heartbeats meanwhile.
                "max.poll.interval.ms": 24 * 3600 * 1000,
            }
        )
        producer = Producer({**config, "enable.idempotence": True, "acks": "all", "linger.ms": 5})
        consumer.subscribe([self._source])
        try:
            while not self._stop_requested.is_set():
                messages = consumer.consume(num_messages=self._batch, timeout=self._pause_s)
                if not messages:
                    continue  # nothing waiting: the relay costs one idle fetch, no lag measurement
                if not self._wait_until_caught_up():
                    break  # stopping: the batch is not committed, so it is read again next time
                copied = self._copy(producer, messages)
                if copied:
                    if producer.flush(30) > 0:
                        raise KafkaException("contact windows not acknowledged by the broker")
                    consumer.commit(asynchronous=False)
                    self.relayed += copied
                    # What a batch sets off shows in the lag only two commits later (the venue stage's matches,
                    # then the person stages' work): measure again after that, or the next batches would follow
                    # before the first one's fan-out is seen. (Measured: about 27 inbox records per window.)
                    self._stop_requested.wait(2 * self._settings.commit_interval_s + self._pause_s)
        finally:
            producer.flush(10)
            consumer.close()

    def _copy(self, producer: Any, messages: list[Any]) -> int:
        copied = 0
        for message in messages:
            if message.error() is not None:
                log.warning("contact-window relay read error", extra={"error": str(message.error())})
                continue
            # The same partition number: the venue inbox and this lane share keys and partition counts.
            producer.produce(self._target, key=message.key(), value=message.value(), partition=message.partition())
            copied += 1
        return copied
