"""What the protocol engines cost, with no sockets and no event loop.

    python benchmarks/engines.py            # a table, microseconds per operation
    python benchmarks/engines.py --json

rawproto keeps h11 and wsproto as its protocol engines (issue #7: "Keep h11
and wsproto as the protocol engines"). This script measures, in-process, what
one operation costs in each engine and in rawproto's sans-IO layer on top,
beside the `websockets` library's own sans-IO core doing the same work. With
the event-loop-and-syscall floor that `run.py`'s trivial server measures, it
tells which target a design on these engines can reach at all:

    best possible rate = 1 / (loop floor + engine cost)

Every figure is the best of 5 repeats (the least disturbed), in µs.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import h11
import wsproto.frame_protocol
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, TextMessage

from rawproto.core import ws
from rawproto.core.handshake import GUID, accept_response, check_upgrade
from rawproto.core.http1 import HttpSession, response

MASK = b"\x37\xfa\x21\x3d"  # RFC 6455 §5.7's example key
KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3's example key
UPGRADE = (
    "GET /echo HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\n"
    f"Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
).encode()
GET = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"  # what wrk sends
MIB = 1 << 20
CHUNK = 256 * 1024  # what one read hands over (rawproto's READ_SIZE)


def masked(opcode: int, payload: bytes) -> bytes:
    """A client frame, built by hand (RFC 6455 §5.2)."""
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, 0x80 | n])
    elif n < 1 << 16:
        head = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    body = bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))
    return head + MASK + body


SMALL = masked(0x1, b"0123456789abcdef")  # the small-echo benchmark's message
LARGE_PAYLOAD = os.urandom(MIB)
LARGE = masked(0x2, LARGE_PAYLOAD)
LARGE_CHUNKS = [LARGE[i : i + CHUNK] for i in range(0, len(LARGE), CHUNK)]


def best(fn: Callable[[], object], number: int) -> float:
    """µs per call: the best of 5 repeats."""
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


# --- WebSocket: one 16-byte text message in, the same message out -------------


def small_wsproto() -> Callable[[], object]:
    conn = Connection(ConnectionType.SERVER)

    def echo() -> object:
        conn.receive_data(SMALL)
        (event,) = conn.events()
        return conn.send(TextMessage(event.data))

    return echo


def small_rawproto() -> Callable[[], object]:
    session = ws.WsSession("server")

    def echo() -> object:
        events = session.receive_data(SMALL)
        message = events[-1]
        assert isinstance(message, ws.Message)
        return session.send_message(message.data)

    return echo


def _websockets_open() -> Any | None:
    """websockets' sans-IO core as an open server connection, if installed."""
    try:
        from websockets.protocol import Protocol, Side, State
    except ImportError:
        return None
    return Protocol(Side.SERVER, state=State.OPEN, max_size=None)


def small_websockets() -> Callable[[], object] | None:
    proto = _websockets_open()
    if proto is None:
        return None

    def echo() -> object:
        proto.receive_data(SMALL)
        (frame,) = proto.events_received()
        proto.send_text(frame.data)
        return proto.data_to_send()

    return echo


# --- WebSocket: one 1 MiB binary message in (4 reads), the same out ------------


def large_wsproto() -> Callable[[], object]:
    conn = Connection(ConnectionType.SERVER)

    def echo() -> object:
        parts = []
        for chunk in LARGE_CHUNKS:
            conn.receive_data(chunk)
            parts.extend(e.data for e in conn.events())
        return conn.send(BytesMessage(b"".join(parts)))

    return echo


def large_rawproto() -> Callable[[], object]:
    session = ws.WsSession("server", max_message_size=2 * MIB)

    def echo() -> object:
        for chunk in LARGE_CHUNKS:
            events = session.receive_data(chunk)
        message = events[-1]
        assert isinstance(message, ws.Message)
        return session.send_message(message.data)

    return echo


def large_websockets() -> Callable[[], object] | None:
    proto = _websockets_open()
    if proto is None:
        return None

    def echo() -> object:
        for chunk in LARGE_CHUNKS:
            proto.receive_data(chunk)
            frames = proto.events_received()
        proto.send_binary(frames[-1].data)
        return proto.data_to_send()

    return echo


# --- Unmasking 1 MiB: the one loop over every payload byte ---------------------


def unmask_wsproto() -> Callable[[], object]:
    # What wsproto does: four strided slices, each through a 256-byte table.
    return lambda: wsproto.frame_protocol.XorMaskerSimple(MASK).process(bytearray(LARGE_PAYLOAD))


