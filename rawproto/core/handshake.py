"""The WebSocket opening handshake, in plain sight (RFC 6455 §4).

A WebSocket starts life as an ordinary HTTP/1.1 GET that asks to switch
protocols. h11 parses and writes the HTTP; this module decides, rule by rule,
whether the request is a valid Upgrade, computes the accept key step by step,
and hands whatever bytes follow the handshake to the frame layer.

Client side::

    hs = ClientHandshake("127.0.0.1:8080", "/echo")
    wire = hs.request_bytes()                 # GET /echo HTTP/1.1 ... Upgrade
    done = hs.receive_data(reply)             # None until the whole head is in
    ws = WsSession("client", trailing_data=done.trailing_data)

Server side (the HTTP server has already parsed an ``h11.Request``)::

    decision = check_upgrade(request)          # raises HandshakeRejected(rule)
    wire = http.send(accept_response(decision))  # the 101
    ws = WsSession("server", trailing_data=http.trailing_data)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import h11

from rawproto.core.errors import HandshakeFailed, HandshakeRejected
from rawproto.core.http1 import HeaderIndex, index_headers

#: RFC 6455 §1.3: the GUID every endpoint appends to the key. A fixed string,
#: chosen "in a form that is unlikely to be used by network endpoints that do
#: not understand the WebSocket Protocol".
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

#: RFC 6455 §4.1: "The value of this header field MUST be 13."
VERSION = "13"

RFC6455 = "https://www.rfc-editor.org/rfc/rfc6455"


# --- The accept key ---------------------------------------------------------


@dataclass(frozen=True)
class AcceptSteps:
    """The accept key computed one visible step at a time (RFC 6455 §1.3, §4.2.2)."""

    key: str  #: the client's Sec-WebSocket-Key, as sent
    concatenated: str  #: key + GUID
    sha1: bytes  #: SHA-1 of the concatenation (20 bytes)
    accept: str  #: base64 of the digest: the Sec-WebSocket-Accept value


def accept_steps(key: str) -> AcceptSteps:
    """Compute Sec-WebSocket-Accept, keeping every intermediate value.

    Spec: RFC 6455 §4.2.2 step 5.4 — "concatenate ... the value of the
    |Sec-WebSocket-Key| header field ... with the string
    '258EAFA5-E914-47DA-95CA-C5AB0DC85B11', take the SHA-1 hash of this
    concatenated value to obtain a 20-byte value and base64-encode".
    """
    concatenated = key + GUID
    digest = hashlib.sha1(concatenated.encode("ascii")).digest()
    return AcceptSteps(key, concatenated, digest, base64.b64encode(digest).decode("ascii"))


def accept_key(key: str) -> str:
    """``dGhlIHNhbXBsZSBub25jZQ==`` → ``s3pPLMBiTxaQ9kYGzzhZRbK+xOo=`` (RFC 6455 §1.3).

    The same three steps as :func:`accept_steps`, without keeping them: this
    runs once per handshake (tests check that both agree).
    """
    return base64.b64encode(hashlib.sha1((key + GUID).encode("ascii")).digest()).decode("ascii")


def new_key(random_bytes: Callable[[int], bytes] = os.urandom) -> str:
    """A fresh Sec-WebSocket-Key.

    Spec: RFC 6455 §4.1 — "a nonce consisting of a randomly selected 16-byte
    value that has been base64-encoded". Pass ``random_bytes`` to make it
    deterministic.
    """
    return base64.b64encode(random_bytes(16)).decode("ascii")


# --- Small header helpers ----------------------------------------------------


def header_values(headers: HeaderIndex, name: bytes) -> list[bytes]:
    """All values of one header (h11 lower-cases names)."""
    return headers.get(name, [])


def tokens(headers: HeaderIndex, name: bytes) -> list[str]:
    """A comma-separated token list, across repeated headers, lower-cased.

    ``Connection: keep-alive, Upgrade`` (Firefox) → ``["keep-alive", "upgrade"]``.
    """
    out: list[str] = []
    for value in header_values(headers, name):
        out += [t.strip().lower() for t in value.decode("latin-1").split(",") if t.strip()]
    return out


def _single(headers: HeaderIndex, name: bytes) -> str | None:
    values = header_values(headers, name)
    return values[0].decode("latin-1") if len(values) == 1 else None


# --- Server: the rules of RFC 6455 §4.2.1, each with a name --------------------


@dataclass(frozen=True)
class Rule:
    """One requirement a client's opening handshake must meet."""

    name: str
    section: str
    status: int  #: what we answer when it is broken

    @property
    def link(self) -> str:
        return f"{RFC6455}#section-{self.section}"


