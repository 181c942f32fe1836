"""The checks of the workbook, as data: the same for the learner and the answer.

Two kinds of case per exercise:

* :data:`VECTORS` — fixed inputs and outputs, taken from the RFCs where they
  give one (RFC 6455 §1.3 for the accept key, §5.7 for frames) and from the
  grammar otherwise. The first vector of each exercise is the example in the
  stub's docstring.
* :data:`CROSS` — cases computed at check time by h11 or wsproto, the two
  independent implementations rawproto is built on: frames serialized by
  ``wsproto.frame_protocol.FrameProtocol`` must decode with the learner's
  decoder, the learner's headers must parse in h11 as in the learner's parser,
  and so on. Two implementations agreeing is the oracle. Random inputs come
  from a fixed seed, so a failure repeats on every run.

A case either expects a return value (``expect``), an exception (``raises``),
or holds its own oracle (``verify``: returns None when the result is right,
else what is wrong with it).
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CROSS", "VECTORS", "Case", "Outcome", "call_text", "cases", "evaluate", "show",
           "show_result", "where_in"]

SEED = 6455

#: RFC 6455 §1.3
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#: RFC 6455 §5.7
MASK = bytes.fromhex("37fa213d")
HELLO = bytes.fromhex("810548656c6c6f")
MASKED_HELLO = bytes.fromhex("818537fa213d7f9f4d5158")
FRAGMENT_1 = bytes.fromhex("0103" + "48656c")
FRAGMENT_2 = bytes.fromhex("8002" + "6c6f")
HEAD_256 = bytes.fromhex("827e0100")
HEAD_64K = bytes.fromhex("827f0000000000010000")

S6455 = "https://www.rfc-editor.org/rfc/rfc6455#section-"
S9112 = "https://www.rfc-editor.org/rfc/rfc9112#section-"
S3629 = "https://www.rfc-editor.org/rfc/rfc3629#section-"


@dataclass(frozen=True)
class Case:
    label: str  #: what is checked, in the learner's words
    args: tuple[Any, ...]
    expect: Any = None
    raises: type[Exception] | None = None
    #: a custom oracle: None when the result is right, else what is wrong
    verify: Callable[[Any], str | None] | None = None
    #: what ``verify`` wants, as shown to the learner
    wants: str = ""
    hint: str = ""  #: a hint for this case (the exercise's hint is shown as well)
    url: str = ""  #: the RFC section of this case, if narrower than the exercise's


@dataclass
class Outcome:
    ok: bool
    got: str
    expected: str
    #: "todo" (NotImplementedError), "raised" (another exception), "wrong", or ""
    kind: str = ""
    where: str = ""  #: file:line in the learner's code for an exception
    extra: dict[str, str] = field(default_factory=dict)


def show(value: Any, limit: int = 60) -> str:
    """A short repr: long bytes and strings are cut, with their length."""
    if isinstance(value, bytearray | memoryview):
        value = bytes(value)
    if isinstance(value, bytes | str) and len(value) > limit:
        unit = "bytes" if isinstance(value, bytes) else "chars"
        return f"{value[:limit]!r}… ({len(value)} {unit})"
    if isinstance(value, tuple | list):
        inner = ", ".join(show(v, limit) for v in value)
        if isinstance(value, tuple):
            return f"({inner},)" if len(value) == 1 else f"({inner})"
        return f"[{inner}]"
    try:
        text = repr(value)
    except Exception:  # a learner's object whose repr fails, or a 5000-digit int
        text = f"<{type(value).__name__} object that cannot be shown>"
    return text if len(text) <= 3 * limit else text[: 3 * limit] + "…"


def show_result(value: Any) -> str:
    """:func:`show`, with the hex of short bytes: ``b'~\\x00~' (hex 7e 00 7e)``."""
    text = show(value)
    if isinstance(value, bytes | bytearray) and 0 < len(value) <= 16:
        text += f" (hex {bytes(value).hex(' ')})"
    return text


def _normal(value: Any) -> Any:
    """Lists as tuples and bytearrays as bytes, so that equal answers compare equal."""
    if isinstance(value, list | tuple):
        return tuple(_normal(v) for v in value)
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    return value


def call_text(name: str, case: Case) -> str:
    return f"{name}({', '.join(show(a) for a in case.args)})"


def evaluate(function: Callable[..., Any], case: Case, filename: str = "") -> Outcome:
    """Call the learner's function on one case; never raises (except on exit)."""
    expected = (
        case.wants
        if case.verify
        else f"raises {case.raises.__name__}"
        if case.raises
        else show_result(case.expect)
    )
    try:
        got = function(*case.args)
    except NotImplementedError:
        return Outcome(False, "raised NotImplementedError (not written yet)", expected, "todo")
    except Exception as exc:
        where = where_in(exc, filename)
        if case.raises and isinstance(exc, case.raises):
            return Outcome(True, f"raised {type(exc).__name__}", expected)
        got = f"raised {type(exc).__name__}: {exc}"[:300]
        return Outcome(False, got, expected, "raised", where)
    if case.raises:
        return Outcome(False, f"returned {show_result(got)}", expected, "wrong")
    if case.verify:
        try:
            problem = case.verify(got)
        except Exception as exc:  # the learner's value broke the oracle: a wrong type
            problem = f"{show(got)} ({type(exc).__name__}: {exc})"
        if problem is None:
            return Outcome(True, show(got), expected)
        return Outcome(False, problem, expected, "wrong")
    if _normal(got) == _normal(case.expect) and (
        type(case.expect) is not bool or isinstance(got, bool)
    ):
        return Outcome(True, show(got), expected)
    return Outcome(False, show_result(got), expected, "wrong")


