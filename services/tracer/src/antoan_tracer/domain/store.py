"""The state a stream step reads and writes: small values under string keys, one store per message key.

A step sees the store of its message's key, and the partition's stores of other keys (a clock tick
reaches one key per partition and must visit the keys that fell due). Values are JSON-able (lists, dicts,
numbers, strings). `scan` walks keys in order between two bounds: how a window finds only the visits in
the time buckets it overlaps, and a tick only the entries due by now.

`DictStore` is the in-memory store of the unit and property tests; the Quix Streams one (RocksDB, with a
changelog topic) is `antoan_tracer.pipeline.quix_store`.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator
from typing import Any, Protocol

PARTITION_KEY = "~partition"  # the pseudo message key under which partition-wide entries (due times) live


class Store(Protocol):
    def get(self, key: str) -> Any | None: ...

    def set(self, key: str, value: Any) -> None: ...

    def delete(self, key: str) -> None: ...

    def scan(self, start: str, stop: str) -> Iterator[tuple[str, Any]]:
        """Entries with start <= key < stop, in key order."""
        ...


class Stores(Protocol):
    """The stores of one partition, by message key."""

    def of(self, message_key: str) -> Store: ...


def prefix_stop(prefix: str) -> str:
    """The first key after every key that starts with `prefix` (for `scan(prefix, prefix_stop(prefix))`)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


class DictStore:
    """A store in memory, with its keys kept sorted for `scan`."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self._keys: list[str] = []

    def get(self, key: str) -> Any | None:
        return self.data.get(key)

    def set(self, key: str, value: Any) -> None:
        if key not in self.data:
            insort(self._keys, key)
        self.data[key] = value

    def delete(self, key: str) -> None:
        if self.data.pop(key, None) is not None:
            del self._keys[bisect_left(self._keys, key)]

    def scan(self, start: str, stop: str) -> Iterator[tuple[str, Any]]:
        keys = self._keys[bisect_left(self._keys, start) : bisect_left(self._keys, stop)]
        for key in keys:  # a copy: the caller may change the store while it walks
            if key in self.data:
                yield key, self.data[key]


class DictStores:
    """The in-memory stores of one partition."""

    def __init__(self) -> None:
        self.by_key: dict[str, DictStore] = {}

    def of(self, message_key: str) -> DictStore:
        store = self.by_key.get(message_key)
        if store is None:
            store = self.by_key[message_key] = DictStore()
        return store
