"""The services' Redis clients."""

from __future__ import annotations

from redis import asyncio as aioredis

# Connections a process keeps to Redis at most. A request needs one only for its round trip (a millisecond),
# so a few dozen serve thousands of requests a second; more concurrent requests wait their turn.
MAX_CONNECTIONS = 64
# How long a request waits for a connection before it is answered 503 store_unavailable.
CONNECTION_WAIT_S = 5.0


def async_redis(url: str, max_connections: int = MAX_CONNECTIONS, wait_s: float = CONNECTION_WAIT_S) -> aioredis.Redis:
    """An asyncio client on a bounded pool whose callers wait for a free connection.

    redis-py's default pool fails a call at once (MaxConnectionsError) when its 100 connections are in use,
    which a burst of requests reaches: ingest answered 503 to scans it could have served a moment later. Each
    new connection also costs the event loop (redis-py looks its own version up on every connect)."""
    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=wait_s)
    return aioredis.Redis.from_pool(pool)