def where_in(exc: BaseException, filename: str) -> str:
    """``ex01_accept_key.py:7`` — the last line of the learner's file in the traceback."""
    tb = exc.__traceback__
    line = 0
    while tb is not None:
        if filename and tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return f"{filename.rsplit('/', 1)[-1]}:{line}" if line else ""


# --- the vectors -------------------------------------------------------------

_FIELDS_6455 = (
    b"Host: server.example.com\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Origin: http://example.com\r\n"
    b"Sec-WebSocket-Protocol: chat, superchat\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
)
_HEADERS_6455 = [
    ("Host", "server.example.com"),
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Key", KEY),
    ("Origin", "http://example.com"),
    ("Sec-WebSocket-Protocol", "chat, superchat"),
    ("Sec-WebSocket-Version", "13"),
]


def _without(name: str) -> list[tuple[str, str]]:
    return [(n, v) for n, v in _HEADERS_6455 if n != name]


def _with(name: str, value: str) -> list[tuple[str, str]]:
    return [(n, value if n == name else v) for n, v in _HEADERS_6455]


def _close(code: int, reason: bytes = b"") -> bytes:
    return code.to_bytes(2, "big") + reason


_WIKI = (
    b"4;name=value\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n"
    b"0\r\nExpires: never\r\n\r\n"
)

