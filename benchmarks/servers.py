"""One benchmark server per process: ``python servers.py IMPL PORT``.

``run.py`` starts a fresh one per round, pinned to CPU 0, and stops it by pid.
Every implementation serves the same three things:

* ``/echo``  — a WebSocket that sends every message back (text stays text);
* ``/bcast`` — a WebSocket whose "start" message starts the broadcast ticker:
  one update every 10 ms to every open ``/bcast`` socket for ``TICKS`` ticks,
  then ``done <seconds the ticks took>``;
* ``/``      — a plain HTTP GET answering a short body (keep-alive).

IMPL is one of ``rawproto``, ``websockets``, ``aiohttp``, ``uvicorn`` (HTTP
only, ``--http h11``) and ``trivial``: a hand-written asyncio Protocol with
canned answers, the "trivial server" the load generator's ceiling is measured
against. Each peer is used the way its documentation shows, with its defaults
(heartbeat included) except where noted.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

# rawproto's own engines (runtime dependencies: always installed), for the
# `engines` server. Imported here, not in its methods: those run per chunk.
import h11
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Message, Ping, TextMessage

HELLO = b"Hello, world!\n"
TICK = 0.010  # seconds between broadcast updates
TICKS = int(os.environ.get("BENCH_TICKS", "500"))  # 500 x 10 ms = 5 s
#: Seconds between heartbeat pings where a peer has no default (aiohttp):
#: the same 20 s that rawproto and websockets use by default.
HEARTBEAT = 20.0


def raise_fd_limit() -> None:
    """10,000 idle connections need more than the usual 1,024 descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def ticker(send_all: Callable[[str], Awaitable[object]]) -> None:
    """The broadcast schedule: tick i is due at t0 + i x 10 ms. A late tick is
    not skipped, so falling behind shows as the ticks taking longer than 5 s."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for i in range(TICKS):
        delay = t0 + i * TICK - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        # time.monotonic() is CLOCK_MONOTONIC: the load generator's clock too.
        await send_all(f"{i} {time.monotonic():.6f}")
    elapsed = loop.time() - t0
    await asyncio.sleep(0.2)  # let the last tick arrive before "done"
    await send_all(f"done {elapsed:.4f}")


def start_ticker(send_all: Callable[[str], Awaitable[object]]) -> None:
    task = asyncio.ensure_future(ticker(send_all))
    _keep.add(task)
    task.add_done_callback(_keep.discard)


_keep: set[asyncio.Future[None]] = set()


# --- rawproto -----------------------------------------------------------------


async def run_rawproto(port: int) -> None:
    from rawproto.aio import Response, ServerOptions, serve
    from rawproto.aio.websocket import broadcast
    from rawproto.app import demo_router
    from rawproto.core.limits import Limits

    router = demo_router()  # its /echo is the echo WebSocket

    async def hello(request: object) -> Response:
        return Response(200, HELLO)

    async def bcast(ws: object) -> None:
        async for message in ws:  # type: ignore[attr-defined]
            if message == "start":
                start_ticker(lambda m: broadcast(server.websockets, m))

    router.http("/", hello)
    router.websocket("/bcast", bcast)
    # The benchmark holds 10,000 connections: raise the connection cap here,
    # not in the library. Everything else (heartbeat included) is the default.
    options = ServerOptions(limits=Limits(max_connections=20_000))
    server = await serve(router, "127.0.0.1", port, options)
    await server.serve_forever()


# --- websockets ---------------------------------------------------------------


async def run_websockets(port: int) -> None:
    from websockets.asyncio.server import broadcast, serve

    async def handler(ws: object) -> None:
        if ws.request.path == "/bcast":  # type: ignore[attr-defined]
            async for message in ws:  # type: ignore[attr-defined]
                if message == "start":
                    start_ticker(send_all)
            return
        async for message in ws:  # type: ignore[attr-defined]
            await ws.send(message)  # type: ignore[attr-defined]

    async def send_all(message: str) -> None:
        # The library's own broadcast(): encodes once, writes without waiting.
        broadcast(server.connections, message)

    async with serve(handler, "127.0.0.1", port) as server:
        await server.serve_forever()


# --- aiohttp ------------------------------------------------------------------


async def run_aiohttp(port: int) -> None:
    from aiohttp import WSMsgType, web

    listeners: set[web.WebSocketResponse] = set()

    async def hello(request: web.Request) -> web.Response:
        return web.Response(body=HELLO, content_type="text/plain")

    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT)  # max_msg_size: 4 MiB default
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type == WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        return ws

    async def send_all(message: str) -> None:
        await asyncio.gather(*(w.send_str(message) for w in listeners), return_exceptions=True)

    async def bcast(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT)
        await ws.prepare(request)
        listeners.add(ws)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT and msg.data == "start":
                    start_ticker(send_all)
        finally:
            listeners.discard(ws)
        return ws

    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_get("/echo", echo)
    app.router.add_get("/bcast", bcast)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


# --- uvicorn (HTTP only) ------------------------------------------------------


async def asgi_app(scope: dict, receive: Callable, send: Callable) -> None:  # type: ignore[type-arg]
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(HELLO))],
        }
    )
    await send({"type": "http.response.body", "body": HELLO})


def run_uvicorn(port: int) -> None:
    import uvicorn

    uvicorn.run(
        asgi_app,
        host="127.0.0.1",
        port=port,
        http="h11",
        loop="asyncio",  # not uvloop: every server here runs on the stock loop
        ws="none",
        lifespan="off",
        access_log=False,
        log_level="warning",
    )


# --- trivial: the load generator's ceiling ------------------------------------

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
HTTP_ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(HELLO)
    + HELLO
)


def server_frame(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 127)) + n.to_bytes(8, "big")
    return head + payload


def unmask(key: bytes, data: bytes) -> bytes:
    n = len(data)
    k = int.from_bytes((key * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(data, "big") ^ k).to_bytes(n, "big")


class Trivial(asyncio.Protocol):
    """Canned answers, no checks: the least a server can do per message."""

    clients: ClassVar[set[Trivial]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t: asyncio.Transport = transport  # type: ignore[assignment]
        self.buf = bytearray()
        self.ws = False
        self.path = b""
        self.forward = 0  # bytes of a large payload still to echo as they come

    def connection_lost(self, exc: Exception | None) -> None:
        Trivial.clients.discard(self)

    def data_received(self, data: bytes) -> None:
        if self.forward:
            data = self._forward(data)
            if not data:
                return
        buf = self.buf
        buf += data
        if not self.ws:
            while (end := buf.find(b"\r\n\r\n")) >= 0:
                head = bytes(buf[:end])
                del buf[: end + 4]
                if b"upgrade: websocket" in head.lower():
                    key = head.lower().split(b"sec-websocket-key:")[1].split(b"\r\n")[0]
                    accept = base64.b64encode(hashlib.sha1(key.strip() + GUID).digest())
                    self.t.write(
                        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                        b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
                    )
                    self.ws = True
                    self.path = head.split(b" ", 2)[1]
                    if self.path == b"/bcast":
                        Trivial.clients.add(self)
                    break
                self.t.write(HTTP_ANSWER)
            if not self.ws:
                return
        while len(buf) >= 6:
            n = buf[1] & 0x7F
            pos = 2
            if n == 126:
                n, pos = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                n, pos = int.from_bytes(buf[2:10], "big"), 10
            opcode = buf[0] & 0x0F
            if n >= 65536 and opcode in (1, 2) and len(buf) >= pos + 4:
                # A large data frame is streamed back as it arrives, still
                # masked: the generator counts bytes, it does not read them.
                self.t.write(bytes((0x80 | opcode, 127)) + n.to_bytes(8, "big"))
                self.forward = n
                rest = bytes(buf[pos + 4 :])
                buf.clear()
                rest = self._forward(rest)
                if not rest:
                    return
                buf += rest
                continue
            if len(buf) < pos + 4 + n:
                return
            payload = unmask(bytes(buf[pos : pos + 4]), bytes(buf[pos + 4 : pos + 4 + n]))
            del buf[: pos + 4 + n]
            if opcode == 8:
                self.t.write(server_frame(8, payload[:2]))
                self.t.close()
                return
            if opcode == 9:
                self.t.write(server_frame(10, payload))
            elif opcode in (1, 2):
                if self.path == b"/bcast":
                    start_ticker(trivial_send_all)
                else:
                    self.t.write(server_frame(opcode, payload))

    def _forward(self, data: bytes) -> bytes:
        """Echo up to ``forward`` bytes of a large payload; return what follows it."""
        part, rest = data[: self.forward], data[self.forward :]
        self.t.write(part)
        self.forward -= len(part)
        return rest


async def trivial_send_all(message: str) -> None:
    frame = server_frame(1, message.encode())
    for c in list(Trivial.clients):
        c.t.write(frame)


async def run_trivial(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Trivial, "127.0.0.1", port, backlog=1024)
    await server.serve_forever()


def main() -> None:
    impl, port = sys.argv[1], int(sys.argv[2])
    raise_fd_limit()
    if impl == "uvicorn":
        run_uvicorn(port)
        return
    runner = {
        "rawproto": run_rawproto,
        "websockets": run_websockets,
        "aiohttp": run_aiohttp,
        "trivial": run_trivial,
        "engines": run_engines,
    }[impl]
    asyncio.run(runner(port))



# --- h11 + wsproto alone: the ceiling of any server on these engines --------------


class EnginesOnly(asyncio.Protocol):
    """h11 and wsproto with nothing around them: no checks, no records, no
    timers, no task per connection, canned answers. What a server built on
    these two engines can reach at most on this machine (rawproto's targets
    are measured against websockets, which has its own engine)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t: asyncio.Transport = transport  # type: ignore[assignment]
        self.http = h11.Connection(h11.SERVER)
        self.ws: Connection | None = None
        self.upgrade: bytes | None = None
        self.parts: list[Any] = []

    def data_received(self, data: bytes) -> None:
        if self.ws is not None:
            self._frames(data)
            return
        http = self.http
        http.receive_data(data)
        while True:
            event = http.next_event()
            if isinstance(event, h11.Request):
                self.upgrade = next(
                    (v for k, v in event.headers if k == b"sec-websocket-key"), None
                )
            elif isinstance(event, h11.EndOfMessage) and self.upgrade is not None:
                accept = base64.b64encode(hashlib.sha1(self.upgrade + GUID).digest())
                reply = h11.InformationalResponse(
                    status_code=101,
                    headers=[
                        (b"Upgrade", b"websocket"),
                        (b"Connection", b"Upgrade"),
                        (b"Sec-WebSocket-Accept", accept),
                    ],
                )
                self.t.write(http.send(reply) or b"")
                self.ws = Connection(ConnectionType.SERVER)
                trailing = bytes(http.trailing_data[0])
                if trailing:
                    self._frames(trailing)
                return
            elif isinstance(event, h11.EndOfMessage):
                head = h11.Response(
                    status_code=200,
                    headers=[("Content-Type", "text/plain"), ("Content-Length", str(len(HELLO)))],
                )
                self.t.write(
                    b"".join([http.send(head) or b"", http.send(h11.Data(data=HELLO)) or b"",
                              http.send(h11.EndOfMessage()) or b""])
                )  # fmt: skip
                http.start_next_cycle()
            elif isinstance(event, h11.ConnectionClosed):
                self.t.close()
                return
            elif event is h11.NEED_DATA or event is h11.PAUSED:
                return

    def _frames(self, data: bytes) -> None:
        ws = self.ws
        assert ws is not None
        ws.receive_data(data)
        for event in ws.events():
            if isinstance(event, Message):
                self.parts.append(event.data)
                if event.message_finished:
                    parts, self.parts = self.parts, []
                    reply: TextMessage | BytesMessage
                    if isinstance(event, TextMessage):
                        reply = TextMessage("".join(parts))
                    else:
                        reply = BytesMessage(b"".join(parts))
                    self.t.write(ws.send(reply))
            elif isinstance(event, Ping):
                self.t.write(ws.send(event.response()))
            elif isinstance(event, CloseConnection):
                self.t.write(ws.send(event.response()))
                self.t.close()  # the server closes TCP first (RFC 6455 §7.1.1)
                return


async def run_engines(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(EnginesOnly, "127.0.0.1", port, backlog=1024)
    await server.serve_forever()


if __name__ == "__main__":
    main()
