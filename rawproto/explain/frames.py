"""WebSocket frames explained bit by bit (RFC 6455 §5.2).

A learner finds here an independent, readable decoder for the frame diagram
of https://www.rfc-editor.org/rfc/rfc6455#section-5.2 ::

      0                   1                   2                   3
      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
     +-+-+-+-+-------+-+-------------+-------------------------------+
     |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
     |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
     |N|V|V|V|       |S|             |   (if payload len==126/127)   |
     | |1|2|3|       |K|             |                               |
     +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
     |     Extended payload length continued, if payload len == 127  |
     + - - - - - - - - - - - - - - - +-------------------------------+
     |                               |Masking-key, if MASK set to 1  |
     +-------------------------------+-------------------------------+
     | Masking-key (continued)       |          Payload Data         |
     +-------------------------------- - - - - - - - - - - - - - - - +

:func:`parse_frame` reads the bytes in exactly that order. Instead of
stopping at the first broken rule (as a real endpoint must: it fails the
connection), it records every :class:`~rawproto.explain.rules.Violation`
with the RFC's words, so a learner sees *all* that is wrong with a frame.

:class:`FrameStream` feeds chunks as they come off a socket: several frames
per chunk, or one frame split over many chunks ("needs 3 more bytes").

rawproto talks WebSocket through wsproto; this module is only for teaching,
and the tests check that it agrees with wsproto's own decoder.
"""

from __future__ import annotations

import codecs
from collections.abc import Generator
from dataclasses import dataclass, replace
from typing import Literal

from rawproto.core.trace import CLOSE_CODE_NAMES, Direction, format_frame
from rawproto.explain.reader import StreamReader, Truncated, needs_text
from rawproto.explain.rules import Field, Violation

__all__ = [
    "CLOSE_CODE_MEANINGS",
    "OPCODE_MEANINGS",
    "OPCODE_NAMES",
    "ExplainedFrame",
    "Field",
    "FrameStream",
    "Sender",
    "Truncated",
    "close_code_name",
    "explain_frame",
    "explain_frames",
    "opcode_name",
    "parse_frame",
    "unmask",
]

#: Who put the frame on the wire. ``None`` means "don't know": the masking
#: rules of §5.1 are then not checked.
Sender = Literal["client", "server"]

# RFC 6455, Section 5.2 - Base Framing Protocol: the opcodes.
OPCODE_NAMES: dict[int, str] = {
    0x0: "CONT",
    0x1: "TEXT",
    0x2: "BINARY",
    0x8: "CLOSE",
    0x9: "PING",
    0xA: "PONG",
}

OPCODE_MEANINGS: dict[int, str] = {
    0x0: "continuation of a fragmented message",
    0x1: "text message (UTF-8)",
    0x2: "binary message",
    0x8: "connection close",
    0x9: "ping (peer must answer with pong)",
    0xA: "pong (answer to a ping)",
}

# RFC 6455, Section 7.4.1 - Defined Status Codes (the names come from
# rawproto.core.trace.CLOSE_CODE_NAMES; these are the RFC's explanations).
CLOSE_CODE_MEANINGS: dict[int, str] = {
    1000: "normal closure; the purpose of the connection was fulfilled",
    1001: "endpoint is going away (server down, page navigated away)",
    1002: "endpoint is terminating the connection due to a protocol error",
    1003: "endpoint received a type of data it cannot accept",
    1005: "reserved: no status code was present (never sent on the wire)",
    1006: "reserved: closed abnormally, no Close frame (never on the wire)",
    1007: "data within a message was not consistent with its type",
    1008: "message violates the endpoint's policy",
    1009: "message too big to process",
    1010: "client expected the server to negotiate an extension",
    1011: "server hit an unexpected condition",
    1012: "service is restarting (IANA registry, not in RFC 6455)",
    1013: "try again later (IANA registry, not in RFC 6455)",
    1014: "bad gateway (IANA registry, not in RFC 6455)",
    1015: "reserved: TLS handshake failed (never sent on the wire)",
}

