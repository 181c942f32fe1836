"""An HTTP/1.1 + WebSocket server on asyncio: one :class:`~rawproto.aio.stream.Wire` each.

The loop per connection is the HTTP cycle, written out::

    read until h11 has a Request  (header timeout; 408 / 431 / 414 / 400 ...)
    ├─ an Upgrade to a WebSocket route → check_upgrade → 101 → WebSocket handler
    └─ otherwise read the body (413), call the handler, send the response
       keep-alive? start_next_cycle() and go round again (idle timeout)

Every rule lives in ``rawproto.core``; this module only moves bytes, owns the
timers, and counts connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import h11

from rawproto.aio.stream import Wire
from rawproto.aio.websocket import ConnectionClosed, PrintTrace, WebSocket
from rawproto.core import handshake
from rawproto.core.errors import HandshakeRejected, HttpError
from rawproto.core.http1 import HttpSession, error_response, reason_phrase, response
from rawproto.core.limits import Limits
from rawproto.core.trace import Clock, Tap, default_clock
from rawproto.core.ws import WsSession

log = logging.getLogger("rawproto.server")


@dataclass
class Request:
    """What an HTTP handler receives."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    http_version: str
    conn: int

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)


@dataclass
class Response:
    """What an HTTP handler returns. ``chunks`` (instead of ``body``) is sent
    with ``Transfer-Encoding: chunked`` (RFC 9112 §7.1)."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)
    chunks: Iterable[bytes] | AsyncIterator[bytes] | None = None


HttpHandler = Callable[[Request], Awaitable[Response]]
WsHandler = Callable[[WebSocket], Awaitable[None]]


@dataclass
class Route:
    http: HttpHandler | None = None
    methods: tuple[str, ...] = ("GET", "HEAD")
    websocket: WsHandler | None = None


class Router:
    """Path → handlers. A route may answer plain HTTP, WebSocket, or both."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}

    def http(
        self, path: str, handler: HttpHandler, methods: Sequence[str] = ("GET", "HEAD")
    ) -> None:
        route = self.routes.setdefault(path, Route())
        route.http, route.methods = handler, tuple(m.upper() for m in methods)

    def websocket(self, path: str, handler: WsHandler) -> None:
        self.routes.setdefault(path, Route()).websocket = handler


@dataclass
class ServerOptions:
    limits: Limits = field(default_factory=Limits)
    origins: Sequence[str] | None = None
    subprotocols: Sequence[str] = ()
    tap: Tap | None = None
    trace: PrintTrace | None = None
    clock: Clock = default_clock
    ping_payloads: Callable[[], bytes] | None = None
    server_header: str = "rawproto"


