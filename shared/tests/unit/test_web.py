"""Rate limiting arithmetic (no server)."""

from __future__ import annotations

from antoan_shared.web import TokenBuckets


def test_a_client_gets_its_burst_then_its_rate() -> None:
    buckets = TokenBuckets(rate=2.0, burst=3.0)
    assert [buckets.allow("a", 0.0) for _ in range(4)] == [True, True, True, False]
    assert buckets.allow("a", 0.4) is False  # 0.8 of a token so far
    assert buckets.allow("a", 0.5) is True  # one token after half a second at 2/s


def test_clients_have_buckets_of_their_own() -> None:
    buckets = TokenBuckets(rate=1.0, burst=1.0)
    assert buckets.allow("a", 0.0) is True
    assert buckets.allow("a", 0.0) is False
    assert buckets.allow("b", 0.0) is True


def test_forgotten_clients_are_bounded() -> None:
    buckets = TokenBuckets(rate=1.0, burst=1.0, max_clients=2)
    for client in ("a", "b", "c"):
        buckets.allow(client, 0.0)
    assert buckets.allow("a", 0.0) is True  # "a" was forgotten and starts with a full bucket
