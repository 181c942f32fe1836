"""Moving bytes, and recording each chunk once.

:class:`Wire` wraps an asyncio ``StreamReader``/``StreamWriter`` pair. Every
chunk it reads or writes becomes one :class:`~rawproto.core.trace.WireRecord`
handed to the tap — the single record of the wire that the tour, the
captures and the dashboard read. With no tap, no record is built.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import cast

from rawproto.core.trace import (
    Address,
    Clock,
    Direction,
    Kind,
    Role,
    Tap,
    WireRecord,
    default_clock,
    next_conn_id,
)


def _address(value: object) -> Address | None:
    if isinstance(value, tuple) and len(value) >= 2:
        return (str(value[0]), int(value[1]))
    return None


class Wire:
    """One TCP connection as seen by one endpoint."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        role: Role,
        *,
        tap: Tap | None = None,
        clock: Clock = default_clock,
        conn_id: int | None = None,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.role: Role = role
        self.tap = tap
        self.clock = clock
        self.conn = conn_id if conn_id is not None else next_conn_id()
        self.local = _address(writer.get_extra_info("sockname"))
        self.remote = _address(writer.get_extra_info("peername"))
        self.bytes_in = 0
        self.bytes_out = 0
        self.eof_received = False
        self._eof_sent = False
        self._high_water = writer.transport.get_write_buffer_limits()[1]
        sock = cast(socket.socket | None, writer.get_extra_info("socket"))
        if sock is not None:
            # Small frames should leave at once, not wait for Nagle's algorithm.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.record("send", "open")

    def record(
        self,
        direction: Direction,
        kind: Kind,
        data: bytes = b"",
        events: tuple[object, ...] = (),
        note: str = "",
    ) -> None:
        """Hand one record to the tap (a no-op when nobody listens)."""
        if self.tap is None:
            return
        self.tap(
            WireRecord(
                conn=self.conn,
                role=self.role,
                direction=direction,
                kind=kind,
                data=data,
                time=self.clock(),
                events=events,
                note=note,
                local=self.local if kind == "open" else None,
                remote=self.remote if kind == "open" else None,
            )
        )

    async def read(self, n: int) -> bytes:
        """Read up to ``n`` bytes; ``b""`` means the peer sent FIN (or reset)."""
        try:
            data = await self.reader.read(n)
        except (ConnectionError, OSError):
            data = b""
        if data:
            self.bytes_in += len(data)
        else:
            self.eof_received = True
            self.record("recv", "eof")
        return data

    def received(self, data: bytes, events: tuple[object, ...]) -> None:
        """Record a chunk already read, with what the protocol made of it."""
        self.record("recv", "data", data, events)

    async def write(self, data: bytes, events: tuple[object, ...] = ()) -> None:
        """Write one chunk; wait while the send buffer is over its limit (backpressure)."""
        if self.write_nowait(data, events):
            await self.drain()

    def write_nowait(self, data: bytes, events: tuple[object, ...] = ()) -> bool:
        """Write one chunk without waiting; True when the caller should drain().

        The plain form is ``writer.write(data); await writer.drain()`` for
        every chunk. ``drain()`` only ever waits when the transport's buffer
        is over its high-water mark (or the connection is gone), so we call it
        only then and save a coroutine round-trip per frame.
        """
        if not data:
            return False
        self.bytes_out += len(data)
        if self.tap is not None:
            self.record("send", "data", data, events)
        self.writer.write(data)
        transport = self.writer.transport
        return transport.is_closing() or transport.get_write_buffer_size() > self._high_water

    async def drain(self) -> None:
        """Wait until the send buffer is below its low-water mark."""
        await self.writer.drain()

    def note(self, kind: Kind, text: str) -> None:
        """A state change (``= OPEN``) or an error (``! 1009 ...``) on this connection."""
        self.record("send", kind, note=text)

    @property
    def closing(self) -> bool:
        return self.writer.is_closing()

    async def close(self, timeout: float = 1.0) -> None:
        """Close our side (FIN) and release the socket."""
        if not self.writer.is_closing():
            if not self._eof_sent:
                self.record("send", "eof")
            self.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), timeout)
        self.record("send", "close")

    async def linger_close(self, timeout: float = 1.0, max_bytes: int = 1 << 20) -> None:
        """Half-close, discard what the peer still sends, then close.

        RFC 9112 §9.6: closing at once while the client is still sending can
        make the kernel answer with RST, and the client may never read our
        error response. So: send FIN first, drain (bounded), then close.
        """
        if not self.writer.is_closing() and self.writer.can_write_eof():
            self.record("send", "eof")
            self._eof_sent = True
            with contextlib.suppress(OSError):
                self.writer.write_eof()
            with contextlib.suppress(TimeoutError, OSError):
                async with asyncio.timeout(timeout):
                    drained = 0
                    while drained < max_bytes and (chunk := await self.reader.read(65536)):
                        drained += len(chunk)
        await self.close()

    def abort(self) -> None:
        """Drop the connection at once (RST), e.g. after a timeout."""
        if not self.writer.is_closing():
            self.record("send", "eof", note="abort")
        transport = self.writer.transport
        transport.abort()
