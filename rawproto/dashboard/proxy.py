"""An in-process TCP proxy between the clients and the server: the fault lab.

Clients (the browser, ``rawproto compare``) connect to the proxy; the proxy
opens one upstream connection per client connection and copies bytes both
ways. Faults are switches on the copying:

* **restart** – drop every connection (FIN both ways), refuse new ones for a
  few seconds (accept, then reset), then come back.
* **blackhole** – every connection open at that moment stops delivering
  bytes in both directions: they are read and thrown away, and nothing is
  ever closed towards the client. No FIN, no RST: a half-open connection.
  Only a heartbeat (or a request timeout) can tell it from a quiet one.
* **idle-kill** – connections with no byte either way for N seconds are cut,
  as a reverse proxy's 60 s idle timeout does (nginx ``proxy_read_timeout``).

Plain asyncio; nothing here knows HTTP or WebSocket.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from dataclasses import dataclass, field

#: A blackholed connection is held at most this long (seconds), then dropped.
BLACKHOLE_HOLD = 600.0
READ_SIZE = 65536


@dataclass(eq=False)
class Pair:
    id: int
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter
    last_active: float = field(default_factory=time.monotonic)
    blackholed: bool = False
    killed: bool = False

    def drop(self, reset: bool = False) -> None:
        for w in (self.client, self.server):
            if reset:
                w.transport.abort()
            else:
                w.close()


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.pairs: set[Pair] = set()
        self.refuse_until = 0.0
        self.idle_kill: float = 0.0  # seconds; 0 = off
        self.stats = {"accepted": 0, "refused": 0, "idle_killed": 0, "blackholed": 0, "dropped": 0}
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)
        self._watchdog: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, host, port, reuse_address=True)
        self._watchdog = asyncio.create_task(self._watch(), name="proxy-idle-watchdog")
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._watchdog is not None:
            self._watchdog.cancel()
        for pair in list(self.pairs):
            pair.drop(reset=True)
        if self._tasks:
            # Dropped transports end every pump; cancel only what is left.
            _done, pending = await asyncio.wait(set(self._tasks), timeout=2.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._watchdog is not None:
            await asyncio.gather(self._watchdog, return_exceptions=True)

    # -- the faults --

    def restart(self, down: float) -> int:
        """Drop every connection and refuse new ones for ``down`` seconds."""
        self.refuse_until = time.monotonic() + down
        pairs = list(self.pairs)
        for pair in pairs:
            pair.killed = True
            pair.drop()
        self.stats["dropped"] += len(pairs)
        return len(pairs)

    def blackhole(self) -> int:
        """Every open connection goes silent both ways, for good."""
        n = 0
        for pair in self.pairs:
            if not pair.blackholed:
                pair.blackholed = True
                n += 1
        self.stats["blackholed"] += n
        return n

    @property
    def refusing(self) -> bool:
        return time.monotonic() < self.refuse_until

    # -- the copying --

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if self.refusing:
            self.stats["refused"] += 1
            writer.transport.abort()  # the server is "down": reset
            return
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(*self.upstream), 5.0
            )
        except (OSError, TimeoutError):
            writer.transport.abort()
            return
        self.stats["accepted"] += 1
        pair = Pair(next(self._ids), writer, up_writer)
        self.pairs.add(pair)
        try:
            await asyncio.gather(
                self._pump(pair, reader, up_writer, to_server=True),
                self._pump(pair, up_reader, writer, to_server=False),
            )
        except asyncio.CancelledError:
            pass  # shutting down; asyncio's stream callback must not see it
        finally:
            self.pairs.discard(pair)
            pair.drop()

    async def _pump(
        self,
        pair: Pair,
        src: asyncio.StreamReader,
        dst: asyncio.StreamWriter,
        *,
        to_server: bool,
    ) -> None:
        while True:
            try:
                data = await src.read(READ_SIZE)
            except (ConnectionError, OSError):
                data = b""
            if not data:
                break
            if pair.blackholed:
                continue  # thrown away, like packets into a black hole
            pair.last_active = time.monotonic()
            try:
                dst.write(data)
                await dst.drain()
            except (ConnectionError, OSError):
                break
        if pair.blackholed and not to_server and not pair.killed:
            # The server gave up on this connection (its heartbeat noticed);
            # the client must not hear of it: hold its side open, silently,
            # until the client itself gives up (or BLACKHOLE_HOLD).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_closed(pair.client), BLACKHOLE_HOLD)
            pair.drop(reset=True)
            return
        if pair.blackholed:
            pair.drop(reset=True)
            return
        # A normal end: pass the FIN on, then let the other direction finish.
        with contextlib.suppress(OSError, RuntimeError):
            if dst.can_write_eof():
                dst.write_eof()
        if to_server:
            return
        pair.drop()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(0.1)
            if not self.idle_kill:
                continue
            now = time.monotonic()
            for pair in list(self.pairs):
                if not pair.blackholed and now - pair.last_active > self.idle_kill:
                    pair.killed = True
                    pair.drop()
                    self.stats["idle_killed"] += 1


async def _closed(writer: asyncio.StreamWriter) -> None:
    """Wait until ``writer``'s transport is closed (the client went away)."""
    while not writer.is_closing():
        await asyncio.sleep(0.1)
