"""HTTP/1.1 messages explained line by line (RFC 9110, RFC 9112).

A learner finds here an independent decoder for the *head* of an HTTP/1.1
message (the start line and the header fields, up to the empty line) that
names every part, says what each header a learner meets is for and where the
RFC defines it, and works out how the *body* that follows is delimited
(https://www.rfc-editor.org/rfc/rfc9112#section-6.3): by Content-Length, by
chunked transfer coding (each chunk shown with its size line), by the
server closing the connection, or not at all.

:class:`HttpStream` takes chunks off one direction of a connection and
returns heads, body pieces and finished bodies as they complete. It stops at
a protocol switch (101, or an Upgrade request awaiting its answer) and hands
the rest of the bytes on, as h11 does with ``trailing_data``.

rawproto speaks HTTP through h11; this module is only for teaching, and the
tests check that it agrees with h11.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from dataclasses import dataclass
from typing import Literal

from rawproto.core.trace import RECEIVED, SENT, Direction
from rawproto.explain.reader import StreamReader, Truncated, needs_text
from rawproto.explain.rules import Field, Violation, cite, rfc_url

__all__ = [
    "HEADERS",
    "BodyFraming",
    "BodyPart",
    "ChunkInfo",
    "ExplainedBody",
    "ExplainedHead",
    "ExplainedHeader",
    "HeaderInfo",
    "HttpItem",
    "HttpStream",
    "Unparsed",
    "body_framing",
    "explain_chunked",
    "explain_head",
    "explain_http",
    "parse_head",
]

#: Longest head we read (h11's default is 16 KiB; node.js 80 KiB, tomcat 8 KiB).
MAX_HEAD = 64 * 1024
#: Longest chunk-size line.
MAX_CHUNK_LINE = 1024


@dataclass(frozen=True, slots=True)
class HeaderInfo:
    """What a header field is for, and where the RFC defines it."""

    meaning: str
    rfc: int
    section: str

    @property
    def url(self) -> str:
        return rfc_url(self.rfc, self.section)


#: The header fields a learner meets, by lower-case name.
HEADERS: dict[str, HeaderInfo] = {
    "host": HeaderInfo("the host (and port) the request is for", 9110, "7.2"),
    "connection": HeaderInfo(
        "options for this connection only: close, keep-alive, upgrade", 9110, "7.6.1"),
    "upgrade": HeaderInfo("switch this connection to another protocol", 9110, "7.8"),
    "sec-websocket-key": HeaderInfo(
        "random 16-byte nonce, base64; the server must echo a hash of it", 6455, "11.3.1"),
    "sec-websocket-accept": HeaderInfo(
        "base64(SHA-1(key + GUID)): proof the server read the handshake", 6455, "11.3.3"),
    "sec-websocket-version": HeaderInfo(
        "WebSocket protocol version; must be 13", 6455, "11.3.5"),
    "sec-websocket-protocol": HeaderInfo(
        "subprotocols offered by the client / chosen by the server", 6455, "11.3.4"),
    "sec-websocket-extensions": HeaderInfo(
        "extensions offered / accepted, e.g. permessage-deflate", 6455, "11.3.2"),
    "origin": HeaderInfo(
        "origin of the page that opened the WebSocket (for browser security)", 6455, "10.2"),
    "content-length": HeaderInfo("body size in bytes", 9110, "8.6"),
    "transfer-encoding": HeaderInfo(
        "codings applied to the body in transit; chunked = sent in pieces", 9112, "6.1"),
    "content-type": HeaderInfo("media type of the body, e.g. text/html", 9110, "8.3"),
    "content-encoding": HeaderInfo("compression applied to the content, e.g. gzip", 9110, "8.4"),
    "date": HeaderInfo("when the message was generated (IMF-fixdate, GMT)", 9110, "6.6.1"),
    "server": HeaderInfo("software the origin server runs", 9110, "10.2.4"),
    "user-agent": HeaderInfo("software the client runs", 9110, "10.1.5"),
    "cache-control": HeaderInfo("caching directives, e.g. no-store, max-age", 9111, "5.2"),
    "pragma": HeaderInfo("HTTP/1.0 cache directive (no-cache); deprecated", 9111, "5.4"),
    "accept": HeaderInfo("media types the client can take in the response", 9110, "12.5.1"),
    "accept-encoding": HeaderInfo("content codings the client understands", 9110, "12.5.3"),
    "accept-language": HeaderInfo("natural languages the client prefers", 9110, "12.5.4"),
    "allow": HeaderInfo("methods the target resource supports (e.g. with 405)", 9110, "10.2.1"),
    "expect": HeaderInfo(
        "100-continue: wait for the server's go-ahead before sending the body", 9110, "10.1.1"),
    "keep-alive": HeaderInfo(
        "HTTP/1.0-era keep-alive hints (timeout, max); not standard in 1.1", 9112, "C.2.2"),
    "location": HeaderInfo("where to go next (redirects, created resources)", 9110, "10.2.2"),
    "retry-after": HeaderInfo("how long to wait before trying again", 9110, "10.2.3"),
    "last-modified": HeaderInfo("when the resource last changed", 9110, "8.8.2"),
    "etag": HeaderInfo("opaque version tag of the resource", 9110, "8.8.3"),
    "if-none-match": HeaderInfo("send the body only if the ETag differs", 9110, "13.1.2"),
    "if-modified-since": HeaderInfo("send the body only if changed since", 9110, "13.1.3"),
    "vary": HeaderInfo("request headers that chose this response (for caches)", 9110, "12.5.5"),
    "te": HeaderInfo("transfer codings the client accepts (e.g. trailers)", 9110, "10.1.4"),
    "trailer": HeaderInfo("fields that will follow the chunked body", 9110, "6.6.2"),
    "via": HeaderInfo("proxies the message passed through", 9110, "7.6.3"),
    "referer": HeaderInfo("the page the request came from", 9110, "10.1.3"),
    "authorization": HeaderInfo("credentials for the server", 9110, "11.6.2"),
    "www-authenticate": HeaderInfo("how to authenticate (with 401)", 9110, "11.6.1"),
    "range": HeaderInfo("ask for part of the representation", 9110, "14.2"),
    "accept-ranges": HeaderInfo("whether range requests are supported", 9110, "14.3"),
    "content-range": HeaderInfo("which part of the representation this is", 9110, "14.4"),
    "cookie": HeaderInfo("cookies the client stored for this site", 6265, "5.4"),
    "set-cookie": HeaderInfo("asks the client to store a cookie", 6265, "4.1"),
}

_UNKNOWN = "not in rawproto's table: an extension or application header"


@dataclass(frozen=True, slots=True)
class ExplainedHeader:
    """One field line ``Name: value`` and where it sits in the head."""

    name: str
    value: str
    start: int
    end: int
    meaning: str
    rfc: int | None
    section: str | None

    @property
    def url(self) -> str | None:
        return rfc_url(self.rfc, self.section) if self.rfc and self.section else None

    @property
    def citation(self) -> str:
        return cite(self.rfc, self.section) if self.rfc and self.section else ""


FramingKind = Literal["none", "content-length", "chunked", "until-close", "error"]


@dataclass(frozen=True, slots=True)
class BodyFraming:
    """How the body after a head is delimited (RFC 9112 §6.3), and why."""

    kind: FramingKind
    length: int | None  # for content-length
    why: str
    rfc: int = 9112
    section: str = "6.3"

    @property
    def url(self) -> str:
        return rfc_url(self.rfc, self.section)

    def __str__(self) -> str:
        size = f" {self.length}" if self.kind == "content-length" else ""
        return f"{self.kind}{size}: {self.why}"


@dataclass(frozen=True, slots=True)
class ExplainedHead:
    """A request or response head: start line, headers, body framing."""

    raw: bytes
    offset: int
    kind: Literal["request", "response"]
    start_line: str
    method: str | None
    target: str | None
    version: str
    status: int | None
    reason: str | None
    parts: tuple[Field, ...]  # the start line's pieces, with offsets
    headers: tuple[ExplainedHeader, ...]
    framing: BodyFraming
    violations: tuple[Violation, ...]

    def get(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or ``None``."""
        for h in self.headers:
            if h.name.lower() == name.lower():
                return h.value
        return None

    def tokens(self, name: str) -> set[str]:
        """Comma-separated tokens of every ``name`` header, lower-cased."""
        return {
            t.strip().lower()
            for h in self.headers
            if h.name.lower() == name.lower()
            for t in h.value.split(",")
            if t.strip()
        }

    @property
    def asks_upgrade(self) -> bool:
        """A request with ``Connection: upgrade`` and an ``Upgrade`` header."""
        return (
            self.kind == "request"
            and "upgrade" in self.tokens("connection")
            and self.get("upgrade") is not None
        )

    @property
    def switches(self) -> bool:
        """``101 Switching Protocols``: after this head, HTTP is over."""
        return self.status == 101

    def trace_line(self, direction: Direction) -> str:
        """``> GET /time HTTP/1.1 [123 bytes]`` (the compact trace grammar)."""
        arrow = SENT if direction == "send" else RECEIVED
        return f"{arrow} {self.start_line} [{len(self.raw)} bytes]"


