"""The domain's `Store` over a Quix Streams state transaction (RocksDB, with its changelog topic).

Quix's `State` offers get/set/delete under the current message key. The stages also need the other keys of
the same partition (a clock tick visits the entries that fell due) and ordered scans between two keys (a
window reads the time buckets it overlaps). Both live in the same partition transaction: another key is
`transaction.as_state(prefix=key)`, and a scan walks the partition's RocksDB keys between the two bounds
merged with what the transaction has changed and not yet flushed, as Quix's own windowed state does
(`state/rocksdb/windowed/transaction.py`, `iter_windows`). The scan uses the transaction's private parts:
quixstreams is pinned, and tests/unit/test_quix_store.py checks this adapter on a real RocksDB partition.

Values are JSON (orjson) bytes written with `set_bytes`; keys are the UTF-8 of the domain's string keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from quixstreams.state.base import State
from quixstreams.state.metadata import SEPARATOR


class QuixStore:
    def __init__(self, state: State[Any, Any]) -> None:
        self._state = state

    def get(self, key: str) -> Any | None:
        raw = self._state.get_bytes(key.encode())
        return None if raw is None else orjson.loads(raw)

    def set(self, key: str, value: Any) -> None:
        self._state.set_bytes(key.encode(), orjson.dumps(value))

    def delete(self, key: str) -> None:
        self._state.delete(key.encode())

    def scan(self, start: str, stop: str) -> Iterator[tuple[str, Any]]:
        transaction: Any = self._state._transaction  # type: ignore[attr-defined]
        prefix: bytes = self._state._prefix  # type: ignore[attr-defined]
        head = prefix + SEPARATOR if prefix else b""
        lower, upper = head + start.encode(), head + stop.encode()
        cache = transaction._update_cache
        updated = cache.get_updates().get(prefix, {})
        deleted = cache.get_deletes()
        keys = {key for key in updated if lower <= key < upper}
        keys.update(key for key, _ in transaction._partition.iter_items(lower_bound=lower, upper_bound=upper))
        found = []
        for key in sorted(keys - deleted):
            sub_key = key[len(head) :]
            raw = self._state.get_bytes(sub_key)
            if raw is not None:
                found.append((sub_key.decode(), orjson.loads(raw)))
        return iter(found)  # materialised: the caller may change the store while it walks


class QuixStores:
    """The stores of the partition of the message being processed."""

    def __init__(self, state: State[Any, Any], message_key: str) -> None:
        self._current = message_key
        self._state = state
        self._others: dict[str, QuixStore] = {}

    def of(self, message_key: str) -> QuixStore:
        if message_key == self._current:
            return QuixStore(self._state)
        store = self._others.get(message_key)
        if store is None:
            transaction: Any = self._state._transaction  # type: ignore[attr-defined]
            store = self._others[message_key] = QuixStore(transaction.as_state(prefix=message_key))
        return store