class Server:
    """A running server. ``async with`` it, or call :meth:`shutdown`."""

    def __init__(self, router: Router, options: ServerOptions) -> None:
        self.router = router
        self.options = options
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.websockets: set[WebSocket] = set()
        self._busy: set[Wire] = set()  # connections in the middle of an HTTP exchange
        self._idle: set[Wire] = set()  # waiting for a request (with a task)
        self._unstarted: set[Wire] = set()  # connected, nothing sent yet (no task yet)
        self._shutting_down = False

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def connections(self) -> int:
        return len(self._tasks) + len(self._unstarted)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> Server:
        opts = self.options
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: Wire("server", tap=opts.tap, clock=opts.clock, on_open=self._accept),
            host,
            port,
            reuse_address=True,
        )
        return self

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    async def serve_forever(self) -> None:
        assert self._server is not None
        await self._server.serve_forever()

    async def shutdown(self, timeout: float | None = None) -> None:
        """Graceful shutdown: stop accepting, close every WebSocket with 1001,
        let in-flight HTTP responses finish, then close idle keep-alive sockets."""
        self._shutting_down = True
        if self._server is not None:
            self._server.close()
        timeout = self.options.limits.close_timeout if timeout is None else timeout
        await asyncio.gather(
            *(w.close(1001, "server shutting down") for w in list(self.websockets)),
            return_exceptions=True,
        )
        for wire in [*self._idle, *self._unstarted]:
            wire.abort()
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            self._tasks -= pending  # a task cancelled before it ran never reached its finally
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)

    def _accept(self, wire: Wire) -> None:
        """A client connected: its first request head is due within header_timeout.

        Its task starts when there is something to read (see
        Wire.when_readable): bytes, the peer's FIN, or that deadline passing.
        """
        wire.set_deadline(wire.loop.time() + self.options.limits.header_timeout)
        self._unstarted.add(wire)
        wire.when_readable(self._start)

    def _start(self, wire: Wire) -> None:
        """Run the connection in a task of its own."""
        self._unstarted.discard(wire)
        if wire.closing:
            return  # reset, or aborted by shutdown() before it sent a byte: nothing to answer
        # The task leaves self._tasks at the end of _serve (a done-callback
        # would cost the loop one more callback per connection).
        self._tasks.add(wire.loop.create_task(self._serve(wire)))

    async def _serve(self, wire: Wire) -> None:
        try:
            await self._connection(wire)
        except Exception:  # a bug in rawproto: log it once, never a traceback to the peer
            log.exception("connection %s failed", wire.conn)
        finally:
            self._busy.discard(wire)
            self._idle.discard(wire)
            if not wire.closing:
                await wire.close()
            self._tasks.discard(asyncio.current_task(wire.loop))

    async def _connection(self, wire: Wire) -> None:
        limits = self.options.limits
        if self.connections > limits.max_connections or self._shutting_down:
            http = HttpSession("server")
            await self._send_error(wire, http, HttpError(503, "too many connections"))
            return
        http = HttpSession(
            "server", max_head_bytes=limits.max_head_bytes, max_body_bytes=limits.max_body_bytes
        )
        first = True
        while True:
            self._idle.add(wire)
            try:
                request = await self._read_request(wire, http, first)
            except HttpError as exc:
                self._idle.discard(wire)
                await self._send_error(wire, http, exc)
                return
            self._idle.discard(wire)
            if request is None:
                return  # the client went away, or stayed idle too long
            first = False
            self._busy.add(wire)
            route = self.router.routes.get(request.target.decode("latin-1").split("?", 1)[0])
            wants_websocket = handshake.is_upgrade_request(request, http.request_headers)
            if wants_websocket and route and route.websocket:
                sock = await self._upgrade(wire, http, request)
                # HTTP is over on this connection: let the h11 state go.
                del http, request
                if sock is not None:
                    await self._run_websocket(sock, route.websocket)
                return
            keep_going = await self._http_exchange(wire, http, request, route)
            self._busy.discard(wire)
            if not keep_going or self._shutting_down:
                return
            http.start_next_cycle()

    async def _read_request(self, wire: Wire, http: HttpSession, first: bool) -> h11.Request | None:
        """Read until a full request head is parsed.

        A new connection's first bytes are due within ``header_timeout`` of
        connecting (see _accept); an idle keep-alive connection may wait
        ``keepalive_timeout`` for its next request; once a request has
        started, its head must be complete within ``header_timeout``
        (slowloris), or we answer 408.
        """
        limits = self.options.limits
        started = False
        loop = wire.loop
        if not first:  # the first request's deadline was set when the client connected
            wire.set_deadline(loop.time() + limits.keepalive_timeout)
        # On a new connection h11 holds nothing yet: read before asking it.
        # (A kept-alive one may hold the next request already: ask first.)
        try:
            event: Any = h11.NEED_DATA if first else http.next_event()
            while True:
                if isinstance(event, h11.Request):
                    return event
                if isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                    return None
                try:
                    data = await wire.read(limits.read_size)
                except TimeoutError:
                    if started:
                        raise HttpError(
                            408, f"no complete request head within {limits.header_timeout:g} s"
                        ) from None
                    return None
                if not data:
                    http.receive_eof()
                    if not started:
                        return None
                else:
                    if not started:
                        started = True
                        wire.set_deadline(loop.time() + limits.header_timeout)
                    http.receive_data(data)
                    if wire.tap is not None:
                        wire.received(data, ())
                event = http.next_event()
        finally:
            wire.set_deadline(None)

    async def _read_body(self, wire: Wire, http: HttpSession) -> bytes:
        """Read the request body up to EndOfMessage (limit: max_body_bytes → 413)."""
        limits = self.options.limits
        parts: list[bytes] = []
        if http.h11.they_are_waiting_for_100_continue:
            # RFC 9110 §10.1.1: a client that sent "Expect: 100-continue" waits
            # for this interim response before sending the body.
            await wire.write(
                http.send(
                    h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue")
                )
                or b""
            )
        event = http.next_event()
        if isinstance(event, h11.EndOfMessage):
            return b""  # no body (a GET): no timer needed
        async with asyncio.timeout(limits.header_timeout):
            while True:
                if isinstance(event, h11.Data):
                    parts.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    return b"".join(parts)
                elif event is h11.NEED_DATA:
                    data = await wire.read(limits.read_size)
                    if data:
                        http.receive_data(data)
                        wire.received(data, ())
                    else:
                        http.receive_eof()
                else:
                    raise HttpError(400, f"unexpected {type(event).__name__} in the body")
                event = http.next_event()

    async def _http_exchange(
        self, wire: Wire, http: HttpSession, request: h11.Request, route: Route | None
    ) -> bool:
        """One request/response cycle. Returns whether the connection may be reused."""
        method = request.method.decode("ascii", "replace")
        try:
            if route is None or (route.http is None and route.websocket is None):
                raise HttpError(404, f"nothing at {request.target.decode('latin-1')}")
            if route.http is None:
                raise HandshakeRejected(
                    426,
                    handshake.UPGRADE_IS_WEBSOCKET.name,
                    "this resource speaks WebSocket only",
                    [("Upgrade", "websocket"), ("Connection", "Upgrade")],
                )
            if method not in route.methods:
                raise HttpError(
                    405, f"{method} is not allowed here", [("Allow", ", ".join(route.methods))]
                )
            body = await self._read_body(wire, http)
        except HttpError as exc:
            await self._send_error(wire, http, exc)
            return False
        except TimeoutError:
            await self._send_error(wire, http, HttpError(408, "the body took too long"))
            return False
        req = Request(
            method=method,
            target=request.target.decode("latin-1"),
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers],
            body=body,
            http_version=request.http_version.decode("ascii"),
            conn=wire.conn,
        )
        try:
            result = await route.http(req)
        except Exception:
            log.exception("handler for %s failed", req.path)
            # Don't include exception details, which may be security-sensitive.
            await self._send_error(wire, http, HttpError(500, "the handler raised an exception"))
            return False
        await self._send_response(wire, http, result, head=method == "HEAD")
        return http.can_reuse()

    async def _send_response(
        self, wire: Wire, http: HttpSession, result: Response, *, head: bool
    ) -> None:
        headers = [("Server", self.options.server_header), *result.headers]
        if self._shutting_down:
            headers.append(("Connection", "close"))
        if result.chunks is None:
            events: list[Any] = response(
                result.status,
                result.body,
                content_type=result.content_type,
                headers=headers,
                head=head,
            )
            await wire.write(http.send_all(*events), tuple(events))
            return
        # No Content-Length: h11 frames the body as chunked for HTTP/1.1.
        start = h11.Response(
            status_code=result.status,
            reason=reason_phrase(result.status),
            headers=[("Content-Type", result.content_type), *headers],
        )
        await wire.write(http.send(start) or b"", (start,))
        if not head:
            async for chunk in _aiter(result.chunks):
                if chunk:
                    event = h11.Data(data=chunk)
                    await wire.write(http.send(event) or b"", (event,))
        end = h11.EndOfMessage()
        await wire.write(http.send(end) or b"", (end,))

    async def _send_error(self, wire: Wire, http: HttpSession, error: HttpError) -> None:
        """Answer a failure with its status and reason, then close (we may be mid-request)."""
        if http.h11.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return  # too late for a status line: the connection just closes
        wire.note("error", f"{error.status} {error.detail}")
        try:
            events = error_response(error)
            await wire.write(http.send_all(*events), tuple(events))
        except (h11.LocalProtocolError, ConnectionError, OSError):
            return
        await wire.linger_close()

    async def _upgrade(
        self, wire: Wire, http: HttpSession, request: h11.Request
    ) -> WebSocket | None:
        """The opening handshake, server side (RFC 6455 §4.2): a WebSocket, or None."""
        opts = self.options
        try:
            accepted = handshake.check_upgrade(
                request,
                origins=opts.origins,
                subprotocols=opts.subprotocols,
                headers=http.request_headers,
            )
            # A GET has no body, but read to EndOfMessage: the rest is WebSocket.
            while not isinstance(http.next_event(), h11.EndOfMessage):
                pass
        except HttpError as exc:
            await self._send_error(wire, http, exc)
            return None
        reply = handshake.accept_response(accepted)
        if wire.write_nowait(http.send(reply) or b"", (reply,)):
            await wire.drain()
        # h11 has stopped at the end of the request head: any bytes after it
        # are WebSocket frames, handed over so none is lost.
        session = WsSession(
            "server",
            trailing_data=http.trailing_data,
            max_message_size=opts.limits.max_message_size,
        )
        return WebSocket(
            wire,
            session,
            limits=opts.limits,
            trace=opts.trace,
            subprotocol=accepted.subprotocol,
            path=accepted.path,
            ping_payloads=opts.ping_payloads,
        )

    async def _run_websocket(self, sock: WebSocket, handler: WsHandler) -> None:
        """Run the endpoint's handler; close with 1000 after it, 1011 if it raises."""
        self.websockets.add(sock)
        try:
            await handler(sock)
            if sock.open:
                await sock.close(1000)
        except ConnectionClosed:
            pass  # the peer closed while the handler waited: not an error
        except Exception:
            log.exception("WebSocket handler for %s failed", sock.path)
            # §7.4.1: 1011 "encountered an unexpected condition"
            if sock.open:
                await sock.close(1011, "internal error")
        finally:
            await sock.wait_closed()
            self.websockets.discard(sock)


async def _aiter(chunks: Iterable[bytes] | AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if isinstance(chunks, AsyncIterator):
        async for c in chunks:
            yield c
    else:
        for c in chunks:
            yield c


async def serve(
    router: Router, host: str = "127.0.0.1", port: int = 0, options: ServerOptions | None = None
) -> Server:
    """Start a server; ``port=0`` picks a free one (read it from ``server.port``)."""
    return await Server(router, options or ServerOptions()).start(host, port)
