"""The WebSocket session, RFC 6455 §5-§7: frames in, events and duties out. No sockets."""

from __future__ import annotations

import pytest
import vectors

from rawproto.core.ws import (
    Closed,
    CloseReceived,
    Failed,
    Frame,
    Message,
    Ping,
    Pong,
    State,
    WsSession,
    repeating_mask,
)

MASK = repeating_mask(vectors.MASK)


def client() -> WsSession:
    return WsSession("client", masks=MASK)


def server(**kw) -> WsSession:
    return WsSession("server", **kw)


def mask(payload: bytes, key: bytes = vectors.MASK) -> bytes:
    return bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def masked_frame(first: int, payload: bytes, key: bytes = vectors.MASK) -> bytes:
    """A client frame built by hand (short lengths only)."""
    assert len(payload) <= 125
    return bytes([first, 0x80 | len(payload)]) + key + mask(payload, key)


def messages(events) -> list:
    return [e.data for e in events if isinstance(e, Message)]


# --- §5.7 examples, both directions ---------------------------------------------


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


# --- feeding bytes in pieces ---------------------------------------------------


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


def test_client_handles_a_ping_between_fragments_5_4() -> None:
    """RFC 6455 §5.4: "Control frames MAY be injected in the middle of a fragmented message."""
    ws = client()
    events = ws.receive_data(vectors.FRAGMENT_1 + vectors.UNMASKED_PING + vectors.FRAGMENT_2)
    kinds = [type(e).__name__ for e in events if not isinstance(e, Frame)]
    assert kinds == ["Ping", "Message"]
    assert messages(events) == ["Hello"]


# --- failures and their close codes ---------------------------------------------


def failed(events) -> Failed:
    [failure] = [e for e in events if isinstance(e, Failed)]
    return failure


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


def test_server_reports_1006_when_tcp_closes_without_a_close_frame_7_1_5() -> None:
    """RFC 6455 §7.1.5: no Close frame received → the close code "is considered to be 1006"."""
    ws = server()
    assert ws.receive_eof() == [Closed(1006, "connection closed without a Close frame")]
    assert ws.state is State.CLOSED and ws.close_code == 1006


# --- the closing handshake --------------------------------------------------------


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


def test_server_does_not_answer_a_ping_after_the_close_5_5_2() -> None:
    """RFC 6455 §5.5.2: a Pong is owed "unless it already received a Close frame"."""
    srv = server()
    srv.send_close(1000)
    events = srv.receive_data(masked_frame(0x89, b"late"))
    assert all(srv.obligations(e) == b"" for e in events)


def test_masks_are_fresh_by_default_5_3() -> None:
    """RFC 6455 §5.3: "the client MUST pick a fresh masking key" for each frame."""
    ws = WsSession("client")
    keys = {ws.send_text("x")[2:6] for _ in range(20)}
    assert len(keys) > 15
