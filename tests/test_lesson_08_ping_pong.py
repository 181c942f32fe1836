"""Lesson 08 · Ping, pong and the heartbeat, RFC 6455 §5.5.2-§5.5.3.

Chapter: docs/08-ping-pong-and-heartbeats.md
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

import vectors
from conftest import run
from lessons import (
    client,
    masked_frame,
    raw_upgrade,
    running,
    server,
)

from rawproto.aio import connect
from rawproto.core.limits import Limits
from rawproto.core.trace import Recorder
from rawproto.core.ws import (
    Ping,
    Pong,
    State,
)


def test_client_answers_the_ping_of_5_7_with_the_masked_pong_5_5_2() -> None:
    """RFC 6455 §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong
    frame in response" with identical application data (§5.5.3) — the §5.7 pair."""
    ws = client()
    events = ws.receive_data(vectors.UNMASKED_PING)
    assert Ping(b"Hello") in events
    assert b"".join(ws.obligations(e) for e in events) == vectors.MASKED_PONG


def test_server_receives_an_unsolicited_pong_without_answering_5_5_3() -> None:
    """RFC 6455 §5.5.3: "A Pong frame MAY be sent unsolicited ... A response to an
    unsolicited Pong frame is not expected."""
    ws = server()
    events = ws.receive_data(vectors.MASKED_PONG)
    assert Pong(b"Hello") in events
    assert b"".join(ws.obligations(e) for e in events) == b""
    assert ws.state is State.OPEN


def test_server_does_not_answer_a_ping_after_the_close_5_5_2() -> None:
    """RFC 6455 §5.5.2: a Pong is owed "unless it already received a Close frame"."""
    srv = server()
    srv.send_close(1000)
    events = srv.receive_data(masked_frame(0x89, b"late"))
    assert all(srv.obligations(e) == b"" for e in events)


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


def test_heartbeat_outlives_the_request_head_timeout_it_shares_a_timer_with() -> None:
    """A connection has one timer: first the request head's deadline
    (header_timeout), then, once upgraded, the heartbeat's. The head's deadline
    must end with the handshake — the timer it armed fires early, finds the
    heartbeat's later deadline and re-arms — so an answered heartbeat keeps
    the connection open long past header_timeout (§5.5.2: Pongs answer Pings)."""

    async def body() -> None:
        limits = Limits(header_timeout=0.1, ping_interval=0.25, ping_timeout=0.5)
        async with running(limits=limits) as server:
            loop = asyncio.get_running_loop()
            reader, writer = await raw_upgrade(server.port)
            opened = loop.time()
            pings: list[float] = []  # when each Ping came, seconds after the upgrade
            deadline = opened + 1.2
            while loop.time() < deadline:  # bounded: at most 1.2 s
                with contextlib.suppress(TimeoutError):
                    head = await asyncio.wait_for(reader.readexactly(2), deadline - loop.time())
                    assert head == b"\x89\x04", head  # a heartbeat Ping, nothing else
                    pings.append(loop.time() - opened)
                    payload = await reader.readexactly(4)
                    writer.write(masked_frame(0x8A, payload))  # its Pong
            # Pings at ~0.25, 0.5, 0.75, 1.0 s: not at the header timeout's 0.1 s,
            # and the header timeout closed nothing.
            assert len(pings) >= 3, pings
            assert pings[0] >= 0.2, pings
            assert not reader.at_eof()
            writer.close()

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


def test_server_stops_reading_pings_while_its_pongs_are_not_read_5_5_2() -> None:
    """Every Ping MUST get its Pong (§5.5.2), but a peer that floods Pings and
    never reads the Pongs must not make the server buffer without end: once
    its send buffer is over the high-water mark, the server stops reading
    (TCP then holds the peer back) until the Pongs drain.

    https://www.rfc-editor.org/rfc/rfc6455#section-5.5.2
    """
    ping = masked_frame(0x89, b"p" * 125)  # the largest control frame (§5.5)
    batch = ping * 500  # 65.5 KB

    async def body() -> None:
        async with running() as srv:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            # A tiny receive window: the server's Pongs back up at once.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", srv.port))
            _reader, writer = await raw_upgrade(srv.port, sock=sock)
            for _ in range(100):  # the server registers the socket right after the 101
                if srv.websockets:
                    break
                await asyncio.sleep(0.01)
            (ws,) = srv.websockets
            sent = 0
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.5):
                    while sent < 8_000_000:  # bounded: at most 8 MB of Pings
                        writer.write(batch)
                        sent += len(batch)
                        await writer.drain()  # blocks once the server stops reading
            await asyncio.sleep(0.3)
            buffered = ws.wire.transport.get_write_buffer_size()
            read = ws.wire.bytes_in
            # The server read only part of the flood, and holds at most its
            # high-water mark plus the Pongs for one read (256 KiB of Pings).
            assert buffered <= 64 * 1024 + Limits().read_size, (buffered, read, sent)
            assert read < sent
            writer.transport.abort()

    run(body())