VECTORS: dict[str, list[Case]] = {
    "accept_key": [
        Case("the example key of RFC 6455 §1.3", (KEY,), ACCEPT, url=S6455 + "1.3"),
        Case(
            "the key is used as text: it is not base64-decoded first",
            ("AAAAAAAAAAAAAAAAAAAAAA==",),
            "ICX+Yqv66kxgM0FcWaLWlFLwTAI=",
            hint="Concatenate the key string itself with the GUID.",
        ),
    ],
    "parse_request_line": [
        Case("the request line of RFC 6455 §1.2", (b"GET /chat HTTP/1.1",),
             ("GET", "/chat", "HTTP/1.1")),
        Case("origin-form with a query (RFC 9112 §3.2.1)", (b"GET /where?q=now HTTP/1.1",),
             ("GET", "/where?q=now", "HTTP/1.1"), url=S9112 + "3.2.1"),
        Case("absolute-form (RFC 9112 §3.2.2)", (b"GET http://www.example.org/pub HTTP/1.1",),
             ("GET", "http://www.example.org/pub", "HTTP/1.1"), url=S9112 + "3.2.2"),
        Case("authority-form (RFC 9112 §3.2.3)", (b"CONNECT www.example.com:80 HTTP/1.1",),
             ("CONNECT", "www.example.com:80", "HTTP/1.1"), url=S9112 + "3.2.3"),
        Case("asterisk-form (RFC 9112 §3.2.4)", (b"OPTIONS * HTTP/1.1",),
             ("OPTIONS", "*", "HTTP/1.1"), url=S9112 + "3.2.4"),
        Case("HTTP/1.0 is a well-formed version", (b"GET / HTTP/1.0",), ("GET", "/", "HTTP/1.0")),
        Case("two spaces between method and target", (b"GET  / HTTP/1.1",), raises=ValueError,
             hint="The grammar has exactly one SP between the parts."),
        Case("only two parts", (b"GET /",), raises=ValueError),
        Case("a space inside the target", (b"GET /a b HTTP/1.1",), raises=ValueError),
        Case("tabs are not SP", (b"GET\t/\tHTTP/1.1",), raises=ValueError),
        Case("a method that is not a token", (b"G(T / HTTP/1.1",), raises=ValueError,
             hint="'(' is a delimiter, not a tchar (RFC 9110 §5.6.2)."),
        Case("HTTP-name is case-sensitive (RFC 9112 §2.3)", (b"GET / http/1.1",),
             raises=ValueError, url=S9112 + "2.3"),
        Case("HTTP-version is one digit, a dot, one digit", (b"GET / HTTP/1.10",),
             raises=ValueError, url=S9112 + "2.3"),
        Case("a stray CR at the end", (b"GET / HTTP/1.1\r",), raises=ValueError),
        Case("an empty line", (b"",), raises=ValueError),
    ],
    "parse_headers": [
        Case("the handshake of RFC 6455 §1.3", (_FIELDS_6455,), _HEADERS_6455),
        Case("no fields at all", (b"",), []),
        Case("optional whitespace around the value is not part of it (RFC 9112 §5.1)",
             (b"X-Pad: \t spaced  out \t\r\n",), [("X-Pad", "spaced  out")],
             hint="Strip spaces and tabs from both ends of the value; keep inner ones.",
             url=S9112 + "5.1"),
        Case("an empty value", (b"X-Empty:\r\n",), [("X-Empty", "")]),
        Case("a colon inside the value", (b"Host: example.com:8080\r\n",),
             [("Host", "example.com:8080")], hint="Split at the first colon only."),
        Case("repeated fields keep their order", (b"A: 1\r\nB: 2\r\nA: 3\r\n",),
             [("A", "1"), ("B", "2"), ("A", "3")]),
        Case("obs-text in a value is ISO-8859-1 (RFC 9110 §5.5)", (b"X-Name: caf\xe9\r\n",),
             [("X-Name", "caf\xe9")], hint="Decode values with 'latin-1'."),
        Case("whitespace between field name and colon (RFC 9112 §5.1)", (b"Host : x\r\n",),
             raises=ValueError, url=S9112 + "5.1",
             hint="'No whitespace is allowed between the field name and colon' — a server "
             "MUST reject the request with 400."),
        Case("obs-fold, a line continued with whitespace (RFC 9112 §5.2)",
             (b"X-Long: a\r\n b\r\n",), raises=ValueError, url=S9112 + "5.2",
             hint="A line that starts with SP or HTAB is obsolete line folding: reject it."),
        Case("a line without a colon", (b"NoColonHere\r\n",), raises=ValueError),
        Case("an empty field name", (b": value\r\n",), raises=ValueError),
        Case("a space inside the field name", (b"Bad Name: v\r\n",), raises=ValueError),
        Case("NUL in a value (RFC 9110 §5.5)", (b"X: a\x00b\r\n",), raises=ValueError),
        Case("the last line without its CRLF", (b"A: 1\r\nB: 2",), raises=ValueError),
    ],
    "decode_chunked": [
        Case("chunks with an extension and a trailer", (_WIKI,), b"Wikipedia in\r\n\r\nchunks.",
             hint="Ignore ';name=value' after the size, and the trailer lines after size 0."),
        Case("one chunk", (b"5\r\nhello\r\n0\r\n\r\n",), b"hello"),
        Case("an empty body is just the last chunk", (b"0\r\n\r\n",), b""),
        Case("the size is hexadecimal, in either case",
             (b"1a\r\n" + b"x" * 26 + b"\r\n1A\r\n" + b"y" * 26 + b"\r\n0\r\n\r\n",),
             b"x" * 26 + b"y" * 26),
        Case("CRLF inside chunk-data is data", (b"4\r\n\r\n\r\n\r\n0\r\n\r\n",), b"\r\n\r\n",
             hint="Take exactly chunk-size bytes; do not look for CRLF inside the data."),
        Case("leading zeros in the size", (b"0005\r\nhello\r\n000\r\n\r\n",), b"hello"),
        Case("two trailer fields (RFC 9112 §7.1.2)",
             (b"3\r\nabc\r\n0\r\nA: 1\r\nB: 2\r\n\r\n",), b"abc", url=S9112 + "7.1.2"),
        Case("a size that is not hex", (b"zz\r\nhello\r\n0\r\n\r\n",), raises=ValueError),
        Case("a missing size", (b"\r\nhello\r\n0\r\n\r\n",), raises=ValueError),
        Case("the body ends inside a chunk", (b"5\r\nhel",), raises=ValueError),
        Case("chunk-data longer than its size", (b"3\r\nhello\r\n0\r\n\r\n",), raises=ValueError,
             hint="After chunk-size bytes of data, the next two bytes must be CRLF."),
        Case("no final CRLF after the last chunk", (b"5\r\nhello\r\n0\r\n",), raises=ValueError),
        Case("no last chunk", (b"5\r\nhello\r\n",), raises=ValueError),
        Case("bytes after the end", (b"0\r\n\r\nGET / HTTP/1.1\r\n",), raises=ValueError),
        Case("nothing at all", (b"",), raises=ValueError),
    ],
    "check_upgrade_request": [
        Case("the handshake of RFC 6455 §1.3", ("GET", "HTTP/1.1", _HEADERS_6455), None,
             url=S6455 + "1.3"),
        Case("header names are case-insensitive",
             ("GET", "HTTP/1.1", [(n.lower(), v) for n, v in _HEADERS_6455]), None),
        Case("'WebSocket' is the websocket token",
             ("GET", "HTTP/1.1", _with("Upgrade", "WebSocket")), None,
             hint="Compare tokens with .lower()."),
        Case("Connection: keep-alive, Upgrade (as Firefox sends it)",
             ("GET", "HTTP/1.1", _with("Connection", "keep-alive, Upgrade")), None,
             hint="Connection is a comma-separated list: split, strip, lower."),
        Case("a POST", ("POST", "HTTP/1.1", _HEADERS_6455), "method"),
        Case("HTTP/1.0", ("GET", "HTTP/1.0", _HEADERS_6455), "version"),
        Case("no Host", ("GET", "HTTP/1.1", _without("Host")), "host"),
        Case("no Upgrade", ("GET", "HTTP/1.1", _without("Upgrade")), "upgrade"),
        Case("Upgrade: websocket2", ("GET", "HTTP/1.1", _with("Upgrade", "websocket2")), "upgrade"),
        Case("Connection: keep-alive", ("GET", "HTTP/1.1", _with("Connection", "keep-alive")),
             "connection"),
        Case("Connection: upgraded (a token, not a substring)",
             ("GET", "HTTP/1.1", _with("Connection", "upgraded")), "connection",
             hint="'upgrade' in value is a substring test; compare whole tokens."),
        Case("no Sec-WebSocket-Key", ("GET", "HTTP/1.1", _without("Sec-WebSocket-Key")), "key"),
        Case("a key of 10 bytes",
             ("GET", "HTTP/1.1", _with("Sec-WebSocket-Key", "dGhlIHNhbXBsZQ==")), "key",
             hint="len(base64.b64decode(key)) must be 16."),
        Case("a key that is not base64",
             ("GET", "HTTP/1.1", _with("Sec-WebSocket-Key", "not base64 at all!!!!!!")), "key",
             hint="b64decode(..., validate=True) raises binascii.Error, a ValueError."),
        Case("Sec-WebSocket-Version: 8",
             ("GET", "HTTP/1.1", _with("Sec-WebSocket-Version", "8")), "websocket-version"),
        Case("no Sec-WebSocket-Version",
             ("GET", "HTTP/1.1", _without("Sec-WebSocket-Version")), "websocket-version"),
        Case("the first broken rule wins", ("PUT", "HTTP/1.0", []), "method"),
    ],
    "build_response_head": [
        Case(
            "the handshake response of RFC 6455 §1.3",
            (101, "Switching Protocols",
             [("Upgrade", "websocket"), ("Connection", "Upgrade"),
              ("Sec-WebSocket-Accept", ACCEPT)]),
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
            url=S6455 + "1.3",
        ),
        Case("no headers: the status line, then the empty line", (200, "OK", []),
             b"HTTP/1.1 200 OK\r\n\r\n"),
        Case("an empty reason keeps the space after the code (RFC 9112 §4)",
             (204, "", [("Server", "rawproto")]), b"HTTP/1.1 204 \r\nServer: rawproto\r\n\r\n",
             hint="status-line = HTTP-version SP status-code SP [ reason-phrase ]"),
        Case("CRLF in a value: response splitting",
             (200, "OK", [("Location", "/a\r\nSet-Cookie: stolen=1")]), raises=ValueError,
             url=S9112 + "5",
             hint="A value with CR or LF would start a new header line: refuse it."),
        Case("a bare LF in a value", (200, "OK", [("X", "a\nb")]), raises=ValueError),
        Case("CRLF in the reason", (200, "OK\r\nX: y", []), raises=ValueError),
        Case("a field name that is not a token", (200, "OK", [("Bad Name", "v")]),
             raises=ValueError),
        Case("a status of two digits", (99, "Low", []), raises=ValueError),
    ],
    "encode_payload_length": [
        Case("5 fits in 7 bits (RFC 6455 §5.7 'Hello')", (5,), b"\x05"),
        Case("0", (0,), b"\x00"),
        Case("125 is the largest 7-bit length", (125,), b"\x7d"),
        Case("126 needs the 16-bit form", (126,), b"\x7e\x00\x7e",
             hint="126 itself is the marker, so 126 must use the 16-bit form."),
        Case("256 bytes (RFC 6455 §5.7)", (256,), bytes.fromhex("7e0100"), url=S6455 + "5.7"),
        Case("65535 is the largest 16-bit length", (65535,), bytes.fromhex("7effff")),
        Case("64 KiB (RFC 6455 §5.7)", (65536,), bytes.fromhex("7f0000000000010000"),
             url=S6455 + "5.7"),
        Case("2**63 - 1 is the largest length", (2**63 - 1,), bytes.fromhex("7f7fffffffffffffff")),
        Case("2**63: the most significant bit must be 0", (2**63,), raises=ValueError),
        Case("a negative length", (-1,), raises=ValueError),
    ],
    "encode_frame_header": [
        Case("'Hello', unmasked (RFC 6455 §5.7)", (True, 1, False, 5), HELLO[:2],
             url=S6455 + "5.7"),
        Case("'Hello', masked (RFC 6455 §5.7)", (True, 1, True, 5, MASK), MASKED_HELLO[:6],
             url=S6455 + "5.7", hint="The masking key follows the length."),
        Case("the first fragment of 'Hello' (RFC 6455 §5.7)", (False, 1, False, 3), FRAGMENT_1[:2],
             url=S6455 + "5.7"),
        Case("the last fragment: a continuation (RFC 6455 §5.7)", (True, 0, False, 2),
             FRAGMENT_2[:2], url=S6455 + "5.7"),
        Case("an unmasked ping (RFC 6455 §5.7)", (True, 9, False, 5), b"\x89\x05",
             url=S6455 + "5.7"),
        Case("a masked pong (RFC 6455 §5.7)", (True, 10, True, 5, MASK), b"\x8a\x85" + MASK,
             url=S6455 + "5.7"),
        Case("256 bytes binary (RFC 6455 §5.7)", (True, 2, False, 256), HEAD_256,
             url=S6455 + "5.7"),
        Case("64 KiB binary (RFC 6455 §5.7)", (True, 2, False, 65536), HEAD_64K, url=S6455 + "5.7"),
        Case("126 bytes, masked", (True, 2, True, 126, MASK), b"\x82\xfe\x00\x7e" + MASK,
             hint="The MASK bit shares the second byte with the 7-bit length (126 here)."),
        Case("an opcode of 16 does not fit in 4 bits", (True, 16, False, 0), raises=ValueError),
        Case("masked without a key", (True, 1, True, 5), raises=ValueError),
        Case("a 3-byte masking key", (True, 1, True, 5, b"\x01\x02\x03"), raises=ValueError),
    ],
    "decode_frame_header": [
        Case("'Hello', unmasked (RFC 6455 §5.7)", (HELLO,), (True, 0, 1, False, 5, None, 2),
             url=S6455 + "5.7"),
        Case("'Hello', masked (RFC 6455 §5.7)", (MASKED_HELLO,), (True, 0, 1, True, 5, MASK, 6),
             url=S6455 + "5.7"),
        Case("the first fragment (RFC 6455 §5.7)", (FRAGMENT_1,), (False, 0, 1, False, 3, None, 2),
             url=S6455 + "5.7"),
        Case("the last fragment (RFC 6455 §5.7)", (FRAGMENT_2,), (True, 0, 0, False, 2, None, 2),
             url=S6455 + "5.7"),
        Case("256 bytes: a 16-bit length (RFC 6455 §5.7)", (HEAD_256 + b"\x00" * 256,),
             (True, 0, 2, False, 256, None, 4), url=S6455 + "5.7"),
        Case("64 KiB: a 64-bit length (RFC 6455 §5.7)", (HEAD_64K,),
             (True, 0, 2, False, 65536, None, 10), url=S6455 + "5.7"),
        Case("RSV1 set (as permessage-deflate does)", (b"\xc1\x00",),
             (True, 4, 1, False, 0, None, 2),
             hint="rsv = (first_byte >> 4) & 0b111, so RSV1 alone is 4."),
        Case("no bytes yet", (b"",), None, hint="Return None until the whole header is there."),
        Case("one byte", (b"\x81",), None),
        Case("the 16-bit length cut short", (b"\x82\x7e\x01",), None),
        Case("the 64-bit length cut short", (HEAD_64K[:9],), None),
        Case("the masking key cut short", (MASKED_HELLO[:4],), None,
             hint="A masked header is 4 bytes longer: check before reading the key."),
        Case("a 64-bit length with its most significant bit set",
             (bytes.fromhex("827f8000000000000000"),), raises=ValueError),
        Case("126 written in 64 bits: not the minimal form",
             (bytes.fromhex("827f000000000000007e"),), raises=ValueError,
             hint="'the minimal number of bytes MUST be used to encode the length'"),
        Case("125 written in 16 bits: not the minimal form", (bytes.fromhex("827e007d"),),
             raises=ValueError),
    ],
    "apply_mask": [
        Case("masking 'Hello' (RFC 6455 §5.7)", (b"Hello", MASK), MASKED_HELLO[6:],
             url=S6455 + "5.7"),
        Case("unmasking is the same operation", (MASKED_HELLO[6:], MASK), b"Hello"),
        Case("an empty payload", (b"", MASK), b""),
        Case("the key repeats every 4 bytes", (b"\x00" * 10, b"\x01\x02\x03\x04"),
             b"\x01\x02\x03\x04\x01\x02\x03\x04\x01\x02", hint="Use key[i % 4]."),
    ],
    "valid_utf8_across_fragments": [
        Case("'Hel' + 'lo' (RFC 6455 §5.7)", ([b"Hel", b"lo"],), True),
        Case("a 2-byte character split between fragments", ([b"\xce", b"\xba"],), True,
             hint="The byte 0xCE alone is not an error yet: its continuation may come next."),
        Case("a 4-byte character split in three", ([b"\xf0\x9f", b"\x98", b"\x80"],), True),
        Case("'κόσμε' split after every byte",
             ([bytes([b]) for b in "κόσμε".encode()],), True),
        Case("no fragments at all", ([],), True),
        Case("empty fragments", ([b"", b"ok", b""],), True),
        Case("the message ends inside a character", ([b"caf", b"\xc3"],), False,
             hint="At the end of the message, leftover bytes of a character are an error."),
        Case("an invalid byte in the second fragment", ([b"Hello", b"\xff"],), False),
        Case("a continuation byte missing", ([b"\xce", b"A"],), False),
        Case("an overlong '/' (RFC 3629 §3)", ([b"\xc0\xaf"],), False, url=S3629 + "3"),
        Case("a surrogate, U+D800 (RFC 3629 §3)", ([b"\xed\xa0", b"\x80"],), False,
             url=S3629 + "3"),
        Case("above U+10FFFF (RFC 3629 §3)", ([b"\xf4\x90\x80\x80"],), False, url=S3629 + "3"),
    ],
    "parse_close_payload": [
        Case("1000 with a reason", (_close(1000, b"bye"),), (1000, "bye")),
        Case("a code without a reason", (_close(1001),), (1001, "")),
        Case("an empty payload: no status code, considered 1005 (RFC 6455 §7.1.5)", (b"",),
             (1005, ""), url=S6455 + "7.1.5"),
        Case("a UTF-8 reason", (_close(1000, "κόσμε".encode()),), (1000, "κόσμε")),
        Case("3000-4999 belong to libraries and applications (RFC 6455 §7.4.2)",
             (_close(4999, b"app"),), (4999, "app"), url=S6455 + "7.4.2"),
        Case("a reason of 123 bytes fills a control frame", (_close(1000, b"r" * 123),),
             (1000, "r" * 123)),
        Case("a 1-byte payload (RFC 6455 §5.5.1)", (b"\x03",), raises=ValueError,
             url=S6455 + "5.5.1", hint="A body, if present, starts with a 2-byte status code."),
        Case("code 999 (RFC 6455 §7.4.2: 0-999 are not used)", (_close(999),), raises=ValueError,
             url=S6455 + "7.4.2"),
        Case("code 1004 is reserved (RFC 6455 §7.4.1)", (_close(1004),), raises=ValueError,
             url=S6455 + "7.4.1"),
        Case("code 1005 is never sent (RFC 6455 §7.4.1)", (_close(1005),), raises=ValueError,
             url=S6455 + "7.4.1",
             hint="1005, 1006 and 1015 describe a closure locally; they MUST NOT be set in a "
             "Close frame."),
        Case("code 1006 is never sent", (_close(1006),), raises=ValueError, url=S6455 + "7.4.1"),
        Case("code 1015 is never sent", (_close(1015),), raises=ValueError, url=S6455 + "7.4.1"),
        Case("code 1016 is unassigned", (_close(1016),), raises=ValueError, url=S6455 + "7.4.2"),
        Case("code 2999 is unassigned", (_close(2999),), raises=ValueError, url=S6455 + "7.4.2"),
        Case("code 5000 is outside every range", (_close(5000),), raises=ValueError,
             url=S6455 + "7.4.2"),
        Case("a reason that is not UTF-8 (RFC 6455 §5.5.1)", (_close(1000, b"\xff"),),
             raises=ValueError, url=S6455 + "5.5.1",
             hint="Turn the UnicodeDecodeError into ValueError (it already is one)."),
        Case("126 bytes is too long for a control frame (RFC 6455 §5.5)",
             (_close(1000, b"r" * 124),), raises=ValueError, url=S6455 + "5.5"),
    ],
}


