"""Clients: ``connect(url)`` for a WebSocket, ``HttpConnection`` / ``request(url)`` for HTTP.

Both open a plain TCP connection with asyncio, then let the sans-IO core
decide every byte: :class:`~rawproto.core.handshake.ClientHandshake` for
the Upgrade, :class:`~rawproto.core.http1.HttpSession` for requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import h11

from rawproto.aio.stream import Wire, open_connection
from rawproto.aio.websocket import PrintTrace, WebSocket
from rawproto.core.errors import HandshakeFailed, HttpError
from rawproto.core.handshake import ClientHandshake
from rawproto.core.http1 import HttpSession
from rawproto.core.limits import Limits
from rawproto.core.trace import Clock, Tap, default_clock
from rawproto.core.ws import MaskSource, WsSession


class UsageError(ValueError):
    """A URL or argument we cannot use (the CLI exits 2)."""


@dataclass(frozen=True)
class Url:
    scheme: str
    host: str
    port: int
    target: str

    @property
    def authority(self) -> str:
        default = 80
        return self.host if self.port == default else f"{self.host}:{self.port}"


def parse_url(url: str, schemes: Sequence[str]) -> Url:
    """``ws://127.0.0.1:8080/echo`` → parts; a clear :class:`UsageError` otherwise."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. "Invalid IPv6 URL" for ws://[::1
        raise UsageError(f"{url}: {exc}") from None
    if parts.scheme not in schemes:
        if parts.scheme in ("wss", "https"):
            raise UsageError(
                f"{url}: TLS ({parts.scheme}://) is not supported; rawproto "
                "shows plain bytes, use " + " or ".join(f"{s}://" for s in schemes)
            )
        raise UsageError(
            f"{url}: expected a URL starting with " + " or ".join(f"{s}://" for s in schemes)
        )
    if not parts.hostname:
        raise UsageError(f"{url}: no host in the URL")
    try:
        port = parts.port if parts.port is not None else 80
    except ValueError:
        raise UsageError(f"{url}: the port is not a number from 1 to 65535") from None
    if port == 0:
        raise UsageError(f"{url}: port 0 cannot be connected to (use 1 to 65535)")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return Url(parts.scheme, parts.hostname, port, target)


async def _open(
    url: Url, limits: Limits, *, tap: Tap | None, clock: Clock, conn_id: int | None
) -> Wire:
    try:
        async with asyncio.timeout(limits.header_timeout):
            return await open_connection(
                url.host, url.port, "client", tap=tap, clock=clock, conn_id=conn_id
            )
    except TimeoutError:
        raise ConnectionError(f"connecting to {url.host}:{url.port} timed out") from None
    except ConnectionRefusedError:
        raise ConnectionError(
            f"cannot connect to {url.host}:{url.port}: connection refused (is the server running?)"
        ) from None
    except OSError as exc:
        raise ConnectionError(
            f"cannot connect to {url.host}:{url.port}: {exc.strerror or exc}"
        ) from None


async def connect(
    url: str,
    *,
    limits: Limits | None = None,
    tap: Tap | None = None,
    trace: PrintTrace | None = None,
    clock: Clock = default_clock,
    key: str | None = None,
    masks: MaskSource | None = None,
    origin: str | None = None,
    subprotocols: Sequence[str] = (),
    ping_payloads: Callable[[], bytes] | None = None,
    conn_id: int | None = None,
    host_header: str | None = None,
) -> WebSocket:
    """Open a WebSocket: TCP connect, Upgrade request, check the 101, go.

    Raises :class:`HandshakeFailed` when the server refuses (its status is on
    the exception), ``ConnectionError`` when TCP fails, :class:`UsageError`
    for a bad URL.
    """
    limits = limits or Limits()
    where = parse_url(url, ("ws",))
    wire = await _open(where, limits, tap=tap, clock=clock, conn_id=conn_id)
    hs = ClientHandshake(
        host_header or where.authority,
        where.target,
        key=key,
        origin=origin,
        subprotocols=subprotocols,
        max_head_bytes=limits.max_head_bytes,
    )
    try:
        request = hs.request_bytes()
        await wire.write(request, (hs.request,))
        async with asyncio.timeout(limits.header_timeout):
            while True:
                data = await wire.read(limits.read_size)
                done = hs.receive_data(data)
                wire.received(data, (hs.response,) if hs.response is not None else ())
                if done is not None:
                    break
    except TimeoutError:
        await wire.close()
        raise HandshakeFailed(
            f"no answer to the Upgrade within {limits.header_timeout:g} s"
        ) from None
    except BaseException:
        await wire.close()
        raise
    session = WsSession(
        "client",
        trailing_data=done.trailing_data,
        max_message_size=limits.max_message_size,
        masks=masks,
    )
    return WebSocket(
        wire,
        session,
        limits=limits,
        trace=trace,
        subprotocol=done.subprotocol,
        path=where.target,
        ping_payloads=ping_payloads,
    )