# Codes the shared trace table may not name (§7.4.1, and IANA's 1012-1014).
_MORE_CLOSE_NAMES: dict[int, str] = {
    1004: "reserved",
    1005: "no status received",
    1006: "abnormal closure",
    1010: "mandatory extension",
    1011: "internal error",
    1012: "service restart",
    1013: "try again later",
    1014: "bad gateway",
    1015: "TLS handshake failure",
}

#: How many payload bytes the XOR walk-through shows: five, so a learner
#: sees the key wrap around (byte 4 is unmasked with key byte 0 again).
XOR_SHOWN = 5


def opcode_name(opcode: int) -> str:
    """``TEXT``, ``PING``, … or ``reserved 0x3`` for an undefined opcode."""
    return OPCODE_NAMES.get(opcode, f"reserved 0x{opcode:x}")


def close_code_name(code: int) -> str:
    """The §7.4.1 name of a close code, or the §7.4.2 range it falls in."""
    if code in CLOSE_CODE_NAMES:
        return CLOSE_CODE_NAMES[code]
    if code in _MORE_CLOSE_NAMES:
        return _MORE_CLOSE_NAMES[code]
    if 3000 <= code <= 3999:
        return "registered for libraries and frameworks"
    if 4000 <= code <= 4999:
        return "private use"
    return "not a valid close code"


