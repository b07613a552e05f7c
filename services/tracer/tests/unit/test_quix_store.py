"""The domain's Store over a real Quix Streams RocksDB partition (no broker): reads, writes, other message
keys of the partition, and ordered scans merging what is flushed with what the transaction has not flushed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from quixstreams.state.rocksdb import RocksDBStorePartition

from antoan_tracer.domain.store import PARTITION_KEY, prefix_stop
from antoan_tracer.pipeline.quix_store import QuixStores


@pytest.fixture
def partition(tmp_path: Path) -> Iterator[RocksDBStorePartition]:
    store = RocksDBStorePartition(str(tmp_path / "0"))
    yield store
    store.close()


def stores(partition: RocksDBStorePartition, message_key: str) -> tuple[Any, QuixStores]:
    transaction = partition.begin()
    return transaction, QuixStores(transaction.as_state(prefix=message_key), message_key)


def flush(transaction: Any) -> None:
    transaction.prepare()
    transaction.flush()


def test_values_written_are_read_back_within_the_transaction_and_after_it(partition: RocksDBStorePartition) -> None:
    # Given a value written under a venue's key
    transaction, venue = stores(partition, "V1")
    venue.of("V1").set("x|visit-1", ["p1", 10, 20, True, False])
    # Then it reads back before and after the transaction is flushed
    assert venue.of("V1").get("x|visit-1") == ["p1", 10, 20, True, False]
    flush(transaction)
    _, again = stores(partition, "V1")
    assert again.of("V1").get("x|visit-1") == ["p1", 10, 20, True, False]
    assert again.of("V1").get("x|missing") is None
    # And reads went straight to the transaction's cache and RocksDB (the partition is not TTL-stamped), giving
    # what Quix's own read path gives
    assert again.of("V1")._direct
    assert again._state.get_bytes(b"x|visit-1") == b'["p1",10,20,true,false]'


def test_a_scan_merges_flushed_and_unflushed_entries_in_key_order_without_deleted_ones(
    partition: RocksDBStorePartition,
) -> None:
    # Given visits in three hour buckets, flushed
    transaction, venue = stores(partition, "V1")
    store = venue.of("V1")
    for bucket, visit in ((100, "a"), (101, "b"), (102, "c"), (101, "d")):
        store.set(f"v|{bucket:09d}|{visit}", [visit])
    flush(transaction)
    # When a new transaction adds one, changes one and deletes one in the scanned range
    _, venue = stores(partition, "V1")
    store = venue.of("V1")
    store.set("v|000000101|e", ["e"])
    store.set("v|000000101|b", ["b2"])
    store.delete("v|000000101|d")
    # Then a scan of bucket 101 sees exactly what the transaction would leave, in key order
    prefix = "v|000000101|"
    assert list(store.scan(prefix, prefix_stop(prefix))) == [("v|000000101|b", ["b2"]), ("v|000000101|e", ["e"])]
    # and a scan over two buckets stops before the third
    assert [key for key, _ in store.scan("v|000000100|", "v|000000102|")] == [
        "v|000000100|a",
        "v|000000101|b",
        "v|000000101|e",
    ]


def test_a_scan_sees_only_its_own_message_key_even_when_one_key_starts_with_another(
    partition: RocksDBStorePartition,
) -> None:
    # Given entries under venue "V1" and venue "V10", and the partition's due list
    transaction, stores_v1 = stores(partition, "V1")
    stores_v1.of("V1").set("w|000000001|win", ["V1's"])
    stores_v1.of("V10").set("w|000000001|win", ["V10's"])
    stores_v1.of(PARTITION_KEY).set("d|00000000000000005|V1|visit", 1)
    flush(transaction)
    _, again = stores(partition, "V1")
    # Then each key's scan holds its own entries only
    assert list(again.of("V1").scan("w|", prefix_stop("w|"))) == [("w|000000001|win", ["V1's"])]
    assert list(again.of("V10").scan("w|", prefix_stop("w|"))) == [("w|000000001|win", ["V10's"])]
    assert list(again.of(PARTITION_KEY).scan("d|", "d|00000000000000006")) == [("d|00000000000000005|V1|visit", 1)]


def test_entries_can_be_deleted_while_a_scan_is_walked(partition: RocksDBStorePartition) -> None:
    # Given three due entries
    transaction, partition_stores = stores(partition, PARTITION_KEY)
    due = partition_stores.of(PARTITION_KEY)
    for at in (1, 2, 3):
        due.set(f"d|{at:017d}|V|{at}", 1)
    flush(transaction)
    _, partition_stores = stores(partition, PARTITION_KEY)
    due = partition_stores.of(PARTITION_KEY)
    # When a tick walks the due ones and deletes each
    walked = []
    for key, _ in due.scan("d|", f"d|{3:017d}"):
        due.delete(key)
        walked.append(key)
    # Then it saw the two due, and only the third is left
    assert len(walked) == 2
    assert [key for key, _ in due.scan("d|", prefix_stop("d|"))] == [f"d|{3:017d}|V|3"]
