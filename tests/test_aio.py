"""The asyncio layer on real sockets (127.0.0.1): timers, limits, TCP order, the tap.

Every test starts its own server on an ephemeral port and talks to it with
rawproto's client or with a raw socket that sends exactly the bytes we choose.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import vectors
from conftest import run

from rawproto.aio import ConnectionClosed, HttpConnection, Response, Router, connect, serve
from rawproto.aio.server import ServerOptions
from rawproto.app import demo_router
from rawproto.core.errors import HandshakeFailed
from rawproto.core.limits import Limits
from rawproto.core.trace import Recorder

UPGRADE = (
    "GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    f"Sec-WebSocket-Key: {vectors.KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
).encode()

QUIET = Limits(ping_interval=None)  # no heartbeat unless a test wants one


@contextlib.asynccontextmanager
async def running(router: Router | None = None, **options) -> AsyncIterator:
    options.setdefault("limits", QUIET)
    server = await serve(router or demo_router(), "127.0.0.1", 0, ServerOptions(**options))
    try:
        yield server
    finally:
        await server.shutdown(timeout=2)


async def raw_upgrade(
    port: int, extra: bytes = b""
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A hand-driven client: sends the Upgrade (plus ``extra``) and reads the 101."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(UPGRADE + extra)
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 ")
    return reader, writer


def masked(first: int, payload: bytes) -> bytes:
    key = vectors.MASK
    return (
        bytes([first, 0x80 | len(payload)])
        + key
        + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    )


# --- the basic exchanges ---------------------------------------------------------


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


def test_server_processes_a_frame_sent_with_the_handshake_4_2_2() -> None:
    """A first frame in the same TCP segment as the Upgrade request is not lost."""

    async def body() -> None:
        async with running() as server:
            reader, writer = await raw_upgrade(server.port, vectors.MASKED_HELLO)
            assert await reader.readexactly(7) == vectors.UNMASKED_HELLO
            writer.close()

    run(body())


def test_http_keep_alive_reuses_one_connection_9112_9_3() -> None:
    """RFC 9112 §9.3: two requests, one TCP connection (one ``open`` record at the server)."""

    async def body() -> None:
        rec = Recorder()
        async with running(tap=rec) as server:
            async with HttpConnection(f"http://127.0.0.1:{server.port}/time") as conn:
                first = await conn.request("GET", "/time")
                second = await conn.request("GET", "/")
            assert (first.status, second.status) == (200, 200)
            assert first.reason == "OK" and b"rawproto" in second.body
        opens = [r for r in rec.records if r.kind == "open" and r.role == "server"]
        assert len(opens) == 1

    run(body())


def test_server_streams_and_reads_chunked_bodies_9112_7_1() -> None:
    """RFC 9112 §7.1: a handler returning chunks is sent chunked; a chunked request is read."""

    async def upload(request):
        return Response(200, chunks=[request.body[:3], request.body[3:]])

    router = Router()
    router.http("/up", upload, methods=["POST"])

    async def body() -> None:
        rec = Recorder()
        async with running(router, tap=rec) as server:
            async with HttpConnection(f"http://127.0.0.1:{server.port}/up") as conn:
                result = await conn.request("POST", body=b"HelloWorld", chunked=True)
        assert result.body == b"HelloWorld"
        assert result.header("transfer-encoding") == "chunked"
        sent = b"".join(r.data for r in rec.data(role="server") if r.direction == "send")
        assert b"3\r\nHel\r\n7\r\nloWorld\r\n0\r\n\r\n" in sent

    run(body())


def test_server_answers_a_handshake_for_an_unknown_path_with_404_9110_15_5_5() -> None:
    """An Upgrade to a path with no route is an ordinary 404, and the client says so."""

    async def body() -> None:
        async with running() as server:
            with pytest.raises(HandshakeFailed) as info:
                await connect(f"ws://127.0.0.1:{server.port}/nowhere")
            assert info.value.status == 404

    run(body())


# --- limits ----------------------------------------------------------------------


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


def test_server_closes_with_1009_over_the_message_limit_7_4_1() -> None:
    """RFC 6455 §7.4.1: 1009 for a message too big; the client sees the code."""

    async def body() -> None:
        async with running(limits=Limits(ping_interval=None, max_message_size=1000)) as server:
            ws = await connect(f"ws://127.0.0.1:{server.port}/echo")
            await ws.send(b"x" * 1001)
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
            assert info.value.code == 1009

    run(body())


def test_server_closes_with_1011_when_the_handler_raises_7_4_1() -> None:
    """RFC 6455 §7.4.1: 1011 "encountered an unexpected condition"; no details leak."""

    async def broken(ws) -> None:
        raise RuntimeError("secret detail")

    router = Router()
    router.websocket("/boom", broken)

    async def body() -> None:
        async with running(router) as server:
            ws = await connect(f"ws://127.0.0.1:{server.port}/boom")
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
            assert info.value.code == 1011 and "secret" not in info.value.reason

    run(body())


def test_server_answers_a_slow_request_head_with_408_9110_15_5_9() -> None:
    """A client that starts a request and never finishes the head gets 408 (slowloris)."""

    async def body() -> None:
        async with running(limits=Limits(ping_interval=None, header_timeout=0.3)) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
            answer = await reader.read()
            assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
            writer.close()

    run(body())


def test_server_answers_an_oversized_head_with_431_rfc6585_5() -> None:
    """RFC 6585 §5: 431 when the header fields are too large (limit: max_head_bytes)."""

    async def body() -> None:
        async with running() as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 40000 + b"\r\n\r\n")
            answer = await reader.read()
            assert answer.startswith(b"HTTP/1.1 431 ")
            writer.close()

    run(body())


def test_server_refuses_connections_over_the_limit_with_503_9110_15_6_4() -> None:
    """Over max_connections, a new connection gets 503 and is closed."""

    async def body() -> None:
        async with running(limits=Limits(ping_interval=None, max_connections=2)) as server:
            held = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(2)]
            await asyncio.sleep(0.05)
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert (await reader.read()).startswith(b"HTTP/1.1 503 ")
            for _, w in held:
                w.close()
            writer.close()

    run(body())


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


# --- heartbeat and closing --------------------------------------------------------


def test_server_heartbeat_fails_a_silent_peer_with_1011() -> None:
    """The essay's 2 AM bug: a peer that stops answering pings looks like a quiet one
    until the heartbeat notices — within ping_interval + ping_timeout."""

    async def body() -> None:
        limits = Limits(ping_interval=0.2, ping_timeout=0.3)
        rec = Recorder()
        async with running(limits=limits, tap=rec) as server:
            loop = asyncio.get_running_loop()
            reader, writer = await raw_upgrade(server.port)  # and then: silence
            started = loop.time()
            data = await asyncio.wait_for(reader.read(), 3)  # until the server drops us
            waited = loop.time() - started
            assert data[:2] == b"\x89\x04"  # the unanswered Ping
            close = data[6:]
            assert close[:1] == b"\x88" and close[2:4] == (1011).to_bytes(2, "big")
            assert 0.4 <= waited < 2.0
            writer.close()
        assert any(r.kind == "error" and "ping timeout" in r.note for r in rec.records)

    run(body())


def test_client_heartbeat_measures_rtt_of_answered_pings_5_5_2() -> None:
    """Each answered ping gives a round-trip time; the connection stays open."""

    async def body() -> None:
        async with running() as server:
            limits = Limits(ping_interval=0.05, ping_timeout=1)
            ws = await connect(f"ws://127.0.0.1:{server.port}/echo", limits=limits)
            await asyncio.sleep(0.4)
            assert len(ws.rtts) >= 3 and all(0 <= r < 1 for r in ws.rtts)
            assert ws.open
            assert 0 <= await ws.ping(b"manual") < 1
            await ws.close()

    run(body())


def test_client_gives_up_after_close_timeout_7_1_1() -> None:
    """A peer that never answers our Close: after close_timeout we drop TCP (1006)."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + vectors.ACCEPT.encode() + b"\r\n\r\n"
        )
        await asyncio.sleep(5)
        writer.close()

    async def body() -> None:
        fake = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = fake.sockets[0].getsockname()[1]
        limits = Limits(ping_interval=None, close_timeout=0.3)
        ws = await connect(f"ws://127.0.0.1:{port}/", limits=limits, key=vectors.KEY)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await ws.close(1000)
        assert ws.close_code == 1006 and loop.time() - started < 1.5
        fake.close()

    run(body())