# --- the cross-checks, computed by h11 and wsproto at check time --------------


def _accept_cross() -> list[Case]:
    from wsproto.utilities import generate_accept_token

    rng = random.Random(SEED)
    out = []
    for _ in range(4):
        key = base64.b64encode(rng.randbytes(16)).decode()
        out.append(Case("a random key, answered by wsproto", (key,),
                        generate_accept_token(key.encode()).decode()))
    return out


def _h11_request(wire: bytes) -> Any:
    import h11

    conn = h11.Connection(h11.SERVER)
    conn.receive_data(wire)
    return conn.next_event()


def _request_line_cross() -> list[Case]:
    out = []
    for line in (b"GET /chat?room=1 HTTP/1.1", b"DELETE /items/7 HTTP/1.1",
                 b"PATCH /a/b;c=d HTTP/1.1", b"M-SEARCH * HTTP/1.1"):
        request = _h11_request(line + b"\r\nHost: x\r\n\r\n")
        version = "HTTP/" + request.http_version.decode()
        out.append(Case(f"{line.decode()!r}, as h11 parses it", (line,),
                        (request.method.decode(), request.target.decode(), version)))
    return out


def _headers_cross() -> list[Case]:
    blocks = [
        b"Host: example.com\r\nAccept: */*\r\nUser-Agent: curl/8.5.0\r\n",
        b"host:x\r\nX-Pad:\t v \t\r\nX-Empty:\r\nx-dup: 1\r\nX-Dup: 2\r\n",
        b"Host: h\r\nCookie: a=1; b=2\r\nX-Latin: caf\xe9 cr\xe8me\r\n",
    ]
    out = []
    for block in blocks:
        request = _h11_request(b"GET / HTTP/1.1\r\n" + block + b"\r\n")
        raw = request.headers.raw_items()
        fields = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in raw]
        out.append(Case("a header block, as h11 parses it", (block,), fields))
    return out