@dataclass(frozen=True, slots=True)
class ChunkInfo:
    """One chunk of a chunked body: its size line and its data (§7.1)."""

    offset: int  # of the size line, in the stream
    size_line: bytes  # e.g. b"1a;name=value\\r\\n"
    size: int
    extensions: str
    data: bytes

    @property
    def last(self) -> bool:
        return self.size == 0


@dataclass(frozen=True, slots=True)
class BodyPart:
    """Body bytes as they arrive: one chunk (chunked) or a slice of the body."""

    offset: int
    raw: bytes  # as on the wire (size line and CRLFs included, for chunks)
    data: bytes  # body content it carries
    chunk: ChunkInfo | None = None

    def trace_line(self, direction: Direction) -> str:
        arrow = SENT if direction == "send" else RECEIVED
        if self.chunk is not None:
            what = "last chunk" if self.chunk.last else f"chunk 0x{self.chunk.size:x}"
            return f"{arrow} {what} [{len(self.data)} bytes]"
        return f"{arrow} body [{len(self.data)} bytes]"


@dataclass(frozen=True, slots=True)
class ExplainedBody:
    """A finished body: the content, its chunks and trailers, any violations."""

    offset: int
    raw: bytes
    framing: BodyFraming
    data: bytes
    chunks: tuple[ChunkInfo, ...] = ()
    trailers: tuple[ExplainedHeader, ...] = ()
    violations: tuple[Violation, ...] = ()

    def trace_line(self, direction: Direction) -> str:
        arrow = SENT if direction == "send" else RECEIVED
        sized = sum(1 for c in self.chunks if not c.last)
        how = f", {sized} chunks" if self.framing.kind == "chunked" else ""
        return f"{arrow} body{how} [{len(self.data)} bytes]"


