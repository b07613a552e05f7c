"""The tracer's two stages wired together in memory, with no broker: for unit and property tests.

Messages travel through per-partition FIFO queues, as on Kafka (a key always lands on the same partition,
in order); which partition is served next is up to the caller's `choose`, so a test can try any
interleaving the real system could produce. The stages, their rules and the state layout are the
production ones; only the transport is in memory.
"""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from antoan_shared import topics
from antoan_shared.events import Event, ExposureChanged, OccupancyChanged
from antoan_tracer.domain.outputs import Out, VisitRecord
from antoan_tracer.domain.person import PersonStage, tick_message
from antoan_tracer.domain.store import DictStores
from antoan_tracer.domain.venue import VenueStage

Queue = deque[tuple[str, dict[str, Any]]]


@dataclass
class LocalPipeline:
    people: PersonStage
    venues: VenueStage
    partitions: int = 3
    person_queues: list[Queue] = field(default_factory=list)
    venue_queues: list[Queue] = field(default_factory=list)
    # The contact-window lane (its relay into the venue inbox): served to the venue stage in any interleaving.
    window_queues: list[Queue] = field(default_factory=list)
    person_stores: list[DictStores] = field(default_factory=list)
    venue_stores: list[DictStores] = field(default_factory=list)
    published: list[Out] = field(default_factory=list)  # every public record, in publication order

    def __post_init__(self) -> None:
        self.person_queues = [deque() for _ in range(self.partitions)]
        self.venue_queues = [deque() for _ in range(self.partitions)]
        self.window_queues = [deque() for _ in range(self.partitions)]
        self.person_stores = [DictStores() for _ in range(self.partitions)]
        self.venue_stores = [DictStores() for _ in range(self.partitions)]

    def _partition(self, key: str) -> int:
        return zlib.crc32(key.encode()) % self.partitions

    @staticmethod
    def _message(out: Out) -> dict[str, Any]:
        """A copy of an inbox's message (the tracer's own topics carry compact messages, never events)."""
        assert isinstance(out.value, dict), out
        return dict(out.value)

    def send(self, out: Out) -> None:
        if out.spec == topics.TRACER_PERSON_INBOX:
            self.person_queues[self._partition(out.key)].append((out.key, self._message(out)))
        elif out.spec == topics.TRACER_VENUE_INBOX:
            self.venue_queues[self._partition(out.key)].append((out.key, self._message(out)))
        elif out.spec == topics.TRACER_CONTACT_WINDOWS:
            self.window_queues[self._partition(out.key)].append((out.key, self._message(out)))
        else:
            self.published.append(out)

    def to_person(self, person: str, message: dict[str, Any]) -> None:
        self.send(Out(topics.TRACER_PERSON_INBOX, person, message))

    def tick(self, now_us: int) -> None:
        for queues in (self.person_queues, self.venue_queues):
            for queue in queues:
                queue.append(("~tick", tick_message(now_us)))

    def pending(self) -> list[tuple[str, int]]:
        """The non-empty queues, as (stage, partition)."""
        return (
            [("person", i) for i, q in enumerate(self.person_queues) if q]
            + [("venue", i) for i, q in enumerate(self.venue_queues) if q]
            + [("windows", i) for i, q in enumerate(self.window_queues) if q]
        )

    def step(self, stage: str, partition: int) -> None:
        if stage == "person":
            key, message = self.person_queues[partition].popleft()
            outs = self.people.handle(self.person_stores[partition], key, message)
        else:
            queue = self.venue_queues[partition] if stage == "venue" else self.window_queues[partition]
            key, message = queue.popleft()
            outs = self.venues.handle(self.venue_stores[partition], key, message)
        for out in outs:
            self.send(out)

    def run(self, choose: Callable[[list[tuple[str, int]]], tuple[str, int]] = lambda ready: ready[0]) -> None:
        """Until the stream is quiet."""
        while ready := self.pending():
            self.step(*choose(ready))

    # --- what was published, reduced as a subscriber would -----------------------------------------------

    def events(self, spec: topics.TopicSpec) -> list[Event]:
        return [
            out.value.event() if isinstance(out.value, VisitRecord) else out.value
            for out in self.published
            if out.spec == spec and isinstance(out.value, Event | VisitRecord)
        ]

    def exposures(self) -> dict[tuple[str, str], ExposureChanged]:
        """exposures.v2 reduced: the latest record per (case, person), withdrawn ones dropped."""
        latest: dict[tuple[str, str], ExposureChanged] = {}
        for event in self.events(topics.EXPOSURES_V2):
            assert isinstance(event, ExposureChanged)
            latest[(event.case_id, event.person_key)] = event
        return {key: event for key, event in latest.items() if not event.withdrawn}

    def occupancy(self) -> dict[str, int]:
        """occupancy.v1 reduced: the latest count per venue."""
        counts: dict[str, int] = {}
        for event in self.events(topics.OCCUPANCY):
            assert isinstance(event, OccupancyChanged)
            counts[event.venue_id] = event.current
        return counts