def _chunked_cross() -> list[Case]:
    import h11

    rng = random.Random(SEED)
    out = []
    for trailers in ([], [("Expires", "never"), ("X-Checksum", "abc")]):
        pieces = [rng.randbytes(rng.choice([1, 9, 16, 255, 300])) for _ in range(4)]
        server = h11.Connection(h11.SERVER)
        server.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        server.next_event()
        server.next_event()
        chunked = [("Transfer-Encoding", "chunked")]
        head = server.send(h11.Response(status_code=200, headers=chunked))
        assert head is not None
        body = b"".join(server.send(h11.Data(data=p)) or b"" for p in pieces)
        body += server.send(h11.EndOfMessage(headers=trailers)) or b""
        # …and h11's client reads back the same data: two implementations agree.
        client = h11.Connection(h11.CLIENT)
        client.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
        client.send(h11.EndOfMessage())
        client.receive_data(head + body)
        data = b""
        while not isinstance(event := client.next_event(), h11.EndOfMessage):
            if isinstance(event, h11.Data):
                data += event.data
        assert data == b"".join(pieces)
        label = "a chunked body written by h11" + (" with trailers" if trailers else "")
        out.append(Case(label, (body,), data))
    return out


def _upgrade_cross() -> list[Case]:
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import Request

    client = WSConnection(ConnectionType.CLIENT)
    wire = client.send(Request(host="example.com", target="/chat", subprotocols=["chat"]))
    request = _h11_request(wire)
    headers = [(n.decode(), v.decode()) for n, v in request.headers.raw_items()]
    version = "HTTP/" + request.http_version.decode()
    return [Case("the request wsproto's client sends, as h11 parses it",
                 (request.method.decode(), version, headers), None)]


