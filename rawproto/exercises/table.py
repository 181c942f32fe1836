"""The exercise table: one row per exercise, in the order of the course.

Everything else is generated from these rows: the stubs of ``rawproto
exercises init`` (their signature is taken from the model answer in
:mod:`rawproto.exercises.reference`, their docstring from the row), the
listing, and the hints of ``rawproto exercises check``. So the stub, the
answer and the checks cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EXERCISES", "Exercise", "find"]

RFC6455 = "https://www.rfc-editor.org/rfc/rfc6455"
RFC9112 = "https://www.rfc-editor.org/rfc/rfc9112"


@dataclass(frozen=True)
class Exercise:
    number: int
    name: str  #: the function the learner writes (and the model answer's name)
    title: str
    task: str
    hint: str
    rfc: str  #: e.g. "RFC 6455 §4.2.2"
    url: str  #: a stable link to that section

    @property
    def module(self) -> str:
        """The learner's file in the workbook, without ``.py``."""
        return f"ex{self.number:02d}_{self.name}"

    @property
    def filename(self) -> str:
        return self.module + ".py"


def _section(base: str, section: str) -> str:
    return f"{base}#section-{section}"


EXERCISES: tuple[Exercise, ...] = (
    Exercise(
        1,
        "accept_key",
        "The accept key",
        "Compute the Sec-WebSocket-Accept value a server sends back for the "
        "client's Sec-WebSocket-Key: append the GUID "
        "258EAFA5-E914-47DA-95CA-C5AB0DC85B11 to the key (as text, not decoded), "
        "take the SHA-1 of that, and base64-encode the 20-byte digest.",
        "hashlib.sha1(...).digest() gives the 20 raw bytes; base64.b64encode "
        "turns them into text. Do not base64-decode the key first.",
        "RFC 6455 §4.2.2",
        _section(RFC6455, "4.2.2"),
    ),
    Exercise(
        2,
        "parse_request_line",
        "The HTTP request line",
        "Split an HTTP/1.1 request line (given without its CRLF) into "
        "(method, target, version) as str. Raise ValueError unless it is exactly "
        "three parts separated by single spaces, the method is a token, the "
        "target is non-empty visible ASCII, and the version is HTTP/DIGIT.DIGIT "
        "(case-sensitive).",
        "line.split(b' ') must give exactly 3 parts: two spaces in a row give an "
        "empty part. A token is made of letters, digits and !#$%&'*+-.^_`|~.",
        "RFC 9112 §3",
        _section(RFC9112, "3"),
    ),
    Exercise(
        3,
        "parse_headers",
        "HTTP header fields",
        "Parse a block of field lines, each ending in CRLF (the bytes between "
        "the request line and the empty line), into a list of (name, value) in "
        "order, names as written, values decoded as ISO-8859-1 with the optional "
        "whitespace around them removed. Raise ValueError for a line without a "
        "colon, a name that is not a token (whitespace before the colon "
        "included), an obs-fold line (starting with a space or tab), or CR, LF or "
        "NUL inside a value.",
        "Partition each line at the first b':'. Strip only spaces and tabs from "
        "the value (that is OWS), never from the name: 'Host : x' must be "
        "rejected (RFC 9112 §5.1).",
        "RFC 9112 §5",
        _section(RFC9112, "5"),
    ),
    Exercise(
        4,
        "decode_chunked",
        "Chunked transfer coding",
        "Decode a complete chunked message body into the data it carries. Each "
        "chunk is a hex size, optional ;extensions, CRLF, the data, CRLF; a chunk "
        "of size 0 ends the data, then come optional trailer field lines and a "
        "final CRLF. Ignore extensions and trailers. Raise ValueError for a bad "
        "size, missing CRLFs, a truncated body or bytes after the end.",
        "Loop: find the CRLF ending the size line, cut the line at ';', "
        "int(size, 16), take that many bytes, expect CRLF. After size 0, skip "
        "lines until an empty one.",
        "RFC 9112 §7.1",
        _section(RFC9112, "7.1"),
    ),
    Exercise(
        5,
        "check_upgrade_request",
        "Validate the opening handshake",
        "Decide whether a client's request is a valid WebSocket opening "
        "handshake. Return None if it is, otherwise the first broken rule, "
        "checked in this order: 'method' (GET), 'version' (HTTP/1.1 or higher), "
        "'host' (one Host field), 'upgrade' (Upgrade lists the token websocket), "
        "'connection' (Connection lists the token upgrade), 'key' (one "
        "Sec-WebSocket-Key that base64-decodes to 16 bytes), 'websocket-version' "
        "(Sec-WebSocket-Version is 13).",
        "Header names are case-insensitive; Upgrade and Connection are "
        "comma-separated lists of case-insensitive tokens, so "
        "'keep-alive, Upgrade' contains upgrade but 'upgraded' does not. "
        "base64.b64decode(key, validate=True).",
        "RFC 6455 §4.2.1",
        _section(RFC6455, "4.2.1"),
    ),
    Exercise(
        6,
        "build_response_head",
        "Write the response head",
        "Serialize an HTTP/1.1 response head: the status line "
        "'HTTP/1.1 <status> <reason>', one 'Name: value' line per header, each "
        "line ending in CRLF, then an empty line. Raise ValueError for a status "
        "outside 100-999, a header name that is not a token, or CR/LF in the "
        "reason or CR, LF or NUL in a value: they would let a value end the head "
        "early (response splitting).",
        "Build a str and encode it as ISO-8859-1 ('latin-1'). The head ends with "
        "two CRLFs in a row: the last header line's and the empty line's.",
        "RFC 9112 §4",
        _section(RFC9112, "4"),
    ),
    Exercise(
        7,
        "encode_payload_length",
        "Payload length, 7, 16 or 64 bits",
        "Encode a payload length the way it follows the frame's first byte "
        "(with the MASK bit 0): 0-125 as one byte; 126-65535 as the byte 126 "
        "then 16 bits big-endian; larger as the byte 127 then 64 bits "
        "big-endian. Always the shortest form. Raise ValueError for n < 0 or "
        "n >= 2**63 (the most significant bit must be 0).",
        "n.to_bytes(2, 'big') and n.to_bytes(8, 'big'); bytes([126]) is the "
        "one-byte marker.",
        "RFC 6455 §5.2",
        _section(RFC6455, "5.2"),
    ),
    Exercise(
        8,
        "encode_frame_header",
        "Encode a frame header",
        "Build the header of a WebSocket frame (not the payload): FIN bit, three "
        "RSV bits 0, 4-bit opcode; MASK bit and payload length; then the 4-byte "
        "masking key if masked. Raise ValueError for an opcode outside 0-15, or "
        "if masked is True without a 4-byte mask_key (or False with one).",
        "First byte: (0x80 if fin else 0) | opcode. Second byte: "
        "(0x80 if masked else 0) | the 7-bit length (126 or 127 when extended), "
        "then the extended length, then the key.",
        "RFC 6455 §5.2",
        _section(RFC6455, "5.2"),
    ),
    Exercise(
        9,
        "decode_frame_header",
        "Decode a frame header",
        "Read a frame header from the start of data (more bytes may follow). "
        "Return (fin, rsv, opcode, masked, length, mask_key, header_len): rsv "
        "is the 3 RSV bits as an int 0-7, mask_key the 4 key bytes or None, "
        "header_len how many bytes the header took. Return None if data is too "
        "short to hold the whole header. Raise ValueError for a 64-bit length "
        "with its most significant bit set or a length not in its shortest form.",
        "Byte 0: fin = bit 0x80, rsv = (b >> 4) & 7, opcode = b & 0x0F. "
        "Byte 1: mask = bit 0x80, len7 = b & 0x7F; 126 and 127 announce 2 and 8 "
        "more length bytes. Check you have enough bytes before each read.",
        "RFC 6455 §5.2",
        _section(RFC6455, "5.2"),
    ),
    Exercise(
        10,
        "apply_mask",
        "Masking",
        "Mask (or unmask: it is the same operation) a payload with a 4-byte "
        "masking key: byte i of the result is byte i of the payload XOR byte "
        "(i mod 4) of the key.",
        "bytes(b ^ key[i % 4] for i, b in enumerate(payload)). Applying the mask "
        "twice gives the payload back.",
        "RFC 6455 §5.3",
        _section(RFC6455, "5.3"),
    ),
    Exercise(
        11,
        "valid_utf8_across_fragments",
        "UTF-8 across fragments",
        "A text message arrives in fragments, and one character's bytes may be "
        "split between two of them. Return True if the fragments, in order, "
        "are valid UTF-8 (no overlong forms, no surrogates, nothing above "
        "U+10FFFF), False otherwise — including when the message ends in the "
        "middle of a character. Work fragment by fragment, as a receiver must "
        "to fail fast.",
        "Decoding each fragment on its own rejects valid messages. "
        "codecs.getincrementaldecoder('utf-8')() keeps the unfinished bytes "
        "between calls; final=True at the end.",
        "RFC 6455 §8.1",
        _section(RFC6455, "8.1"),
    ),
    Exercise(
        12,
        "parse_close_payload",
        "The close frame",
        "Parse the payload of a Close frame into (code, reason). An empty "
        "payload means no status code: return (1005, ''). Raise ValueError for a "
        "payload over 125 bytes (a control frame), a 1-byte payload, a code "
        "below 1000 or above 4999, the reserved codes 1004, 1005, 1006 and 1015 "
        "(never sent on the wire), the unassigned 1016-2999, or a reason that is "
        "not valid UTF-8.",
        "code = int.from_bytes(payload[:2], 'big'); reason = "
        "payload[2:].decode('utf-8') raises UnicodeDecodeError, which you turn "
        "into ValueError. 3000-4999 are for libraries and applications: valid.",
        "RFC 6455 §5.5.1, §7.4",
        _section(RFC6455, "7.4"),
    ),
)


def find(name: str) -> Exercise | None:
    """The exercise called NAME, or numbered NAME (``"3"``, ``"03"``, ``"ex03"``)."""
    key = name.strip().lower().removesuffix(".py")
    for exercise in EXERCISES:
        if key in (exercise.name, exercise.module):
            return exercise
    digits = key.removeprefix("ex")
    if digits.isdigit():
        for exercise in EXERCISES:
            if int(digits) == exercise.number:
                return exercise
    return None
