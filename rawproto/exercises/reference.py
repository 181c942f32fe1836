"""The model answers of the workbook: one plain function per exercise.

This is what ``rawproto exercises solution NAME`` prints. Every function here
is self-contained — it uses only the standard-library modules imported below,
never h11 or wsproto and never a helper of this module — so that a learner can
read one answer on its own and paste it into a workbook file. The checks in
:mod:`rawproto.exercises.checks` hold these answers to the RFC vectors and to
h11 and wsproto, the two independent implementations the project is built on.

The order is the order of the course (see :mod:`rawproto.exercises.table`).
"""

from __future__ import annotations

import base64
import codecs
import hashlib

__all__ = [
    "accept_key",
    "apply_mask",
    "build_response_head",
    "check_upgrade_request",
    "decode_chunked",
    "decode_frame_header",
    "encode_frame_header",
    "encode_payload_length",
    "parse_close_payload",
    "parse_headers",
    "parse_request_line",
    "valid_utf8_across_fragments",
]


def accept_key(key: str) -> str:
    # The GUID every WebSocket server in the world appends (RFC 6455 §1.3).
    guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    digest = hashlib.sha1((key + guid).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def parse_request_line(line: bytes) -> tuple[str, str, str]:
    # request-line = method SP request-target SP HTTP-version
    parts = line.split(b" ")
    if len(parts) != 3:
        raise ValueError("a request line is three parts separated by single spaces")
    method, target, version = parts
    tchar = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    if not method or any(byte not in tchar for byte in method):
        raise ValueError(f"the method {method!r} is not a token")
    if not target or any(byte <= 0x20 or byte >= 0x7F for byte in target):
        raise ValueError(f"the request-target {target!r} is empty or has a forbidden byte")
    # HTTP-version = "HTTP" "/" DIGIT "." DIGIT, case-sensitive
    if not (
        len(version) == 8
        and version.startswith(b"HTTP/")
        and version[5:6].isdigit()
        and version[6:7] == b"."
        and version[7:8].isdigit()
    ):
        raise ValueError(f"{version!r} is not HTTP/DIGIT.DIGIT")
    return method.decode("ascii"), target.decode("ascii"), version.decode("ascii")


def parse_headers(block: bytes) -> list[tuple[str, str]]:
    # field-line = field-name ":" OWS field-value OWS, each line ending in CRLF
    tchar = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    if not block:
        return []
    if not block.endswith(b"\r\n"):
        raise ValueError("every field line ends with CRLF")
    fields = []
    for line in block[:-2].split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            raise ValueError("obs-fold: a line starting with whitespace continues nothing")
        name, colon, value = line.partition(b":")
        if not colon:
            raise ValueError(f"no colon in {line!r}")
        if not name or any(byte not in tchar for byte in name):
            # This also catches whitespace between the name and the colon.
            raise ValueError(f"the field name {name!r} is not a token")
        value = value.strip(b" \t")
        if any(byte in b"\r\n\x00" for byte in value):
            raise ValueError("CR, LF and NUL are not allowed in a field value")
        fields.append((name.decode("ascii"), value.decode("latin-1")))
    return fields


def decode_chunked(body: bytes) -> bytes:
    # chunked-body = *chunk last-chunk trailer-section CRLF
    # chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
    data = b""
    pos = 0
    while True:
        end = body.find(b"\r\n", pos)
        if end < 0:
            raise ValueError("a chunk-size line without CRLF")
        size_text = body[pos:end].split(b";", 1)[0].strip(b" \t")  # drop chunk-ext
        if not size_text or any(byte not in b"0123456789abcdefABCDEF" for byte in size_text):
            raise ValueError(f"{size_text!r} is not a hexadecimal chunk-size")
        size = int(size_text, 16)
        pos = end + 2
        if size == 0:
            break
        if len(body) < pos + size + 2:
            raise ValueError("the body ends inside a chunk")
        if body[pos + size : pos + size + 2] != b"\r\n":
            raise ValueError("chunk-data is not followed by CRLF")
        data += body[pos : pos + size]
        pos += size + 2
    # trailer-section = *( field-line CRLF ), then the final CRLF
    while True:
        end = body.find(b"\r\n", pos)
        if end < 0:
            raise ValueError("the trailer section does not end with an empty line")
        if end == pos:
            break
        if b":" not in body[pos:end]:
            raise ValueError(f"the trailer line {body[pos:end]!r} has no colon")
        pos = end + 2
    if end + 2 != len(body):
        raise ValueError("bytes after the end of the chunked body")
    return data


def check_upgrade_request(
    method: str, version: str, headers: list[tuple[str, str]]
) -> str | None:
    def values(name: str) -> list[str]:
        return [v for n, v in headers if n.lower() == name]

    def tokens(name: str) -> set[str]:
        return {t.strip().lower() for v in values(name) for t in v.split(",")}

    if method != "GET":
        return "method"
    major, _, minor = version.removeprefix("HTTP/").partition(".")
    if not (major.isdigit() and minor.isdigit() and (int(major), int(minor)) >= (1, 1)):
        return "version"
    if len(values("host")) != 1:
        return "host"
    if "websocket" not in tokens("upgrade"):
        return "upgrade"
    if "upgrade" not in tokens("connection"):
        return "connection"
    keys = values("sec-websocket-key")
    try:
        if len(keys) != 1 or len(base64.b64decode(keys[0].strip(), validate=True)) != 16:
            return "key"
    except ValueError:  # binascii.Error is a ValueError
        return "key"
    if [v.strip() for v in values("sec-websocket-version")] != ["13"]:
        return "websocket-version"
    return None


def build_response_head(status: int, reason: str, headers: list[tuple[str, str]]) -> bytes:
    # status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF
    tchar = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    if not 100 <= status <= 999:
        raise ValueError("a status code is three digits")
    if any(c in "\r\n" for c in reason):
        raise ValueError("CR or LF in the reason phrase would end the status line")
    head = f"HTTP/1.1 {status} {reason}\r\n"
    for name, value in headers:
        if not name or any(c not in tchar for c in name):
            raise ValueError(f"the field name {name!r} is not a token")
        if any(c in "\r\n\x00" for c in value):
            raise ValueError("CR, LF or NUL in a field value (response splitting)")
        head += f"{name}: {value}\r\n"
    return (head + "\r\n").encode("latin-1")


def encode_payload_length(n: int) -> bytes:
    # 0-125: in the 7 bits; up to 65535: 126 then 16 bits; else 127 then 64 bits
    if n < 0 or n >= 2**63:
        raise ValueError("a payload length is 0 to 2**63 - 1")
    if n <= 125:
        return bytes([n])
    if n <= 0xFFFF:
        return bytes([126]) + n.to_bytes(2, "big")
    return bytes([127]) + n.to_bytes(8, "big")


def encode_frame_header(
    fin: bool, opcode: int, masked: bool, length: int, mask_key: bytes | None = None
) -> bytes:
    if not 0 <= opcode <= 0xF:
        raise ValueError("the opcode is 4 bits")
    if masked != (mask_key is not None) or (mask_key is not None and len(mask_key) != 4):
        raise ValueError("a masked frame needs a 4-byte key, an unmasked one none")
    if length < 0 or length >= 2**63:
        raise ValueError("a payload length is 0 to 2**63 - 1")
    first = (0x80 if fin else 0) | opcode
    mask_bit = 0x80 if masked else 0
    if length <= 125:
        head = bytes([first, mask_bit | length])
    elif length <= 0xFFFF:
        head = bytes([first, mask_bit | 126]) + length.to_bytes(2, "big")
    else:
        head = bytes([first, mask_bit | 127]) + length.to_bytes(8, "big")
    return head + (mask_key or b"")


def decode_frame_header(
    data: bytes,
) -> tuple[bool, int, int, bool, int, bytes | None, int] | None:
    if len(data) < 2:
        return None
    fin = bool(data[0] & 0x80)
    rsv = (data[0] >> 4) & 0b111
    opcode = data[0] & 0x0F
    masked = bool(data[1] & 0x80)
    length = data[1] & 0x7F
    pos = 2
    if length == 126:
        if len(data) < 4:
            return None
        length = int.from_bytes(data[2:4], "big")
        pos = 4
        if length <= 125:
            raise ValueError("16-bit length used for a length that fits in 7 bits")
    elif length == 127:
        if len(data) < 10:
            return None
        length = int.from_bytes(data[2:10], "big")
        pos = 10
        if length >> 63:
            raise ValueError("the most significant bit of a 64-bit length must be 0")
        if length <= 0xFFFF:
            raise ValueError("64-bit length used for a length that fits in 16 bits")
    mask_key = None
    if masked:
        if len(data) < pos + 4:
            return None
        mask_key = bytes(data[pos : pos + 4])
        pos += 4
    return fin, rsv, opcode, masked, length, mask_key, pos


def apply_mask(payload: bytes, key: bytes) -> bytes:
    # transformed-octet-i = original-octet-i XOR masking-key-octet-(i MOD 4)
    return bytes(byte ^ key[i % 4] for i, byte in enumerate(payload))


def valid_utf8_across_fragments(fragments: list[bytes]) -> bool:
    # An incremental decoder keeps a code point split across fragments.
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for fragment in fragments:
            decoder.decode(fragment, final=False)
        decoder.decode(b"", final=True)  # an unfinished sequence at the end fails
    except UnicodeDecodeError:
        return False
    return True


def parse_close_payload(payload: bytes) -> tuple[int, str]:
    if len(payload) > 125:
        raise ValueError("a control frame carries at most 125 bytes")
    if not payload:
        return 1005, ""  # no status code: the close code is considered to be 1005
    if len(payload) == 1:
        raise ValueError("a status code is 2 bytes; 1 byte is not a close payload")
    code = int.from_bytes(payload[:2], "big")
    if code < 1000 or code >= 5000:
        raise ValueError(f"{code} is not a close code")
    if code in (1004, 1005, 1006, 1015):
        raise ValueError(f"{code} is reserved and never sent in a close frame")
    if 1016 <= code <= 2999:
        raise ValueError(f"{code} is reserved for future protocol revisions")
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("the reason is not valid UTF-8") from None
    return code, reason