def _response_cross() -> list[Case]:
    import h11

    def parsed_by_h11(status: int, reason: str, headers: list[tuple[str, str]]) -> Case:
        def verify(got: Any) -> str | None:
            client = h11.Connection(h11.CLIENT)
            asks = [("Host", "x")]
            if status == 101:
                asks += [("Upgrade", "websocket"), ("Connection", "Upgrade")]
            client.send(h11.Request(method="GET", target="/", headers=asks))
            client.send(h11.EndOfMessage())
            client.receive_data(bytes(got))
            try:
                event = client.next_event()
            except h11.RemoteProtocolError as exc:
                return f"{show(got)}, which h11 rejects: {exc}"
            if not isinstance(event, h11.Response | h11.InformationalResponse):
                return f"{show(got)}, which h11 reads as incomplete (missing the empty line?)"
            seen = (event.status_code, event.reason.decode(),
                    [(n.decode(), v.decode()) for n, v in event.headers.raw_items()])
            if seen != (status, reason, headers):
                return f"{show(got)}, which h11 reads as {show(seen)}"
            return None

        return Case("a response head that h11 reads back the same", (status, reason, headers),
                    verify=verify, wants=f"h11 to read back {show((status, reason, headers))}")

    return [
        parsed_by_h11(404, "Not Found", [("Content-Length", "0"), ("X-Trace", "a b  c")]),
        parsed_by_h11(101, "Switching Protocols",
                      [("Upgrade", "websocket"), ("Connection", "Upgrade")]),
    ]


