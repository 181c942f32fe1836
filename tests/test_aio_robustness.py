"""No input makes the server print a traceback, hang, or grow without bound.

Random bytes are thrown at a real server on 127.0.0.1, before and after the
Upgrade. Each connection must end within a bound, and the server must log
nothing at ERROR level (its log is where a traceback would go).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

import pytest
import vectors
from conftest import run

from rawproto.aio import serve
from rawproto.aio.server import ServerOptions
from rawproto.app import demo_router
from rawproto.core.limits import Limits

UPGRADE = (
    "GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    f"Sec-WebSocket-Key: {vectors.KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
).encode()

LIMITS = Limits(
    ping_interval=0.3,
    ping_timeout=0.3,
    header_timeout=0.5,
    keepalive_timeout=0.5,
    close_timeout=0.5,
    max_message_size=4096,
)


def garbage(rng: random.Random) -> bytes:
    """Random bytes, often shaped like the start of a frame or a request line."""
    kind = rng.randrange(4)
    body = rng.randbytes(rng.randrange(1, 300))
    if kind == 0:
        return body
    if kind == 1:  # a masked frame header with random opcode/flags/length
        return bytes([rng.randrange(256), 0x80 | rng.randrange(128)]) + vectors.MASK + body
    if kind == 2:  # a frame claiming a huge 64-bit length
        return bytes([0x82, 0xFF]) + rng.randbytes(8) + vectors.MASK + body
    return b"GET /" + body + b" HTTP/1.1\r\n" + body + b"\r\n\r\n"


async def throw(port: int, data: bytes, upgrade: bool) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write((UPGRADE if upgrade else b"") + data)
        await writer.drain()
        answer = b""
        try:
            async with asyncio.timeout(3):  # the server must end it well before this
                while chunk := await reader.read(65536):
                    answer += chunk
        except TimeoutError:
            raise AssertionError(
                f"server still open after 3 s; sent {data[:60]!r}, got {answer[:80]!r}"
            ) from None
        return answer
    finally:
        writer.close()


@pytest.mark.parametrize("upgrade", [False, True], ids=["http", "websocket"])
def test_server_survives_random_bytes_without_traceback_or_hang(
    upgrade: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """RFC 9112 §2.2 / RFC 6455 §7.1.7: invalid input gets a status or a Close, then
    the connection ends; the server keeps serving others and logs no error."""
    rng = random.Random(9112 if not upgrade else 6455)

    async def body() -> None:
        server = await serve(demo_router(), "127.0.0.1", 0, ServerOptions(limits=LIMITS))
        try:
            for _ in range(6):
                answers = await asyncio.gather(
                    *(throw(server.port, garbage(rng), upgrade) for _ in range(10))
                )
                for answer in answers:
                    if upgrade:
                        assert answer.startswith(b"HTTP/1.1 101 ")
                    else:
                        assert answer == b"" or answer.startswith(b"HTTP/1.1 ")
            for _ in range(100):  # nothing left hanging: every task ends, soon
                if server.connections == 0:
                    break
                await asyncio.sleep(0.02)
            assert server.connections == 0
        finally:
            await server.shutdown(timeout=2)

    with caplog.at_level(logging.ERROR, logger="rawproto"):
        run(body(), timeout=50)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_bytes_the_server_is_not_reading_yet_wait_in_tcp_not_in_memory() -> None:
    """While a handler works, the client may keep sending (pipelining, or
    plain abuse). The server buffers at most PULL_BUFFER_LIMIT unread bytes,
    then stops reading: TCP's window holds the rest back at the sender."""
    from rawproto.aio import Response, Router
    from rawproto.aio.stream import PULL_BUFFER_LIMIT

    async def slow(request) -> Response:
        await asyncio.sleep(1.0)  # the connection is not read meanwhile
        return Response(200, b"done\n")

    router = Router()
    router.http("/slow", slow)

    async def body() -> None:
        options = ServerOptions(limits=LIMITS)
        server = await serve(router, "127.0.0.1", 0, options)
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            junk = b"x" * 65536
            sent = 0
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.8):  # while the handler sleeps
                    while sent < 32 * 1024 * 1024:  # bounded: at most 32 MiB
                        writer.write(junk)
                        sent += len(junk)
                        await writer.drain()  # blocks once the server stops reading
            (wire,) = server._busy  # the connection in the middle of its exchange
            # What the server took from the socket: the read that carried the
            # request (up to read_size, handed to h11), then at most the limit
            # plus the one socket read (asyncio's, up to 256 KiB) that crossed it.
            bound = LIMITS.read_size + PULL_BUFFER_LIMIT + 256 * 1024
            assert wire.bytes_in <= bound, (wire.bytes_in, sent)
            assert sent > wire.bytes_in
            writer.transport.abort()
        finally:
            await server.shutdown(timeout=2)

    run(body())
