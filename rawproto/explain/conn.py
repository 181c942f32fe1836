"""One connection, explained record by record: HTTP, the switch, then frames.

A learner finds here how the two protocols share one TCP connection. Every
chunk rawproto reads or writes is a :class:`~rawproto.core.trace.WireRecord`;
:class:`ConnectionExplainer` routes each to a decoder for its direction:

* at first both directions speak HTTP/1.1 (:class:`~.http.HttpStream`);
* a ``101 Switching Protocols`` response ends HTTP in *both* directions
  (https://www.rfc-editor.org/rfc/rfc9110#section-15.2.2); every byte after
  the two heads, even bytes that arrived in the same chunk as a head, goes to
  a :class:`~.frames.FrameStream`, the way h11 hands ``trailing_data`` to
  wsproto;
* from then on, bytes from the client are client frames (which must be
  masked, RFC 6455 §5.1) and bytes from the server are server frames.

Feed the records of one connection *as one endpoint saw them* (one ``role``):
the explainer uses ``record.from_client`` to tell the two directions apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from rawproto.core.trace import ERROR, STATE, TRANSPORT, Direction, WireRecord
from rawproto.explain.frames import ExplainedFrame, FrameStream
from rawproto.explain.http import (
    BodyPart,
    ExplainedBody,
    ExplainedHead,
    HttpStream,
    Unparsed,
)
from rawproto.explain.reader import Truncated

__all__ = ["ConnectionExplainer", "Explained", "ExplainedRecord", "Note", "Phase"]

Phase = Literal["http", "websocket"]


@dataclass(frozen=True, slots=True)
class Note:
    """Something about the connection rather than about bytes.

    ``kind`` is ``"state"`` (``= switched to WebSocket``), ``"error"``
    (``! truncated: needs 3 more bytes``) or ``"transport"`` (``x EOF``).
    """

    kind: Literal["state", "error", "transport"]
    text: str

    def trace_line(self, direction: Direction | None = None) -> str:
        prefix = {"state": STATE, "error": ERROR, "transport": TRANSPORT}[self.kind]
        return f"{prefix} {self.text}"


Explained = ExplainedHead | BodyPart | ExplainedBody | Unparsed | ExplainedFrame | Note


@dataclass(frozen=True, slots=True)
class ExplainedRecord:
    """A record and what its bytes (or its event) mean."""

    record: WireRecord
    items: tuple[Explained, ...]
    needs: str  # what the record's direction still waits for ("" = nothing)


class ConnectionExplainer:
    """Explain the records of one connection, both directions, in order."""

    def __init__(self, phase: Phase = "http") -> None:
        #: ``"http"`` until a 101 response, then ``"websocket"``. Start in
        #: ``"websocket"`` to explain bare frames.
        self.phase: Phase = phase
        # One decoder per direction, keyed by "did the bytes come from the client?"
        self._http = {True: HttpStream(), False: HttpStream()}
        self._frames = {True: FrameStream("client"), False: FrameStream("server")}

    def explain(self, records: Iterable[WireRecord]) -> list[ExplainedRecord]:
        """Feed many records; one :class:`ExplainedRecord` each."""
        return [self.feed(r) for r in records]

    def needs(self, from_client: bool) -> str:
        """What the decoder for one direction is waiting for (``""``: nothing)."""
        if self.phase == "websocket":
            return self._frames[from_client].needs
        return self._http[from_client].needs

    def feed(self, record: WireRecord) -> ExplainedRecord:
        """Explain one record."""
        side = record.from_client
        items: list[Explained] = []
        if record.kind == "data":
            items = self._data(side, record.data)
        elif record.kind == "eof":
            items = self._eof(side)
        return ExplainedRecord(record, tuple(items), self.needs(side))

    def _data(self, side: bool, data: bytes) -> list[Explained]:
        if self.phase == "websocket":
            return list(self._frames[side].feed(data))
        items: list[Explained] = list(self._http[side].feed(data))
        for item in list(items):
            if not isinstance(item, ExplainedHead):
                continue
            if item.kind == "request" and item.method:
                # The response on the other direction answers this request;
                # its framing depends on the method (HEAD: no body).
                self._http[not side].expect_response_to(item.method)
            if item.kind == "response" and item.switches:
                items += self._switch()
            elif item.kind == "response" and item.status and item.status >= 200:
                client = self._http[True]
                if client.paused:  # the Upgrade was refused: HTTP goes on
                    items.append(Note("state", f"upgrade refused ({item.status}): still HTTP"))
                    items += client.resume()
        return items

    def _switch(self) -> list[Explained]:
        # RFC 9110 §15.2.2: "the server is switching to the protocols defined
        # by the response's Upgrade header field immediately after the empty
        # line that terminates the 101 (Switching Protocols) response."
        # https://www.rfc-editor.org/rfc/rfc9110#section-15.2.2
        self.phase = "websocket"
        items: list[Explained] = [Note("state", "101: both directions now carry WebSocket frames")]
        for side in (False, True):
            leftover = self._http[side].switch()
            if leftover:
                items += self._frames[side].feed(leftover)
        return items

    def _eof(self, side: bool) -> list[Explained]:
        who = "client" if side else "server"
        items: list[Explained] = []
        try:
            if self.phase == "websocket":
                self._frames[side].end()
            else:
                items += self._http[side].feed_eof()
        except Truncated as exc:
            items.append(Note("error", f"{who} closed mid-message: {exc}"))
        items.append(Note("transport", f"EOF from the {who}"))
        return items
