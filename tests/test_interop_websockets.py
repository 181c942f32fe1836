"""Interop with the ``websockets`` library, an independent RFC 6455 implementation.

Part 1: the ``websockets`` sync client against rawproto's server.
Part 2: rawproto's client against a ``websockets`` asyncio server.

Each test is named after the rule it checks; the docstring cites RFC 6455.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from helpers_server import rawproto_server, websockets_server
from websockets.exceptions import ConnectionClosed as WsConnectionClosed
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

import rawproto.aio
from rawproto.aio import ConnectionClosed
from rawproto.aio.server import ServerOptions
from rawproto.core.errors import HandshakeFailed
from rawproto.core.limits import Limits
from rawproto.core.trace import Recorder
from rawproto.core.ws import Frame

T = TypeVar("T")

#: Seconds any single wait in these tests may take.
WAIT = 5.0


def _client(port: int, path: str = "/echo", **kwargs: Any) -> ClientConnection:
    """A websockets sync client: no proxy from the environment, no compression."""
    kwargs.setdefault("open_timeout", WAIT)
    kwargs.setdefault("close_timeout", WAIT)
    ws: ClientConnection = ws_connect(
        f"ws://127.0.0.1:{port}{path}", proxy=None, compression=None, **kwargs
    )
    return ws


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine with an overall bound, so a hang fails instead of waiting forever."""

    async def bounded() -> T:
        async with asyncio.timeout(30):
            return await coro

    return asyncio.run(bounded())


# --- a tiny frame reader, to look at bytes the libraries wrote -----------------


def _frames(stream: bytes) -> list[tuple[int, bool, bool, bytes]]:
    """Split a byte stream into frames: (opcode, fin, masked, unmasked payload).

    RFC 6455 §5.2 base framing: FIN and opcode in byte 0, MASK and a 7-bit
    length in byte 1, then 16- or 64-bit extended length, masking key, payload.
    """
    out = []
    i = 0
    while i < len(stream):
        b0, b1 = stream[i], stream[i + 1]
        i += 2
        length = b1 & 0x7F
        if length == 126:
            length = int.from_bytes(stream[i : i + 2], "big")
            i += 2
        elif length == 127:
            length = int.from_bytes(stream[i : i + 8], "big")
            i += 8
        masked = bool(b1 & 0x80)
        key = b""
        if masked:
            key, i = stream[i : i + 4], i + 4
        payload = stream[i : i + length]
        assert len(payload) == length, "truncated frame"
        i += length
        if masked:
            payload = bytes(b ^ key[n % 4] for n, b in enumerate(payload))
        out.append((b0 & 0x0F, bool(b0 & 0x80), masked, payload))
    return out


def _after_handshake(chunks: list[bytes]) -> bytes:
    """Join chunks and drop the HTTP head before the first frame."""
    data = b"".join(chunks)
    _head, sep, rest = data.partition(b"\r\n\r\n")
    assert sep, "no handshake head found"
    return rest


# =============================================================================
# Part 1: websockets (client) → rawproto (server)
# =============================================================================


def test_server_echoes_text_message_5_6() -> None:
    """RFC 6455 §5.6: a text frame (opcode 0x1) carries UTF-8; it comes back as text."""
    with rawproto_server() as port, _client(port) as ws:
        ws.send("Hello, wörld ✓")
        assert ws.recv(timeout=WAIT) == "Hello, wörld ✓"


def test_server_echoes_binary_message_5_6() -> None:
    """RFC 6455 §5.6: a binary frame (opcode 0x2) comes back as binary, byte for byte."""
    payload = bytes(range(256)) * 3
    with rawproto_server() as port, _client(port) as ws:
        ws.send(payload)
        got = ws.recv(timeout=WAIT)
        assert isinstance(got, bytes)
        assert got == payload


def test_server_echoes_medium_and_large_lengths_5_2() -> None:
    """RFC 6455 §5.2: payload lengths 125, 126 (16-bit) and 65536 (64-bit) all decode."""
    with rawproto_server() as port, _client(port) as ws:
        for n in (0, 125, 126, 65535, 65536, 200_000):
            data = os.urandom(n)
            ws.send(data)
            assert ws.recv(timeout=WAIT) == data, n


