"""Lesson 07 · Fragmentation, UTF-8 and the message size limit, RFC 6455 §5.4, §8.1, §7.4.1.

Chapter: docs/07-fragmentation-and-control-frames.md
"""

from __future__ import annotations

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

from rawproto.aio import ConnectionClosed, connect
from rawproto.core.limits import Limits
from rawproto.core.ws import (
    Frame,
    Message,
)


def test_client_assembles_the_fragmented_hello_of_5_7() -> None:
    """RFC 6455 §5.4: a TEXT frame with FIN=0 then a CONT frame with FIN=1 is one message."""
    ws = client()
    first = ws.receive_data(vectors.FRAGMENT_1)
    assert messages(first) == [] and Frame("TEXT", b"Hel", False, True) in first
    second = ws.receive_data(vectors.FRAGMENT_2)
    assert Frame("CONT", b"lo", True, True) in second
    assert [e for e in second if isinstance(e, Message)] == [Message("Hello", 2)]


def test_server_sends_fragments_as_text_then_continuation_5_4() -> None:
    """RFC 6455 §5.4: the first fragment carries the opcode, the rest use 0x0."""
    ws = server()
    assert ws.send(Frame("TEXT", b"Hel", fin=False)) == vectors.FRAGMENT_1
    assert ws.send(Frame("CONT", b"lo")) == vectors.FRAGMENT_2


def test_client_handles_a_ping_between_fragments_5_4() -> None:
    """RFC 6455 §5.4: "Control frames MAY be injected in the middle of a fragmented message."""
    ws = client()
    events = ws.receive_data(vectors.FRAGMENT_1 + vectors.UNMASKED_PING + vectors.FRAGMENT_2)
    kinds = [type(e).__name__ for e in events if not isinstance(e, Frame)]
    assert kinds == ["Ping", "Message"]
    assert messages(events) == ["Hello"]


def test_server_fails_invalid_utf8_text_with_1007_8_1() -> None:
    """RFC 6455 §8.1: "When an endpoint is to interpret a byte stream as UTF-8 but
    finds that the byte stream is not, in fact, a valid UTF-8 stream, that
    endpoint MUST _Fail the WebSocket Connection_" — with 1007 (§7.4.1)."""
    assert failed(server().receive_data(masked_frame(0x81, b"\xff\xfe"))).code == 1007


def test_server_accepts_utf8_split_across_fragments_8_1() -> None:
    """RFC 6455 §8.1: validity is of the whole message; a character may be split."""
    euro = "€".encode()  # e2 82 ac
    events = server().receive_data(masked_frame(0x01, euro[:1]) + masked_frame(0x80, euro[1:]))
    assert messages(events) == ["€"]


def test_server_fails_a_message_over_the_limit_with_1009_7_4_1() -> None:
    """RFC 6455 §7.4.1: 1009 "a message that is too big for it to process". The
    limit counts all fragments of a message together (wsproto has none)."""
    ws = server(max_message_size=10)
    events = ws.receive_data(
        masked_frame(
            0x02,
            b"123456",
        )
        + masked_frame(0x80, b"789012")
    )
    assert failed(events).code == 1009
    assert messages(events) == []


def test_server_stops_buffering_a_huge_frame_at_the_limit_7_4_1() -> None:
    """A frame announcing 2**40 bytes must fail once the limit is passed, not after."""
    ws = server(max_message_size=1000)
    head = bytes([0x82, 0xFF]) + (2**40).to_bytes(8, "big") + vectors.MASK
    assert ws.receive_data(head + bytes(600)) == []
    assert failed(ws.receive_data(bytes(600))).code == 1009


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
