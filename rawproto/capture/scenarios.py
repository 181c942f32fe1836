"""The committed captures: one real, deterministic session per protocol step.

Every scenario runs the real rawproto server, and the real rawproto client or
(for a misbehaving peer) a raw asyncio socket that writes chosen bytes, on
127.0.0.1 port 0 in this process, with a :class:`Tape` recording every chunk
both sides read and wrote. Nothing on the wire is typed by hand: the records
are turned into packets by :func:`rawproto.capture.session.write_session`.

Deterministic mode, so regenerating gives byte-identical files:

* handshake keys from ``random.Random(seed)`` (05 uses the RFC 6455 §1.3
  sample key, 07 the §5.7 masking key ``37fa213d``);
* masking keys from ``random.Random(seed).randbytes``, ping payloads from a
  counter, the Host header ``127.0.0.1:8080``, fixed connection ids;
* time from a :class:`VirtualClock`. Unlike :class:`~rawproto.core.trace.FixedClock`,
  which moves on every call, it moves only when the scenario says time
  passes (``clock.advance(30)`` for a held long poll). A read the kernel
  happens to split in two then shifts no later timestamp;
* after every step the scenario waits until the server has read all the
  client wrote and the wire is quiet (:meth:`Tape.settle`), so the order of
  events does not depend on scheduling.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

from rawproto.aio import HttpConnection, Request, Response, Router, WebSocket, connect, serve
from rawproto.aio.server import Server, ServerOptions
from rawproto.aio.stream import Wire, open_connection
from rawproto.core import handshake
from rawproto.core.errors import HandshakeFailed
from rawproto.core.limits import Limits
from rawproto.core.trace import Recorder, WireRecord
from rawproto.core.ws import Frame, MaskSource, WsSession, repeating_mask

HOST = "127.0.0.1:8080"
SEED = 6455
CALM = Limits(ping_interval=None, close_timeout=2)
RFC_SAMPLE_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3
RFC_SAMPLE_MASK = bytes.fromhex("37fa213d")  # RFC 6455 §5.7


class VirtualClock:
    """Seconds since the scenario began; moves only when :meth:`advance` is called."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Tape(Recorder):
    """A Recorder that can run a hook on a record and wait for the wire to settle."""

    hooks: list[tuple[Callable[[WireRecord], bool], Callable[[], None]]] = field(
        default_factory=list
    )

    def __call__(self, record: WireRecord) -> None:
        self.records.append(record)
        for i, (match, action) in enumerate(self.hooks):
            if match(record):
                del self.hooks[i]
                action()
                break

    def on(self, match: Callable[[WireRecord], bool], action: Callable[[], None]) -> None:
        """Run ``action`` once, right after the first record ``match`` accepts."""
        self.hooks.append((match, action))

    def _unread(self) -> int:
        """Client bytes the server has not read yet, over all connections."""
        sent: dict[tuple[str, int] | None, int] = {}
        got: dict[tuple[str, int] | None, int] = {}
        local: dict[int, tuple[str, int] | None] = {}
        remote: dict[int, tuple[str, int] | None] = {}
        gone: set[tuple[str, int] | None] = set()  # the server closed: it reads no more
        for r in self.records:
            if r.kind == "close" and r.role == "server":
                gone.add(remote.get(r.conn))
            if r.kind == "open":
                (local if r.role == "client" else remote)[r.conn] = (
                    r.local if r.role == "client" else r.remote
                )
            elif r.kind == "data" and r.role == "client" and r.direction == "send":
                key = local.get(r.conn)
                sent[key] = sent.get(key, 0) + len(r.data)
            elif r.kind == "data" and r.role == "server" and r.direction == "recv":
                key = remote.get(r.conn)
                got[key] = got.get(key, 0) + len(r.data)
        return sum(max(0, n - got.get(k, 0)) for k, n in sent.items() if k not in gone)

    async def settle(self, quiet: float = 0.01, timeout: float = 5.0) -> None:
        """Wait until the server has read every client byte and nothing moved for ``quiet`` s."""
        async with asyncio.timeout(timeout):
            while True:
                count = len(self.records)
                await asyncio.sleep(quiet)
                if len(self.records) == count and not self._unread():
                    return

    async def wait_for(self, match: Callable[[WireRecord], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not any(match(r) for r in self.records):
                await asyncio.sleep(0.002)


@dataclass
class Run:
    """What one scenario has at hand while it runs."""

    seed: int
    tape: Tape = field(default_factory=Tape)
    clock: VirtualClock = field(default_factory=VirtualClock)
    notes: list[tuple[bytes, str]] = field(default_factory=list)
    fin_notes: dict[str, str] = field(default_factory=dict)
    servers: list[Server] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self._ids = itertools.count(1_000_000 + 1000 * self.seed % 1000)
        pings = itertools.count(1)
        self.ping_payloads: Callable[[], bytes] = lambda: next(pings).to_bytes(4, "big")

    def note(self, marker: bytes, text: str) -> None:
        """Put ``text`` before the comment of the next packet carrying ``marker``."""
        self.notes.append((marker, text))

    def key(self) -> str:
        return handshake.new_key(self.rng.randbytes)

    async def server(self, router: Router, limits: Limits = CALM, **options: object) -> Server:
        opts = ServerOptions(
            limits=limits,
            tap=self.tape,
            clock=self.clock,
            ping_payloads=self.ping_payloads,
            **options,  # type: ignore[arg-type]
        )
        srv = await serve(router, "127.0.0.1", 0, opts)
        self.servers.append(srv)
        return srv

    async def websocket(
        self,
        srv: Server,
        path: str = "/echo",
        *,
        key: str | None = None,
        masks: MaskSource | None = None,
        origin: str | None = None,
        limits: Limits = CALM,
    ) -> WebSocket:
        ws = await connect(
            f"ws://127.0.0.1:{srv.port}{path}",
            tap=self.tape,
            clock=self.clock,
            key=key or self.key(),
            masks=masks or self.rng.randbytes,
            origin=origin,
            limits=limits,
            ping_payloads=self.ping_payloads,
            conn_id=next(self._ids),
            host_header=HOST,
        )
        await self.tape.settle()
        return ws

    async def http(self, srv: Server) -> HttpConnection:
        conn = HttpConnection(
            f"http://127.0.0.1:{srv.port}/",
            tap=self.tape,
            clock=self.clock,
            conn_id=next(self._ids),
            host_header=HOST,
        )
        await conn.open()
        return conn

    async def raw(self, srv: Server, path: str = "/echo") -> Wire:
        """A hand-driven client: the real handshake, then whatever bytes we choose."""
        wire = await open_connection(
            "127.0.0.1", srv.port, tap=self.tape, clock=self.clock, conn_id=next(self._ids)
        )
        hs = handshake.ClientHandshake(HOST, path, key=self.key())
        await wire.write(hs.request_bytes(), (hs.request,))
        while True:
            data = await wire.read(65536)
            done = hs.receive_data(data)
            wire.received(data, ())
            if done is not None:
                break
        await self.tape.settle()
        return wire

    async def drain(self, wire: Wire) -> None:
        """Read until the server closes, then close our side too."""
        async with asyncio.timeout(5):
            while data := await wire.read(65536):
                wire.received(data, ())
        await wire.close()

    async def finish(self) -> None:
        await self.tape.settle()
        for srv in self.servers:
            await srv.shutdown(timeout=2)
        await self.tape.settle()


# --- what the servers serve ----------------------------------------------------------


async def _index(request: Request) -> Response:
    return Response(200, b"Hello from rawproto\n")


async def _echo(ws: WebSocket) -> None:
    async for message in ws:
        await ws.send(message)


def basic_router(quote: Callable[[], dict[str, object]] | None = None) -> Router:
    router = Router()
    router.http("/", _index)

    async def _quote(request: Request) -> Response:
        body = quote() if quote else {"symbol": "RAW", "price": 101.25, "seq": 7}
        return Response(
            200, json.dumps(body, separators=(",", ":")).encode(), content_type="application/json"
        )

    router.http("/quote", _quote)
    router.websocket("/echo", _echo)
    return router


class NaiveFeed:
    """A long-poll feed that keeps no history: an update reaches only the polls held *now*.

    The scenario, not a timer, ends a held poll (:meth:`publish`, :meth:`expire`,
    :meth:`hiccup`), so the capture does not depend on real time. A real server
    would wrap the wait in ``asyncio.timeout(30)``.
    """

    def __init__(self) -> None:
        self.waiters: list[asyncio.Future[Response]] = []
        self.seq = 0

    async def poll(self, request: Request) -> Response:
        waiter: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        return await waiter

    def _answer(self, response: Response) -> int:
        waiters, self.waiters = self.waiters, []
        for w in waiters:
            w.set_result(response)
        return len(waiters)

    def publish(self, price: float) -> int:
        """A new update; returns how many held polls received it (0: it is lost)."""
        self.seq += 1
        body = json.dumps({"seq": self.seq, "price": price}, separators=(",", ":"))
        return self._answer(Response(200, body.encode(), content_type="application/json"))

    def expire(self) -> int:
        """The 30 s hold is over with no news: answer an empty list."""
        return self._answer(Response(200, b"[]", content_type="application/json"))

    def hiccup(self) -> int:
        """The server stalls: 503 and Retry-After, and it drops the connection."""
        return self._answer(
            Response(
                503,
                b"busy, retry in 1 s\n",
                headers=[("Retry-After", "1"), ("Connection", "close")],
            )
        )


# --- the scenarios ------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    number: int
    slug: str
    title: str
    about: str  # the file-level comment
    run: Callable[[Run], Awaitable[None]]
    mss: int = 1460

    @property
    def name(self) -> str:
        return f"{self.number:02d}-{self.slug}"


SCENARIOS: list[Scenario] = []


def scenario(
    number: int, slug: str, title: str, about: str, *, mss: int = 1460
) -> Callable[[Callable[[Run], Awaitable[None]]], Callable[[Run], Awaitable[None]]]:
    def register(fn: Callable[[Run], Awaitable[None]]) -> Callable[[Run], Awaitable[None]]:
        SCENARIOS.append(Scenario(number, slug, title, " ".join(about.split()), fn, mss))
        return fn

    return register


@scenario(
    1,
    "http-get",
    "One HTTP/1.1 GET",
    """One TCP connection, one request, one response (RFC 9112). The request
    head ends with an empty line; Content-Length says where the body ends.
    Then the client closes TCP.""",
)
async def http_get(run: Run) -> None:
    srv = await run.server(basic_router())
    conn = await run.http(srv)
    await conn.request("GET", "/")
    await conn.close()


@scenario(
    2,
    "keep-alive-two-requests",
    "Two requests on one persistent connection",
    """HTTP/1.1 connections are persistent by default (RFC 9112 §9.3): the
    second GET travels on the same TCP connection, with no new handshake,
    because Content-Length framed the first response exactly.""",
)
async def keep_alive(run: Run) -> None:
    srv = await run.server(basic_router())
    conn = await run.http(srv)
    await conn.request("GET", "/")
    run.clock.advance(0.5)
    run.note(b"GET /quote", "second request, same connection (RFC 9112 §9.3)")
    await conn.request("GET", "/quote")
    await conn.close()


@scenario(
    3,
    "short-polling",
    "Short polling every 5 s",
    """The client asks GET /quote every 5 s on one keep-alive connection. The
    quote changes once, 1 s after the second poll; the client learns it 4 s
    later at the third poll. Every poll pays a full request and response head,
    news or not.""",
)
async def short_polling(run: Run) -> None:
    quote = {"symbol": "RAW", "price": 101.25, "seq": 7}
    srv = await run.server(basic_router(lambda: quote))
    conn = await run.http(srv)
    await conn.request("GET", "/quote")
    run.clock.advance(5)
    run.note(b"GET /quote", "poll 1, t=0 s")
    run.note(b"GET /quote", "poll 2, t=5 s: nothing new, same bytes again")
    await conn.request("GET", "/quote")
    run.clock.advance(5)
    quote = {"symbol": "RAW", "price": 102.5, "seq": 8}  # changed at t=6 s
    run.note(b"GET /quote", "poll 3, t=10 s: the quote changed at t=6 s, seen 4 s late")
    await conn.request("GET", "/quote")
    await conn.close()


@scenario(
    4,
    "long-polling",
    "Long polling, and an update lost in a server hiccup",
    """Naive long polling on GET /updates: the server holds each poll until an
    update (seq 1 after 2 s) or 30 s without news (empty list); then the
    server hiccups: 503 Retry-After 1 and it closes. Update seq 2 is produced
    while no poll is held; the naive feed keeps no history, so the client's
    next poll, on a new connection (port 50001), gets seq 3: seq 2 is never
    delivered. Fix: a cursor (?since=1) and a server that keeps history.""",
)
async def long_polling(run: Run) -> None:
    feed = NaiveFeed()
    router = Router()
    router.http("/updates", feed.poll)
    srv = await run.server(router)

    conn = await run.http(srv)
    run.note(b"GET /updates", "poll 1: the server holds it until there is news")
    task = asyncio.create_task(conn.request("GET", "/updates", timeout=10))
    await run.tape.settle()
    run.clock.advance(2)
    run.note(b'"seq":1', "t=2 s, update seq 1: the held poll is answered at once")
    assert feed.publish(101.5) == 1
    await task
    await run.tape.settle()
    run.note(b"GET /updates", "poll 2, sent as soon as poll 1 returned")
    task = asyncio.create_task(conn.request("GET", "/updates", timeout=10))
    await run.tape.settle()
    run.clock.advance(30)
    run.note(b"[]", "t=32 s: 30 s without news, the server answers an empty list")
    assert feed.expire() == 1
    await task
    await run.tape.settle()
    run.note(b"GET /updates", "poll 3")
    task = asyncio.create_task(conn.request("GET", "/updates", timeout=10))
    await run.tape.settle()
    run.clock.advance(1)
    run.note(b"HTTP/1.1 503", "t=33 s, server hiccup: 503 (RFC 9110 §15.6.4), poll 3 gets no data")
    assert feed.hiccup() == 1
    await task
    await conn.close()
    await run.tape.settle()
    run.clock.advance(0.5)
    # Update seq 2: no poll is held, so nobody receives it.
    assert feed.publish(102.0) == 0
    run.clock.advance(0.5)
    conn2 = await run.http(srv)
    run.note(b"GET /updates", "t=34 s, poll 4 on a new connection after Retry-After: 1 s")
    task = asyncio.create_task(conn2.request("GET", "/updates", timeout=10))
    await run.tape.settle()
    run.clock.advance(1)
    run.note(
        b'"seq":3',
        "seq 3 after seq 1: update seq 2 (t=33.5 s) came while no poll was held and is LOST",
    )
    assert feed.publish(102.25) == 1
    await task
    await conn2.close()


@scenario(
    5,
    "upgrade-handshake",
    "The WebSocket opening handshake",
    """A GET with Upgrade: websocket, Connection: Upgrade and the RFC 6455
    §1.3 sample Sec-WebSocket-Key; the server answers 101 Switching Protocols
    with Sec-WebSocket-Accept s3pPLMBiTxaQ9kYGzzhZRbK+xOo= (§4.2.2). From the
    next byte on the connection carries frames; the client then closes with
    1000.""",
)
async def upgrade(run: Run) -> None:
    srv = await run.server(basic_router())
    ws = await run.websocket(srv, key=RFC_SAMPLE_KEY)
    run.clock.advance(0.5)
    await ws.close(1000)


@scenario(
    6,
    "rejected-handshakes",
    "Three refused Upgrades: 400, 403, 426",
    """Three connections, three refusals (RFC 6455 §4.2.1, §4.2.2, §4.4):
    400 for a Sec-WebSocket-Key that is not 16 bytes in base64 (port 50000);
    403 for an Origin not on the allow-list (port 50001); 426 Upgrade
    Required for a plain GET to a WebSocket-only resource (port 50002). Each
    answer says why and closes; the connection never leaves HTTP.""",
)
async def rejected(run: Run) -> None:
    srv = await run.server(basic_router())
    picky = await run.server(basic_router(), origins=["http://127.0.0.1:8080"])
    try:
        await run.websocket(srv, key="c2hvcnQga2V5")  # "short key": 9 bytes
    except HandshakeFailed:
        pass
    await run.tape.settle()
    run.clock.advance(0.5)
    try:
        await run.websocket(picky, origin="http://evil.example")
    except HandshakeFailed:
        pass
    await run.tape.settle()
    run.clock.advance(0.5)
    conn = await run.http(srv)
    run.note(b"User-Agent: rawproto", "plain GET, no Upgrade, to a WebSocket-only path")
    await conn.request("GET", "/echo")
    await conn.close()


@scenario(
    7,
    "masked-text-echo",
    "A masked text frame and its unmasked echo",
    """After the handshake the client sends "Hello" masked with the RFC 6455
    §5.7 example key 37fa213d: the bytes are exactly the RFC's 81 85 37 fa 21
    3d 7f 9f 4d 51 58. Client frames MUST be masked, server frames MUST NOT
    be (§5.1, §5.3); the server echoes 81 05 48 65 6c 6c 6f.""",
)
async def masked_echo(run: Run) -> None:
    srv = await run.server(basic_router())
    ws = await run.websocket(srv, masks=repeating_mask(RFC_SAMPLE_MASK))
    await ws.send("Hello")
    await ws.recv()
    await run.tape.settle()
    await ws.close(1000)


@scenario(
    8,
    "payload-lengths-125-126-65536",
    "Three length encodings: 7-bit, 16-bit, 64-bit",
    """Binary messages of 125, 126 and 65536 bytes, echoed. 125 fits the
    7-bit length; 126 needs the 16-bit form (length byte 126 + 2 bytes);
    65536 needs the 64-bit form (127 + 8 bytes), §5.2. The 65536-byte frames
    are cut into MSS-sized segments; Wireshark reassembles them.""",
)
async def lengths(run: Run) -> None:
    srv = await run.server(basic_router())
    ws = await run.websocket(srv)
    for size in (125, 126, 65536):
        await ws.send(bytes(i % 256 for i in range(size)))
        await ws.recv()
        await run.tape.settle()
        run.clock.advance(0.01)
    await ws.close(1000)


@scenario(
    9,
    "fragmentation-with-interleaved-ping",
    "One message in three fragments, a ping between them",
    """The client sends "Hello, world" as TEXT (FIN=0) "Hello", CONT (FIN=0)
    ", wor", CONT (FIN=1) "ld", with a PING between the first two fragments:
    control frames MAY be injected in the middle of a fragmented message
    (§5.4). The server answers the ping at once (§5.5.2) and echoes the
    reassembled message as one frame.""",
)
async def fragments(run: Run) -> None:
    srv = await run.server(basic_router())
    ws = await run.websocket(srv)
    for frame in (
        Frame("TEXT", b"Hello", fin=False),
        Frame("PING", b"mid"),
        Frame("CONT", b", wor", fin=False, text=True),
        Frame("CONT", b"ld", fin=True, text=True),
    ):
        await ws.send_frame(frame)
        await run.tape.settle()
    await ws.recv()
    await run.tape.settle()
    await ws.close(1000)


@scenario(
    10,
    "ping-pong",
    "Ping and pong, both ways",
    """The client pings with payload 00000001 and the server MUST answer a
    pong with the same payload (§5.5.2, §5.5.3); 20 s later the server pings
    (00000002) and the client answers. A ping's payload identifies its pong;
    the time between them is the round trip.""",
)
async def ping_pong(run: Run) -> None:
    srv = await run.server(basic_router())
    ws = await run.websocket(srv)
    await ws.ping()
    await run.tape.settle()
    run.clock.advance(20)
    server_side = next(iter(srv.websockets))
    await server_side.ping()
    await run.tape.settle()
    await ws.close(1000)


@scenario(
    11,
    "heartbeat-timeout",
    "The heartbeat that never came back: a silent peer",
    """After the handshake the client goes silent: no FIN, no RST, nothing,
    like a dead laptop or a sleeping NAT. The server pings every 20 s and
    waits 20 s for the pong (§5.5.2); none comes, so it fails the connection
    with Close 1011 (§7.1.7, §7.4.1) and drops TCP. Only the heartbeat tells
    a silent peer from a quiet one.""",
)
async def heartbeat(run: Run) -> None:
    srv = await run.server(
        basic_router(), limits=Limits(ping_interval=0.05, ping_timeout=0.1, close_timeout=1)
    )

    def server_sends(prefix: bytes) -> Callable[[WireRecord], bool]:
        return lambda r: (
            r.role == "server"
            and r.kind == "data"
            and r.direction == "send"
            and r.data.startswith(prefix)
        )

    # Virtual time: the ping comes 20 s after the 101, the failure 20 s later.
    run.tape.on(server_sends(b"HTTP/1.1 101"), lambda: run.clock.advance(20))
    run.tape.on(server_sends(b"\x89"), lambda: run.clock.advance(20))
    run.note(b"\x89", "t=20 s, heartbeat: the server pings the silent client")
    run.note(b"\x88", "t=40 s, no pong within 20 s: the server fails the connection")
    wire = await run.raw(srv)
    run.fin_notes["server"] = "after Close 1011 the server drops TCP without waiting (§7.1.7)"
    await run.drain(wire)  # the silent client only notices the FIN


@scenario(
    12,
    "close-handshake",
    "The closing handshake, and who closes TCP first",
    """The client sends Close 1000 "bye"; the server MUST answer with a Close
    (§5.5.1), echoing the code. Then the server closes TCP first (§7.1.1), so
    the TIME_WAIT state stays on the server, and the client closes after it
    sees the server's FIN.""",
)
async def close_handshake(run: Run) -> None:
    srv = await run.server(basic_router())
    ws = await run.websocket(srv)
    await ws.send("last words")
    await ws.recv()
    await run.tape.settle()
    run.clock.advance(0.5)
    run.fin_notes["server"] = "§7.1.1: after the Close handshake the server closes TCP first"
    run.fin_notes["client"] = "§7.1.1: the client closes once it has seen the server's FIN"
    await ws.close(1000, "bye")


@scenario(
    13,
    "abnormal-closure-1006",
    "TCP closes with no Close frame: 1006",
    """The client sends one message, then closes TCP without a Close frame.
    The server sees the connection closed with no closing handshake: "The
    WebSocket Connection is Closed" with code 1006 (§7.1.5, §7.4.1), a code
    that is never sent on the wire; it only exists in the API.""",
)
async def abnormal(run: Run) -> None:
    srv = await run.server(basic_router())
    wire = await run.raw(srv)
    session = WsSession("client", masks=run.rng.randbytes)
    await wire.write(session.send(Frame("TEXT", b"gone soon")))
    await run.tape.settle()
    run.clock.advance(0.5)
    run.fin_notes["client"] = "no Close frame first: the server reports 1006 (§7.1.5)"
    run.fin_notes["server"] = "the server closes too; 1006 is never sent on the wire (§7.4.1)"
    await _close_and_drain(wire)


async def _close_and_drain(wire: Wire) -> None:
    wire.write_eof()
    async with asyncio.timeout(5):
        while data := await wire.read(65536):
            wire.received(data, ())
    await wire.close()


@scenario(
    14,
    "protocol-error-1002",
    "An unmasked client frame: close 1002",
    """A misbehaving client sends "Hello" unmasked. RFC 6455 §5.1: "The server
    MUST close the connection upon receiving a frame that is not masked"; it
    MAY send Close 1002 protocol error first (§7.4.1), which rawproto does,
    then closes TCP (§7.1.7).""",
)
async def protocol_error(run: Run) -> None:
    srv = await run.server(basic_router())
    wire = await run.raw(srv)
    # The core's own encoder, in the server role, writes an unmasked frame.
    unmasked = WsSession("server").send(Frame("TEXT", b"Hello"))
    run.note(unmasked, "a misbehaving client")
    await wire.write(unmasked)
    await run.drain(wire)


@scenario(
    15,
    "invalid-utf8-1007",
    "A text frame that is not UTF-8: close 1007",
    """A misbehaving client sends a TEXT frame whose payload is not valid
    UTF-8 (ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80: "κόσμε" plus a lone
    surrogate). §8.1: the endpoint MUST fail the connection; the server sends
    Close 1007 (§7.4.1).""",
)
async def invalid_utf8(run: Run) -> None:
    srv = await run.server(basic_router())
    wire = await run.raw(srv)
    # wsproto refuses to put invalid UTF-8 in a TEXT frame, so it encodes a
    # BINARY frame and the opcode nibble changes from 2 to 1 (§5.2).
    bad = bytes.fromhex("cebae1bdb9cf83cebcceb5eda080")
    data = bytearray(WsSession("client", masks=run.rng.randbytes).send(Frame("BINARY", bad)))
    data[0] = (data[0] & 0xF0) | 0x1
    run.note(bytes(data), "a misbehaving client")
    await wire.write(bytes(data))
    await run.drain(wire)


@scenario(
    16,
    "message-too-big-1009",
    "A message over the server's limit: close 1009",
    """The server accepts messages of at most 1024 bytes; the client sends
    2000. The server fails the connection with Close 1009 "message too big"
    (§7.4.1) and closes TCP at once (§7.1.7). The client's echo of the Close
    arrives after the server's FIN; a Linux server whose socket is already
    closed would answer it with RST.""",
)
async def too_big(run: Run) -> None:
    srv = await run.server(basic_router(), limits=Limits(ping_interval=None, max_message_size=1024))
    ws = await run.websocket(srv)
    await ws.send("x" * 2000)
    try:
        await ws.recv()
    except Exception:
        pass
    await ws.wait_closed()


@scenario(
    17,
    "frame-split-across-segments",
    "One frame, two TCP segments",
    """TCP carries bytes, not messages. With an MSS of 536 bytes (the IPv4
    default, RFC 9293 §3.7.1), the client's 608-byte frame (a 600-byte text
    message) leaves in two segments, 536 + 72, and the server's echo too.
    The receiver reads the frame header in the first segment and waits for
    the rest of the payload; Wireshark reassembles the frame.""",
    mss=536,
)
async def split(run: Run) -> None:
    srv = await run.server(basic_router())
    ws = await run.websocket(srv)
    text = ("TCP carries bytes, not messages. " * 20)[:600]
    await ws.send(text)
    await ws.recv()
    await run.tape.settle()
    await ws.close(1000)


def by_name(name: str) -> Scenario:
    for s in SCENARIOS:
        if name in (s.name, s.slug, str(s.number), f"{s.number:02d}"):
            return s
    raise KeyError(name)


async def record(s: Scenario) -> Run:
    """Run one scenario; its records are in ``run.tape.records``."""
    run = Run(SEED + s.number)
    try:
        await s.run(run)
    finally:
        await run.finish()
    return run


def iter_scenarios(names: list[str] | None = None) -> Iterator[Scenario]:
    if not names:
        yield from SCENARIOS
    else:
        for n in names:
            yield by_name(n)


__all__ = ["SCENARIOS", "Run", "Scenario", "Tape", "VirtualClock", "by_name", "record"]
