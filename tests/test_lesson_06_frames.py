"""Lesson 06 · Frames and masking, RFC 6455 §5.1-§5.3 and the §5.7 examples.

Chapter: docs/06-frames-and-masking.md
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest
import vectors
from conftest import run
from lessons import (
    client,
    failed,
    masked_frame,
    messages,
    running,
    server,
)

from rawproto.aio import ConnectionClosed, Router, connect
from rawproto.core.limits import Limits
from rawproto.core.trace import Recorder
from rawproto.core.ws import (
    Frame,
    WsSession,
)


def test_server_sends_the_unmasked_hello_of_5_7() -> None:
    """RFC 6455 §5.7: "A single-frame unmasked text message" is 81 05 48656c6c6f."""
    assert server().send_text("Hello") == vectors.UNMASKED_HELLO


def test_client_sends_the_masked_hello_of_5_7() -> None:
    """RFC 6455 §5.7: masked with 37fa213d, "Hello" is 81 85 37fa213d 7f9f4d5158."""
    assert client().send_text("Hello") == vectors.MASKED_HELLO


def test_server_receives_the_masked_hello_of_5_7() -> None:
    """RFC 6455 §5.3: the server unmasks the payload with the frame's key."""
    events = server().receive_data(vectors.MASKED_HELLO)
    assert Frame("TEXT", b"Hello", True, True) in events
    assert messages(events) == ["Hello"]


def test_client_receives_the_unmasked_hello_of_5_7() -> None:
    """RFC 6455 §5.7: the client reads an unmasked server frame."""
    assert messages(client().receive_data(vectors.UNMASKED_HELLO)) == ["Hello"]