#: The rules, in the order they are checked.
METHOD_IS_GET = Rule("method is GET", "4.2.1", 405)
VERSION_IS_HTTP_1_1 = Rule("HTTP version is 1.1 or higher", "4.2.1", 400)
HOST_PRESENT = Rule("Host header present", "4.2.1", 400)
UPGRADE_IS_WEBSOCKET = Rule("Upgrade header contains 'websocket'", "4.2.1", 426)
CONNECTION_HAS_UPGRADE = Rule("Connection header contains 'upgrade'", "4.2.1", 400)
KEY_IS_16_BYTES = Rule("Sec-WebSocket-Key is 16 bytes, base64-encoded", "4.2.1", 400)
VERSION_IS_13 = Rule("Sec-WebSocket-Version is 13", "4.4", 426)
ORIGIN_ALLOWED = Rule("Origin is allowed", "4.2.2", 403)

RULES = (
    METHOD_IS_GET,
    VERSION_IS_HTTP_1_1,
    HOST_PRESENT,
    UPGRADE_IS_WEBSOCKET,
    CONNECTION_HAS_UPGRADE,
    KEY_IS_16_BYTES,
    VERSION_IS_13,
    ORIGIN_ALLOWED,
)


def _reject(
    rule: Rule, detail: str, headers: list[tuple[str, str]] | None = None
) -> HandshakeRejected:
    return HandshakeRejected(rule.status, rule.name, detail, headers, rule.link)


@dataclass(frozen=True)
class Accepted:
    """A valid Upgrade request, and what the 101 will say."""

    key: str
    accept: str
    subprotocol: str | None
    path: str


def is_upgrade_request(request: h11.Request, headers: HeaderIndex | None = None) -> bool:
    """Does this request ask for a WebSocket at all? (An Upgrade header is present.)

    ``headers``: the request's headers already indexed (``HttpSession.request_headers``).
    """
    if headers is not None:
        return b"upgrade" in headers
    return any(name == b"upgrade" for name, _ in request.headers)