@dataclass(frozen=True, slots=True)
class Unparsed:
    """Bytes the explainer could not read as HTTP; it stops here."""

    offset: int
    raw: bytes
    reason: str
    violation: Violation | None = None

    def trace_line(self, direction: Direction) -> str:
        arrow = SENT if direction == "send" else RECEIVED
        return f"{arrow} ?? {self.reason} [{len(self.raw)} bytes]"


HttpItem = ExplainedHead | BodyPart | ExplainedBody | Unparsed


class HeadError(ValueError):
    """A head that cannot be read at all, with the rule it breaks."""

    def __init__(self, violation: Violation) -> None:
        super().__init__(str(violation))
        self.violation = violation


# --- The head -----------------------------------------------------------------

# RFC 9110 §5.6.2:  token = 1*tchar
#   tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
#           "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
# RFC 9112 §2.3:  HTTP-version = HTTP-name "/" DIGIT "." DIGIT
_VERSION = re.compile(rb"HTTP/[0-9]\.[0-9]")
# RFC 9112 §4:  status-code = 3DIGIT
_STATUS = re.compile(rb"[0-9]{3}")
# RFC 9112 §7.1:  chunk-size = 1*HEXDIG
_HEX = re.compile(rb"[0-9A-Fa-f]+")


def _bad(rule: str, rfc: int, section: str, found: str, start: int, end: int) -> HeadError:
    return HeadError(Violation(rule, rfc, section, found, start, end))