def _frames_from_wsproto(client: bool) -> list[tuple[bytes, bool, int, bytes]]:
    """(wire, fin, opcode, payload) for frames serialized by wsproto."""
    from wsproto.frame_protocol import FrameProtocol

    rng = random.Random(SEED + client)
    out = []
    for size in (0, 1, 125, 126, 1000, 65535, 65536, 70000):
        payload = rng.randbytes(size)
        fin = size != 1000
        protocol = FrameProtocol(client=client, extensions=[])
        out.append((bytes(protocol.send_data(payload, fin=fin)), fin, 2, payload))
        if not fin:
            out.append((bytes(protocol.send_data(b"end", fin=True)), True, 0, b"end"))
    protocol = FrameProtocol(client=client, extensions=[])
    out.append((bytes(protocol.ping(b"are you there?")), True, 9, b"are you there?"))
    return out


def _length_cross() -> list[Case]:
    from wsproto.frame_protocol import FrameProtocol

    out = []
    for size in (1, 100, 127, 200, 4096, 65534, 65537, 1_000_000):
        wire = bytes(FrameProtocol(client=False, extensions=[]).send_data(bytes(size)))
        # Between the first byte and the payload: the length, as wsproto wrote it.
        out.append(Case(f"{size}, as wsproto writes it", (size,), wire[1 : len(wire) - size]))
    return out


def _encode_cross() -> list[Case]:
    from wsproto.frame_protocol import FrameProtocol, XorMaskerSimple

    rng = random.Random(SEED)
    out = []
    for masked in (False, True):
        for size in (0, 7, 125, 126, 4000, 65535, 65536, 100_000):
            payload = rng.randbytes(size)
            key = rng.randbytes(4) if masked else None
            body = bytes(XorMaskerSimple(key).process(bytearray(payload))) if key else payload

            def verify(got: Any, body: bytes = body, payload: bytes = payload,
                       masked: bool = masked) -> str | None:
                # A server receives masked frames, a client unmasked ones.
                receiver = FrameProtocol(client=not masked, extensions=[])
                receiver.receive_bytes(bytes(got) + body)
                try:
                    frames = list(receiver.received_frames())
                except Exception as exc:
                    return f"{show(got)}, which wsproto rejects: {exc}"
                if len(frames) != 1 or not frames[0].frame_finished:
                    return f"{show(got)}, after which wsproto does not find the whole frame"
                frame = frames[0]
                if (int(frame.opcode), frame.payload, frame.message_finished) != (
                        2, payload, True):
                    return f"{show(got)}, which wsproto reads as opcode {int(frame.opcode)}, " \
                           f"{len(frame.payload)} bytes"
                return None

            who = "client (masked)" if masked else "server"
            out.append(Case(
                f"a {size}-byte binary frame from a {who}, read by wsproto",
                (True, 2, masked, size, key), verify=verify,
                wants="a header after which wsproto reads the payload as one binary frame"))
    return out


