"""The dashboard server: one feed, three transports, a fault lab, all measured.

Routes (on rawproto's own server, behind the fault proxy)::

    GET  /                       the page (static/index.html, app.js, style.css)
    GET  /config                 feed, interval, heartbeat and timeout settings
    GET  /poll?client=C[&after=N]      short poll: answers at once
    GET  /longpoll?client=C[&after=N]  long poll: held until an update or a timeout
    WS   /ws?client=C[&after=N]        WebSocket push, with heartbeats
    GET  /stats?client=C         bytes on the wire, requests, connections, faults
    POST /fault?kind=K[&seconds=S]     hiccup | restart | blackhole | idle-kill

With ``after=N`` a client resumes: it gets every update after N (the fix).
Without it, a short poll gets only the latest update and a long poll only
the next one produced after its request arrived (the essay's bug).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from rawproto.aio.server import Request, Response, Router, Server, ServerOptions, serve
from rawproto.aio.websocket import ConnectionClosed, WebSocket, broadcast
from rawproto.core.limits import Limits
from rawproto.dashboard.feed import Feed, Update
from rawproto.dashboard.meter import Meter
from rawproto.dashboard.proxy import FaultProxy

log = logging.getLogger("rawproto.dashboard")

FAULTS = ("hiccup", "restart", "blackhole", "idle-kill")
STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}
JSON = "application/json"
NO_STORE = [("Cache-Control", "no-store")]


@dataclass
class Settings:
    feed: str = "stocks"
    interval: float = 1.0  # seconds between updates
    seed: int = 5
    ping_interval: float = 5.0  # WebSocket Ping from the server
    ping_timeout: float = 5.0
    heartbeat: float = 1.0  # application-level heartbeat message, seconds
    silence: float = 3.5  # the page's silence timeout, seconds
    long_poll_timeout: float = 10.0  # a held request answers empty after this
    hiccup_seconds: float = 3.0
    down_seconds: float = 2.0  # how long a restart refuses connections
    idle_kill: float = 5.0  # the idle-kill fault's N
    poll_every_ms: int = 1000  # the page's short-polling period, to start with

    def public(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class FaultEvent:
    kind: str
    t: float  # server wall time, ms
    seconds: float
    affected: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _query(request: Request) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(request.query).items()}


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _client(q: dict[str, str]) -> str:
    return q.get("client", "anonymous")[:64]


def _json(payload: Any, status: int = 200) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status, body, content_type=JSON, headers=list(NO_STORE))


@dataclass
class Subscriber:
    client: str
    sock: WebSocket
    last_sent: int


@dataclass
class Dashboard:
    settings: Settings = field(default_factory=Settings)

    def __post_init__(self) -> None:
        s = self.settings
        self.feed = Feed(s.feed, s.interval, seed=s.seed)
        self.meter = Meter()
        self.faults: list[FaultEvent] = []
        self.server_closes: list[dict[str, Any]] = []  # how the server saw WebSockets end
        self.subscribers: dict[WebSocket, Subscriber] = {}
        self.server: Server | None = None
        self.proxy: FaultProxy | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._last_push = 0.0
        self.feed.listen(self._on_update)

    # -- lifecycle --

    def router(self) -> Router:
        r = Router()
        for path in STATIC:
            r.http(path, self.static)
        r.http("/config", self.config)
        r.http("/poll", self.poll)
        r.http("/longpoll", self.longpoll)
        r.http("/stats", self.stats)
        r.http("/fault", self.fault, methods=("POST",))
        r.websocket("/ws", self.websocket)
        return r

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Start the feed, the server (internal port) and the proxy (public port)."""
        s = self.settings
        limits = Limits(
            ping_interval=s.ping_interval,
            ping_timeout=s.ping_timeout,
            close_timeout=2.0,
            keepalive_timeout=max(15.0, s.long_poll_timeout + 5),
        )
        options = ServerOptions(limits=limits, tap=self.meter, server_header="rawproto-dashboard")
        self.server = await serve(self.router(), "127.0.0.1", 0, options)
        self.proxy = await FaultProxy("127.0.0.1", self.server.port).start(host, port)
        self.feed.start()
        self._tasks.append(asyncio.create_task(self._heartbeats(), name="dashboard-heartbeats"))
        return self.proxy.port

    @property
    def port(self) -> int:
        assert self.proxy is not None
        return self.proxy.port

    async def stop(self) -> None:
        await self.feed.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.proxy is not None:
            await self.proxy.close()
        if self.server is not None:
            await self.server.shutdown(timeout=2.0)

    # -- the feed, pushed --

    def _on_update(self, update: Update) -> None:
        if self.subscribers:
            message = json.dumps({"type": "update", **update.as_dict()}, separators=(",", ":"))
            task = asyncio.create_task(self._push(update.seq, message))
            self._tasks.append(task)
            task.add_done_callback(self._tasks.remove)

    async def _push(self, seq: int, message: str) -> None:
        self._last_push = time.monotonic()
        subs = [s for s in self.subscribers.values() if s.last_sent < seq]
        for sub in subs:
            sub.last_sent = seq
            self.meter.counts(sub.client, "ws").updates += 1
        # Encoded once, written to every socket (RFC 6455 §5.1: servers never mask).
        await broadcast([s.sock for s in subs], message)

    async def _heartbeats(self) -> None:
        """An application-level heartbeat: browsers cannot send or see pings, so
        the page needs *something* to arrive to tell silence from death."""
        while True:
            await asyncio.sleep(self.settings.heartbeat / 4)
            if time.monotonic() - self._last_push < self.settings.heartbeat:
                continue  # an update went out recently: that was heartbeat enough
            self._last_push = time.monotonic()
            if self.subscribers:
                message = json.dumps(
                    {"type": "heartbeat", "t": self.feed.now_ms(), "seq": self.feed.seq}
                )
                await broadcast(list(self.subscribers), message)

    # -- handlers --

    async def static(self, request: Request) -> Response:
        self.meter.label(request.conn, _client(_query(request)), "page")
        name, ctype = STATIC[request.path]
        body = resources.files("rawproto.dashboard").joinpath("static", name).read_bytes()
        return Response(200, body, content_type=ctype, headers=list(NO_STORE))

    async def config(self, request: Request) -> Response:
        self.meter.label(request.conn, _client(_query(request)), "page")
        return _json(self.settings.public())

    def _updates(self, client: str, transport: str, updates: list[Update]) -> Response:
        self.meter.counts(client, transport).updates += len(updates)
        return _json(
            {
                "now": self.feed.now_ms(),
                "seq": self.feed.seq,
                "updates": [u.as_dict() for u in updates],
            }
        )

    async def poll(self, request: Request) -> Response:
        q = _query(request)
        client, after = _client(q), _int(q.get("after"))
        self.meter.label(request.conn, client, "short")
        # naive (no after=): only the latest value; resuming: everything since
        updates = list(self.feed.history)[-1:] if after is None else self.feed.since(after)
        return self._updates(client, "short", updates)

    async def longpoll(self, request: Request) -> Response:
        q = _query(request)
        client, after = _client(q), _int(q.get("after"))
        self.meter.label(request.conn, client, "long")
        if after is None:  # naive: whatever comes next, from now on
            after = self.feed.seq
        timeout = min(self.settings.long_poll_timeout, float(q.get("timeout") or 1e9))
        updates = await self.feed.wait_after(after, max(0.0, timeout))
        return self._updates(client, "long", updates)

    async def stats(self, request: Request) -> Response:
        client = _client(_query(request))
        self.meter.label(request.conn, client, "stats")
        report = self.meter.report(client)
        assert self.proxy is not None
        return _json(
            {
                "now": self.feed.now_ms(),
                "seq": self.feed.seq,
                "paused": self.feed.paused,
                "refusing": self.proxy.refusing,
                "idle_kill": self.proxy.idle_kill,
                "transports": {t: report.get(t) for t in ("short", "long", "ws")},
                "faults": [f.as_dict() for f in self.faults[-20:]],
                "proxy": self.proxy.stats,
                "server_closes": self.server_closes[-20:],
            }
        )

    async def fault(self, request: Request) -> Response:
        q = _query(request)
        self.meter.label(request.conn, _client(q), "control")
        kind = q.get("kind", "")
        try:
            seconds = float(q["seconds"]) if "seconds" in q else None
        except ValueError:
            return _json({"error": "seconds must be a number"}, 400)
        if kind not in FAULTS:
            return _json({"error": f"kind must be one of {', '.join(FAULTS)}"}, 400)
        if kind == "restart":
            # Answer first: the restart drops the very connection this
            # response would travel on.
            task = asyncio.create_task(self._inject_soon(kind, seconds))
            self._tasks.append(task)
            task.add_done_callback(self._tasks.remove)
            return _json({"kind": kind, "scheduled": True})
        event = await self.inject(kind, seconds)
        return _json(event.as_dict())

    async def _inject_soon(self, kind: str, seconds: float | None) -> None:
        await asyncio.sleep(0.05)
        await self.inject(kind, seconds)

    async def inject(self, kind: str, seconds: float | None = None) -> FaultEvent:
        """Inject one fault, for real; returns what happened."""
        s, proxy = self.settings, self.proxy
        assert proxy is not None and self.server is not None
        event = FaultEvent(kind, self.feed.now_ms(), 0.0)
        if kind == "hiccup":
            event.seconds = s.hiccup_seconds if seconds is None else seconds
            self.feed.pause(event.seconds)
        elif kind == "restart":
            event.seconds = s.down_seconds if seconds is None else seconds
            socks = [w for w in self.server.websockets if w.open]
            # 1012 Service Restart (RFC 6455 §7.4.1 registry): tell clients why.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(
                        *(w.close(1012, "service restart") for w in socks), return_exceptions=True
                    ),
                    0.5,
                )
            event.affected = proxy.restart(event.seconds)
        elif kind == "blackhole":
            event.affected = proxy.blackhole()
        elif kind == "idle-kill":
            event.seconds = s.idle_kill if seconds is None else seconds
            proxy.idle_kill = event.seconds
        self.faults.append(event)
        del self.faults[:-100]
        log.info("fault %s", event)
        return event

    async def websocket(self, sock: WebSocket) -> None:
        q = {k: v[-1] for k, v in parse_qs(sock.path.partition("?")[2]).items()}
        client, after = _client(q), _int(q.get("after"))
        self.meter.label(sock.wire.conn, client, "ws", sticky=True)
        counts = self.meter.counts(client, "ws")
        opened = time.monotonic()
        last = self.feed.seq if after is None else after
        try:
            # Resume: send what was missed, then join the broadcast. No await
            # between the last check and joining, so no update falls between.
            for _ in range(1000):
                missed = self.feed.since(last)
                if not missed:
                    break
                for u in missed:
                    await sock.send(json.dumps({"type": "update", **u.as_dict()}))
                    counts.updates += 1
                last = missed[-1].seq
            self.subscribers[sock] = Subscriber(client, sock, last)
            await sock.send(
                json.dumps({"type": "hello", "seq": self.feed.seq, "t": self.feed.now_ms()})
            )
            async for _message in sock:
                pass  # the page sends nothing we need; reading keeps pongs flowing
        except ConnectionClosed:
            pass
        finally:
            self.subscribers.pop(sock, None)
            await sock.wait_closed()
            self.server_closes.append(
                {
                    "client": client,
                    "code": sock.close_code,
                    "reason": sock.close_reason,
                    "t": self.feed.now_ms(),
                    "after_s": round(time.monotonic() - opened, 3),
                }
            )
            del self.server_closes[:-100]