def test_server_reassembles_fragmented_message_5_4() -> None:
    """RFC 6455 §5.4: a message sent as TEXT(FIN=0) + CONT... + CONT(FIN=1) is one message."""
    lines: list[str] = []
    options = ServerOptions(trace=lines.append)
    with rawproto_server(options=options) as port, _client(port) as ws:
        ws.send(["Hel", "lo, ", "World"])  # websockets sends an iterable as fragments
        assert ws.recv(timeout=WAIT) == "Hello, World"
        ws.send([b"\x00\x01", b"\x02"])
        assert ws.recv(timeout=WAIT) == b"\x00\x01\x02"
    # The server really saw fragments, not one frame.
    assert "< TEXT 'Hel' [3 bytes, continued]" in lines
    assert "< CONT 'lo, ' [4 bytes, continued]" in lines
    assert "< CONT 'World' [5 bytes, continued]" in lines
    assert "< CONT [0 bytes]" in lines  # websockets ends an iterable with an empty CONT
    assert "> TEXT 'Hello, World' [12 bytes]" in lines


def test_server_answers_ping_with_pong_5_5_2() -> None:
    """RFC 6455 §5.5.2/§5.5.3: a Ping must be answered by a Pong with the same payload."""
    with rawproto_server() as port, _client(port) as ws:
        pong = ws.ping(b"are you there")
        assert pong.wait(WAIT), "no Pong within the wait"
        # And the connection is still usable afterwards.
        ws.send("after ping")
        assert ws.recv(timeout=WAIT) == "after ping"


def test_server_answers_ping_between_fragments_5_4() -> None:
    """RFC 6455 §5.4: control frames MAY be injected in the middle of a fragmented message."""
    with rawproto_server() as port, _client(port) as ws:

        def parts() -> Iterator[str]:
            yield "first "
            pong = ws.ping(b"mid")
            yield "second"
            assert pong.wait(WAIT)

        ws.send(parts())
        assert ws.recv(timeout=WAIT) == "first second"


@pytest.mark.parametrize(("code", "reason"), [(1000, "done"), (4321, "app-defined")])
def test_server_echoes_client_close_code_5_5_1(code: int, reason: str) -> None:
    """RFC 6455 §5.5.1: the endpoint answering a Close "typically echos the status
    code it received"; §7.4.2: 4000-4999 are for applications."""
    with rawproto_server() as port, _client(port) as ws:
        ws.close(code, reason)
        assert ws.close_code == code  # the code in the server's Close frame
        assert ws.protocol.close_rcvd is not None
        assert ws.protocol.close_rcvd.code == code
        assert ws.protocol.close_rcvd_then_sent is False  # we sent first, server echoed


def test_server_closes_1009_when_message_too_big_7_4_1() -> None:
    """RFC 6455 §7.4.1: 1009 — "a message that is too big for it to process"."""
    options = ServerOptions(limits=Limits(max_message_size=1024))
    with rawproto_server(options=options) as port, _client(port) as ws:
        ws.send("x" * 1024)  # at the limit: fine
        assert ws.recv(timeout=WAIT) == "x" * 1024
        ws.send(b"y" * 1025)
        with pytest.raises(WsConnectionClosed) as info:
            ws.recv(timeout=WAIT)
        assert info.value.rcvd is not None
        assert info.value.rcvd.code == 1009


def test_server_closes_1009_for_fragmented_message_too_big_7_4_1() -> None:
    """RFC 6455 §7.4.1: the limit is on the message, all fragments together (§5.4)."""
    options = ServerOptions(limits=Limits(max_message_size=1024))
    with rawproto_server(options=options) as port, _client(port) as ws:
        with pytest.raises(WsConnectionClosed) as info:
            ws.send([b"a" * 600, b"b" * 600])
            ws.recv(timeout=WAIT)
        assert info.value.rcvd is not None
        assert info.value.rcvd.code == 1009


def test_server_rejects_disallowed_origin_with_403_4_2_2() -> None:
    """RFC 6455 §4.2.2: a server that does not accept the Origin MUST answer an
    HTTP error code such as 403 Forbidden; §10.2 explains why."""
    options = ServerOptions(origins=["http://good.example"])
    with rawproto_server(options=options) as port:
        with pytest.raises(InvalidStatus) as info:
            _client(port, origin="http://evil.example")
        assert info.value.response.status_code == 403
        assert b"Origin is allowed" in info.value.response.body
        # The allowed origin still gets in.
        with _client(port, origin="http://good.example") as ws:
            ws.send("ok")
            assert ws.recv(timeout=WAIT) == "ok"


