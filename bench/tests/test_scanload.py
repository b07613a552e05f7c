"""The single-scan load generator (bench/scanload) against a small HTTP server of the test's own: every body is
posted once, answers of every framing are read, and a server that stalls shows as latency on every request due
during the stall (open loop: requests keep going out on new connections, on time)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from antoan_bench import loadgen


@dataclass
class Server:
    port: int = 0
    bodies: list[bytes] = field(default_factory=list)
    received_at: dict[bytes, float] = field(default_factory=dict)
    connections: int = 0
    stall_s: float = 0.0


def _answer(status: int, body: bytes, framing: str) -> bytes:
    if framing == "empty":  # no body and nothing to say so: a 204 never has one
        return b"HTTP/1.1 204 No Content\r\nx-note: none\r\n\r\n"
    reason = {202: "Accepted", 503: "Service Unavailable"}[status]
    head = f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
    if framing == "hints":  # an interim answer first, then the final one
        early = b"HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n"
        return early + (head + f"content-length: {len(body)}\r\n\r\n").encode() + body
    if framing == "chunked":
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:3], body[3:]))
        return (head + "transfer-encoding: chunked\r\n\r\n").encode() + chunks + b"0\r\n\r\n"
    if framing == "close":
        return (head + f"content-length: {len(body)}\r\nconnection: close\r\n\r\n").encode() + body
    return (head + f"content-length: {len(body)}\r\n\r\n").encode() + body


@pytest.fixture
def server() -> Iterator[Server]:
    """An HTTP/1.1 server with keep-alive: a body `stall` holds every answer for `stall_s`; `close` answers with
    Connection: close, `chunked` chunked, `empty` 204 with no framing header, `hints` a 103 before its 202,
    `busy` 503; anything else 202 with a Content-Length."""
    state = Server()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    gate = asyncio.Lock()
    stop = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                body = await reader.readexactly(length)
                state.bodies.append(body)
                state.received_at[body] = time.monotonic()
                kind = body.split(b'"')[3] if body.count(b'"') >= 4 else b""
                if kind == b"stall":
                    async with gate:
                        await asyncio.sleep(state.stall_s)
                async with gate:
                    pass
                framing = kind.decode() if kind in (b"close", b"chunked", b"empty", b"hints") else "length"
                writer.write(_answer(503 if kind == b"busy" else 202, b'{"ok":true}', framing))
                await writer.drain()
                if framing == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def serve() -> None:
        srv = await asyncio.start_server(handle, "127.0.0.1", 0)
        state.port = srv.sockets[0].getsockname()[1]
        ready.set()
        async with srv:
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield state
    loop.call_soon_threadsafe(stop.set)
    thread.join(5)
    loop.close()


def _bodies(kinds: list[str]) -> list[bytes]:
    return [b'{"kind": "%s", "n": %d}' % (kind.encode(), n) for n, kind in enumerate(kinds)]


def test_every_body_is_posted_once_and_every_framing_of_answer_is_read(server: Server, tmp_path: Path) -> None:
    # Given 200 bodies at 400/s, some answered with Connection: close, some chunked, some 503
    kinds = ["close" if n % 7 == 3 else "chunked" if n % 5 == 1 else "ok" for n in range(200)]
    kinds = ["busy" if n % 50 == 9 and kind == "ok" else kind for n, kind in enumerate(kinds)]
    bodies = _bodies(kinds)
    # When scanload posts them
    attack = loadgen.attack(f"http://127.0.0.1:{server.port}/v1/checkins", bodies, 400, tmp_path)
    # Then the server received each body exactly once, and every answer was read with its status
    assert sorted(server.bodies) == sorted(bodies)
    busy = kinds.count("busy")
    assert busy > 0
    assert (attack.sent, attack.unsent, attack.accepted, attack.failed) == (200, 0, 200 - busy, busy)
    assert attack.statuses == {"202": 200 - busy, "503": busy}
    assert all(0 <= sent <= due for sent, due in zip(attack.service_ms, attack.latency_ms, strict=True))
    assert attack.seconds == pytest.approx(199 / 400, abs=0.4)


def test_answers_without_a_body_are_read_at_once_and_interim_ones_are_passed_over(
    server: Server, tmp_path: Path
) -> None:
    # Given 100 bodies at 200/s, every third answered 204 with no Content-Length (nor anything else saying its
    # body is empty), every fifth with a 103 Early Hints before its 202
    kinds = ["empty" if n % 3 == 0 else "hints" if n % 5 == 0 else "ok" for n in range(100)]
    bodies = _bodies(kinds)
    # When scanload posts them
    attack = loadgen.attack(f"http://127.0.0.1:{server.port}/v1/checkins", bodies, 200, tmp_path)
    # Then each answer counts with its final status, none waited for a body that never comes (the connection
    # kept, not read to its end), and the 103s were not taken for answers
    empty = kinds.count("empty")
    assert attack.statuses == {"204": empty, "202": 100 - empty}
    assert sorted(server.bodies) == sorted(bodies)
    # (a request waiting for a body that never comes would end at scanload's 30 s timeout; the bounds leave a
    # slow machine room and still catch that)
    assert max(attack.latency_ms) < 10_000
    assert attack.seconds < 10
    assert server.connections < 20


def test_a_stalled_server_shows_as_latency_on_every_request_due_during_the_stall(
    server: Server, tmp_path: Path
) -> None:
    # Given 300 requests at 200/s, and the server holding every answer for 0.4 s from the 101st (due at 0.5 s)
    server.stall_s = 0.4
    kinds = ["stall" if n == 100 else "ok" for n in range(300)]
    bodies = _bodies(kinds)
    # When scanload posts them
    attack = loadgen.attack(f"http://127.0.0.1:{server.port}/v1/checkins", bodies, 200, tmp_path)
    # Then it kept sending on time while the answers waited (open loop): more connections opened
    assert attack.accepted == 300
    assert server.connections > 20
    first = min(server.received_at.values())
    late = [server.received_at[body] - first - n / 200 for n, body in enumerate(bodies)]
    assert max(late[101:180]) < 0.1
    # and the latency of each request due during the stall counts from when it was due, not when it was sent:
    # the request due 0.1 s into the stall waited about 0.3 s
    latency = dict(enumerate(attack.latency_ms))
    assert latency[100] >= 380
    assert 250 <= latency[120] <= 400
    assert all(latency[n] >= (0.9 - n / 200) * 1000 - 30 for n in range(100, 176))
    assert sorted(latency.values())[len(latency) // 2] < 100  # the requests before and after it went through
