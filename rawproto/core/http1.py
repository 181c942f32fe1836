"""HTTP/1.1 for both roles, over ``h11.Connection``.

h11 does the parsing and the writing (RFC 9112); :class:`HttpSession` adds
what a teaching server needs at the edge of it:

* one EOF verb, :meth:`HttpSession.receive_eof`;
* one place where a protocol failure becomes a status code with a reason
  (:meth:`HttpSession.error_for`), seeded by h11's ``error_status_hint``;
* the checks h11 leaves to us: the HTTP version (505), a request-target that
  alone overflows the head limit (414), and the body size limit (413);
* small builders for the responses a server sends most.

The HTTP cycle, as h11 models it (both peers' states on each side)::

    client: IDLE → SEND_BODY → DONE → (start_next_cycle) → IDLE ...
    server: IDLE → SEND_RESPONSE → SEND_BODY → DONE → (start_next_cycle) → IDLE
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from http import HTTPStatus
from typing import Any

import h11

from rawproto.core.errors import HTTP_STATUS, HttpError, status_for
from rawproto.core.limits import MAX_BODY_BYTES, MAX_HEAD_BYTES
from rawproto.core.trace import Role

RFC9112 = "https://www.rfc-editor.org/rfc/rfc9112"

NEED_DATA = h11.NEED_DATA
PAUSED = h11.PAUSED

Header = tuple[str, str]
RawHeader = tuple[bytes, bytes]  #: as h11 hands them over: lower-cased name, value

#: Header name (lower-cased, as h11 hands it over) → its values, in order.
HeaderIndex = dict[bytes, list[bytes]]


def index_headers(headers: Iterable[RawHeader]) -> HeaderIndex:
    """One pass over the headers; then each rule that reads them is a lookup.

    (The plain form scans the whole list once per rule — each scan through
    h11's ``Headers``, a Sequence that builds every item anew.)
    """
    index: HeaderIndex = {}
    for name, value in headers:
        index.setdefault(name, []).append(value)
    return index


class HttpSession:
    """One endpoint of an HTTP/1.1 connection: bytes in, events and bytes out."""

    def __init__(
        self,
        role: Role,
        *,
        max_head_bytes: int = MAX_HEAD_BYTES,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.role: Role = role
        self.h11 = h11.Connection(
            h11.CLIENT if role == "client" else h11.SERVER,
            max_incomplete_event_size=max_head_bytes,
        )
        self.max_head_bytes = max_head_bytes
        self.max_body_bytes = max_body_bytes
        #: The last request's headers, indexed (server side; see _check_request).
        self.request_headers: HeaderIndex = {}
        self._body_bytes = 0
        self._line_complete = False  # has the start line's CRLF arrived this cycle?

    # -- bytes in --

    def receive_data(self, data: bytes) -> None:
        """Feed bytes read from the socket."""
        if b"\n" in data:
            self._line_complete = True
        self.h11.receive_data(data)

    def receive_eof(self) -> None:
        """The peer closed its side (h11 spells EOF as ``b""``)."""
        self.h11.receive_data(b"")

    def next_event(self) -> Any:
        """The next h11 event, ``NEED_DATA`` or ``PAUSED``; raises :class:`HttpError`.

        Every failure leaves here as an :class:`HttpError` whose status the
        server can send as it is.
        """
        try:
            event = self.h11.next_event()
        except h11.RemoteProtocolError as exc:
            raise self.error_for(exc) from None
        if isinstance(event, h11.Request) and self.role == "server":
            self._check_request(event)
        elif isinstance(event, h11.Data):
            self._body_bytes += len(event.data)
            if self._body_bytes > self.max_body_bytes:
                raise HttpError(413, f"the body exceeds {self.max_body_bytes} bytes")
        return event

    def _check_request(self, request: h11.Request) -> None:
        # h11 enforces max_incomplete_event_size only while a head is still
        # incomplete; a head that arrives whole in one read is measured here.
        if len(request.target) > self.max_head_bytes:
            raise HttpError(414, f"the request-target is over {self.max_head_bytes} bytes")
        # One pass over the headers: the head's size and an index the
        # server's later rules (the Upgrade's, RFC 6455 §4.2.1) read too.
        size = len(request.method) + 1 + len(request.target) + 1 + 8 + 2 + 2
        index: HeaderIndex = {}
        for name, value in request.headers:
            size += len(name) + 2 + len(value) + 2  # "name: value\r\n"
            index.setdefault(name, []).append(value)
        self.request_headers = index
        if size > self.max_head_bytes:
            raise HttpError(431, f"the request head is over {self.max_head_bytes} bytes")
        # RFC 9110 §6.2: a server answers 505 for a major version it does not
        # support. h11 accepts any HTTP/x.y, so the check is ours.
        if request.http_version not in (b"1.0", b"1.1"):
            raise HttpError(505, f"HTTP/{request.http_version.decode()} is not spoken here")
        length = index.get(b"content-length")  # h11 has checked it is one valid number
        if length is not None and int(length[0]) > self.max_body_bytes:
            # RFC 9110 §15.5.14: refuse early, before reading the body.
            raise HttpError(
                413, f"Content-Length {int(length[0])} exceeds {self.max_body_bytes} bytes"
            )

    def error_for(self, exc: h11.ProtocolError) -> HttpError:
        """Map an h11 protocol error to the status we answer, with a reason."""
        hint = exc.error_status_hint
        if hint == 431 and not self._line_complete:
            # The request line alone overflowed the limit: the target is too long.
            return HttpError(414, "the request-target is longer than the head limit")
        return HttpError(status_for(hint).code, str(exc) or status_for(hint).rule)

    # -- bytes out --

    def send(self, event: Any) -> bytes | None:
        """Encode one h11 event. ``None`` means: close the socket (ConnectionClosed)."""
        try:
            data: bytes | None = self.h11.send(event)
            return data
        except h11.LocalProtocolError:
            self.h11.send_failed()
            raise

    def send_all(self, *events: Any) -> bytes:
        return b"".join([self.send(e) or b"" for e in events])

    # -- the cycle --

    @property
    def states(self) -> dict[str, str]:
        """Both peers' states, as h11 tracks them: ``{"client": "DONE", ...}``."""
        return {
            ("client" if role is h11.CLIENT else "server"): state.__name__
            for role, state in self.h11.states.items()
        }

    def can_reuse(self) -> bool:
        """May another request follow on this connection? (RFC 9112 §9.3)"""
        return self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE

    def start_next_cycle(self) -> None:
        """Reset both sides to IDLE for the next request (keep-alive)."""
        self.h11.start_next_cycle()
        self._body_bytes = 0
        self._line_complete = False

    @property
    def trailing_data(self) -> bytes:
        """Bytes after a protocol switch: the first WebSocket frames."""
        return bytes(self.h11.trailing_data[0])


def reason_phrase(status: int) -> bytes:
    """``200`` → ``b"OK"``. h11 leaves the reason empty; RFC 9112 §4 allows
    that, but a learner reading the bytes deserves the words."""
    if status in HTTP_STATUS:  # RFC 9110's names, whatever the Python version
        return HTTP_STATUS[status].phrase.encode("ascii")
    try:
        return HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b""


def response(
    status: int,
    body: bytes = b"",
    *,
    content_type: str = "text/plain; charset=utf-8",
    headers: Sequence[Header] = (),
    head: bool = False,
) -> list[Any]:
    """The h11 events of a complete response with a Content-Length body.

    For a HEAD request (``head=True``) the headers still announce the length
    of the body a GET would get, but no body is sent (RFC 9110 §9.3.2).
    """
    all_headers: list[Header] = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        *headers,
    ]
    events: list[Any] = [
        h11.Response(status_code=status, headers=all_headers, reason=reason_phrase(status))
    ]
    if body and not head:
        events.append(h11.Data(data=body))
    events.append(END_OF_MESSAGE)
    return events


#: h11's events are frozen: one EndOfMessage serves every response (its
#: constructor validates headers, which costs a little on every request).
END_OF_MESSAGE = h11.EndOfMessage()


def error_response(error: HttpError, *, close: bool = True) -> list[Any]:
    """The response for an :class:`HttpError`: status, reason, and the rule in the body."""
    row = HTTP_STATUS[error.status]
    link = error.link or row.link
    body = f"{error.status} {row.phrase}: {error.detail}\n{link}\n".encode()
    headers: list[Header] = list(error.headers)
    if close:
        headers.append(("Connection", "close"))
    return response(error.status, body, headers=headers)
