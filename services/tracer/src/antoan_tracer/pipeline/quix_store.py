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

CF = "default"  # the column family the stages' state lives in


class QuixStore:
    def __init__(self, state: State[Any, Any]) -> None:
        self._state = state
        transaction: Any = state._transaction  # type: ignore[attr-defined]
        prefix: bytes = state._prefix  # type: ignore[attr-defined]
        self._transaction = transaction
        self._head = prefix + SEPARATOR if prefix else b""
        # Reads go to the transaction's cache and then to RocksDB directly, as `PartitionTransaction.get_bytes`
        # does, without its per-call status check and the `typing.cast(Union[..., Literal[...]])` that
        # `RocksDBStorePartition.get` evaluates on every call: in a profile of the stream process under
        # `make demo` the two took about a fifth of its time.
        # That holds for a partition whose values are stored as written: Quix stamps them only once TTLs were
        # used on it (the stages never set one), and then its own read path, which strips the stamps, is taken.
        partition = transaction._partition
        cache = transaction._update_cache
        self._updated: dict[bytes, bytes] = cache._updated[CF][prefix]
        self._deleted: set[bytes] = cache._deleted[CF]
        self._direct = not partition.uses_ttl_stamps and not partition._ttl_stamped_reads_unflagged
        self._rocksdb: Any = partition.get_or_create_column_family(CF) if self._direct else None

    def _get_raw(self, full_key: bytes) -> bytes | None:
        if not self._direct:
            raw: bytes | None = self._state.get_bytes(full_key[len(self._head) :])
            return raw
        if full_key in self._deleted:
            return None
        raw = self._updated.get(full_key)
        if raw is None:
            raw = self._rocksdb.get(full_key)
        return raw

    def get(self, key: str) -> Any | None:
        raw = self._get_raw(self._head + key.encode())
        return None if raw is None else orjson.loads(raw)

    def set(self, key: str, value: Any) -> None:
        self._state.set_bytes(key.encode(), orjson.dumps(value))

    def delete(self, key: str) -> None:
        self._state.delete(key.encode())

    def scan(self, start: str, stop: str) -> Iterator[tuple[str, Any]]:
        head = self._head
        lower, upper = head + start.encode(), head + stop.encode()
        partition = self._transaction._partition
        if not self._direct:
            keys = {key for key in self._updated if lower <= key < upper}
            keys.update(key for key, _ in partition.iter_items(lower_bound=lower, upper_bound=upper))
            raws = {key: self._get_raw(key) for key in keys}
        else:
            # RocksDB's values as the iterator gives them (no second read per key), then what the transaction
            # changed and has not flushed over them
            raws = dict(partition.iter_items(lower_bound=lower, upper_bound=upper))
            raws.update((key, raw) for key, raw in self._updated.items() if lower <= key < upper)
        deleted = self._deleted
        found = [
            (key[len(head) :].decode(), orjson.loads(raw))
            for key, raw in sorted(raws.items())
            if raw is not None and key not in deleted
        ]
        return iter(found)  # materialised: the caller may change the store while it walks


class QuixStores:
    """The stores of the partition of the message being processed."""

    def __init__(self, state: State[Any, Any], message_key: str) -> None:
        self._current = message_key
        self._state = state
        self._others: dict[str, QuixStore] = {}

    def of(self, message_key: str) -> QuixStore:
        store = self._others.get(message_key)
        if store is None:
            if message_key == self._current:
                store = QuixStore(self._state)
            else:
                transaction: Any = self._state._transaction  # type: ignore[attr-defined]
                store = QuixStore(transaction.as_state(prefix=message_key))
            self._others[message_key] = store
        return store