def unmask_int() -> Callable[[], object]:
    # The other plain-Python form: the payload as one big integer.
    def xor() -> bytes:
        n = len(LARGE_PAYLOAD)
        key = int.from_bytes((MASK * (n // 4 + 1))[:n], "little")
        return (int.from_bytes(LARGE_PAYLOAD, "little") ^ key).to_bytes(n, "little")

    return xor


def unmask_c() -> Callable[[], object] | None:
    try:
        from websockets.speedups import apply_mask  # type: ignore[import-not-found]
    except ImportError:
        return None
    return lambda: apply_mask(LARGE_PAYLOAD, MASK)


# --- The opening handshake, server side ----------------------------------------


def handshake_engines() -> Callable[[], object]:
    """What the engines-only benchmark server does: h11 and wsproto, no checks."""

    def accept() -> object:
        http = h11.Connection(h11.SERVER)
        http.receive_data(UPGRADE)
        request = http.next_event()
        assert isinstance(request, h11.Request)
        key = next(v for k, v in request.headers if k == b"sec-websocket-key")
        http.next_event()  # EndOfMessage
        accept = base64.b64encode(hashlib.sha1(key + GUID.encode()).digest())
        reply = h11.InformationalResponse(
            status_code=101,
            headers=[(b"Upgrade", b"websocket"), (b"Connection", b"Upgrade"),
                     (b"Sec-WebSocket-Accept", accept)],
        )  # fmt: skip
        data = http.send(reply)
        Connection(ConnectionType.SERVER)
        return data

    return accept


def handshake_rawproto() -> Callable[[], object]:
    def accept() -> object:
        http = HttpSession("server")
        http.receive_data(UPGRADE)
        request = http.next_event()
        accepted = check_upgrade(request)
        http.next_event()  # EndOfMessage
        data = http.send(accept_response(accepted))
        ws.WsSession("server", trailing_data=http.trailing_data)
        return data

    return accept


def handshake_websockets() -> Callable[[], object] | None:
    try:
        from websockets.server import ServerProtocol
    except ImportError:
        return None

    def accept() -> object:
        proto = ServerProtocol()
        proto.receive_data(UPGRADE)
        (request,) = proto.events_received()
        proto.send_response(proto.accept(request))
        return proto.data_to_send()

    return accept


# --- HTTP: one keep-alive GET and its 14-byte answer ----------------------------


def http_h11() -> Callable[[], object]:
    conn = h11.Connection(h11.SERVER)
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "14")]

    def cycle() -> object:
        conn.receive_data(GET)
        conn.next_event()  # Request
        conn.next_event()  # EndOfMessage
        out = b"".join(
            [
                conn.send(h11.Response(status_code=200, headers=headers)) or b"",
                conn.send(h11.Data(data=b"Hello, world!\n")) or b"",
                conn.send(h11.EndOfMessage()) or b"",
            ]
        )
        conn.start_next_cycle()
        return out

    return cycle


def http_rawproto() -> Callable[[], object]:
    http = HttpSession("server")

    def cycle() -> object:
        http.receive_data(GET)
        http.next_event()
        http.next_event()
        out = http.send_all(*response(200, b"Hello, world!\n", headers=[("Server", "rawproto")]))
        http.start_next_cycle()
        return out

    return cycle


ROWS: list[tuple[str, str, Callable[[], Callable[[], object] | None], int]] = [
    ("small echo (16 B text)", "wsproto", small_wsproto, 20000),
    ("small echo (16 B text)", "rawproto WsSession", small_rawproto, 20000),
    ("small echo (16 B text)", "websockets Protocol", small_websockets, 20000),
    ("1 MiB echo (4 reads)", "wsproto", large_wsproto, 20),
    ("1 MiB echo (4 reads)", "rawproto WsSession", large_rawproto, 20),
    ("1 MiB echo (4 reads)", "websockets Protocol", large_websockets, 20),
    ("unmask 1 MiB", "wsproto XorMaskerSimple", unmask_wsproto, 20),
    ("unmask 1 MiB", "int XOR (plain Python)", unmask_int, 20),
    ("unmask 1 MiB", "websockets.speedups (C)", unmask_c, 200),
    ("handshake (parse, check, 101)", "h11 + wsproto alone", handshake_engines, 2000),
    ("handshake (parse, check, 101)", "rawproto on h11 + wsproto", handshake_rawproto, 2000),
    ("handshake (parse, check, 101)", "websockets ServerProtocol", handshake_websockets, 2000),
    ("HTTP GET cycle", "h11 alone", http_h11, 5000),
    ("HTTP GET cycle", "rawproto HttpSession on h11", http_rawproto, 5000),
]


def measure() -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for what, engine, build, number in ROWS:
        fn = build()
        us = None if fn is None else round(best(fn, number), 1)
        out.append({"operation": what, "engine": engine, "us": us})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = measure()
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print("| operation | engine | µs per operation |")
    print("|---|---|---|")
    for row in rows:
        us = "n/a (not installed)" if row["us"] is None else f"{row['us']:,}"
        print(f"| {row['operation']} | {row['engine']} | {us} |")


if __name__ == "__main__":
    main()
