"""What goes wrong, and the answer each failure gets on the wire.

Two tables, one per layer:

* :data:`HTTP_STATUS` — every HTTP-level failure rawproto answers, as a status
  code with its reason phrase and the rule behind it. h11's
  ``error_status_hint`` seeds it (400, 431, 501); rawproto adds the rest.
* :data:`CLOSE_CODES` — every WebSocket failure, as the close code sent in the
  Close frame (RFC 6455 §7.4.1).

Exception tree::

    RawprotoError
    ├── HttpError            (status, detail)      → an HTTP error response
    │   └── HandshakeRejected (rule)               → 400/403/405/426 to an Upgrade
    ├── HandshakeFailed      (reason)              → the client refuses the 101
    └── WebSocketError       (code, reason)        → a Close frame
"""

from __future__ import annotations

from typing import NamedTuple


class Status(NamedTuple):
    code: int
    phrase: str
    rule: str
    link: str


def _rfc(n: int, section: str) -> str:
    return f"https://www.rfc-editor.org/rfc/rfc{n}#section-{section}"


#: HTTP failures and their answers. Keys are the status codes a learner meets.
HTTP_STATUS: dict[int, Status] = {
    400: Status(400, "Bad Request", "the request breaks HTTP/1.1 syntax", _rfc(9112, "2.2")),
    403: Status(403, "Forbidden", "the Origin is not on the allow-list", _rfc(6455, "4.2.2")),
    404: Status(404, "Not Found", "no route for this path", _rfc(9110, "15.5.5")),
    405: Status(405, "Method Not Allowed", "the method is not allowed here", _rfc(9110, "15.5.6")),
    408: Status(408, "Request Timeout", "the request head took too long", _rfc(9110, "15.5.9")),
    413: Status(413, "Content Too Large", "the body is larger than allowed", _rfc(9110, "15.5.14")),
    414: Status(
        414, "URI Too Long", "the request-target is longer than allowed", _rfc(9110, "15.5.15")
    ),
    426: Status(
        426, "Upgrade Required", "this resource speaks WebSocket only", _rfc(9110, "15.5.22")
    ),
    431: Status(
        431, "Request Header Fields Too Large", "the request head is too large", _rfc(6585, "5")
    ),
    500: Status(500, "Internal Server Error", "the handler failed", _rfc(9110, "15.6.1")),
    501: Status(501, "Not Implemented", "a transfer coding we do not implement", _rfc(9112, "6.1")),
    503: Status(503, "Service Unavailable", "too many connections", _rfc(9110, "15.6.4")),
    505: Status(
        505,
        "HTTP Version Not Supported",
        "only HTTP/1.0 and HTTP/1.1 are spoken",
        _rfc(9110, "15.6.6"),
    ),
}


class CloseCode(NamedTuple):
    code: int
    name: str
    meaning: str


#: RFC 6455 §7.4.1 - Defined Status Codes (the ones rawproto sends or reports).
CLOSE_CODES: dict[int, CloseCode] = {
    c.code: c
    for c in (
        CloseCode(1000, "normal closure", "the purpose of the connection is fulfilled"),
        CloseCode(1001, "going away", "a server going down or a browser leaving the page"),
        CloseCode(1002, "protocol error", "the peer broke the framing rules"),
        CloseCode(1003, "unsupported data", "a data type the endpoint cannot accept"),
        CloseCode(1005, "no status received", "a Close frame without a code (never sent)"),
        CloseCode(1006, "abnormal closure", "TCP closed without a Close frame (never sent)"),
        CloseCode(1007, "invalid payload data", "a text message that is not UTF-8"),
        CloseCode(1008, "policy violation", "a message that violates the endpoint's policy"),
        CloseCode(1009, "message too big", "a message larger than the endpoint accepts"),
        CloseCode(1011, "internal error", "the server hit an unexpected condition"),
    )
}


class RawprotoError(Exception):
    """Base of every error rawproto raises on purpose."""


class HttpError(RawprotoError):
    """An HTTP failure answered with ``status``; ``detail`` goes in the body."""

    def __init__(
        self,
        status: int,
        detail: str,
        headers: list[tuple[str, str]] | None = None,
        link: str | None = None,
    ):
        super().__init__(f"{status} {HTTP_STATUS[status].phrase}: {detail}")
        self.status = status
        self.detail = detail
        self.headers = headers or []
        self.link = link  #: the rule broken, when more precise than the status's


class HandshakeRejected(HttpError):
    """The server refuses an Upgrade: ``rule`` names the RFC 6455 §4.2.1 rule broken."""

    def __init__(
        self,
        status: int,
        rule: str,
        detail: str,
        headers: list[tuple[str, str]] | None = None,
        link: str | None = None,
    ):
        super().__init__(status, f"{rule}: {detail}", headers, link)
        self.rule = rule


class HandshakeFailed(RawprotoError):
    """The client refuses the server's answer to its Upgrade (RFC 6455 §4.1)."""

    def __init__(self, reason: str, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status


class WebSocketError(RawprotoError):
    """A WebSocket failure, answered with Close ``code`` and ``reason``."""

    def __init__(self, code: int, reason: str):
        super().__init__(f"{code} {reason}")
        self.code = code
        self.reason = reason


def status_for(hint: int) -> Status:
    """The :data:`HTTP_STATUS` row for an h11 ``error_status_hint`` (400 if unknown)."""
    return HTTP_STATUS.get(hint, HTTP_STATUS[400])


def close_code_name(code: int) -> str:
    """``1009`` → ``"message too big"``; application codes 3000-4999 are named so."""
    if code in CLOSE_CODES:
        return CLOSE_CODES[code].name
    if 3000 <= code <= 4999:
        return "application-defined"
    return "unknown"
