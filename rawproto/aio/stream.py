"""Moving bytes, and recording each chunk once.

:class:`Wire` is the ``asyncio.Protocol`` of one TCP connection. Every chunk
it reads or writes becomes one :class:`~rawproto.core.trace.WireRecord`
handed to the tap — the single record of the wire that the tour, the
captures and the dashboard read. With no tap, no record is built.

A Wire is read in one of two ways:

* **pull** (HTTP, hand-driven clients): ``data = await wire.read(n)``, like
  ``asyncio.StreamReader.read`` — the plain form, easy to step through;
* **push** (an open WebSocket): :meth:`Wire.deliver` hands every chunk to a
  :class:`Receiver` the moment the event loop reads it. No task waits on the
  socket, so an idle WebSocket costs no coroutine and a message costs one
  task wake-up (the application's) instead of two (reader's, then
  application's). See benchmarks/README.md for what that bought.

Bytes that arrived before the switch are handed over first: none is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Callable, Iterable
from typing import Protocol, cast

from rawproto.core.limits import READ_SIZE
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


class Receiver(Protocol):
    """Who takes a Wire's bytes in push mode (a WebSocket)."""

    def data_received(self, data: bytes) -> None: ...

    def eof_received(self) -> None: ...

    def connection_lost(self) -> None: ...

    def deadline_passed(self) -> None:
        """The deadline set with :meth:`Wire.set_deadline` has passed."""


#: Pull mode stops reading from the socket while this much is buffered and
#: unread (TCP's window then slows the peer down), like StreamReader's limit.
PULL_BUFFER_LIMIT = READ_SIZE

#: One receive buffer per event loop, shared by all its connections (see
#: Wire.get_buffer). Only one callback runs at a time on a loop, and each
#: read is copied out before the next one, so sharing is safe.
_RECEIVE_BUFFERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, memoryview] = (
    weakref.WeakKeyDictionary()
)


def _receive_buffer(loop: asyncio.AbstractEventLoop) -> memoryview:
    view = _RECEIVE_BUFFERS.get(loop)
    if view is None:
        view = _RECEIVE_BUFFERS[loop] = memoryview(bytearray(READ_SIZE))
    return view


_BY_QUEUE = 1  # the receiver asked to stop (its message queue is full)
_BY_WRITES = 2  # our send buffer is over its high-water mark (see pause_writing)
_BY_BUFFER = 4  # pull mode: PULL_BUFFER_LIMIT bytes are waiting to be read