@pytest.mark.parametrize(
    ("size", "head"),
    [
        (125, bytes([0x82, 125])),
        (126, bytes([0x82, 126, 0, 126])),
        (256, vectors.BINARY_256_HEAD),
        (65535, bytes([0x82, 126, 0xFF, 0xFF])),
        (65536, vectors.BINARY_64K_HEAD),
    ],
)
def test_server_uses_the_minimal_length_encoding_5_2(size: int, head: bytes) -> None:
    """RFC 6455 §5.2: 7-bit up to 125, 16-bit up to 65535, else 64-bit; "the minimal
    number of bytes MUST be used to encode the length"."""
    payload = bytes(range(256)) * (size // 256 + 1)
    wire = server().send_binary(payload[:size])
    assert wire[: len(head)] == head and len(wire) == len(head) + size
    assert messages(client().receive_data(wire)) == [payload[:size]]


def test_server_decodes_a_frame_fed_one_byte_at_a_time_5_2() -> None:
    """TCP is a byte stream: a frame may arrive in any number of reads."""
    ws = server()
    events = []
    for i in range(len(vectors.MASKED_HELLO)):
        events += ws.receive_data(vectors.MASKED_HELLO[i : i + 1])
    assert messages(events) == ["Hello"]
    assert [e for e in events if isinstance(e, Frame)] == [Frame("TEXT", b"Hello", True, True)]


def test_server_decodes_several_frames_from_one_read_5_2() -> None:
    """Several frames may arrive in one read; each is reported in order."""
    chunk = masked_frame(0x81, b"one") + masked_frame(0x89, b"p") + masked_frame(0x81, b"two")
    events = server().receive_data(chunk)
    assert messages(events) == ["one", "two"]
    assert [type(e).__name__ for e in events if not isinstance(e, Frame)] == [
        "Message",
        "Ping",
        "Message",
    ]


def test_frame_events_are_for_watchers_and_change_nothing_else_5_4() -> None:
    """With ``frames=False`` (an endpoint nobody traces or records) the session
    reports what frames *mean* — messages, pings, the close — exactly as with
    frames on, only without a Frame event for each one. Fragments (§5.4) still
    join into one message."""
    text = "fragmented ü"
    raw = text.encode()
    chunk = (
        masked_frame(0x01, raw[:5])  # TEXT, FIN=0
        + masked_frame(0x89, b"p")  # a Ping between fragments (§5.4)
        + masked_frame(0x80, raw[5:])  # CONT, FIN=1
        + masked_frame(0x82, b"\x00\x01")  # BINARY
        + masked_frame(0x88, (1000).to_bytes(2, "big") + b"bye")  # Close
    )
    watched = server().receive_data(chunk)
    quiet = server(frames=False).receive_data(chunk)
    assert [e for e in quiet if isinstance(e, Frame)] == []
    assert quiet == [e for e in watched if not isinstance(e, Frame)]
    assert messages(quiet) == [text, b"\x00\x01"]
    assert len([e for e in watched if isinstance(e, Frame)]) == 5


def test_server_fails_an_unmasked_client_frame_with_1002_5_1() -> None:
    """RFC 6455 §5.1: "a client MUST mask all frames that it sends to the server"
    and "A server MUST close the connection upon receiving a frame that is not masked"."""
    ws = server()
    events = ws.receive_data(vectors.UNMASKED_HELLO)
    assert failed(events).code == 1002
    close = ws.obligations(failed(events))
    assert close[:2] == b"\x88" + bytes([len(close) - 2]) and close[2:4] == (1002).to_bytes(
        2, "big"
    )
    # §7.1.7: no more processing of the peer's data once failing.
    assert ws.receive_data(vectors.MASKED_HELLO) == []


def test_client_fails_a_masked_server_frame_with_1002_5_1() -> None:
    """RFC 6455 §5.1: "A server MUST NOT mask any frames" and "A client MUST close
    a connection if it detects a masked frame"."""
    assert failed(client().receive_data(vectors.MASKED_HELLO)).code == 1002


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        (masked_frame(0x83, b"x"), "reserved opcode 0x3 (§5.2)"),
        (masked_frame(0xC1, b"x"), "RSV1 set with no extension (§5.2)"),
        (masked_frame(0x09, b"x"), "fragmented Ping (§5.5)"),
        (bytes([0x89, 0xFE, 0, 126]) + vectors.MASK + bytes(126), "Ping of 126 bytes (§5.5)"),
        (masked_frame(0x80, b"lo"), "continuation with no message (§5.4)"),
        (masked_frame(0x88, b"\x03"), "close payload of 1 byte (§5.5.1)"),
        (masked_frame(0x88, (999).to_bytes(2, "big")), "close code 999 (§7.4.2)"),
    ],
    ids=[
        "opcode",
        "rsv1",
        "fragmented-ping",
        "long-ping",
        "orphan-cont",
        "close-1-byte",
        "close-999",
    ],
)
def test_server_fails_a_protocol_violation_with_1002(frame: bytes, why: str) -> None:
    """RFC 6455 §7.4.1: 1002 "indicates that an endpoint is terminating the
    connection due to a protocol error" — here: {why}."""
    assert failed(server().receive_data(frame)).code == 1002, why


def test_masks_are_fresh_by_default_5_3() -> None:
    """RFC 6455 §5.3: "the client MUST pick a fresh masking key" for each frame."""
    ws = WsSession("client")
    keys = {ws.send_text("x")[2:6] for _ in range(20)}
    assert len(keys) > 15


def test_client_and_server_echo_text_and_binary_5_6() -> None:
    """RFC 6455 §5.6: text frames carry UTF-8, binary frames any bytes; the echo keeps the type."""

    async def body() -> None:
        async with running() as server:
            ws = await connect(f"ws://127.0.0.1:{server.port}/echo")
            await ws.send("Hello")
            assert await ws.recv() == "Hello"
            await ws.send(b"\x00\xff")
            assert await ws.recv() == b"\x00\xff"
            await ws.send_fragments(["Hel", "lo"])
            assert await ws.recv() == "Hello"
            await ws.close(1000, "bye")
            assert (ws.close_code, ws.close_reason) == (1000, "bye")

    run(body())