def explain_head(
    raw: bytes, *, offset: int = 0, request_method: str | None = None
) -> ExplainedHead:
    """Explain one head: ``raw`` runs up to and including the empty line.

    For a response, ``request_method`` is the method of the request it
    answers (a response to HEAD has no body); ``None`` means unknown.
    Raises :class:`HeadError` when the start line cannot be read.
    """
    lines = raw.split(b"\r\n")
    # The head ends with CRLF CRLF, so the split leaves two empty strings.
    if len(lines) < 3 or lines[-1] or lines[-2]:
        raise _bad("HTTP-message = start-line CRLF *( field-line CRLF ) CRLF",
                   9112, "2.1", "head does not end with an empty line", 0, len(raw))
    start, field_lines = lines[0], lines[1:-2]
    if start.startswith(b"HTTP/"):
        kind: Literal["request", "response"] = "response"
        parts, version, status, reason = _status_line(start)
        method = target = None
    else:
        kind = "request"
        parts, method, target, version = _request_line(start)
        status, reason = None, None

    violations: list[Violation] = []
    headers: list[ExplainedHeader] = []
    at = len(start) + 2
    for line in field_lines:
        headers.append(_field_line(line, at, violations))
        at += len(line) + 2

    head = ExplainedHead(
        raw=raw, offset=offset, kind=kind, start_line=start.decode("latin-1"),
        method=method, target=target, version=version, status=status, reason=reason,
        parts=parts, headers=tuple(headers),
        framing=BodyFraming("none", None, "(not yet decided)"), violations=(),
    )
    framing, framing_violations = body_framing(head, request_method)
    violations += framing_violations
    if kind == "request":
        violations += _check_host(head)
    return ExplainedHead(
        raw=raw, offset=offset, kind=kind, start_line=head.start_line, method=method,
        target=target, version=version, status=status, reason=reason, parts=parts,
        headers=head.headers, framing=framing, violations=tuple(violations),
    )


def _request_line(line: bytes) -> tuple[tuple[Field, ...], str, str, str]:
    # RFC 9112 §3:  request-line = method SP request-target SP HTTP-version
    pieces = line.split(b" ")
    if len(pieces) != 3 or not _TOKEN.fullmatch(pieces[0]) or not pieces[1]:
        raise _bad("request-line = method SP request-target SP HTTP-version",
                   9112, "3", f"not a request line: {line[:40]!r}", 0, len(line))
    method, target, version = pieces
    if not _VERSION.fullmatch(version):
        raise _bad("HTTP-version = HTTP-name \"/\" DIGIT \".\" DIGIT",
                   9112, "2.3", f"bad version {version[:20]!r}", 0, len(line))
    m_end = len(method)
    t_end = m_end + 1 + len(target)
    parts = (
        Field("method", 0, m_end, method.decode("latin-1"), _method_meaning(method)),
        Field("request-target", m_end + 1, t_end, target.decode("latin-1"),
              "origin-form: path and query" if target.startswith(b"/")
              else "absolute-form, authority-form or asterisk-form (RFC 9112 §3.2)"),
        Field("HTTP-version", t_end + 1, len(line), version.decode("latin-1"),
              "protocol version"),
    )
    return parts, method.decode("latin-1"), target.decode("latin-1"), version.decode("latin-1")


_METHODS = {
    b"GET": "transfer a current representation of the target (RFC 9110 §9.3.1)",
    b"HEAD": "like GET but the response has no body (RFC 9110 §9.3.2)",
    b"POST": "process the enclosed content (RFC 9110 §9.3.3)",
    b"PUT": "replace the target with the enclosed content (RFC 9110 §9.3.4)",
    b"DELETE": "remove the target (RFC 9110 §9.3.5)",
    b"CONNECT": "open a tunnel to the target (RFC 9110 §9.3.6)",
    b"OPTIONS": "ask what the target supports (RFC 9110 §9.3.7)",
}


def _method_meaning(method: bytes) -> str:
    return _METHODS.get(method, "a method not defined in RFC 9110")


def _status_line(line: bytes) -> tuple[tuple[Field, ...], str, int, str]:
    # RFC 9112 §4:  status-line = HTTP-version SP status-code SP [ reason-phrase ]
    version, sp1, rest = line.partition(b" ")
    status, _sp2, reason = rest.partition(b" ")
    if not sp1 or not _VERSION.fullmatch(version) or not _STATUS.fullmatch(status):
        raise _bad("status-line = HTTP-version SP status-code SP [ reason-phrase ]",
                   9112, "4", f"not a status line: {line[:40]!r}", 0, len(line))
    code = int(status)
    s_start = len(version) + 1
    parts = (
        Field("HTTP-version", 0, len(version), version.decode("latin-1"), "protocol version"),
        Field("status-code", s_start, s_start + 3, status.decode(), _status_meaning(code)),
        Field("reason-phrase", s_start + 4, len(line), reason.decode("latin-1"),
              "for humans only; clients ignore it (RFC 9112 §4)"),
    )
    return parts, version.decode("latin-1"), code, reason.decode("latin-1")