def test_server_closes_1001_when_shutting_down_7_4_1() -> None:
    """RFC 6455 §7.4.1: 1001 "going away", such as a server going down."""
    with contextlib.ExitStack() as server:
        port = server.enter_context(rawproto_server())
        with _client(port) as ws:
            ws.send("hi")
            assert ws.recv(timeout=WAIT) == "hi"
            server.close()  # shut the server down, the client still connected
            with pytest.raises(WsConnectionClosed) as info:
                ws.recv(timeout=WAIT)
            assert info.value.rcvd is not None
            assert info.value.rcvd.code == 1001


# =============================================================================
# Part 2: rawproto (client) → websockets (server)
# =============================================================================


def test_client_text_echo_5_6() -> None:
    """RFC 6455 §5.6: rawproto's text frame is read as text by websockets and echoed."""

    async def main(port: int) -> None:
        ws = await rawproto.aio.connect(f"ws://127.0.0.1:{port}/echo")
        await ws.send("Hello, wörld ✓")
        assert await ws.recv() == "Hello, wörld ✓"
        await ws.close()

    with websockets_server() as port:
        _run(main(port))


def test_client_binary_echo_5_6() -> None:
    """RFC 6455 §5.6: binary frames, all three length encodings (§5.2)."""

    async def main(port: int) -> None:
        ws = await rawproto.aio.connect(f"ws://127.0.0.1:{port}/echo")
        for n in (0, 125, 126, 65536):
            data = os.urandom(n)
            await ws.send(data)
            got = await ws.recv()
            assert isinstance(got, bytes)
            assert got == data, n
        await ws.close()

    with websockets_server() as port:
        _run(main(port))


def test_client_fragments_arrive_as_one_message_5_4() -> None:
    """RFC 6455 §5.4: websockets reassembles rawproto's fragments into one message."""

    async def main(port: int) -> list[bytes]:
        tap = Recorder()
        ws = await rawproto.aio.connect(f"ws://127.0.0.1:{port}/frames", tap=tap)
        await ws.send_fragments(["Hel", "lo, ", "World"])
        assert await ws.recv() == "text 12"  # one message of 12 characters
        await ws.send_fragments([b"\x00" * 3, b"\x01" * 4])
        assert await ws.recv() == "binary 7"
        await ws.close()
        return [r.data for r in tap.data(role="client") if r.direction == "send"]

    with websockets_server() as port:
        sent = _run(main(port))
    frames = _frames(_after_handshake(sent))
    assert [(op, fin) for op, fin, _, _ in frames[:5]] == [
        (0x1, False),
        (0x0, False),
        (0x0, True),
        (0x2, False),
        (0x0, True),
    ]


def test_client_ping_measures_round_trip_5_5_2() -> None:
    """RFC 6455 §5.5.2/§5.5.3: websockets answers rawproto's Ping with a Pong."""

    async def main(port: int) -> float:
        ws = await rawproto.aio.connect(f"ws://127.0.0.1:{port}/echo")
        async with asyncio.timeout(WAIT):
            rtt = await ws.ping(b"rtt?")
        await ws.close()
        return rtt

    with websockets_server() as port:
        rtt = _run(main(port))
    assert 0 < rtt < WAIT


def test_client_sees_server_close_code_and_reason_7_1_5() -> None:
    """RFC 6455 §7.1.5/§7.1.6: the close code and reason are those of the Close
    frame received; 4000 is an application code (§7.4.2)."""

    async def main(port: int) -> tuple[int | None, str, int]:
        ws = await rawproto.aio.connect(f"ws://127.0.0.1:{port}/close/4000/bye")
        with pytest.raises(ConnectionClosed) as info:
            async with asyncio.timeout(WAIT):
                await ws.recv()
        await ws.wait_closed()
        return ws.close_code, ws.close_reason, info.value.code

    with websockets_server() as port:
        code, reason, raised = _run(main(port))
    assert (code, reason, raised) == (4000, "bye", 4000)


