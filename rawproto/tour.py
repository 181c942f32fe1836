"""``rawproto tour``: the narrated walk from one HTTP request to a closed WebSocket.

A real rawproto server and a real rawproto client talk over 127.0.0.1 in
this one process. Every chunk either side writes or reads is one
:class:`~rawproto.core.trace.WireRecord` in a :class:`Recorder`; each chapter
prints the records it produced, explained byte by byte by
:mod:`rawproto.explain`. Nothing printed here is typed by hand: it is what
crossed the socket in this run.

``--deterministic`` fixes the handshake key, the masking keys, the ping
payloads, the clock, the Host header and the ports shown, so the transcript
is identical on every run (tests compare it with a committed golden copy).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import textwrap
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from rawproto.aio import (
    HttpConnection,
    HttpResult,
    Request,
    Response,
    Router,
    WebSocket,
    connect,
    serve,
)
from rawproto.aio.server import Server, ServerOptions
from rawproto.aio.stream import open_connection
from rawproto.app import echo
from rawproto.cliargs import parse
from rawproto.core import handshake
from rawproto.core.limits import Limits
from rawproto.core.trace import FixedClock, Recorder, Role, WireRecord, default_clock
from rawproto.core.ws import Frame
from rawproto.explain.conn import ConnectionExplainer, ExplainedRecord
from rawproto.explain.frames import ExplainedFrame
from rawproto.explain.http import ExplainedHead, explain_head
from rawproto.explain.views import explained, use_color

WIDTH = 80
SEED = 6455  # the RFC number: the seed of every "random" byte in deterministic mode

#: What the polling client asks for again and again: a quote that has not changed.
QUOTE = {"symbol": "RAW", "price": 101.25, "seq": 7}

HEARTBEAT = Limits(ping_interval=0.3, ping_timeout=0.3, close_timeout=2)
CALM = Limits(ping_interval=None, close_timeout=2)


# --- what the tour's server serves ---------------------------------------------


async def _index(request: Request) -> Response:
    return Response(200, b"Hello from rawproto\n")


async def _quote(request: Request) -> Response:
    body = json.dumps(QUOTE, separators=(",", ":")).encode()
    return Response(200, body, content_type="application/json")


async def _feed(ws: WebSocket) -> None:
    """Push the same quote three times, as a live feed would on every change."""
    body = json.dumps(QUOTE, separators=(",", ":"))
    for _ in range(3):
        await ws.send(body)
    async for _message in ws:
        pass


def tour_router() -> Router:
    router = Router()
    router.http("/", _index)
    router.http("/quote", _quote)
    router.websocket("/echo", echo)
    router.websocket("/feed", _feed)
    return router


# --- printing --------------------------------------------------------------------


@dataclass
class Out:
    """Where the tour prints, and how."""

    stream: TextIO
    color: bool
    step: bool
    narrate: bool = True  #: False: bytes and measurements only (the docs use this)

    def say(self, text: str = "") -> None:
        print(text, file=self.stream)

    def para(self, text: str) -> None:
        """A paragraph, wrapped at 78 columns."""
        if not self.narrate:
            return
        for chunk in text.strip().split("\n\n"):
            print(textwrap.fill(" ".join(chunk.split()), WIDTH - 2), file=self.stream)
            print(file=self.stream)

    def title(self, number: int, text: str) -> None:
        if not self.narrate:
            return
        bar = "═" * WIDTH
        self.say(bar)
        self.say(f" Chapter {number}. {text}")
        self.say(bar)
        self.say()

    def pause(self) -> None:
        if self.step:
            self.stream.flush()
            try:
                input("  [Enter] for the next step ")
            except EOFError:
                self.step = False


# --- the tour --------------------------------------------------------------------


@dataclass
class Tour:
    out: Out
    deterministic: bool
    recorder: Recorder = field(default_factory=Recorder)
    server: Server | None = None
    heartbeat_server: Server | None = None
    http: HttpConnection | None = None
    ws: WebSocket | None = None
    shown: int = 0  # records already printed
    explainers: dict[tuple[int, Role], ConnectionExplainer] = field(default_factory=dict)
    polls: list[tuple[int, int, int]] = field(default_factory=list)  # (request, response, body)
    rtts: list[float] = field(default_factory=list)
    http_rtts: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        rng = random.Random(SEED)
        self.clock = FixedClock(start=1000.0, step=0.0001) if self.deterministic else default_clock
        self.key = handshake.new_key(rng.randbytes) if self.deterministic else None
        self.masks = rng.randbytes if self.deterministic else None
        counter = iter(range(1, 1 << 30))
        self.pings: Callable[[], bytes] | None = (
            (lambda: next(counter).to_bytes(4, "big")) if self.deterministic else None
        )
        self._conn_ids = iter(range(1, 1 << 30))

    # -- plumbing --

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    def shown_port(self, port: int) -> int:
        """In deterministic mode every server port is shown as 8080."""
        return 8080 if self.deterministic else port

    def host(self) -> str:
        return f"127.0.0.1:{self.shown_port(self.port)}"

    async def start(self) -> None:
        options = ServerOptions(limits=CALM, tap=self.recorder, clock=self.clock)
        self.server = await serve(tour_router(), "127.0.0.1", 0, options)

    async def stop(self) -> None:
        if self.ws is not None and self.ws.open:
            await self.ws.close()
        if self.http is not None:
            await self.http.close()
        for server in (self.server, self.heartbeat_server):
            if server is not None:
                await server.shutdown(timeout=2)

    async def http_conn(self) -> HttpConnection:
        if self.http is None:
            self.http = HttpConnection(
                f"http://127.0.0.1:{self.port}/",
                tap=self.recorder,
                clock=self.clock,
                conn_id=next(self._conn_ids),
                host_header=self.host(),
            )
            await self.http.open()
        return self.http

    async def websocket(self, path: str = "/echo") -> WebSocket:
        return await connect(
            f"ws://127.0.0.1:{self.port}{path}",
            tap=self.recorder,
            clock=self.clock,
            key=self.key,
            masks=self.masks,
            limits=CALM,
            ping_payloads=self.pings,
            conn_id=next(self._conn_ids),
            host_header=self.host(),
        )

    def skip(self) -> None:
        """Do not print what happened so far (setup for a chapter run alone)."""
        self._explain(self.recorder.records[self.shown :])
        self.shown = len(self.recorder.records)

    def _explain(self, records: Sequence[WireRecord]) -> list[ExplainedRecord]:
        out = []
        for r in records:
            explainer = self.explainers.setdefault((r.conn, r.role), ConnectionExplainer())
            out.append(explainer.feed(r))
        return out

    def new_records(self, role: Role = "client") -> list[ExplainedRecord]:
        records = self.recorder.records[self.shown :]
        self.shown = len(self.recorder.records)
        return [e for e in self._explain(records) if e.record.role == role]

    def show(self, role: Role = "client") -> None:
        """Print every chunk since the last call, as one side saw it."""
        for line in explained(self.new_records(role), color=self.out.color):
            self.out.say(line)
        self.out.pause()

    # -- chapters --

    async def ch1_tcp(self) -> None:
        o = self.out
        o.title(1, "A TCP connection: two sockets, four numbers")
        o.para("""
            Everything starts with TCP. The server listens on a port; the client
            connects from a port its kernel picks (an "ephemeral" port). The pair
            of addresses names the connection for its whole life: every byte in
            this tour travels inside it. TCP guarantees order, not boundaries:
            what one side writes in one call may arrive in pieces, or glued to
            the next write.""")
        conn = await self.http_conn()
        assert conn.wire is not None
        opened = [r for r in self.recorder.records[self.shown :] if r.kind == "open"][-1]
        self.skip()
        assert opened.local is not None and opened.remote is not None
        client_port = 50000 if self.deterministic else opened.local[1]
        o.say(f"  client  127.0.0.1:{client_port:<6} (ephemeral, chosen by the kernel)")
        o.say(f"  server  127.0.0.1:{self.shown_port(opened.remote[1]):<6} (listening)")
        o.say(f"  record  conn {opened.conn}: opened; no byte of HTTP has been sent yet")
        if self.deterministic:
            o.say("  (deterministic run: ports shown as 50000 and 8080)")
        o.say()
        o.pause()

    async def ch2_http(self) -> None:
        o = self.out
        o.title(2, "HTTP/1.1: one request, one response — then another")
        o.para("""
            HTTP is the delivery truck: the client sends a request (a start line,
            header lines, an empty line), the server answers with a status line,
            headers, an empty line and a body whose length it announced. Then the
            truck is back at base. Read the bytes: every line ends in CR LF
            (0d 0a), and the empty line that ends the head is 0d 0a 0d 0a.""")
        conn = await self.http_conn()
        first = await self._timed(conn.request("GET", "/"))
        self.show()
        o.para(f"""
            Status {first.status} {first.reason}. Content-Length told the client
            exactly where the body ends, so the connection can carry another
            request: HTTP/1.1 connections are persistent by default (RFC 9112
            §9.3). The second request goes on the same connection — no new TCP
            handshake:""")
        await self._timed(conn.request("GET", "/quote"))
        self.show()

    async def _timed(self, pending: Awaitable[HttpResult]) -> HttpResult:
        start = self.clock()
        result = await pending
        self.http_rtts.append(self.clock() - start)
        return result

    async def ch3_polling(self) -> None:
        o = self.out
        o.title(3, "Polling: asking again and again")
        o.para("""
            A dashboard that polls asks "anything new?" on a timer. Here the
            client polls /quote three times; the quote has not changed, yet
            every poll pays for a full request head and a full response head.
            The compact view, one line per message:""")
        conn = await self.http_conn()
        self.skip()
        for _ in range(3):
            await self._timed(conn.request("GET", "/quote"))
            records = [e.record for e in self.new_records()]
            sent = sum(len(r.data) for r in records if r.kind == "data" and r.direction == "send")
            got = sum(len(r.data) for r in records if r.kind == "data" and r.direction == "recv")
            body = len(json.dumps(QUOTE, separators=(",", ":")))
            self.polls.append((sent, got, body))
            o.say(
                f"  > GET /quote [{sent} bytes]  < 200 OK [{got} bytes]  "
                f"news: none (same {body} bytes)"
            )
        sent, got, body = self.polls[-1]
        o.say()
        o.para(f"""
            Each poll costs {sent + got} bytes to learn nothing:
            {sent + got - body} of them are headers and framing, {body} are the
            same quote again. A real browser adds cookies and a dozen headers:
            500-800 bytes of headers per poll is typical. And the news can wait
            up to a whole interval before the next poll notices it.""")
        o.pause()

    async def ch4_upgrade(self) -> None:
        o = self.out
        o.title(4, "The Upgrade: HTTP asks to become a WebSocket")
        o.para("""
            A WebSocket begins as an HTTP GET with two extra wishes: Upgrade:
            websocket and Connection: Upgrade. Sec-WebSocket-Key is 16 random
            bytes in base64; the server proves it understood by hashing it with a
            fixed GUID. If every rule holds (RFC 6455 §4.2.1), it answers 101
            Switching Protocols — and from the next byte on, this TCP connection
            speaks frames, not HTTP.""")
        self.ws = await self.websocket()
        self.show()
        key = self._sent_key()
        steps = handshake.accept_steps(key)
        o.say("  The accept key, step by step (RFC 6455 §4.2.2):")
        o.say(f"    key           {steps.key}")
        o.say(f"    + GUID        {handshake.GUID}")
        o.say(f"    = string      {steps.concatenated[:44]}…")
        o.say(f"    SHA-1         {steps.sha1.hex(' ')[:47]}")
        o.say(f"                  {steps.sha1.hex(' ')[48:]}")
        o.say(f"    base64        {steps.accept}")
        said = self._received_header("Sec-WebSocket-Accept")
        mark = "✓ matches" if said == steps.accept else "✗ does not match"
        o.say(f"    the 101 says  {said}  {mark}")
        o.say()
        o.pause()

    def _sent_key(self) -> str:
        """The key the client really sent, read from the record by the explainer."""
        return self._head_value("send", "Sec-WebSocket-Key")

    def _received_header(self, name: str) -> str:
        """A header of the last response the client received, from its record."""
        return self._head_value("recv", name)

    def _head_value(self, direction: str, name: str) -> str:
        for r in reversed(self.recorder.records):
            # An HTTP head starts with a method or "HTTP/"; frames never with a letter here.
            if r.role == "client" and r.direction == direction and r.data[:1].isalpha():
                value = explain_head(r.data).get(name)
                if value is not None:
                    return value
        raise RuntimeError(f"no {name} in the recorded handshake")

    async def _ensure_ws(self) -> WebSocket:
        if self.ws is None or not self.ws.open:
            self.ws = await self.websocket()
            self.skip()
        return self.ws

    async def ch5_masking(self) -> None:
        o = self.out
        o.title(5, "A masked client frame, and the server's plain echo")
        o.para("""
            The client sends "Hello". Two bytes of header say: final frame, text,
            masked, 5 bytes. Then four random bytes, the masking key, and the
            payload XORed with it (RFC 6455 §5.3). Every client frame is masked,
            so that no byte the page chose reaches the wire as-is and confuses a
            proxy that still thinks it is reading HTTP. The server's frames are
            never masked.""")
        ws = await self._ensure_ws()
        await ws.send("Hello")
        await ws.recv()
        self.show()

    async def ch6_lengths(self) -> None:
        o = self.out
        o.title(6, "Three ways to say a length: 125, 126 and 65,536 bytes")
        o.para("""
            The 7-bit length field holds 0-125. The value 126 means "the real
            length is in the next 2 bytes", 127 means "in the next 8 bytes"
            (RFC 6455 §5.2), and the shortest form must be used. Watch the second
            byte and what follows it in each echo from the server:""")
        ws = await self._ensure_ws()
        for size in (125, 126, 65536):
            await ws.send(bytes(i % 256 for i in range(size)))
            await ws.recv()
            self.new_records()  # the client's masked copy: shown once in chapter 5
            server_frames = [
                r
                for r in self.recorder.records
                if r.role == "server" and r.kind == "data" and r.direction == "send"
            ]
            head = server_frames[-1].data[:10]
            extra = {125: 0, 126: 2, 65536: 8}[size]
            o.say(
                f"  {size:>6} bytes  header {head[: 2 + extra].hex(' '):<30}"
                f"  {2 + extra:>2} header bytes"
            )
        o.say()
        o.para("""
            The explained view of the 126-byte echo, as the client received it
            (the payload is cut short in the dump):""")
        await ws.send(bytes(i % 256 for i in range(126)))
        await ws.recv()
        records = self.new_records()
        for line in explained(
            [e for e in records if e.record.direction == "recv"], color=self.out.color
        ):
            o.say(line)
        o.pause()

    async def ch7_fragments(self) -> None:
        o = self.out
        o.title(7, "One message in three frames, with a ping in the middle")
        o.para("""
            A message may be cut into fragments: the first frame carries the
            opcode (TEXT) with FIN=0, the next ones opcode 0 (continuation), and
            the last has FIN=1. Control frames — ping, pong, close — may be
            slipped between fragments (RFC 6455 §5.4). The server reassembles
            "Hello, world" and answers the ping with a pong in between.""")
        ws = await self._ensure_ws()
        await ws.send_frame(Frame("TEXT", b"Hello", fin=False))
        await ws.send_frame(Frame("PING", b"mid"))
        await ws.send_frame(Frame("CONT", b", wor", fin=False, text=True))
        await ws.send_frame(Frame("CONT", b"ld", fin=True, text=True))
        await ws.recv()
        self.show()

    async def ch8_heartbeat(self) -> None:
        o = self.out
        o.title(8, "Ping, pong, and the heartbeat that never came")
        o.para("""
            The telephone line stays honest because someone asks "still there?"
            now and then. A ping carries a few bytes; the peer MUST answer with a
            pong carrying the same bytes (RFC 6455 §5.5.2). The time between them
            is the round trip:""")
        ws = await self._ensure_ws()
        self.skip()
        rtt = await ws.ping()
        self.rtts.append(rtt)
        self.show()
        shown = "(fixed clock)" if self.deterministic else f"{rtt * 1000:.3f} ms"
        o.say(f"  round-trip time: {shown}")
        o.say()
        o.para("""
            Now the essay's 2 AM bug. A second client connects to a server that
            pings every 0.3 s and waits 0.3 s for the pong. After the handshake
            this client goes silent: its TCP connection is still "open", no FIN,
            no RST — exactly what a dead laptop, a pulled cable or a sleeping NAT
            looks like. Without a heartbeat the server would wait forever. As the
            server sees it:""")
        options = ServerOptions(
            limits=HEARTBEAT, tap=self.recorder, clock=self.clock, ping_payloads=self.pings
        )
        self.heartbeat_server = await serve(tour_router(), "127.0.0.1", 0, options)
        started = asyncio.get_running_loop().time()
        await self._silent_client(self.heartbeat_server.port)
        waited = asyncio.get_running_loop().time() - started
        self.show(role="server")
        limit = HEARTBEAT.ping_interval or 0.0
        total = limit + (HEARTBEAT.ping_timeout or 0.0)
        when = f"{total:g} s" if self.deterministic else f"{waited:.2f} s"
        o.para(f"""
            Detected within {when} (ping_interval {limit:g} s + ping_timeout
            {HEARTBEAT.ping_timeout:g} s); the server sends Close 1011 and drops
            the TCP connection. A long-polling client has no such line to
            listen on: it just waits.""")

    async def _silent_client(self, port: int) -> None:
        """Handshake by hand, then read nothing and answer nothing until dropped."""
        wire = await open_connection("127.0.0.1", port, conn_id=next(self._conn_ids))  # no tap
        hs = handshake.ClientHandshake(f"127.0.0.1:{self.shown_port(port)}", "/echo", key=self.key)
        await wire.write(hs.request_bytes())
        while hs.receive_data(await wire.read(65536)) is None:
            pass
        # Silence. Wait (bounded) until the server gives up on us.
        async with asyncio.timeout(5):
            while await wire.read(65536):
                pass
        wire.abort()
        # Let the server finish writing its records for this connection.
        for _ in range(50):
            if any(
                r.kind == "close" and r.role == "server"
                for r in self.recorder.records[self.shown :]
            ):
                break
            await asyncio.sleep(0.02)

    async def ch9_close(self) -> None:
        o = self.out
        o.title(9, "Closing: a handshake of its own")
        o.para("""
            Either side may start. The client sends a Close frame with a code
            (1000: normal closure) and a reason; the server MUST answer with a
            Close of its own (RFC 6455 §5.5.1). Then the server closes TCP first
            (§7.1.1), so that it — not the client — carries the TIME_WAIT state.""")
        ws = await self._ensure_ws()
        await ws.close(1000, "tour over")
        records = self.new_records()
        for line in explained(records, color=self.out.color):
            o.say(line)
        order = [
            ("server" if r.record.direction == "recv" else "client")
            for r in records
            if r.record.kind == "eof"
        ]
        o.say(
            f"  TCP FIN order: first {order[0] if order else '?'}, then "
            f"{order[1] if len(order) > 1 else '?'}  (close code {ws.close_code})"
        )
        o.say()
        o.pause()

    async def ch10_summary(self) -> None:
        o = self.out
        o.title(10, "Summary: the truck and the telephone line, measured")
        if not self.polls:
            await self.ch3_polling_quiet()
        ws = await self.websocket("/feed")
        for _ in range(3):
            await ws.recv()
        await ws.close()
        items = [item for e in self.new_records() for item in e.items]
        handshake_bytes = sum(len(i.raw) for i in items if isinstance(i, ExplainedHead))
        pushes = [
            i
            for i in items
            if isinstance(i, ExplainedFrame) and i.sender == "server" and i.opcode_name == "TEXT"
        ][:3]
        per_push = sum(len(f.raw) for f in pushes) // max(1, len(pushes))
        sent, got, body = self.polls[-1]
        o.say("  one update of the same 46-byte quote:".replace("46", str(body)))
        o.say(
            f"    HTTP poll       {sent:>4} bytes up + {got:>4} down = {sent + got:>4} bytes"
            f"  ({100 * (sent + got - body) // (sent + got)} % overhead)"
        )
        o.say(
            f"    WebSocket push  {0:>4} bytes up + {per_push:>4} down = {per_push:>4} bytes"
            f"  ({100 * (per_push - body) // per_push} % overhead)"
        )
        o.say(f"    (the WebSocket paid {handshake_bytes} bytes once, for the Upgrade)")
        o.say()
        if self.deterministic:
            o.say("  round trips: measured with a fixed clock in this run; run the tour")
            o.say("  without --deterministic to see real times")
        else:
            avg = sum(self.http_rtts) / max(1, len(self.http_rtts))
            o.say(
                f"  HTTP request → response, average of {len(self.http_rtts)}: {avg * 1000:.3f} ms"
            )
            if self.rtts:
                o.say(f"  WebSocket ping → pong: {self.rtts[0] * 1000:.3f} ms")
        o.say()
        o.para("""
            Polling pays a full HTTP exchange per question and learns news up to a
            whole interval late. A WebSocket pays one Upgrade, then a couple of
            bytes per message, in both directions, whenever either side likes —
            and it needs a heartbeat to know the line is still alive. Next: open
            captures/ in Wireshark, or run `rawproto dashboard` to feel it.""")

    async def ch3_polling_quiet(self) -> None:
        """Measure one poll without printing (chapter 10 run alone)."""
        conn = await self.http_conn()
        self.skip()
        await conn.request("GET", "/quote")
        records = [e.record for e in self.new_records()]
        sent = sum(len(r.data) for r in records if r.kind == "data" and r.direction == "send")
        got = sum(len(r.data) for r in records if r.kind == "data" and r.direction == "recv")
        self.polls.append((sent, got, len(json.dumps(QUOTE, separators=(",", ":")))))


CHAPTERS: list[tuple[str, Callable[[Tour], Awaitable[None]]]] = [
    ("A TCP connection", Tour.ch1_tcp),
    ("HTTP/1.1 request and response, keep-alive", Tour.ch2_http),
    ("Polling", Tour.ch3_polling),
    ("The Upgrade handshake", Tour.ch4_upgrade),
    ("Masked client frame and echo", Tour.ch5_masking),
    ("Payload lengths 125, 126, 65536", Tour.ch6_lengths),
    ("Fragmentation with a ping between", Tour.ch7_fragments),
    ("Ping/pong and the heartbeat timeout", Tour.ch8_heartbeat),
    ("The close handshake", Tour.ch9_close),
    ("Summary", Tour.ch10_summary),
]


def chapters_to_run(only: int | None) -> Iterator[int]:
    yield from ([only] if only else range(1, len(CHAPTERS) + 1))


async def run_tour(
    out: Out, *, deterministic: bool, chapter: int | None = None, capture: str | None = None
) -> Recorder:
    tour = Tour(out, deterministic)
    await tour.start()
    try:
        if chapter is None:
            out.para("""
                rawproto tour — a real server and a real client on 127.0.0.1, in
                this process. Every byte below crossed a socket in this run and is
                explained as it was recorded.""")
        for n in chapters_to_run(chapter):
            await CHAPTERS[n - 1][1](tour)
    finally:
        await tour.stop()
    return tour.recorder


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rawproto tour", description="The narrated walk through HTTP/1.1 and WebSocket."
    )
    p.add_argument(
        "--deterministic",
        action="store_true",
        help="fixed keys, masks, clock and ports: identical output every run",
    )
    p.add_argument("--step", action="store_true", help="wait for Enter between steps")
    p.add_argument("--chapter", type=int, metavar="N", help=f"run one chapter (1-{len(CHAPTERS)})")
    p.add_argument("--capture", metavar="FILE", help="write the session as pcapng")
    p.add_argument("--list", action="store_true", help="list the chapters")
    return p


def main(argv: Sequence[str]) -> int:
    parser = build_parser()
    args = parse(parser, argv)
    if isinstance(args, int):
        return args
    if args.list:
        for i, (name, _) in enumerate(CHAPTERS, 1):
            print(f"{i:>2}. {name}")
        return 0
    if args.chapter is not None and not 1 <= args.chapter <= len(CHAPTERS):
        print(f"rawproto tour: --chapter must be 1 to {len(CHAPTERS)}", file=sys.stderr)
        return 2
    out = Out(sys.stdout, color=use_color(sys.stdout), step=args.step)
    try:
        recorder = asyncio.run(
            run_tour(out, deterministic=args.deterministic, chapter=args.chapter)
        )
    except KeyboardInterrupt:
        return 130
    except (OSError, TimeoutError) as exc:
        print(f"rawproto tour: {exc or type(exc).__name__}", file=sys.stderr)
        return 1
    if args.capture:
        from rawproto.capture import write_session

        what = f"chapter {args.chapter}" if args.chapter else "all chapters"
        try:
            write_session(
                recorder.records,
                args.capture,
                comment=f"rawproto tour ({what}): every connection of this run, "
                "one TCP stream each, server port shown as 8080",
            )
        except OSError as exc:
            print(
                f"rawproto tour: cannot write {args.capture}: {exc.strerror or exc}",
                file=sys.stderr,
            )
            return 1
        print(f"wrote {args.capture}: open it in Wireshark (filter: websocket)")
    return 0