class Wire(asyncio.BufferedProtocol):
    """One TCP connection as seen by one endpoint."""

    __slots__ = (
        "_buffered",
        "_chunks",
        "_close_requested",
        "_closed_by_us",
        "_deadline",
        "_deadline_timer",
        "_eof_sent",
        "_lost",
        "_lost_waiter",
        "_on_open",
        "_on_readable",
        "_paused",
        "_rbuf",
        "_reader",
        "_receiver",
        "_writable",
        "bytes_in",
        "bytes_out",
        "clock",
        "conn",
        "loop",
        "peer_eof",
        "role",
        "tap",
        "transport",
    )

    def __init__(
        self,
        role: Role,
        *,
        tap: Tap | None = None,
        clock: Clock = default_clock,
        conn_id: int | None = None,
        on_open: Callable[[Wire], object] | None = None,
    ) -> None:
        self.role: Role = role
        self.tap = tap
        self.clock = clock
        self.conn = conn_id if conn_id is not None else next_conn_id()
        self.bytes_in = 0
        self.bytes_out = 0
        #: The peer sent FIN (or the connection broke).
        self.peer_eof = False
        self.transport: asyncio.Transport | None = None
        # The event loop, looked up once: every asyncio.get_running_loop()
        # call costs a getpid() system call (it checks for a fork).
        self.loop = asyncio.get_running_loop()
        self._rbuf = _receive_buffer(self.loop)
        self._on_open = on_open
        self._on_readable: Callable[[Wire], object] | None = None
        self._eof_sent = False
        self._close_requested = False  # close_soon() was called (not abort())
        self._closed_by_us = False  # close_soon() or abort() was called
        # Pull mode: chunks read but not yet taken. A list, not a deque: it
        # rarely holds more than one chunk, and an empty deque costs 760 bytes
        # per connection where an empty list costs 56 (benchmarks: memory).
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._reader: asyncio.Future[None] | None = None  # a read() waiting for bytes
        self._receiver: Receiver | None = None  # push mode
        self._paused = 0  # why reading is paused: _BY_* bits
        self._writable: asyncio.Future[None] | None = None  # a drain() waiting
        self._lost = False
        self._lost_waiter: asyncio.Future[None] | None = None
        # The connection's one timer (see set_deadline): pull mode, read()
        # raises TimeoutError after it; push mode, the receiver is told.
        self._deadline: float | None = None
        self._deadline_timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol: the event loop calls these --

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        # Small frames should leave at once, not wait for Nagle's algorithm
        # (RFC 9293 §3.7.4, https://www.rfc-editor.org/rfc/rfc9293#section-3.7.4):
        # asyncio's TCP transports already set TCP_NODELAY on every socket
        # they create or accept (asyncio/base_events.py, _set_nodelay), so
        # there is no setsockopt() to repeat here.
        if self.tap is not None:
            self.record("send", "open")
        if self._on_open is not None:
            on_open, self._on_open = self._on_open, None
            on_open(self)

    # Reading: a plain asyncio.Protocol is handed each read as a new bytes
    # object: ``sock.recv(256 KiB)`` allocates 256 KiB, shrinks it to what
    # arrived and frees it later. Blocks that big come from mmap(), so every
    # read cost mmap + mremap + munmap and fresh page faults (strace: three
    # per read; ~10 % of a handshake's time, benchmarks/README.md). As a
    # BufferedProtocol the Wire lends the loop one buffer to recv_into() and
    # copies out exactly the bytes that arrived.

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._rbuf

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(self._rbuf[:nbytes]))

    def data_received(self, data: bytes) -> None:
        """Each chunk read from the socket, as a bytes object of its own."""
        self.bytes_in += len(data)
        if self._receiver is not None:
            self._receiver.data_received(data)
            return
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > PULL_BUFFER_LIMIT:
            self.pause_reading(_BY_BUFFER)
        if self._on_readable is not None:
            self._readable()
        self._wake_reader()

    def eof_received(self) -> bool:
        self._got_eof()
        # True: keep our side open. The peer's FIN only ends its direction;
        # an HTTP server may still answer a half-closed client.
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._cancel_deadline()
        # A reset by the peer reads as the end of the stream (and is recorded
        # as such); our own close or abort is not the peer's EOF: a reader in
        # pull mode just sees b"", a receiver hears connection_lost() alone.
        if exc is not None or self._receiver is None:
            self._got_eof(record=exc is not None)
        if self._close_requested and self.tap is not None:
            self.record("send", "close")  # the socket is released
        if self._writable is not None and not self._writable.done():
            self._writable.set_exception(ConnectionResetError("connection lost"))
            self._writable.exception()  # mark retrieved: nobody may be awaiting it
        if self._lost_waiter is not None and not self._lost_waiter.done():
            self._lost_waiter.set_result(None)
        if self._receiver is not None:
            self._receiver.connection_lost()

    def pause_writing(self) -> None:
        # The transport's buffer went over its high-water mark. In push mode
        # stop reading too: a peer that floods us with Pings but never reads
        # our Pongs must not grow our buffer without end.
        if self._writable is None or self._writable.done():
            self._writable = self.loop.create_future()
        if self._receiver is not None:
            self.pause_reading(_BY_WRITES)

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None
        self.resume_reading(_BY_WRITES)

    # -- records --

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

    def received(self, data: bytes, events: tuple[object, ...]) -> None:
        """Record a chunk already read, with what the protocol made of it."""
        self.record("recv", "data", data, events)

    def note(self, kind: Kind, text: str) -> None:
        """A state change (``= OPEN``) or an error (``! 1009 ...``) on this connection."""
        self.record("send", kind, note=text)

    # The records' hot paths (open, close, each chunk) test ``self.tap`` before
    # calling record(): a no-op call per chunk is still a call.

    @property
    def local(self) -> Address | None:
        """Our (host, port), once connected."""
        transport = self.transport
        return None if transport is None else _address(transport.get_extra_info("sockname"))

    @property
    def remote(self) -> Address | None:
        """The peer's (host, port), once connected."""
        transport = self.transport
        return None if transport is None else _address(transport.get_extra_info("peername"))

    # -- reading: pull mode --

    async def read(self, n: int) -> bytes:
        """Read up to ``n`` bytes; ``b""`` means the peer sent FIN (or reset).

        Raises ``TimeoutError`` if it would have to wait past the deadline
        set with :meth:`set_deadline`.
        """
        while not self._chunks:
            if self.peer_eof:
                return b""
            if self._deadline is not None:
                if self._deadline <= self.loop.time():
                    raise TimeoutError("read deadline passed")
                # Pull mode arms the timer only when a read must wait.
                self._arm(self._deadline)
            self._reader = self.loop.create_future()
            try:
                await self._reader
            finally:
                self._reader = None
        chunks = self._chunks
        first = chunks[0]
        if len(first) <= n and len(chunks) == 1:
            data = chunks.pop()  # the usual case: one chunk, no copy
        else:
            parts, size = [], 0
            while chunks and size < n:
                chunk = chunks.pop(0)
                if size + len(chunk) > n:
                    chunk, rest = chunk[: n - size], chunk[n - size :]
                    chunks.insert(0, rest)
                parts.append(chunk)
                size += len(chunk)
            data = b"".join(parts)
        self._buffered -= len(data)
        if self._buffered <= PULL_BUFFER_LIMIT:
            self.resume_reading(_BY_BUFFER)
        return data

    # -- the connection's one timer --

    def set_deadline(self, when: float | None) -> None:
        """Set the connection's deadline to loop time ``when`` (None: no deadline).

        Pull mode: :meth:`read` raises ``TimeoutError`` rather than wait past
        it (the HTTP server's header and keep-alive timeouts). Push mode: the
        receiver's ``deadline_passed()`` is called when it passes (a
        WebSocket's heartbeat and close timeouts).

        The plain form is ``loop.call_later()`` for every timeout and
        ``cancel()`` when it changes: each a ``TimerHandle`` pushed onto the
        event loop's heap and taken off again. Here a connection has at most
        one timer, and moving the deadline *later* costs one assignment: the
        armed timer fires early, sees the new deadline, and re-arms itself
        once. Only a deadline moved *earlier* replaces the timer. So the
        request's header timeout, then the WebSocket's first heartbeat, share
        one timer (benchmarks/README.md: handshakes).
        """
        self._deadline = when
        if when is not None and self._receiver is not None:
            self._arm(when)  # push mode: nobody waits in read(), arm now

    def _arm(self, when: float) -> None:
        timer = self._deadline_timer
        if self._lost or (timer is not None and timer.when() <= when):
            return  # the armed timer fires first and re-arms itself
        if timer is not None:
            timer.cancel()
        self._deadline_timer = self.loop.call_at(when, self._deadline_check)

    def _deadline_check(self) -> None:
        self._deadline_timer = None
        when = self._deadline
        if when is None or self._lost:
            return
        loop = self.loop
        if loop.time() < when:  # the deadline moved on since the timer was set
            self._arm(when)
        elif self._receiver is not None:
            self._deadline = None
            self._receiver.deadline_passed()
        elif self._on_readable is not None:
            self._readable()  # read() now raises TimeoutError
        elif self._reader is not None and not self._reader.done():
            self._reader.set_exception(TimeoutError("read deadline passed"))

    def _cancel_deadline(self) -> None:
        self._deadline = None
        if self._deadline_timer is not None:
            self._deadline_timer.cancel()
            self._deadline_timer = None

    def _wake_reader(self) -> None:
        if self._reader is not None and not self._reader.done():
            self._reader.set_result(None)

    def _got_eof(self, record: bool = True) -> None:
        if self.peer_eof:
            return
        self.peer_eof = True
        if record:
            self.record("recv", "eof")
        if self._receiver is not None:
            self._receiver.eof_received()
        else:
            if self._on_readable is not None:
                self._readable()
            self._wake_reader()

    # -- reading: push mode --

    def deliver(self, receiver: Receiver) -> None:
        """From now on hand every chunk to ``receiver`` as it arrives.

        Whatever was read but not yet taken with :meth:`read` goes first,
        then an EOF or loss that already happened.
        """
        self._receiver = receiver
        if self._deadline is not None:
            self._arm(self._deadline)  # set before the switch: now it is the receiver's
        self.resume_reading(_BY_BUFFER)
        while self._chunks and self._receiver is receiver:
            chunk = self._chunks.pop(0)
            self._buffered -= len(chunk)
            receiver.data_received(chunk)
        if self.peer_eof:
            receiver.eof_received()
        if self._lost:
            receiver.connection_lost()

    def when_readable(self, callback: Callable[[Wire], object]) -> None:
        """Call ``callback(self)`` once :meth:`read` would not have to wait:
        bytes arrived, the peer closed, or the deadline passed.

        A server starts a connection's task with it, so a client that has
        connected but not sent a byte yet costs a timer (its deadline), not a
        coroutine parked in ``read()``; and the task's first read finds its
        bytes already there instead of suspending for them.
        """
        self._on_readable = callback
        if self._deadline is not None:
            self._arm(self._deadline)  # nobody waits in read() yet: arm now

    def _readable(self) -> None:
        callback, self._on_readable = self._on_readable, None
        if callback is not None:
            callback(self)

    def pause_reading(self, why: int = _BY_QUEUE) -> None:
        """Stop reading from the socket: TCP's window then slows the sender down."""
        if not self._paused and self.transport is not None and not self._lost:
            with contextlib.suppress(RuntimeError):  # already closing
                self.transport.pause_reading()
        self._paused |= why

    def resume_reading(self, why: int = _BY_QUEUE) -> None:
        if not self._paused & why:
            return
        self._paused &= ~why
        if not self._paused and self.transport is not None and not self._lost:
            with contextlib.suppress(RuntimeError):
                self.transport.resume_reading()

    # -- writing --

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
        transport = self.transport
        assert transport is not None
        # Our own flags, not transport.is_closing() (a method call per frame).
        # They miss one case: a transport asyncio closed itself after a send
        # error, until connection_lost() runs; asyncio drops such a write.
        # Bytes we know will not be written are not recorded.
        if self._lost or self._closed_by_us:
            return True  # drain() will say the connection is gone
        self.bytes_out += len(data)
        if self.tap is not None:
            self.record("send", "data", data, events)
        transport.write(data)
        return self._writable is not None

    @staticmethod
    def write_each(
        wires: Iterable[Wire], data: bytes, events: tuple[object, ...] = ()
    ) -> tuple[int, list[Wire]]:
        """Write the same chunk to many wires without waiting (a broadcast).

        Returns how many were written to and those that should drain(). The
        plain form is ``[w for w in wires if w.write_nowait(data, events)]``;
        this is write_nowait()'s body written out, because it runs once per
        client per message (1,000 clients every 10 ms in the benchmark) and
        the call was ~1 k of the ~24 k instructions each client cost
        (benchmarks/README.md). Keep the two in step. One difference: a wire
        we are closing or have lost is skipped — no write, no record, not
        counted — where write_nowait() hands it to drain() to report.
        """
        written = 0
        full: list[Wire] = []
        size = len(data)
        for wire in wires:
            transport = wire.transport
            if wire._lost or wire._closed_by_us or transport is None:
                continue
            wire.bytes_out += size
            if wire.tap is not None:
                wire.record("send", "data", data, events)
            transport.write(data)
            if wire._writable is not None:
                full.append(wire)
            written += 1
        return written, full

    async def drain(self) -> None:
        """Wait until the send buffer is below its low-water mark."""
        if self._lost:
            raise ConnectionResetError("connection lost")
        if self._writable is not None:
            await asyncio.shield(self._writable)
        elif self.transport is not None and self.transport.is_closing():
            # Let the event loop run once, as StreamWriter.drain() does, so a
            # closing connection is noticed; then report it.
            await asyncio.sleep(0)
            if self._lost:
                raise ConnectionResetError("connection lost")

    def can_write_eof(self) -> bool:
        return self.transport is not None and self.transport.can_write_eof()

    def write_eof(self) -> None:
        """Half-close: send FIN, keep reading."""
        if not self._eof_sent and self.transport is not None and not self.transport.is_closing():
            self.record("send", "eof")
            self._eof_sent = True
            with contextlib.suppress(OSError, RuntimeError):
                self.transport.write_eof()

    # -- closing --

    @property
    def closing(self) -> bool:
        return self._lost or self.transport is None or self.transport.is_closing()

    def close_soon(self) -> None:
        """Close our side (FIN after what is buffered); don't wait."""
        transport = self.transport
        if transport is not None and not transport.is_closing():
            if not self._eof_sent and self.tap is not None:
                self.record("send", "eof")
            self._close_requested = self._closed_by_us = True
            transport.close()

    async def wait_lost(self, timeout: float = 1.0) -> None:
        """Wait (bounded) until the event loop has released the socket."""
        if not self._lost:
            if self._lost_waiter is None:
                self._lost_waiter = self.loop.create_future()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._lost_waiter), timeout)

    async def close(self, timeout: float = 1.0) -> None:
        """Close our side (FIN) and release the socket."""
        self.close_soon()
        await self.wait_lost(timeout)

    async def linger_close(self, timeout: float = 1.0, max_bytes: int = 1 << 20) -> None:
        """Half-close, discard what the peer still sends, then close.

        RFC 9112 §9.6: closing at once while the client is still sending can
        make the kernel answer with RST, and the client may never read our
        error response. So: send FIN first, drain (bounded), then close.
        """
        if not self.closing and self.can_write_eof():
            self.write_eof()
            with contextlib.suppress(TimeoutError, OSError):
                async with asyncio.timeout(timeout):
                    drained = 0
                    while drained < max_bytes and (chunk := await self.read(65536)):
                        drained += len(chunk)
        await self.close()

    def abort(self) -> None:
        """Drop the connection at once (RST), e.g. after a timeout."""
        transport = self.transport
        if transport is None:
            return
        if not transport.is_closing():
            self.record("send", "eof", note="abort")
        self._closed_by_us = True
        transport.abort()


async def open_connection(
    host: str,
    port: int,
    role: Role = "client",
    *,
    tap: Tap | None = None,
    clock: Clock = default_clock,
    conn_id: int | None = None,
) -> Wire:
    """TCP connect and return the connection's :class:`Wire`."""
    loop = asyncio.get_running_loop()
    _transport, wire = await loop.create_connection(
        lambda: Wire(role, tap=tap, clock=clock, conn_id=conn_id), host, port
    )
    return wire
