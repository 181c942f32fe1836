"""A WebSocket on asyncio: bytes pushed in by the event loop, a timer for the heartbeat.

The sans-IO :class:`~rawproto.core.ws.WsSession` decides what bytes mean and
what must be answered; this class only

* feeds in each chunk the event loop reads (:meth:`WebSocket.data_received`),
* writes what the session returns, including its ``obligations`` (pong, close echo),
* owns the timers: heartbeat (``ping_interval`` / ``ping_timeout``) and
  ``close_timeout``,
* closes TCP in the right order: after the closing handshake the server
  closes first (RFC 6455 §7.1.1), the client waits for that, then closes too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Iterable
from typing import Literal

from rawproto.aio.stream import Wire
from rawproto.core import ws
from rawproto.core.limits import Limits
from rawproto.core.trace import Direction, format_error, format_frame, format_state


class ConnectionClosed(Exception):
    """Raised by ``recv``/``send`` once the WebSocket is closed."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"WebSocket closed: {code} {reason}".rstrip())
        self.code = code
        self.reason = reason


PrintTrace = Callable[[str], None]
_Due = Literal["ping", "pong", "fin"]


class WebSocket:
    """One open WebSocket, client or server side.

    The event loop hands each chunk to :meth:`data_received` (the Wire's
    push mode): the session turns it into events, and the RFC's answers
    (Pong, Close echo) are written right there, before the application
    even wakes. The application's ``recv()`` waits on one future.
    """

    __slots__ = (
        "_close_code",
        "_close_reason",
        "_done_waiters",
        "_due",
        "_failing",
        "_finished",
        "_messages",
        "_ping_payloads",
        "_pings",
        "_queue_full",
        "_recv_waiters",
        "_trace",
        "_watched",
        "limits",
        "path",
        "rtts",
        "session",
        "subprotocol",
        "wire",
    )

    def __init__(
        self,
        wire: Wire,
        session: ws.WsSession,
        *,
        limits: Limits | None = None,
        trace: PrintTrace | None = None,
        subprotocol: str | None = None,
        path: str = "/",
        ping_payloads: Callable[[], bytes] | None = None,
    ) -> None:
        self.wire = wire
        self.session = session
        self.limits = limits = limits or Limits()
        self.subprotocol = subprotocol
        self.path = path
        self._trace = trace
        #: Does a tap or a trace read what we send? Only then build Frame
        #: objects (and ask the session for Frame events): see send().
        self._watched = wire.tap is not None or trace is not None
        session.frames = self._watched
        # Received messages not yet taken by recv(); at most max_queue, so a
        # list (56 bytes empty) serves as well as a deque (760 bytes empty).
        self._messages: list[str | bytes] = []
        self._recv_waiters: list[asyncio.Future[None]] = []
        self._done_waiters: list[asyncio.Future[None]] = []
        self._finished = False
        self._queue_full = False  # we paused reading: max_queue messages wait
        self._close_code: int | None = None
        self._close_reason = ""
        #: pings awaiting their pong: payload → (sent at, waiter; None for the heartbeat's)
        self._pings: dict[bytes, tuple[float, asyncio.Future[float] | None]] = {}
        self._ping_payloads = ping_payloads or _random_ping_payload
        #: round-trip times of answered pings, seconds (heartbeat and ping())
        self.rtts: list[float] = []
        #: What the connection's one timer (the Wire's deadline) is for: the
        #: heartbeat's next "ping", its "pong" deadline, or (a client after the
        #: closing handshake) the wait for the server's "fin". None: nothing.
        self._due: _Due | None = None
        self._failing: asyncio.Task[None] | None = None  # only while the heartbeat fails
        if trace is not None:
            self._say(format_state("OPEN"))
        wire.note("state", "OPEN")
        # The heartbeat is a deadline, not a task: an idle connection then
        # costs a timer handle, not a coroutine (benchmarks/README.md, memory).
        if limits.ping_interval:
            self._set_timer("ping", limits.ping_interval)
        else:
            self._set_timer(None)
        if session.has_pending:
            # Frames that arrived together with the handshake come first
            # (their bytes were recorded with the handshake's).
            self._process(session.receive_data(b""))
        # Then every chunk the event loop reads, as it reads it.
        wire.deliver(self)

    # -- what the application sees --

    @property
    def close_code(self) -> int | None:
        return self._close_code

    @property
    def close_reason(self) -> str:
        return self._close_reason

    @property
    def open(self) -> bool:
        return self.session.open and not self._finished

    async def recv(self) -> str | bytes:
        """The next complete message; raises :class:`ConnectionClosed` at the end."""
        message = await self._next_message()
        if message is None:
            raise ConnectionClosed(self._close_code or 1006, self._close_reason)
        return message

    async def _next_message(self) -> str | bytes | None:
        """The next complete message, or None once the connection is closed."""
        messages = self._messages
        while not messages:
            if self._finished:
                return None
            waiter = self.wire.loop.create_future()
            self._recv_waiters.append(waiter)
            try:
                await waiter  # _wake() sets it and empties the list
            except BaseException:
                if waiter in self._recv_waiters:  # cancelled: forget this waiter
                    self._recv_waiters.remove(waiter)
                raise
        message = messages.pop(0)
        if self._queue_full and len(messages) < self.limits.max_queue:
            self._queue_full = False
            self.wire.resume_reading()  # the application caught up
        return message

    def __aiter__(self) -> WebSocket:
        return self

    async def __anext__(self) -> str | bytes:
        """``async for message in ws``: each message until the connection closes.

        (A coroutine method rather than an async generator: the event loop
        tracks every async generator it starts, one more object per connection.)
        """
        message = await self._next_message()
        if message is None:
            raise StopAsyncIteration  # the usual end: not ConnectionClosed
        return message

    async def send(self, message: str | bytes) -> None:
        """Send one message in one frame: ``str`` as TEXT, ``bytes`` as BINARY."""
        session = self.session
        if not session.open:
            raise ConnectionClosed(self._close_code or 1006, self._close_reason)
        # The plain form is ``await self.send_frame(Frame("TEXT", ...))``. This
        # runs once per message, so it is flattened: one coroutine, no Frame
        # object unless a tap or a trace will look at it.
        data = session.send_message(message)
        events: tuple[object, ...] = ()
        if self._watched:
            if isinstance(message, str):
                frame = ws.Frame("TEXT", message.encode("utf-8"))
            else:
                frame = ws.Frame("BINARY", bytes(message))
            self._show("send", frame)
            events = (frame,)
        if self.wire.write_nowait(data, events):
            await self._drain()

    async def send_fragments(self, parts: list[str] | list[bytes]) -> None:
        """Send one message as several frames: first TEXT/BINARY, then CONT (§5.4)."""
        text = isinstance(parts[0], str)
        payloads = [p.encode("utf-8") if isinstance(p, str) else p for p in parts]
        for i, payload in enumerate(payloads):
            opcode: ws.Opcode = ("TEXT" if text else "BINARY") if i == 0 else "CONT"
            last = i == len(payloads) - 1
            await self.send_frame(ws.Frame(opcode, payload, fin=last, text=text))

    async def send_frame(self, frame: ws.Frame) -> None:
        """Send one frame exactly as given (fragments, pings between them...)."""
        if not self.session.open:
            raise ConnectionClosed(self._close_code or 1006, self._close_reason)
        data = self.session.send(frame)
        await self._write(data, frame)

    async def ping(self, payload: bytes | None = None) -> float:
        """Send a Ping and wait for its Pong; returns the round-trip time in seconds."""
        payload = payload if payload is not None else self._ping_payloads()
        waiter: asyncio.Future[float] = self.wire.loop.create_future()
        self._pings[payload] = (self.wire.clock(), waiter)
        await self.send_frame(ws.Frame("PING", payload))
        return await waiter

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Run the closing handshake (§7.1.2) and close TCP; bounded by close_timeout."""
        if self.session.open:
            frame = self.session.frame_for_close(code, reason)
            data = self.session.send_close(code, reason)
            with contextlib.suppress(ConnectionClosed):
                await self._write(data, frame)
        await self.wait_closed()

    async def wait_closed(self) -> None:
        """Wait until the connection is fully closed, at most close_timeout more."""
        if self._finished:
            return
        waiter = self.wire.loop.create_future()
        self._done_waiters.append(waiter)
        try:
            async with asyncio.timeout(self.limits.close_timeout):
                await waiter
        except TimeoutError:
            # §7.1.1 lets us give up waiting: drop TCP.
            self._say(format_error(1006, "close timeout: the peer did not finish closing"))
            self.wire.note("error", f"close timeout after {self.limits.close_timeout} s")
            self._finish(self._final_code(), "close timeout")
            self.wire.abort()

    async def abort(self) -> None:
        """Drop TCP with no closing handshake (fault injection, shutdown)."""
        self._finish(self._final_code(), "aborted")
        self.wire.abort()

    # -- the machinery: bytes in (the Wire calls these) --

    def data_received(self, data: bytes) -> None:
        events = self.session.receive_data(data)
        if self.wire.tap is not None:
            self.wire.received(data, tuple(events))
        self._process(events)

    def eof_received(self) -> None:
        self._process(self.session.receive_eof())
        # The peer is gone (or has finished, as §7.1.1 wants): close too.
        self.wire.close_soon()

    def connection_lost(self) -> None:
        self._finish(self._final_code(), self._close_reason)

    def deadline_passed(self) -> None:
        """The Wire's one timer fired: do what it was set for."""
        due, self._due = self._due, None
        if due == "ping":
            self._heartbeat_ping()
        elif due == "pong":
            self._heartbeat_expired()
        elif due == "fin":
            self.wire.close_soon()

    def _set_timer(self, due: _Due | None, delay: float = 0.0) -> None:
        """Arm the connection's one timer: ``due`` after ``delay`` seconds (None: disarm)."""
        self._due = due
        when = None if due is None else self.wire.loop.time() + delay
        self.wire.set_deadline(when)

    def _process(self, events: list[ws.Event]) -> None:
        for event in events:
            self._handle(event)
        session = self.session
        if not session.open and (session.failure is not None or session.state is ws.State.CLOSED):
            # §7.1.7: after failing, stop reading and close TCP; after a clean
            # closing handshake, close TCP in the order §7.1.1 asks for.
            self._close_tcp()
        elif len(self._messages) >= self.limits.max_queue:
            # Backpressure: stop reading until the application catches up;
            # TCP's window then slows the sender down.
            self._queue_full = True
            self.wire.pause_reading()

    def _handle(self, event: ws.Event) -> None:
        if isinstance(event, ws.Message):
            self._messages.append(event.data)
            self._wake(self._recv_waiters)
        elif isinstance(event, ws.Frame):
            self._show("recv", event)
        elif isinstance(event, ws.Ping):
            self._owed(event)
        elif isinstance(event, ws.Pong):
            pending = self._pings.pop(bytes(event.payload), None)
            if pending is not None:
                sent_at, waiter = pending
                rtt = self.wire.clock() - sent_at
                self.rtts.append(rtt)
                if waiter is None:
                    self._heartbeat_answered()
                elif not waiter.done():
                    waiter.set_result(rtt)
            # An unsolicited Pong is allowed and needs no answer (§5.5.3).
        elif isinstance(event, ws.CloseReceived):
            self._close_reason = event.reason
            self._owed(event)
        elif isinstance(event, ws.Failed):
            self._say(format_error(event.code, event.reason))
            self.wire.note("error", f"{event.code} {event.reason}")
            self._close_reason = event.reason
            self._owed(event)
        elif isinstance(event, ws.Closed):
            self._close_reason = event.reason

    def _owed(self, event: ws.Event) -> None:
        """Send what the RFC obliges us to send in answer to ``event``."""
        data = self.session.obligations(event)
        if not data:
            return
        if not self._watched:
            # Nobody watches: the bytes are all there is to send.
            self.wire.write_nowait(data)
            return
        if isinstance(event, ws.Ping):
            frame = ws.Frame("PONG", event.payload)
        elif isinstance(event, ws.CloseReceived):
            frame = self.session.frame_for_close(
                1000 if event.code == 1005 else event.code, event.reason
            )
        else:
            assert isinstance(event, ws.Failed)
            frame = self.session.frame_for_close(event.code, event.reason)
        # No waiting here: if the peer does not read, the Wire stops reading
        # from it until our buffer drains (see Wire.pause_writing).
        self._write_nowait(data, frame)

    def _close_tcp(self) -> None:
        """Close TCP in the order RFC 6455 §7.1.1 asks for."""
        wire = self.wire
        if self.session.role == "server" or self.session.failure is not None or wire.peer_eof:
            # §7.1.1: "the underlying TCP connection, in most normal cases,
            # SHOULD be closed first by the server"
            wire.close_soon()
            return
        # §7.1.1: "the client SHOULD wait for the server to close the
        # connection" — bounded: after close_timeout, close anyway.
        self._set_timer("fin", self.limits.close_timeout)

    def _final_code(self) -> int:
        session = self.session
        failure = session.failure
        return session.close_code or (failure.code if failure else 1006)

    def _finish(self, code: int, reason: str) -> None:
        if self._finished:
            return
        self._finished = True
        self._close_code = code
        if not self._close_reason:
            self._close_reason = reason
        if self._due is not None:
            self._set_timer(None)
        if self._trace is not None:
            self._say(format_state(f"CLOSED {code} {self._close_reason}".rstrip()))
        if self.wire.tap is not None:
            self.wire.note("state", f"CLOSED {code}")
        for _, waiter in self._pings.values():
            if waiter is not None and not waiter.done():
                waiter.set_exception(ConnectionClosed(code, "closed"))
                waiter.exception()  # mark retrieved: nobody may be awaiting it
        self._wake(self._recv_waiters)
        self._wake(self._done_waiters)

    @staticmethod
    def _wake(waiters: list[asyncio.Future[None]]) -> None:
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        waiters.clear()

    # -- the machinery: bytes out --

    def _say(self, line: str) -> None:
        if self._trace is not None:
            self._trace(line)

    def _show(self, direction: Direction, frame: ws.Frame) -> None:
        # Only build the line when somebody reads it: this runs per frame.
        if self._trace is not None:
            self._trace(
                format_frame(direction, frame.opcode, frame.payload, fin=frame.fin, text=frame.text)
            )

    async def _write(self, data: bytes, frame: ws.Frame | None) -> None:
        if frame is not None:
            self._show("send", frame)
        if self.wire.write_nowait(data, (frame,) if frame is not None else ()):
            await self._drain()

    async def _drain(self) -> None:
        try:
            await self.wire.drain()
        except (ConnectionError, OSError):
            # The application sees one exception for "the connection is gone".
            raise ConnectionClosed(self._close_code or 1006, "connection lost") from None

    def _write_nowait(self, data: bytes, frame: ws.Frame) -> bool:
        """Queue a frame without waiting; True when the buffer is over its limit."""
        self._show("send", frame)
        return self.wire.write_nowait(data, (frame,))

    # -- the heartbeat --

    def _heartbeat_ping(self) -> None:
        """Every ping_interval a Ping; no Pong within ping_timeout fails the connection.

        This is the essay's "heartbeat that never came": without it, a
        half-open TCP connection looks exactly like a quiet one. (The plain
        form is a task looping ``sleep(interval)`` then ``wait_for(ping(),
        timeout)``; these timer callbacks do the same without a coroutine.)
        """
        if not self.session.open or self.wire.closing:
            return
        payload = self._ping_payloads()
        self._pings[payload] = (self.wire.clock(), None)
        frame = ws.Frame("PING", payload)
        self._write_nowait(self.session.send(frame), frame)
        if self.limits.ping_timeout:
            self._set_timer("pong", self.limits.ping_timeout)

    def _heartbeat_answered(self) -> None:
        """The heartbeat's Pong came: wait ping_interval, then ask again."""
        if self.limits.ping_interval and self.session.open:
            self._set_timer("ping", self.limits.ping_interval)
        elif self._due == "pong":
            self._set_timer(None)

    def _heartbeat_expired(self) -> None:
        # The timer is re-set when the heartbeat's Pong comes, so it fired
        # with that Pong still missing.
        if self.session.open:
            self._failing = asyncio.create_task(
                self._heartbeat_failed(self.limits.ping_timeout or 0.0),
                name=f"ws-heartbeat-failed-{self.wire.conn}",
            )

    async def _heartbeat_failed(self, timeout: float) -> None:
        reason = f"keepalive ping timeout: no pong within {timeout:g} s"
        failed = self.session.fail(1011, reason)
        self._say(format_error(1011, reason))
        self.wire.note("error", reason)
        self._close_reason = reason
        frame = self.session.frame_for_close(1011, reason)
        if self._write_nowait(self.session.obligations(failed), frame):
            with contextlib.suppress(TimeoutError, ConnectionError, OSError):
                # A blackholed peer reads nothing: do not wait long to tell it.
                await asyncio.wait_for(self.wire.drain(), 1.0)
        # The peer is not answering: do not wait for its Close, drop TCP.
        self._finish(1011, reason)
        self.wire.abort()


def _random_ping_payload() -> bytes:
    return os.urandom(4)


async def broadcast(sockets: Iterable[WebSocket], message: str | bytes) -> int:
    """Send one message to many server-side WebSockets, encoding it once.

    A server's frames are never masked (RFC 6455 §5.1), so the bytes of one
    complete message are the same for every client: encode once, write N
    times. Returns how many sockets it was sent to; closed ones are skipped.
    """
    prepared = ws.prepare_server_message(message)
    data, frame, events = prepared.data, prepared.frame, (prepared.frame,)
    # Write to every socket first, without yielding, so one tick reaches
    # every client before any of them can slow the loop down (Wire.write_each)...
    wires: list[Wire] = []
    for sock in sockets:
        # (``sock.open``, written out: this runs once per client per message.)
        session = sock.session
        if not session.open or sock._finished or session.role != "server":
            continue
        if sock._trace is not None and not sock.wire.closing:
            sock._show("send", frame)
        wires.append(sock.wire)
    sent, full = Wire.write_each(wires, data, events)
    # ...then wait only for the clients whose buffers are over their limit.
    await asyncio.gather(*(wire.drain() for wire in full), return_exceptions=True)
    return sent
