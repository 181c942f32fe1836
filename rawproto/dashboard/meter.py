"""Bytes on the wire per transport, counted by a tap at the server's socket.

The server hands every chunk it reads or writes to its tap as a
:class:`~rawproto.core.trace.WireRecord` (headers, chunk sizes, frame
headers and masks included). The meter does not re-derive a single byte: it
only decides *whose* bytes they were.

A browser shares keep-alive connections between its fetches, so one TCP
connection may carry a short poll, then a long poll, then a stats request.
HTTP/1.1 without pipelining makes the attribution exact anyway: the request's
bytes arrive before its handler runs (held as *pending* until the handler
labels the connection), and the response's bytes leave after. A WebSocket
connection is labelled once, for good.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any

from rawproto.core.trace import WireRecord

#: transports shown on the page and in ``rawproto compare``
TRANSPORTS = ("short", "long", "ws")
MAX_CLIENTS = 256


@dataclass
class Counts:
    bytes_up: int = 0  # client → server
    bytes_down: int = 0  # server → client
    requests: int = 0  # HTTP requests, or WebSocket handshakes
    connections: int = 0  # distinct TCP connections that carried this transport
    updates: int = 0  # updates the server sent
    _conns: set[int] = field(default_factory=set, repr=False)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        del out["_conns"]
        return out


@dataclass
class _Conn:
    label: tuple[str, str] | None = None  # (client, transport)
    sticky: bool = False  # a WebSocket: every later byte is its
    pending_up: int = 0
    pending_down: int = 0


class Meter:
    """A tap: ``ServerOptions(tap=meter)``; then :meth:`label` from the handlers."""

    def __init__(self) -> None:
        self._conns: dict[int, _Conn] = {}
        self.clients: OrderedDict[str, dict[str, Counts]] = OrderedDict()

    def __call__(self, record: WireRecord) -> None:
        if record.kind == "close":
            self._conns.pop(record.conn, None)
            return
        if record.kind != "data":
            return
        conn = self._conns.setdefault(record.conn, _Conn())
        size = len(record.data)
        up = record.from_client
        if conn.label is not None and (conn.sticky or not up):
            counts = self._counts(*conn.label)
            if up:
                counts.bytes_up += size
            else:
                counts.bytes_down += size
        elif up:
            conn.pending_up += size
        else:
            conn.pending_down += size

    def _counts(self, client: str, transport: str) -> Counts:
        per = self.clients.get(client)
        if per is None:
            per = self.clients[client] = {}
            while len(self.clients) > MAX_CLIENTS:
                self.clients.popitem(last=False)
        counts = per.get(transport)
        if counts is None:
            counts = per[transport] = Counts()
        return counts

    def label(self, conn_id: int, client: str, transport: str, *, sticky: bool = False) -> Counts:
        """The request now being handled on ``conn_id`` belongs to ``transport``."""
        conn = self._conns.setdefault(conn_id, _Conn())
        conn.label, conn.sticky = (client, transport), sticky
        counts = self._counts(client, transport)
        counts.bytes_up += conn.pending_up
        counts.bytes_down += conn.pending_down
        conn.pending_up = conn.pending_down = 0
        counts.requests += 1
        if conn_id not in counts._conns:
            counts._conns.add(conn_id)
            counts.connections += 1
        return counts

    def counts(self, client: str, transport: str) -> Counts:
        return self._counts(client, transport)

    def report(self, client: str) -> dict[str, dict[str, Any]]:
        per = self.clients.get(client, {})
        return {t: c.as_dict() for t, c in per.items()}