@dataclass
class HttpResult:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    http_version: str
    informational: list[int] = field(default_factory=list)  # e.g. [100]

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)


class HttpConnection:
    """One keep-alive HTTP/1.1 connection: send several requests on it in turn."""

    def __init__(
        self,
        url: str,
        *,
        limits: Limits | None = None,
        tap: Tap | None = None,
        clock: Clock = default_clock,
        conn_id: int | None = None,
        host_header: str | None = None,
    ) -> None:
        self.url = parse_url(url, ("http",))
        self.host_header = host_header or self.url.authority
        self.limits = limits or Limits()
        self.tap = tap
        self.clock = clock
        self.conn_id = conn_id
        self.wire: Wire | None = None
        self.http = HttpSession(
            "client", max_head_bytes=self.limits.max_head_bytes, max_body_bytes=2**62
        )
        self.requests = 0

    async def __aenter__(self) -> HttpConnection:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        self.wire = await _open(
            self.url, self.limits, tap=self.tap, clock=self.clock, conn_id=self.conn_id
        )

    async def close(self) -> None:
        if self.wire is not None:
            await self.wire.close()

    async def request(
        self,
        method: str = "GET",
        target: str | None = None,
        *,
        body: bytes | None = None,
        headers: Sequence[tuple[str, str]] = (),
        chunked: bool = False,
        timeout: float = 30.0,
    ) -> HttpResult:
        """Send one request and read its whole response."""
        if self.wire is None:
            await self.open()
        assert self.wire is not None
        wire, http = self.wire, self.http
        if self.requests and http.can_reuse():
            http.start_next_cycle()  # keep-alive: both sides back to IDLE
        elif self.requests:
            raise ConnectionError("the server closed this connection; open a new one")
        self.requests += 1
        all_headers = [("Host", self.host_header), ("User-Agent", "rawproto"), *headers]
        if body is not None and not chunked:
            all_headers.append(("Content-Length", str(len(body))))
        elif chunked:
            all_headers.append(("Transfer-Encoding", "chunked"))
        events: list[Any] = [
            h11.Request(method=method, target=target or self.url.target, headers=all_headers)
        ]
        if body:
            events.append(h11.Data(data=body))
        events.append(h11.EndOfMessage())
        await wire.write(http.send_all(*events), tuple(events))
        async with asyncio.timeout(timeout):
            return await self._read_response(method)

    async def _read_response(self, method: str) -> HttpResult:
        assert self.wire is not None
        wire, http = self.wire, self.http
        informational: list[int] = []
        response: h11.Response | None = None
        parts: list[bytes] = []
        while True:
            try:
                event = http.next_event()
            except HttpError as exc:
                raise ConnectionError(f"the server's answer is not valid HTTP: {exc}") from None
            if event is h11.NEED_DATA:
                data = await wire.read(self.limits.read_size)
                if data:
                    http.receive_data(data)
                    wire.received(data, ())
                else:
                    http.receive_eof()
                    if response is None:
                        # httpcore's wording, clearer than h11's state error.
                        raise ConnectionError("the server disconnected without sending a response")
                continue
            if isinstance(event, h11.InformationalResponse):
                informational.append(event.status_code)
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                parts.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                assert response is not None
                return HttpResult(
                    status=response.status_code,
                    reason=response.reason.decode("latin-1"),
                    headers=[
                        (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers
                    ],
                    body=b"".join(parts),
                    http_version=response.http_version.decode("ascii"),
                    informational=informational,
                )


async def request(
    url: str,
    method: str = "GET",
    *,
    body: bytes | None = None,
    headers: Sequence[tuple[str, str]] = (),
    tap: Tap | None = None,
    limits: Limits | None = None,
) -> HttpResult:
    """One request on a fresh connection, then close it."""
    async with HttpConnection(url, tap=tap, limits=limits) as conn:
        return await conn.request(method, body=body, headers=headers)