def test_server_closes_tcp_first_after_the_close_handshake_7_1_1() -> None:
    """RFC 6455 §7.1.1: "the underlying TCP connection, in most normal cases, SHOULD
    be closed first by the server". The records show the server's FIN first."""

    async def body() -> None:
        rec = Recorder()
        async with running() as server:
            ws = await connect(f"ws://127.0.0.1:{server.port}/echo", tap=rec)
            await ws.close(1000)
        eofs = [(r.role, r.direction) for r in rec.records if r.kind == "eof"]
        assert eofs[0] == ("client", "recv")  # the client *received* the server's FIN first
        assert ("client", "send") in eofs[1:]

    run(body())


def test_server_shutdown_closes_websockets_with_1001_7_4_1() -> None:
    """RFC 6455 §7.4.1: 1001 "an endpoint is going away, such as a server going down"."""

    async def body() -> None:
        server = await serve(demo_router(), "127.0.0.1", 0, ServerOptions(limits=QUIET))
        ws = await connect(f"ws://127.0.0.1:{server.port}/echo")
        await server.shutdown(timeout=2)
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
        assert info.value.code == 1001

    run(body())


def test_client_sees_1006_when_the_server_vanishes_7_1_5() -> None:
    """RFC 6455 §7.1.5: TCP closed with no Close frame → 1006 on the client."""

    async def vanish(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + vectors.ACCEPT.encode() + b"\r\n\r\n"
        )
        await writer.drain()
        writer.close()

    async def body() -> None:
        fake = await asyncio.start_server(vanish, "127.0.0.1", 0)
        port = fake.sockets[0].getsockname()[1]
        ws = await connect(f"ws://127.0.0.1:{port}/", limits=QUIET, key=vectors.KEY)
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
        assert info.value.code == 1006
        fake.close()

    run(body())


# --- the one record ---------------------------------------------------------------


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


def test_broadcast_encodes_once_and_reaches_every_client_5_1() -> None:
    """RFC 6455 §5.1: server frames are unmasked, so one encoding serves every client."""
    from rawproto.aio.websocket import broadcast

    server_sockets = []
    ready = asyncio.Event()

    async def hold(ws) -> None:
        server_sockets.append(ws)
        if len(server_sockets) == 5:
            ready.set()
        await ws.recv()

    router = Router()
    router.websocket("/hold", hold)

    async def body() -> None:
        async with running(router) as server:
            clients = [await connect(f"ws://127.0.0.1:{server.port}/hold") for _ in range(5)]
            await ready.wait()
            assert await broadcast(server_sockets, "tick 1") == 5
            assert [await c.recv() for c in clients] == ["tick 1"] * 5
            for c in clients:
                await c.close()
    run(body())