def check_upgrade(
    request: h11.Request,
    *,
    origins: Sequence[str] | None = None,
    subprotocols: Sequence[str] = (),
    headers: HeaderIndex | None = None,
) -> Accepted:
    """Check every rule of RFC 6455 §4.2.1 on a parsed request, or raise.

    Raises :class:`HandshakeRejected` naming the first broken rule; its
    ``status`` is 400, 403, 405 or 426 and ``headers`` carry what that status
    requires (``Allow``, ``Upgrade``, ``Sec-WebSocket-Version``). Pass
    ``headers`` if the request's headers are already indexed.
    """
    if headers is None:
        headers = index_headers(request.headers)
    # §4.2.1 (1): "An HTTP/1.1 or higher GET request"
    if request.method != b"GET":
        raise _reject(METHOD_IS_GET, f"got {request.method.decode()}", [("Allow", "GET")])
    if request.http_version != b"1.1":
        raise _reject(VERSION_IS_HTTP_1_1, f"got HTTP/{request.http_version.decode()}")
    # §4.2.1 (2): "A |Host| header field containing the server's authority."
    if not header_values(headers, b"host"):
        raise _reject(HOST_PRESENT, "no Host header")
    # §4.2.1 (3): "An |Upgrade| header field containing the value 'websocket',
    # treated as an ASCII case-insensitive value."
    # RFC 9110 §15.5.22: a 426 response "MUST send an Upgrade header field".
    if "websocket" not in tokens(headers, b"upgrade"):
        raise _reject(
            UPGRADE_IS_WEBSOCKET,
            "no 'websocket' token in Upgrade",
            [("Upgrade", "websocket"), ("Connection", "Upgrade")],
        )
    # §4.2.1 (4): "A |Connection| header field that includes the token
    # 'Upgrade', treated as an ASCII case-insensitive value."
    if "upgrade" not in tokens(headers, b"connection"):
        raise _reject(CONNECTION_HAS_UPGRADE, "no 'upgrade' token in Connection")
    # §4.2.1 (5): "A |Sec-WebSocket-Key| header field with a base64-encoded
    # value that, when decoded, is 16 bytes in length."
    key = _single(headers, b"sec-websocket-key")
    if key is None:
        raise _reject(KEY_IS_16_BYTES, "missing or repeated Sec-WebSocket-Key")
    try:
        raw = base64.b64decode(key.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise _reject(KEY_IS_16_BYTES, f"{key!r} is not base64") from None
    if len(raw) != 16:
        raise _reject(KEY_IS_16_BYTES, f"{key!r} decodes to {len(raw)} bytes")
    # §4.2.1 (6): "A |Sec-WebSocket-Version| header field, with a value of 13."
    # §4.4: the server "MUST ... send ... a |Sec-WebSocket-Version| header
    # field indicating the version(s) the server is capable of understanding".
    if _single(headers, b"sec-websocket-version") != VERSION:
        got = b", ".join(header_values(headers, b"sec-websocket-version")).decode("latin-1")
        # RFC 9110 §15.5.22: a 426 "MUST send an Upgrade header field".
        raise _reject(
            VERSION_IS_13,
            f"got {got or 'none'}",
            [("Sec-WebSocket-Version", VERSION), ("Upgrade", "websocket")],
        )
    # §4.2.2: "If the server does not wish to accept this connection, it MUST
    # return an appropriate HTTP error code (e.g., 403 Forbidden)".
    if origins is not None:
        origin = _single(headers, b"origin")
        if origin not in origins:
            raise _reject(ORIGIN_ALLOWED, f"{origin!r} is not in the allow-list")
    # §4.2.2 (5.4): "Either a single value representing the subprotocol the
    # server is ready to use or null" — we pick the client's first we support.
    offered = tokens(headers, b"sec-websocket-protocol")
    chosen = next((p for p in offered if p in subprotocols), None)
    return Accepted(key, accept_key(key), chosen, request.target.decode("ascii", "replace"))


def accept_response(accepted: Accepted) -> h11.InformationalResponse:
    """The 101 Switching Protocols that completes the handshake (RFC 6455 §4.2.2)."""
    headers = [
        (b"Upgrade", b"websocket"),
        (b"Connection", b"Upgrade"),
        (b"Sec-WebSocket-Accept", accepted.accept.encode("ascii")),
    ]
    if accepted.subprotocol:
        headers.append((b"Sec-WebSocket-Protocol", accepted.subprotocol.encode("ascii")))
    return h11.InformationalResponse(
        status_code=101, headers=headers, reason=b"Switching Protocols"
    )


# --- Client ------------------------------------------------------------------


@dataclass(frozen=True)
class Established:
    """The client's view of a completed handshake."""

    subprotocol: str | None
    response: h11.InformationalResponse
    trailing_data: bytes  #: frames that arrived with the 101, for the frame layer


class ClientHandshake:
    """Build the Upgrade request and verify the server's answer (RFC 6455 §4.1)."""

    def __init__(
        self,
        host: str,
        target: str = "/",
        *,
        key: str | None = None,
        origin: str | None = None,
        subprotocols: Sequence[str] = (),
        extra_headers: Sequence[tuple[str, str]] = (),
        max_head_bytes: int = 16 * 1024,
    ) -> None:
        self.key = key if key is not None else new_key()
        self.expected_accept = accept_key(self.key)
        self.subprotocols = list(subprotocols)
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_head_bytes)
        headers = [
            ("Host", host),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", self.key),
            ("Sec-WebSocket-Version", VERSION),
        ]
        if origin:
            headers.append(("Origin", origin))
        if self.subprotocols:
            headers.append(("Sec-WebSocket-Protocol", ", ".join(self.subprotocols)))
        headers += list(extra_headers)
        self.request = h11.Request(method="GET", target=target, headers=headers)
        self.response: h11.Response | h11.InformationalResponse | None = None

    def request_bytes(self) -> bytes:
        """The GET with Upgrade headers, as bytes for the socket."""
        head = self.h11.send(self.request) or b""
        return head + (self.h11.send(h11.EndOfMessage()) or b"")

    def receive_data(self, data: bytes) -> Established | None:
        """Feed bytes from the server; ``None`` until the response head is in.

        ``b""`` means EOF. Raises :class:`HandshakeFailed` with a clear reason
        when the server refuses or answers something that is not a valid 101.
        """
        if not data:
            # httpcore's wording: clearer than h11's state-machine complaint.
            raise HandshakeFailed("the server closed the connection before answering")
        self.h11.receive_data(data)
        try:
            event = self.h11.next_event()
        except h11.RemoteProtocolError as exc:
            raise HandshakeFailed(f"the server's answer is not valid HTTP: {exc}") from None
        if event is h11.NEED_DATA:
            return None
        if isinstance(event, h11.Response):
            self.response = event
            raise HandshakeFailed(
                f"the server answered {event.status_code} "
                f"{event.reason.decode('latin-1')} instead of 101 Switching Protocols",
                status=event.status_code,
            )
        if not isinstance(event, h11.InformationalResponse) or event.status_code != 101:
            raise HandshakeFailed(f"unexpected answer to the Upgrade: {event!r}")
        self.response = event
        return self._check_101(event)

    def _check_101(self, response: h11.InformationalResponse) -> Established:
        headers = index_headers(response.headers)
        # §4.1: "If the response lacks an |Upgrade| header field or the
        # |Upgrade| header field contains a value that is not an ASCII
        # case-insensitive match for the value 'websocket', the client MUST
        # _Fail the WebSocket Connection_."
        if "websocket" not in tokens(headers, b"upgrade"):
            raise HandshakeFailed("the 101 lacks 'Upgrade: websocket'")
        # §4.1: the same for a |Connection| header without the token 'Upgrade'.
        if "upgrade" not in tokens(headers, b"connection"):
            raise HandshakeFailed("the 101 lacks 'Connection: Upgrade'")
        # §4.1: "If the response lacks a |Sec-WebSocket-Accept| header field or
        # the |Sec-WebSocket-Accept| contains a value other than the base64-
        # encoded SHA-1 of the concatenation of the |Sec-WebSocket-Key| (as a
        # string, not base64-decoded) with the string '258EAFA5-...', the
        # client MUST _Fail the WebSocket Connection_."
        accept = _single(headers, b"sec-websocket-accept")
        if accept != self.expected_accept:
            raise HandshakeFailed(
                f"Sec-WebSocket-Accept is {accept!r}, expected {self.expected_accept!r}"
            )
        # §4.1: a subprotocol "that was not present in the client's handshake"
        # MUST fail the connection.
        protocol = _single(headers, b"sec-websocket-protocol")
        if protocol is not None and protocol not in self.subprotocols:
            raise HandshakeFailed(f"the server chose subprotocol {protocol!r}, never offered")
        # §4.1: extensions not requested MUST fail the connection; we offer none.
        if header_values(headers, b"sec-websocket-extensions"):
            raise HandshakeFailed("the server chose an extension, none was offered")
        # h11 stopped parsing at the end of the 101: what follows is WebSocket.
        assert self.h11.our_state is h11.SWITCHED_PROTOCOL
        trailing, _closed = self.h11.trailing_data
        return Established(protocol, response, bytes(trailing))