@pytest.mark.parametrize(("code", "reason"), [(1000, ""), (1000, "done"), (4001, "bye")])
def test_client_close_is_echoed_by_server_5_5_1(code: int, reason: str) -> None:
    """RFC 6455 §5.5.1: websockets echoes the code of rawproto's Close; §7.1.1: the
    server closes TCP first, and rawproto's client finishes within close_timeout."""

    async def main(port: int) -> tuple[int | None, list[tuple[int, bool, bool, bytes]]]:
        tap = Recorder()
        ws = await rawproto.aio.connect(f"ws://127.0.0.1:{port}/echo", tap=tap)
        async with asyncio.timeout(WAIT):
            await ws.close(code, reason)
        received = [r.data for r in tap.data(role="client") if r.direction == "recv"]
        return ws.close_code, _frames(_after_handshake(received))

    with websockets_server() as port:
        close_code, frames = _run(main(port))
    assert close_code == code
    closes = [payload for op, _, _, payload in frames if op == 0x8]
    assert len(closes) == 1
    assert int.from_bytes(closes[0][:2], "big") == code


def test_client_fails_1009_when_server_message_too_big_7_4_1() -> None:
    """RFC 6455 §7.4.1: rawproto's client also enforces max_message_size with 1009."""

    async def main(port: int) -> int | None:
        ws = await rawproto.aio.connect(
            f"ws://127.0.0.1:{port}/echo", limits=Limits(max_message_size=1024)
        )
        # The echo server sends back what we send: we may send big, not receive big.
        await ws.send(b"z" * 2048)
        with pytest.raises(ConnectionClosed):
            async with asyncio.timeout(WAIT):
                await ws.recv()
        await ws.wait_closed()
        return ws.close_code

    with websockets_server() as port:
        assert _run(main(port)) == 1009


def test_client_reports_rejected_handshake_status_4_1() -> None:
    """RFC 6455 §4.1: if the status code is not 101, the client handles the
    response per HTTP; rawproto raises HandshakeFailed carrying the status."""

    async def main(port: int) -> None:
        with pytest.raises(HandshakeFailed) as info:
            await rawproto.aio.connect(f"ws://127.0.0.1:{port}/reject")
        assert info.value.status == 403

    with websockets_server() as port:
        _run(main(port))


def test_client_masks_every_frame_server_masks_none_5_1() -> None:
    """RFC 6455 §5.1: "a client MUST mask all frames that it sends to the server";
    "A server MUST NOT mask any frames that it sends to the client"; §5.3: a
    fresh 32-bit masking key per frame."""

    async def main(port: int) -> tuple[list[bytes], list[bytes]]:
        tap = Recorder()
        ws = await rawproto.aio.connect(f"ws://127.0.0.1:{port}/echo", tap=tap)
        await ws.send("text")
        assert await ws.recv() == "text"
        await ws.send(b"\x00" * 300)
        assert await ws.recv() == b"\x00" * 300
        await ws.send_fragments(["a", "b"])
        assert await ws.recv() == "ab"
        await ws.send_frame(Frame("PING", b"x"))
        await ws.ping(b"y")
        await ws.close(1000, "bye")
        mine = tap.data(role="client")
        return (
            [r.data for r in mine if r.direction == "send"],
            [r.data for r in mine if r.direction == "recv"],
        )

    with websockets_server() as port:
        sent, received = _run(main(port))
    out = _after_handshake(sent)
    frames = _frames(out)
    opcodes = [op for op, _, _, _ in frames]
    assert opcodes == [0x1, 0x2, 0x1, 0x0, 0x9, 0x9, 0x8]
    # Byte 1 of every client frame has the MASK bit set.
    assert all(masked for _, _, masked, _ in frames)
    i, keys = 0, []
    for _ in frames:  # check the raw bit too, frame by frame
        assert out[i + 1] & 0x80, f"MASK bit clear in frame at byte {i}"
        length = out[i + 1] & 0x7F
        ext = {126: 2, 127: 8}.get(length, 0)
        if ext:
            length = int.from_bytes(out[i + 2 : i + 2 + ext], "big")
        keys.append(out[i + 2 + ext : i + 2 + ext + 4])
        i += 2 + ext + 4 + length
    assert i == len(out)
    # §5.3: a new, unpredictable key for each frame.
    assert len(set(keys)) == len(keys)
    # The payloads unmask to what was sent; the zeros on the wire are not zeros.
    assert frames[0][3] == b"text"
    assert frames[1][3] == b"\x00" * 300
    assert b"\x00" * 300 not in out
    # The server's frames, on the other hand, are never masked.
    back = _frames(_after_handshake(received))
    assert back, "no frames from the server"
    assert not any(masked for _, _, masked, _ in back)
