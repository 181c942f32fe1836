"""Helpers shared by the lesson tests: build frames by hand, run a server."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import vectors

from rawproto.aio import Router, serve
from rawproto.aio.server import ServerOptions
from rawproto.app import demo_router
from rawproto.core.limits import Limits
from rawproto.core.ws import Failed, Message, WsSession, repeating_mask

MASK = repeating_mask(vectors.MASK)


#: A correct 101 for the RFC 6455 §1.3 key, for hand-written fake servers.
ACCEPTED_101 = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: " + vectors.ACCEPT.encode() + b"\r\n\r\n"
)


def client() -> WsSession:
    return WsSession("client", masks=MASK)


def server(**kw) -> WsSession:
    return WsSession("server", **kw)


def mask(payload: bytes, key: bytes = vectors.MASK) -> bytes:
    return bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def masked_frame(first: int, payload: bytes, key: bytes = vectors.MASK) -> bytes:
    """A client frame built by hand (short lengths only)."""
    assert len(payload) <= 125
    return bytes([first, 0x80 | len(payload)]) + key + mask(payload, key)


def messages(events) -> list:
    return [e.data for e in events if isinstance(e, Message)]


def failed(events) -> Failed:
    [failure] = [e for e in events if isinstance(e, Failed)]
    return failure


UPGRADE = (
    "GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    f"Sec-WebSocket-Key: {vectors.KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
).encode()

QUIET = Limits(ping_interval=None)  # no heartbeat unless a test wants one


@contextlib.asynccontextmanager
async def running(router: Router | None = None, **options) -> AsyncIterator:
    options.setdefault("limits", QUIET)
    server = await serve(router or demo_router(), "127.0.0.1", 0, ServerOptions(**options))
    try:
        yield server
    finally:
        await server.shutdown(timeout=2)


async def raw_upgrade(
    port: int, extra: bytes = b"", sock: socket.socket | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A hand-driven client: sends the Upgrade (plus ``extra``) and reads the 101.

    ``sock``: an already connected socket to use (e.g. with a small buffer).
    """
    if sock is not None:
        reader, writer = await asyncio.open_connection(sock=sock)
    else:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(UPGRADE + extra)
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 ")
    return reader, writer