def unmask(data: bytes, key: bytes) -> bytes:
    """RFC 6455 §5.3: octet i of the payload is XORed with key octet ``i % 4``.

    "transformed-octet-i = original-octet-i XOR masking-key-octet-j,
    where j = i MOD 4" — https://www.rfc-editor.org/rfc/rfc6455#section-5.3
    (Done here on one big integer, which is fast even for 64 KiB.)
    """
    if not data:
        return b""
    stream = (key * (len(data) // 4 + 1))[: len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(
        len(data), "big"
    )


def _bits(byte: int, mask: int) -> str:
    """``.... 0001``: the bits of ``byte`` selected by ``mask``, others as dots."""
    out = "".join(
        str((byte >> (7 - i)) & 1) if mask & (0x80 >> i) else "." for i in range(8)
    )
    return out[:4] + " " + out[4:]


def _char(b: int) -> str:
    return f" {chr(b)!r}" if 0x20 <= b < 0x7F else ""


@dataclass(frozen=True, slots=True)
class ExplainedFrame:
    """One frame, decoded field by field, with every broken rule.

    ``raw`` is the whole frame as on the wire; ``offset`` is where it started
    in the stream it came from. ``masked_payload`` is the payload as on the
    wire (masked only when ``masked``), ``payload`` the unmasked bytes.
    """

    raw: bytes
    offset: int
    sender: Sender | None
    fin: bool
    rsv1: bool
    rsv2: bool
    rsv3: bool
    opcode: int
    opcode_name: str
    masked: bool
    payload_length: int
    length_encoding: str  # "7-bit", "16-bit" or "64-bit"
    masking_key: bytes | None
    masked_payload: bytes
    payload: bytes
    xor: tuple[str, ...]  # ("7f ^ 37 = 48 'H'", ...): the first unmaskings
    text: str | None  # TEXT (and text CONT) payloads, decoded
    close_code: int | None
    close_name: str | None
    close_meaning: str | None
    close_reason: str | None
    fields: tuple[Field, ...]
    violations: tuple[Violation, ...]

    @property
    def is_control(self) -> bool:
        """Control frames (CLOSE, PING, PONG) have the opcode's top bit set."""
        return bool(self.opcode & 0x8)

    @property
    def shown(self) -> str:
        """The payload for humans: text in quotes, or hex for binary data."""
        if self.text is not None:
            return repr(self.text)
        return self.payload.hex(" ")

    def field(self, name: str) -> Field:
        """The field called ``name`` (``KeyError`` if this frame has none)."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def trace_line(self, direction: Direction) -> str:
        """The compact trace line, e.g. ``> TEXT 'Hello' [5 bytes]``."""
        text = self.text is not None if self.opcode == 0x0 else None
        return format_frame(direction, self.opcode_name, self.payload, fin=self.fin, text=text)


# --- The parser ---------------------------------------------------------------


def parse_frame(
    reader: StreamReader, sender: Sender | None = None, *, extensions: bool = False
) -> Generator[None, None, ExplainedFrame]:
    """Read one frame from ``reader``, in the order of the §5.2 diagram.

    ``extensions=True`` means an extension was negotiated, so RSV bits may
    be set. Drive it with ``yield from`` (see :class:`FrameStream`).
    """
    start = reader.position
    # +-+-+-+-+-------+  first byte: FIN, RSV1-3, opcode
    # +-+-------------+  second byte: MASK, payload len (7)
    head = yield from reader.read_exact(2, "header", last=False)
    head1, head2 = head[0], head[1]
    fin = bool(head1 & 0b1000_0000)
    rsv1 = bool(head1 & 0b0100_0000)
    rsv2 = bool(head1 & 0b0010_0000)
    rsv3 = bool(head1 & 0b0001_0000)
    opcode = head1 & 0b0000_1111
    masked = bool(head2 & 0b1000_0000)
    length = head2 & 0b0111_1111

    # "Payload length: 7 bits, 7+16 bits, or 7+64 bits ... If 0-125, that is
    # the payload length. If 126, the following 2 bytes interpreted as a
    # 16-bit unsigned integer are the payload length. If 127, the following
    # 8 bytes interpreted as a 64-bit unsigned integer (the most significant
    # bit MUST be 0) are the payload length."
    if length == 126:
        data = yield from reader.read_exact(2, "16-bit payload length", last=False)
        length, encoding = int.from_bytes(data, "big"), "16-bit"
    elif length == 127:
        data = yield from reader.read_exact(8, "64-bit payload length", last=False)
        length, encoding = int.from_bytes(data, "big"), "64-bit"
    else:
        encoding = "7-bit"

    key: bytes | None = None
    if masked:
        key = yield from reader.read_exact(4, "masking key", last=length == 0)

    wire_payload = yield from reader.read_exact(length, "payload")
    raw = bytes(head) + (b"" if encoding == "7-bit" else data) + (key or b"") + wire_payload
    return _explain(
        raw, start, sender, extensions,
        fin=fin, rsv=(rsv1, rsv2, rsv3), opcode=opcode, masked=masked,
        length=length, encoding=encoding, key=key, wire_payload=wire_payload,
    )


def _explain(
    raw: bytes, offset: int, sender: Sender | None, extensions: bool, *,
    fin: bool, rsv: tuple[bool, bool, bool], opcode: int, masked: bool,
    length: int, encoding: str, key: bytes | None, wire_payload: bytes,
) -> ExplainedFrame:
    """Lay out the fields of a complete frame ``raw`` and check its rules."""
    head1, head2 = raw[0], raw[1]
    length7 = head2 & 0x7F
    ext_size = {"7-bit": 0, "16-bit": 2, "64-bit": 8}[encoding]
    key_at = 2 + ext_size
    body_at = key_at + (4 if masked else 0)
    payload = unmask(wire_payload, key) if key is not None else wire_payload
    name = opcode_name(opcode)

    fields = [
        Field("FIN", 0, 1, str(int(fin)),
              "final fragment of a message" if fin else "more fragments follow",
              _bits(head1, 0x80)),
        Field("RSV1-3", 0, 1, " ".join(str(int(r)) for r in rsv),
              "extension bits (e.g. RSV1 = compressed)" if any(rsv) else "no extension in use",
              _bits(head1, 0x70)),
        Field("opcode", 0, 1, f"0x{opcode:x} {name}",
              OPCODE_MEANINGS.get(opcode, "reserved, undefined by RFC 6455"),
              _bits(head1, 0x0F)),
        Field("MASK", 1, 2, str(int(masked)),
              "payload is masked (client to server)" if masked
              else "payload is not masked (server to client)",
              _bits(head2, 0x80)),
    ]
    if ext_size:
        fields.append(Field("payload len", 1, 2, str(length7),
                            f"{length7}: length is in the next {ext_size} bytes",
                            _bits(head2, 0x7F)))
        fields.append(Field("extended length", 2, 2 + ext_size, str(length),
                            f"payload length, {encoding}"))
    else:
        fields.append(Field("payload len", 1, 2, str(length7),
                            "payload length, 7-bit (0-125)", _bits(head2, 0x7F)))
    if key is not None:
        fields.append(Field("masking key", key_at, key_at + 4, key.hex(" "),
                            "XOR key for the payload (RFC 6455 §5.3)"))

    xor: tuple[str, ...] = ()
    if key is not None:
        xor = tuple(
            f"{m:02x} ^ {key[i % 4]:02x} = {p:02x}{_char(p)}"
            for i, (m, p) in enumerate(zip(wire_payload[:XOR_SHOWN], payload, strict=False))
        )

    text: str | None = None
    close_code = close_name = close_meaning = close_reason = None
    if opcode == 0x1:
        text = payload.decode("utf-8", "replace")
    if opcode == 0x8 and len(payload) >= 2:
        close_code = int.from_bytes(payload[:2], "big")
        close_name = close_code_name(close_code)
        close_meaning = CLOSE_CODE_MEANINGS.get(close_code, close_name)
        close_reason = payload[2:].decode("utf-8", "replace")

    if length:
        if opcode == 0x8 and close_code is not None:
            fields.append(Field("close code", body_at, body_at + 2,
                                f"{close_code} ({close_name})", close_meaning or ""))
            if len(payload) > 2:
                fields.append(Field("close reason", body_at + 2, len(raw),
                                    repr(close_reason), "UTF-8 reason for humans"))
        else:
            shown = repr(text) if text is not None else _short_hex(payload)
            fields.append(Field("payload", body_at, len(raw), shown,
                                f"{length} byte{'s' if length != 1 else ''}"
                                + (", masked" if masked else "")))

    frame = ExplainedFrame(
        raw=raw, offset=offset, sender=sender, fin=fin,
        rsv1=rsv[0], rsv2=rsv[1], rsv3=rsv[2],
        opcode=opcode, opcode_name=name, masked=masked,
        payload_length=length, length_encoding=encoding, masking_key=key,
        masked_payload=wire_payload, payload=payload, xor=xor, text=text,
        close_code=close_code, close_name=close_name, close_meaning=close_meaning,
        close_reason=close_reason, fields=tuple(fields), violations=(),
    )
    return replace(frame, violations=tuple(_check(frame, length7, extensions)))


def _short_hex(data: bytes, shown: int = 8) -> str:
    return data[:shown].hex(" ") + (" …" if len(data) > shown else "")


def _check(f: ExplainedFrame, length7: int, extensions: bool) -> list[Violation]:
    """Every rule of RFC 6455 that one frame, on its own, can break."""
    out: list[Violation] = []

    # RFC 6455 §5.2: "RSV1, RSV2, RSV3: 1 bit each. MUST be 0 unless an
    # extension is negotiated that defines meanings for non-zero values."
    # https://www.rfc-editor.org/rfc/rfc6455#section-5.2
    if (f.rsv1 or f.rsv2 or f.rsv3) and not extensions:
        out.append(Violation(
            "RSV1, RSV2, RSV3 MUST be 0 unless an extension is negotiated "
            "that defines meanings for non-zero values",
            6455, "5.2", "RSV bit set without an extension", 0, 1))

    # RFC 6455 §5.2: "If an unknown opcode is received, the receiving
    # endpoint MUST _Fail the WebSocket Connection_." (0x3-0x7 and 0xB-0xF
    # are reserved.) https://www.rfc-editor.org/rfc/rfc6455#section-5.2
    if f.opcode not in OPCODE_NAMES:
        out.append(Violation(
            "If an unknown opcode is received, the receiving endpoint MUST "
            "_Fail the WebSocket Connection_",
            6455, "5.2", f"opcode 0x{f.opcode:x} is reserved", 0, 1))

    # RFC 6455 §5.5: "All control frames MUST have a payload length of 125
    # bytes or less and MUST NOT be fragmented."
    # https://www.rfc-editor.org/rfc/rfc6455#section-5.5
    if f.is_control and f.payload_length > 125:
        end = 2 + {126: 2, 127: 8}.get(length7, 0)
        out.append(Violation(
            "All control frames MUST have a payload length of 125 bytes or less",
            6455, "5.5", f"{f.opcode_name} with {f.payload_length} bytes of payload", 1, end))
    if f.is_control and not f.fin:
        out.append(Violation(
            "Control frames MUST NOT be fragmented",
            6455, "5.5", f"{f.opcode_name} with FIN=0", 0, 1))

    # RFC 6455 §5.2: "in all cases, the minimal number of bytes MUST be used
    # to encode the length" and, for the 64-bit form, "the most significant
    # bit MUST be 0". https://www.rfc-editor.org/rfc/rfc6455#section-5.2
    if f.length_encoding == "16-bit" and f.payload_length <= 125:
        out.append(Violation(
            "the minimal number of bytes MUST be used to encode the length",
            6455, "5.2", f"length {f.payload_length} sent in 16 bits (fits in 7)", 1, 4))
    if f.length_encoding == "64-bit" and f.payload_length <= 0xFFFF:
        out.append(Violation(
            "the minimal number of bytes MUST be used to encode the length",
            6455, "5.2", f"length {f.payload_length} sent in 64 bits (fits in 16)", 1, 10))
    if f.length_encoding == "64-bit" and f.payload_length >> 63:
        out.append(Violation(
            "the most significant bit MUST be 0 (64-bit payload length)",
            6455, "5.2", "64-bit length with its top bit set", 2, 10))

    # RFC 6455 §5.1: "a client MUST mask all frames that it sends to the
    # server" and "A server MUST NOT mask any frames that it sends to the
    # client." https://www.rfc-editor.org/rfc/rfc6455#section-5.1
    if f.sender == "client" and not f.masked:
        out.append(Violation(
            "a client MUST mask all frames that it sends to the server",
            6455, "5.1", "unmasked frame from the client", 1, 2))
    if f.sender == "server" and f.masked:
        out.append(Violation(
            "A server MUST NOT mask any frames that it sends to the client",
            6455, "5.1", "masked frame from the server", 1, 2))

    body_at = len(f.raw) - f.payload_length
    # RFC 6455 §8.1: "When an endpoint is to interpret a byte stream as UTF-8
    # but finds that the byte stream is not, in fact, a valid UTF-8 stream,
    # that endpoint MUST _Fail the WebSocket Connection_." A complete text
    # message (FIN=1, opcode TEXT) can be checked on its own.
    # https://www.rfc-editor.org/rfc/rfc6455#section-8.1
    if f.opcode == 0x1 and f.fin and not _valid_utf8(f.payload):
        out.append(Violation(
            "When an endpoint is to interpret a byte stream as UTF-8 but finds "
            "that the byte stream is not, in fact, a valid UTF-8 stream, that "
            "endpoint MUST _Fail the WebSocket Connection_",
            6455, "8.1", "text frame payload is not valid UTF-8", body_at, len(f.raw)))

    if f.opcode == 0x8:
        out.extend(_check_close(f, body_at))
    return out


def _valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _check_close(f: ExplainedFrame, body_at: int) -> list[Violation]:
    out: list[Violation] = []
    end = len(f.raw)
    # RFC 6455 §5.5.1: "If there is a body, the first two bytes of the body
    # MUST be a 2-byte unsigned integer (in network byte order) representing
    # a status code with value /code/ defined in Section 7.4."
    # https://www.rfc-editor.org/rfc/rfc6455#section-5.5.1
    if f.payload_length == 1:
        out.append(Violation(
            "If there is a body, the first two bytes of the body MUST be a "
            "2-byte unsigned integer (in network byte order) representing a "
            "status code",
            6455, "5.5.1", "close payload of 1 byte", body_at, end))
    code = f.close_code
    if code is None:
        return out
    # RFC 6455 §7.4.1: 1005, 1006 and 1015 "MUST NOT be set as a status code
    # in a Close control frame by an endpoint"; 1004 is reserved.
    # https://www.rfc-editor.org/rfc/rfc6455#section-7.4.1
    if code in (1004, 1005, 1006, 1015):
        out.append(Violation(
            f"{code} is a reserved value and MUST NOT be set as a status code "
            "in a Close control frame by an endpoint",
            6455, "7.4.1", f"close code {code}", body_at, body_at + 2))
    # RFC 6455 §7.4.2: "Status codes in the range 0-999 are not used." 1000-
    # 2999 are for this protocol and its extensions (1012-1014 are registered
    # with IANA since), 3000-4999 for libraries and private use; nothing above.
    # https://www.rfc-editor.org/rfc/rfc6455#section-7.4.2
    elif code < 1000 or 1016 <= code <= 2999 or code > 4999:
        out.append(Violation(
            "Status codes in the range 0-999 are not used; 1000-2999 are "
            "reserved for the protocol; only 1000-4999 are defined",
            6455, "7.4.2", f"close code {code} is not a valid status code",
            body_at, body_at + 2))
    # RFC 6455 §5.5.1: after the code "the body MAY contain UTF-8-encoded
    # data with value /reason/". https://www.rfc-editor.org/rfc/rfc6455#section-5.5.1
    if not _valid_utf8(f.payload[2:]):
        out.append(Violation(
            "Following the 2-byte integer, the body MAY contain UTF-8-encoded "
            "data with value /reason/",
            6455, "5.5.1", "close reason is not valid UTF-8", body_at + 2, end))
    return out


# --- Streams of frames ------------------------------------------------------------


class FrameStream:
    """Explain frames as chunks arrive from one side of a connection.

    ``feed(chunk)`` returns every frame completed by that chunk (possibly
    none, possibly several). ``needs`` says what a half-received frame is
    still waiting for. The stream also checks the rules that span frames:
    fragmentation (§5.4), UTF-8 across fragments (§8.1), nothing after a
    Close (§5.5.1).
    """

    def __init__(self, sender: Sender | None = None, *, extensions: bool = False) -> None:
        self.sender = sender
        self.extensions = extensions
        self._reader = StreamReader()
        self._done: list[ExplainedFrame] = []
        self._frame_start = 0  # stream offset where the current frame began
        # The fragmented message in progress: its opcode (None: none is).
        self._message: int | None = None
        self._utf8: codecs.IncrementalDecoder | None = None
        self._closed = False  # a Close frame was seen
        self._parser = self._run()
        next(self._parser)  # run up to the first read

    def _run(self) -> Generator[None, None, None]:
        while True:
            self._frame_start = self._reader.position
            frame = yield from parse_frame(self._reader, self.sender, extensions=self.extensions)
            self._done.append(self._across_frames(frame))

    def feed(self, chunk: bytes) -> list[ExplainedFrame]:
        """Add bytes; return the frames they completed."""
        self._reader.feed_data(chunk)
        next(self._parser)
        done, self._done = self._done, []
        return done

    @property
    def missing(self) -> int:
        """How many more bytes the current frame waits for (0 between frames)."""
        if self._reader.position == self._frame_start and not self._reader.buffer:
            return 0
        return self._reader.missing

    @property
    def needs(self) -> str:
        """``"needs 3 more bytes"`` mid-frame, ``""`` between frames."""
        if not self.missing:
            return ""
        return needs_text(self._reader.missing, self._reader.what, self._reader.exact)

    def end(self) -> None:
        """The stream ended: raise :class:`Truncated` if a frame is cut off."""
        if self.missing:
            raise Truncated(self._reader.missing, self._reader.what, self._reader.exact)

    def _across_frames(self, f: ExplainedFrame) -> ExplainedFrame:
        extra: list[Violation] = []
        text = f.text
        # RFC 6455 §5.5.1: "After sending a Close frame, the endpoint MUST NOT
        # send any more data frames." https://www.rfc-editor.org/rfc/rfc6455#section-5.5.1
        if self._closed:
            extra.append(Violation(
                "After sending a Close frame, the endpoint MUST NOT send any more data frames",
                6455, "5.5.1", f"{f.opcode_name} after CLOSE"))
        if f.opcode == 0x8:
            self._closed = True
        # RFC 6455 §5.4: "A fragmented message consists of a single frame with
        # the FIN bit clear and an opcode other than 0, followed by zero or
        # more frames with the FIN bit clear and the opcode set to 0, and
        # terminated by a single frame with the FIN bit set and an opcode of 0."
        # https://www.rfc-editor.org/rfc/rfc6455#section-5.4
        rule = (
            "A fragmented message consists of a single frame with the FIN bit "
            "clear and an opcode other than 0, followed by zero or more frames "
            "with the FIN bit clear and the opcode set to 0, and terminated by "
            "a single frame with the FIN bit set and an opcode of 0"
        )
        if f.opcode == 0x0 and self._message is None:
            extra.append(Violation(rule, 6455, "5.4",
                                   "CONT frame with no message to continue", 0, 1))
        elif f.opcode in (0x1, 0x2) and self._message is not None:
            extra.append(Violation(rule, 6455, "5.4",
                                   f"new {f.opcode_name} message inside a fragmented one", 0, 1))
        if f.opcode in (0x1, 0x2) and not f.fin:
            self._message = f.opcode
            self._utf8 = codecs.getincrementaldecoder("utf-8")() if f.opcode == 0x1 else None
        if self._utf8 is not None and f.opcode in (0x0, 0x1) and self._message == 0x1:
            # A text message split over frames may split a character too, so
            # decode across frames (§8.1 applies to the message as a whole).
            try:
                text = self._utf8.decode(f.payload, f.fin)
            except UnicodeDecodeError:
                text = f.payload.decode("utf-8", "replace")
                self._utf8 = None
                extra.append(Violation(
                    "When an endpoint is to interpret a byte stream as UTF-8 but finds "
                    "that the byte stream is not, in fact, a valid UTF-8 stream, that "
                    "endpoint MUST _Fail the WebSocket Connection_",
                    6455, "8.1", "fragmented text message is not valid UTF-8"))
        elif f.opcode == 0x0 and self._message == 0x1:
            text = f.payload.decode("utf-8", "replace")
        if f.opcode == 0x0 and f.fin:
            self._message, self._utf8 = None, None
        if f.opcode == 0x1 and f.fin and self._message is None:
            self._utf8 = None
        if not extra and text == f.text:
            return f
        # A fragment's own §8.1 check is replaced by the message-wide one.
        own = tuple(v for v in f.violations
                    if not (v.section == "8.1" and self._message is not None))
        return replace(f, text=text, violations=own + tuple(extra))


def explain_frames(
    data: bytes, sender: Sender | None = None, *, extensions: bool = False
) -> list[ExplainedFrame]:
    """Explain every frame in ``data``; :class:`Truncated` if the last is cut off."""
    stream = FrameStream(sender, extensions=extensions)
    frames = stream.feed(data)
    stream.end()
    return frames


def explain_frame(
    data: bytes, sender: Sender | None = None, *, extensions: bool = False
) -> ExplainedFrame:
    """Explain exactly one frame; ``ValueError`` if ``data`` holds more or less."""
    frames = explain_frames(data, sender, extensions=extensions)
    if len(frames) != 1:
        raise ValueError(f"expected one frame, found {len(frames)}")
    return frames[0]