@pytest.mark.parametrize("size", [1 << 20, 16 << 20], ids=["1MiB", "16MiB"])
def test_large_messages_cross_intact_5_2(size: int) -> None:
    """RFC 6455 §5.2: 64-bit lengths carry large messages; the limit is raised to allow 16 MiB."""

    async def body() -> None:
        limits = Limits(ping_interval=None, max_message_size=16 << 20)
        async with running(limits=limits) as server:
            ws = await connect(f"ws://127.0.0.1:{server.port}/echo", limits=limits)
            payload = bytes(range(256)) * (size // 256)
            await ws.send(payload)
            assert await ws.recv() == payload
            await ws.close()

    run(body(), timeout=50)


def test_twenty_clients_at_once_each_get_their_own_echo() -> None:
    """Connections are independent: 20 concurrent clients, 10 messages each."""

    async def body() -> None:
        async with running() as server:

            async def one(n: int) -> None:
                ws = await connect(f"ws://127.0.0.1:{server.port}/echo")
                for i in range(10):
                    await ws.send(f"{n}:{i}")
                    assert await ws.recv() == f"{n}:{i}"
                await ws.close()

            await asyncio.gather(*(one(n) for n in range(20)))

    run(body())


def test_connections_sharing_one_receive_buffer_each_get_exactly_their_bytes() -> None:
    """Every connection on a loop reads into one shared buffer (Wire.get_buffer)
    and copies its bytes out before the next read: 8 clients echoing distinct
    300 KB binary messages at once — each larger than the buffer, so each
    arrives in several reads interleaved with the others' — get back exactly
    their own bytes, in both directions (§5.2 framing across reads)."""

    async def body() -> None:
        async with running() as server:

            async def one(n: int) -> None:
                payload = bytes([n]) * 7 + bytes(range(256)) * 1200  # 307,207 bytes
                ws = await connect(f"ws://127.0.0.1:{server.port}/echo")
                for _ in range(3):
                    await ws.send(payload)
                    assert await ws.recv() == payload
                await ws.close()

            await asyncio.wait_for(asyncio.gather(*(one(n) for n in range(8))), 30)

    run(body())


def test_slow_reader_queue_is_bounded_and_nothing_is_lost() -> None:
    """Backpressure: a client that does not read buffers at most max_queue messages;
    TCP holds the rest, and every message still arrives in order."""

    async def flood(ws) -> None:
        for i in range(200):
            await ws.send(f"m{i}" + "x" * 10000)
        await ws.recv()

    router = Router()
    router.websocket("/flood", flood)

    async def body() -> None:
        async with running(router) as server:
            limits = Limits(ping_interval=None, max_queue=4)
            ws = await connect(f"ws://127.0.0.1:{server.port}/flood", limits=limits)
            await asyncio.sleep(0.3)
            # The reader stops once 4 messages wait; one read (64 KiB) may add 6 more.
            assert 4 <= len(ws._messages) <= 4 + limits.read_size // 10000
            got = [(await ws.recv())[:5] for _ in range(200)]
            assert got == [(f"m{i}" + "x" * 10)[:5] for i in range(200)]
            await ws.close()

    run(body())


def test_every_byte_is_recorded_once_on_each_side() -> None:
    """The tap sees each chunk once: what the client sent is what the server received."""

    async def body() -> None:
        rec = Recorder()
        async with running(tap=rec) as server:
            ws = await connect(f"ws://127.0.0.1:{server.port}/echo", tap=rec)
            for text in ("a", "bb", "ccc"):
                await ws.send(text)
                await ws.recv()
            await ws.close()

        def stream(role: str, direction: str) -> bytes:
            return b"".join(
                r.data
                for r in rec.records
                if r.kind == "data" and r.role == role and r.direction == direction
            )

        assert stream("client", "send") == stream("server", "recv")
        assert stream("server", "send") == stream("client", "recv")
        assert stream("client", "send").startswith(b"GET /echo HTTP/1.1\r\n")

    run(body())


def hold_endpoint(count: int) -> tuple[Router, list, asyncio.Event]:
    """A /hold endpoint whose server-side sockets wait for their client to
    close; ``ready`` is set once ``count`` of them are open."""
    server_sockets: list = []
    ready = asyncio.Event()

    async def hold(ws) -> None:
        server_sockets.append(ws)
        if len(server_sockets) == count:
            ready.set()
        with contextlib.suppress(ConnectionClosed):
            await ws.recv()

    router = Router()
    router.websocket("/hold", hold)
    return router, server_sockets, ready


def test_broadcast_encodes_once_and_reaches_every_client_5_1() -> None:
    """RFC 6455 §5.1: server frames are unmasked, so one encoding serves every client."""
    from rawproto.aio.websocket import broadcast

    router, server_sockets, ready = hold_endpoint(5)

    async def body() -> None:
        async with running(router) as server:
            clients = [await connect(f"ws://127.0.0.1:{server.port}/hold") for _ in range(5)]
            await ready.wait()
            assert await broadcast(server_sockets, "tick 1") == 5
            assert [await c.recv() for c in clients] == ["tick 1"] * 5
            for c in clients:
                await c.close()

    run(body())


def test_broadcast_records_each_copy_once_and_skips_a_connection_we_closed_5_1() -> None:
    """One encoding (RFC 6455 §5.1), one record per client: the tap (and the
    dashboard's byte counters) see each client's copy once. A connection whose
    TCP we are already closing gets nothing — no write, no record, no count —
    and the others still get theirs."""
    from rawproto.aio.websocket import broadcast

    router, server_sockets, ready = hold_endpoint(4)
    frame = b"\x81\x06tick 1"  # FIN + text, unmasked, 6 bytes (§5.2)

    def sent_by(sock) -> list[bytes]:
        return [
            r.data
            for r in rec.records
            if r.conn == sock.wire.conn and r.direction == "send" and r.kind == "data"
        ]

    rec = Recorder()

    async def body() -> None:
        async with running(router, tap=rec) as server:
            clients = [await connect(f"ws://127.0.0.1:{server.port}/hold") for _ in range(4)]
            await ready.wait()
            gone, *live = server_sockets
            gone.wire.close_soon()  # our FIN is queued; the session has not noticed yet
            before = {sock: (sent_by(sock), sock.wire.bytes_out) for sock in server_sockets}
            assert await broadcast(server_sockets, "tick 1") == 3
            for sock in live:
                records, count = before[sock]
                assert sent_by(sock) == [*records, frame]
                assert sock.wire.bytes_out == count + len(frame)
            assert (sent_by(gone), gone.wire.bytes_out) == before[gone]
            # The plain form agrees: write_nowait() writes and records nothing
            # there, and asks its caller to drain(), which reports the loss.
            assert gone.wire.write_nowait(frame) is True
            assert (sent_by(gone), gone.wire.bytes_out) == before[gone]
            first, *others = clients
            assert [await c.recv() for c in others] == ["tick 1"] * 3
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(first.recv(), 5)
            for c in others:
                await c.close()

    run(body())


def test_both_ends_send_small_frames_at_once_without_nagle() -> None:
    """A 6-byte Pong must not wait for Nagle's algorithm (RFC 9293 §3.7.4) to
    gather more bytes: both sockets have TCP_NODELAY set (asyncio's TCP
    transports set it; rawproto relies on that instead of repeating it)."""

    async def body() -> None:
        async with running() as server:
            ws = await connect(f"ws://127.0.0.1:{server.port}/echo")
            for _ in range(100):  # the server registers the socket right after the 101
                if server.websockets:
                    break
                await asyncio.sleep(0.01)
            (theirs,) = server.websockets
            for end in (ws, theirs):
                sock = end.wire.transport.get_extra_info("socket")
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
            await ws.close()

    run(body())