def _decode_cross() -> list[Case]:
    from wsproto.frame_protocol import XorMaskerSimple

    out = []
    for client in (False, True):
        for wire, fin, opcode, payload in _frames_from_wsproto(client):
            def verify(got: Any, wire: bytes = wire, fin: bool = fin, opcode: int = opcode,
                       payload: bytes = payload, masked: bool = client) -> str | None:
                if got is None:
                    return "None (but the whole frame is there)"
                got_fin, rsv, got_opcode, got_masked, length, key, header_len = got
                want = (fin, 0, opcode, masked, len(payload))
                if (bool(got_fin), rsv, got_opcode, bool(got_masked), length) != want:
                    return f"{show(got)}, but wsproto wrote (fin, rsv, opcode, masked, length) = " \
                           f"{show(want)}"
                body = wire[header_len:header_len + length]
                if masked:
                    if key is None or len(key) != 4:
                        return f"{show(got)}: a masked frame needs its 4-byte key"
                    body = bytes(XorMaskerSimple(bytes(key)).process(bytearray(body)))
                if header_len + length != len(wire) or body != payload:
                    return f"{show(got)}: header_len or mask_key does not lead to the payload"
                return None

            who = "wsproto's client (masked)" if client else "wsproto's server"
            out.append(Case(f"a {len(payload)}-byte frame from {who}", (wire,), verify=verify,
                            wants="fields matching what wsproto wrote, and a header_len and "
                            "mask_key that lead to the payload"))
    return out


def _mask_cross() -> list[Case]:
    from wsproto.frame_protocol import XorMaskerSimple

    rng = random.Random(SEED)
    out = []
    for size in (1, 2, 3, 4, 5, 6, 7, 8, 9, 1000, 65536):
        payload, key = rng.randbytes(size), rng.randbytes(4)
        out.append(Case(f"{size} random bytes, masked by wsproto", (payload, key),
                        bytes(XorMaskerSimple(key).process(bytearray(payload)))))
    return out


def _utf8_cross() -> list[Case]:
    from wsproto.frame_protocol import FrameProtocol, ParseFailed

    rng = random.Random(SEED)
    texts = ["Hello, world", "κόσμε", "日本語のテキスト", "😀 emoji 👍🏽", "mixed ß ☃ 𝄞"]
    out = []
    for i in range(12):
        data = bytearray(rng.choice(texts).encode())
        if i % 3 == 1:  # corrupt one byte
            data[rng.randrange(len(data))] = rng.choice([0x80, 0xC0, 0xED, 0xF5, 0xFF])
        elif i % 3 == 2:  # cut the last character short
            data = data[:-1] if data[-1] >= 0x80 else data + b"\xe2\x82"
        cuts = sorted(rng.sample(range(1, len(data)), 2))
        fragments = [bytes(data[: cuts[0]]), bytes(data[cuts[0] : cuts[1]]), bytes(data[cuts[1] :])]
        # wsproto receives the fragments as TEXT + CONTINUATION frames; its verdict is the answer.
        sender = FrameProtocol(client=False, extensions=[])
        wire = b"".join(bytes(sender._serialize_frame(op, f, fin))  # type: ignore[arg-type]
                        for op, f, fin in zip((1, 0, 0), fragments, (False, False, True),
                                              strict=True))
        receiver = FrameProtocol(client=True, extensions=[])
        receiver.receive_bytes(wire)
        try:
            list(receiver.received_frames())
            valid = True
        except ParseFailed:
            valid = False
        out.append(Case("three fragments, judged by wsproto", (fragments,), valid))
    return out


def _close_cross() -> list[Case]:
    from wsproto.frame_protocol import FrameProtocol, ParseFailed

    out = []
    # 1014 is left out: it was registered with IANA after wsproto's table was written.
    for code in (0, 999, 1000, 1002, 1003, 1004, 1007, 1011, 1012, 1016, 2000, 3000, 3999,
                 4000, 4999, 5000, 65535):
        payload = _close(code, b"reason")
        sender = FrameProtocol(client=False, extensions=[])
        receiver = FrameProtocol(client=True, extensions=[])
        receiver.receive_bytes(bytes(sender._serialize_frame(8, payload)))  # type: ignore[arg-type]
        try:
            frame = next(iter(receiver.received_frames()))
        except ParseFailed:
            out.append(Case(f"close code {code}, which wsproto rejects", (payload,),
                            raises=ValueError, url=S6455 + "7.4"))
            continue
        out.append(Case(f"close code {code}, which wsproto accepts", (payload,),
                        (int(frame.payload[0]), frame.payload[1]), url=S6455 + "7.4"))
    return out


CROSS: dict[str, Callable[[], list[Case]]] = {
    "accept_key": _accept_cross,
    "parse_request_line": _request_line_cross,
    "parse_headers": _headers_cross,
    "decode_chunked": _chunked_cross,
    "check_upgrade_request": _upgrade_cross,
    "build_response_head": _response_cross,
    "encode_payload_length": _length_cross,
    "encode_frame_header": _encode_cross,
    "decode_frame_header": _decode_cross,
    "apply_mask": _mask_cross,
    "valid_utf8_across_fragments": _utf8_cross,
    "parse_close_payload": _close_cross,
}


def cases(name: str) -> list[Case]:
    """Every case of the exercise NAME: the vectors, then the cross-checks."""
    return [*VECTORS[name], *CROSS[name]()]
