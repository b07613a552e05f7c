"""The asyncio Redis client packs commands with hiredis: the bytes redis-py's own packer gives, for every URL kind."""

from __future__ import annotations

import pytest
from redis.asyncio import connection
from redis.exceptions import DataError

from antoan_shared.stores import async_redis

COMMANDS = [
    ("EVALSHA", "0123abcd", 3, "idem:a", b"sealed\x00bytes", 12, -4, 0.1, 1e20, 1e-05, "Nguyễn Văn A"),
    ("CONFIG GET", "maxmemory"),
    (b"CLIENT SETNAME", "ingest"),
    ("SET", "k", memoryview(b"a view"), "EX", 30),
    (b"EVALSHA", "0123abcd", 1, "k", bytearray(b"a bytearray"), 2.5),
    (b"SET", "k", b"v"),
]


@pytest.mark.parametrize("args", COMMANDS)
def test_commands_are_packed_as_redis_py_packs_them(args: tuple[object, ...]) -> None:
    client = async_redis("redis://localhost:6379/0")
    packed = client.connection_pool.connection_class().pack_command(*args)
    python_packed = connection.Connection().pack_command(*args)
    assert b"".join(packed) == b"".join(python_packed)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("redis://localhost:6379/0", connection.Connection),
        ("rediss://localhost:6379/0", connection.SSLConnection),
        ("unix:///run/redis.sock", connection.UnixDomainSocketConnection),
    ],
)
def test_the_url_still_chooses_the_connection(url: str, kind: type[connection.AbstractConnection]) -> None:
    assert issubclass(async_redis(url).connection_pool.connection_class, kind)


def test_what_no_packer_takes_is_refused_as_redis_py_refuses_it() -> None:
    client = async_redis("redis://localhost:6379/0")
    with pytest.raises(DataError):
        client.connection_pool.connection_class().pack_command(b"SET", "k", None)
