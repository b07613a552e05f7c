"""The services' Redis clients."""

from __future__ import annotations

import contextlib
from typing import Any

import hiredis
from redis import asyncio as aioredis
from redis.asyncio.connection import AbstractConnection
from redis.connection import HiredisRespSerializer
from redis.utils import HIREDIS_AVAILABLE

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
    if HIREDIS_AVAILABLE:
        pool.connection_class = _packed_by_hiredis(pool.connection_class)
    return aioredis.Redis.from_pool(pool)


class _HiredisPacking:
    """Commands packed by hiredis (C); redis-py's asyncio client packs them in Python, joining each argument onto
    a growing buffer (a batch's vault script, about 12,000 arguments: 14.5 ms), and its synchronous client's
    hiredis serializer first walks every argument in Python to copy bytearrays, which hiredis refuses (2.1 ms).
    Straight to hiredis: 1.1 ms, the same bytes. A command name of several words ("CONFIG GET"), a bytearray,
    or what no packer takes goes to redis-py's serializer, which splits, copies or refuses it."""

    _serializer = HiredisRespSerializer()

    def pack_command(self, *args: Any) -> list[bytes]:
        name = args[0]
        if (" " if isinstance(name, str) else b" ") not in name:
            with contextlib.suppress(TypeError):
                return [hiredis.pack_command(args)]
        packed: list[bytes] = self._serializer.pack(*args)
        return packed


def _packed_by_hiredis(base: type[AbstractConnection]) -> type[AbstractConnection]:
    """`base` (the URL's connection class: TCP, TLS or a Unix socket) with hiredis's packing."""
    return type(f"HiredisPacked{base.__name__}", (_HiredisPacking, base), {})
