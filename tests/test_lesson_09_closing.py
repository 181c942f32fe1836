"""Lesson 09 · Closing, RFC 6455 §5.5.1 and §7: the handshake, the codes, TCP order.

Chapter: docs/09-closing-the-connection.md
"""

from __future__ import annotations

import asyncio

import pytest
import vectors
from conftest import run
from lessons import (
    ACCEPTED_101,
    QUIET,
    client,
    mask,
    masked_frame,
    messages,
    running,
    server,
)

from rawproto.aio import ConnectionClosed, Router, connect, serve
from rawproto.aio.server import ServerOptions
from rawproto.app import demo_router
from rawproto.core.limits import Limits
from rawproto.core.trace import Recorder
from rawproto.core.ws import (
    Closed,
    CloseReceived,
    State,
)


def test_server_reports_1006_when_tcp_closes_without_a_close_frame_7_1_5() -> None:
    """RFC 6455 §7.1.5: no Close frame received → the close code "is considered to be 1006"."""
    ws = server()
    assert ws.receive_eof() == [Closed(1006, "connection closed without a Close frame")]
    assert ws.state is State.CLOSED and ws.close_code == 1006


def test_server_echoes_the_client_close_code_5_5_1() -> None:
    """RFC 6455 §5.5.1: "If an endpoint receives a Close frame and did not previously
    send a Close frame, the endpoint MUST send a Close frame in response"."""
    cl, srv = client(), server()
    close = cl.send_close(1000, "bye")
    events = srv.receive_data(close)
    assert CloseReceived(1000, "bye") in events and srv.state is State.CLOSE_RECEIVED
    reply = b"".join(srv.obligations(e) for e in events)
    assert reply == b"\x88\x05" + (1000).to_bytes(2, "big") + b"bye"
    assert srv.state is State.CLOSED and srv.close_code == 1000
    back = cl.receive_data(reply)
    assert Closed(1000, "bye") in back and cl.state is State.CLOSED


def test_client_echoes_the_server_close_code_5_5_1() -> None:
    """RFC 6455 §5.5.1, the other role: the server starts, the client answers."""
    cl, srv = client(), server()
    events = cl.receive_data(srv.send_close(1001, "going away"))
    reply = b"".join(cl.obligations(e) for e in events)
    assert Closed(1001, "going away") in srv.receive_data(reply)
    assert cl.state is State.CLOSED


def test_client_answers_an_empty_close_with_an_empty_status_5_5_1() -> None:
    """RFC 6455 §7.1.5: a Close with no code is reported as 1005, never sent as 1005."""
    cl = client()
    events = cl.receive_data(b"\x88\x00")
    assert CloseReceived(1005, "") in events
    reply = b"".join(cl.obligations(e) for e in events)
    assert reply[:2] == b"\x88\x82" and mask(reply[6:]) == (1000).to_bytes(2, "big")


def test_server_ignores_data_after_the_close_frame_5_5_1() -> None:
    """RFC 6455 §5.5.1: after sending a Close frame, the peer "MUST NOT send any more
    data frames"; what arrives anyway is not delivered."""
    srv = server()
    events = srv.receive_data(masked_frame(0x88, (1000).to_bytes(2, "big")))
    assert srv.receive_data(vectors.MASKED_HELLO) == []
    assert messages(events) == []


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


def test_client_gives_up_after_close_timeout_7_1_1() -> None:
    """A peer that never answers our Close: after close_timeout we drop TCP (1006)."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(ACCEPTED_101)
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
        writer.write(ACCEPTED_101)
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


CLOSE_1000 = masked_frame(0x88, (1000).to_bytes(2, "big"))
PATHS_OUT_OF_OPEN = {
    # name: steps, each ("recv", bytes) | ("close",) | ("fail",) | ("eof",) | ("text",)
    "peer closes, we answer (§5.5.1)": [("recv", CLOSE_1000), ("close",)],
    "we close, peer answers (§7.1.2)": [("text",), ("close",), ("recv", CLOSE_1000)],
    "peer breaks the protocol (§7.1.7)": [("recv", b"\x81\x05Hello")],  # unmasked: 1002
    "we fail it (heartbeat, §7.1.7)": [("fail",)],
    "TCP ends with no Close (§7.1.5)": [("recv", masked_frame(0x81, b"hi")), ("eof",)],
    "a Close between two messages": [("recv", masked_frame(0x81, b"a") + CLOSE_1000)],
}


@pytest.mark.parametrize("steps", PATHS_OUT_OF_OPEN.values(), ids=PATHS_OUT_OF_OPEN.keys())
def test_session_open_is_state_open_on_every_path_to_closed_7(steps) -> None:
    """``WsSession.open`` is kept as a plain attribute (asked per message sent
    and per client in a broadcast); it must always equal ``state is OPEN`` —
    after every step, on every way a WebSocket leaves OPEN (RFC 6455 §7)."""
    ws = server()
    assert ws.open and ws.state is State.OPEN
    for step in steps:
        if step[0] == "recv":
            ws.receive_data(step[1])
        elif step[0] == "close":
            ws.send_close(1000)
        elif step[0] == "fail":
            ws.fail(1011, "no pong")
        elif step[0] == "eof":
            ws.receive_eof()
        else:
            ws.send_message("still open")
        assert ws.open == (ws.state is State.OPEN), (step, ws.state)
    assert not ws.open