def _status_meaning(code: int) -> str:
    classes = {
        1: "1xx informational: more is coming (RFC 9110 §15.2)",
        2: "2xx successful (RFC 9110 §15.3)",
        3: "3xx redirection (RFC 9110 §15.4)",
        4: "4xx client error (RFC 9110 §15.5)",
        5: "5xx server error (RFC 9110 §15.6)",
    }
    if code == 101:
        return "switching protocols: the Upgrade takes effect after this head"
    return classes.get(code // 100, "outside 100-599: invalid (RFC 9110 §15)")


def _field_line(line: bytes, at: int, violations: list[Violation]) -> ExplainedHeader:
    # RFC 9112 §5:  field-line = field-name ":" OWS field-value OWS
    if line[:1] in (b" ", b"\t"):
        # RFC 9112 §5.2: "A server that receives an obs-fold in a request
        # message ... MUST either reject the message by sending a 400 (Bad
        # Request) ... or replace each received obs-fold with one or more SP"
        # https://www.rfc-editor.org/rfc/rfc9112#section-5.2
        violations.append(Violation(
            "obs-fold (a line starting with whitespace) is deprecated; a recipient "
            "MUST reject it or replace it with SP", 9112, "5.2",
            "folded header line", at, at + len(line)))
    name, colon, value = line.partition(b":")
    if not colon:
        violations.append(Violation(
            "field-line = field-name \":\" OWS field-value OWS", 9112, "5",
            "header line without a colon", at, at + len(line)))
    elif name != name.rstrip(b" \t"):
        # RFC 9112 §5.1: "No whitespace is allowed between the field name and
        # colon. ... A server MUST reject, with a response status code of 400
        # (Bad Request), any received request message that contains whitespace
        # between a header field name and colon."
        # https://www.rfc-editor.org/rfc/rfc9112#section-5.1
        violations.append(Violation(
            "No whitespace is allowed between the field name and colon", 9112, "5.1",
            f"whitespace before the colon in {name.strip()!r}", at, at + len(name)))
    elif not _TOKEN.fullmatch(name):
        violations.append(Violation(
            "field-name = token", 9110, "5.1", f"bad field name {name!r}", at, at + len(name)))
    text = name.strip().decode("latin-1")
    info = HEADERS.get(text.lower())
    return ExplainedHeader(
        name=text,
        value=value.strip(b" \t").decode("latin-1"),
        start=at,
        end=at + len(line),
        meaning=info.meaning if info else _UNKNOWN,
        rfc=info.rfc if info else None,
        section=info.section if info else None,
    )


def _check_host(head: ExplainedHead) -> list[Violation]:
    # RFC 9112 §3.2: "A client MUST send a Host header field in all HTTP/1.1
    # request messages. ... A server MUST respond with a 400 (Bad Request)
    # status code to any HTTP/1.1 request message that lacks a Host header
    # field and to any request message that contains more than one Host
    # header field line" — https://www.rfc-editor.org/rfc/rfc9112#section-3.2
    hosts = [h for h in head.headers if h.name.lower() == "host"]
    if head.version == "HTTP/1.1" and not hosts:
        return [Violation("A client MUST send a Host header field in all HTTP/1.1 "
                          "request messages", 9112, "3.2", "no Host header")]
    if len(hosts) > 1:
        return [Violation("A server MUST respond with a 400 (Bad Request) to any request "
                          "message that contains more than one Host header field line",
                          9112, "3.2", f"{len(hosts)} Host headers", hosts[1].start, hosts[1].end)]
    return []


# --- Body framing ---------------------------------------------------------------


def body_framing(
    head: ExplainedHead, request_method: str | None = None
) -> tuple[BodyFraming, list[Violation]]:
    """Decide how the body is delimited, step by step as RFC 9112 §6.3 does.

    https://www.rfc-editor.org/rfc/rfc9112#section-6.3
    """
    status = head.status
    violations: list[Violation] = []
    # Step 1: "Any response to a HEAD request and any response with a 1xx
    # (Informational), 204 (No Content), or 304 (Not Modified) status code is
    # always terminated by the first empty line after the header fields ...
    # and thus cannot contain a message body or trailer section."
    if status is not None:
        if status == 101:
            return BodyFraming("none", None, "101 Switching Protocols: the bytes after "
                               "this head belong to the new protocol", 9110, "15.2.2"), []
        if status // 100 == 1 or status in (204, 304):
            return BodyFraming("none", None, f"a {status} response never has a body"), []
        if request_method == "HEAD":
            return BodyFraming("none", None, "a response to HEAD never has a body"), []
        # Step 2: "Any 2xx (Successful) response to a CONNECT request implies
        # that the connection will become a tunnel immediately after the empty line"
        if request_method == "CONNECT" and status // 100 == 2:
            return BodyFraming("none", None, "2xx to CONNECT: the connection is now a "
                               "tunnel"), []
    caveat = (" (unless it answers a HEAD request: then no body; only the request "
              "tells)" if status is not None and request_method is None else "")

    te = [h for h in head.headers if h.name.lower() == "transfer-encoding"]
    cl = [h for h in head.headers if h.name.lower() == "content-length"]
    if te:
        # Step 3: "If a message is received with both a Transfer-Encoding and
        # a Content-Length header field, the Transfer-Encoding overrides the
        # Content-Length. Such a message might indicate an attempt to perform
        # request smuggling ... or response splitting ... and ought to be
        # handled as an error."
        if cl:
            violations.append(Violation(
                "If a message is received with both a Transfer-Encoding and a "
                "Content-Length header field, the Transfer-Encoding overrides the "
                "Content-Length ... and ought to be handled as an error",
                9112, "6.3", "both Transfer-Encoding and Content-Length",
                cl[0].start, cl[0].end))
        codings = [c.strip().lower() for h in te for c in h.value.split(",") if c.strip()]
        # Step 4: "If a Transfer-Encoding header field is present and the
        # chunked transfer coding is the final encoding, the message body
        # length is determined by reading and decoding the chunked data until
        # the transfer coding indicates the data is complete."
        if codings and codings[-1] == "chunked":
            return BodyFraming("chunked", None, "Transfer-Encoding ends in chunked: "
                               "read chunks until the 0-size chunk" + caveat), violations
        # "If a Transfer-Encoding header field is present in a response and the
        # chunked transfer coding is not the final encoding, the message body
        # length is determined by reading the connection until it is closed by
        # the server. If a Transfer-Encoding header field is present in a
        # request and the chunked transfer coding is not the final encoding,
        # the message body length cannot be determined reliably; the server
        # MUST respond with the 400 (Bad Request) status code"
        if head.kind == "response":
            return BodyFraming("until-close", None, "Transfer-Encoding without final "
                               "chunked: read until the server closes" + caveat), violations
        violations.append(Violation(
            "If a Transfer-Encoding header field is present in a request and the "
            "chunked transfer coding is not the final encoding ... the server MUST "
            "respond with the 400 (Bad Request) status code", 9112, "6.3",
            f"Transfer-Encoding: {', '.join(codings)}", te[0].start, te[0].end))
        return BodyFraming("error", None, "request body length cannot be determined"), violations
    if cl:
        # Step 5: "If a message is received without Transfer-Encoding and with
        # an invalid Content-Length header field, then the message framing is
        # invalid and the recipient MUST treat it as an unrecoverable error"
        #   Content-Length = 1*DIGIT  (RFC 9110 §8.6; a list of identical
        #   values may be collapsed into one)
        values = {v.strip() for h in cl for v in h.value.split(",")}
        if len(values) != 1 or not (value := values.pop()).isdigit():
            violations.append(Violation(
                "If a message is received without Transfer-Encoding and with an "
                "invalid Content-Length header field, then the message framing is "
                "invalid and the recipient MUST treat it as an unrecoverable error",
                9112, "6.3", "invalid Content-Length " + ", ".join(h.value for h in cl),
                cl[0].start, cl[-1].end))
            return BodyFraming("error", None, "invalid Content-Length"), violations
        # Step 6: "If a valid Content-Length header field is present without
        # Transfer-Encoding, its decimal value defines the expected message body
        # length in octets."
        n = int(value)
        return BodyFraming("content-length", n, f"Content-Length: read exactly {n} "
                           "bytes" + caveat), violations
    # Step 7: "If this is a request message and none of the above are true,
    # then the message body length is zero (no message body is present)."
    if head.kind == "request":
        return BodyFraming("none", None, "a request without Content-Length or "
                           "Transfer-Encoding has no body"), violations
    # Step 8: "Otherwise, this is a response message without a declared
    # message body length, so the message body length is determined by the
    # number of octets received prior to the server closing the connection."
    return BodyFraming("until-close", None, "no Content-Length or Transfer-Encoding: "
                       "the body runs until the server closes" + caveat), violations


# --- Parsers ------------------------------------------------------------------------


def parse_head(
    reader: StreamReader, request_method: str | None = None
) -> Generator[None, None, ExplainedHead]:
    """Read one head, up to and including the empty line, and explain it."""
    offset = reader.position
    raw = yield from reader.read_until(b"\r\n\r\n", MAX_HEAD, "head")
    return explain_head(raw, offset=offset, request_method=request_method)


def parse_body(
    reader: StreamReader, framing: BodyFraming, emit: list[HttpItem]
) -> Generator[None, None, ExplainedBody]:
    """Read the body ``framing`` describes; append each piece to ``emit``."""
    offset = reader.position
    if framing.kind == "content-length":
        assert framing.length is not None
        data = bytearray()
        while len(data) < framing.length:
            piece = yield from reader.read_some(framing.length - len(data), "body")
            if not piece:
                raise Truncated(framing.length - len(data), "body", True)
            data += piece
            emit.append(BodyPart(reader.position - len(piece), piece, piece))
        return ExplainedBody(offset, bytes(data), framing, bytes(data))
    if framing.kind == "until-close":
        data = bytearray()
        while piece := (yield from reader.read_some(64 * 1024, "body until close")):
            data += piece
            emit.append(BodyPart(reader.position - len(piece), piece, piece))
        return ExplainedBody(offset, bytes(data), framing, bytes(data))
    if framing.kind == "chunked":
        return (yield from parse_chunked(reader, framing, emit))
    return ExplainedBody(offset, b"", framing, b"")


def parse_chunked(
    reader: StreamReader, framing: BodyFraming, emit: list[HttpItem]
) -> Generator[None, None, ExplainedBody]:
    """Read a chunked body, one chunk at a time (RFC 9112 §7.1).

    ::

        chunked-body   = *chunk last-chunk trailer-section CRLF
        chunk          = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
        chunk-size     = 1*HEXDIG
        last-chunk     = 1*("0") [ chunk-ext ] CRLF
    """
    offset = reader.position
    raw = bytearray()  # everything read, as on the wire
    chunks: list[ChunkInfo] = []
    data = bytearray()
    violations: list[Violation] = []
    while True:
        at = reader.position
        line = yield from reader.read_until(b"\r\n", MAX_CHUNK_LINE, "chunk-size line")
        raw += line
        size_text, _, ext = line[:-2].partition(b";")
        if not _HEX.fullmatch(size_text.strip(b" \t")):
            raise HeadError(Violation("chunk-size = 1*HEXDIG", 9112, "7.1",
                                      f"bad chunk size {size_text[:20]!r}"))
        size = int(size_text, 16)
        if size == 0:
            # last-chunk = 1*("0") [ chunk-ext ] CRLF
            chunks.append(ChunkInfo(at, line, 0, ext.decode("latin-1").strip(), b""))
            break
        chunk_data = yield from reader.read_exact(size + 2, "chunk data", last=False)
        raw += chunk_data
        if chunk_data[-2:] != b"\r\n":
            violations.append(Violation(
                "chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF",
                9112, "7.1", "chunk data not followed by CRLF"))
        chunk = ChunkInfo(at, line, size, ext.decode("latin-1").strip(), chunk_data[:size])
        chunks.append(chunk)
        data += chunk.data
        emit.append(BodyPart(at, line + chunk_data, chunk.data, chunk))
    # trailer-section = *( field-line CRLF ), then the final CRLF.
    trailers: list[ExplainedHeader] = []
    tail_at = len(raw) - len(line)
    while (line := (yield from reader.read_until(b"\r\n", MAX_HEAD, "trailer"))) != b"\r\n":
        trailers.append(_field_line(line[:-2], len(raw), violations))
        raw += line
    raw += line
    emit.append(BodyPart(chunks[-1].offset, bytes(raw[tail_at:]), b"", chunks[-1]))
    return ExplainedBody(offset, bytes(raw), framing, bytes(data),
                         tuple(chunks), tuple(trailers), tuple(violations))


# --- Streams ------------------------------------------------------------------------


class HttpStream:
    """Explain HTTP/1.1 messages as chunks arrive from one direction.

    ``feed(chunk)`` returns the heads (:class:`ExplainedHead`), body pieces
    (:class:`BodyPart`) and finished bodies (:class:`ExplainedBody`) that
    chunk completed. ``feed_eof()`` ends a read-until-close body.

    Like h11, the stream *pauses* where HTTP may stop being HTTP: after a
    ``101`` response (``switched`` becomes True) and after a request that
    asks for an Upgrade, until :meth:`resume` (the answer was not 101) or
    :meth:`switch` (it was). ``trailing`` then returns the bytes that follow,
    for the next protocol's decoder.

    For responses, tell the stream which request each answers with
    :meth:`expect_response_to` (a response to HEAD has no body); without
    that, the framing says it assumed the request was not HEAD.
    """

    def __init__(self) -> None:
        self._reader = StreamReader()
        self._out: list[HttpItem] = []
        self._methods: list[str] = []  # methods of requests still unanswered
        self.paused = False  # waiting to learn if the protocol switches
        self.switched = False  # HTTP is over on this stream
        self.failed: Unparsed | None = None
        self._parser = self._run()
        next(self._parser)

    def expect_response_to(self, method: str) -> None:
        """The next response on this stream answers a ``method`` request."""
        self._methods.append(method)

    def _run(self) -> Generator[None, None, None]:
        reader = self._reader
        while True:
            if not reader.buffer and reader.eof:
                return
            start = reader.position
            try:
                method = self._methods[0] if self._methods else None
                try:
                    head = yield from parse_head(reader, method)
                except Truncated:
                    if not reader.buffer:
                        return  # a clean end between messages
                    raise
                self._out.append(head)
                if head.kind == "response" and head.status is not None and head.status >= 200:
                    self._methods[:1] = []
                if head.switches:
                    self.switched = True
                    return
                body = yield from parse_body(reader, head.framing, self._out)
                if head.framing.kind != "none":
                    self._out.append(body)
                if head.framing.kind == "error":
                    self._fail(start, "cannot tell where the body ends", head.violations[-1])
                    return
            except HeadError as exc:
                self._fail(start, exc.violation.found, exc.violation)
                return
            except ValueError as exc:  # a head or line over its limit
                self._fail(start, str(exc), None)
                return
            if head.asks_upgrade:
                self.paused = True
                while self.paused:
                    yield

    def _fail(self, start: int, reason: str, violation: Violation | None) -> None:
        raw = self._reader.read_available()
        self.failed = Unparsed(start, raw, reason, violation)
        self._out.append(self.failed)

    def _step(self) -> list[HttpItem]:
        try:
            next(self._parser)
        except StopIteration:
            pass
        # Copy, then empty in place: the parsers hold a reference to the list.
        done = list(self._out)
        self._out.clear()
        return done

    def feed(self, chunk: bytes) -> list[HttpItem]:
        """Add bytes; return what they completed."""
        self._reader.feed_data(chunk)
        if self.switched or self.failed or self.paused:
            return []
        return self._step()

    def feed_eof(self) -> list[HttpItem]:
        """The peer closed its side: ends a read-until-close body.

        Raises :class:`Truncated` if a head or a body is cut off.
        """
        self._reader.feed_eof()
        if self.switched or self.failed or self.paused:
            return []
        return self._step()

    def resume(self) -> list[HttpItem]:
        """The Upgrade was refused: carry on reading HTTP."""
        self.paused = False
        return self._step()

    def switch(self) -> bytes:
        """The protocol switched: stop, and return the bytes that followed."""
        self.switched = True
        self.paused = False
        return self.trailing

    @property
    def trailing(self) -> bytes:
        """Bytes after the last head, once HTTP is over (h11's trailing_data)."""
        if not self.switched:
            return b""
        return self._reader.read_available()

    @property
    def needs(self) -> str:
        """What an incomplete head or body is waiting for (``""`` if nothing)."""
        r = self._reader
        if self.switched or self.paused or self.failed or not r.missing:
            return ""
        if (r.what == "head" and not r.buffer) or r.what == "body until close":
            return ""  # between messages, or a body that ends only at close
        return needs_text(r.missing, r.what, r.exact)


def explain_http(data: bytes, *, request_method: str | None = None) -> list[HttpItem]:
    """Explain every message in ``data``, as if the connection then closed.

    A message cut off at the end becomes an :class:`Unparsed` item saying
    what it still needed.
    """
    stream = HttpStream()
    if request_method:
        stream.expect_response_to(request_method)
    items = stream.feed(data)
    if not stream.switched and not stream.paused:
        try:
            items += stream.feed_eof()
        except Truncated as exc:
            rest = stream._reader.read_available()
            items.append(Unparsed(len(data) - len(rest), rest, f"truncated: {exc}"))
    return items


def explain_chunked(data: bytes) -> ExplainedBody:
    """Decode a complete chunked body, showing each chunk's size line."""
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    framing = BodyFraming("chunked", None, "Transfer-Encoding: chunked")
    parser = parse_chunked(reader, framing, [])
    try:
        next(parser)
    except StopIteration as done:
        body: ExplainedBody = done.value
        return body
    raise AssertionError("unreachable: the reader is at EOF")  # pragma: no cover
