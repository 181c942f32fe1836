"""Lesson 05 · The opening handshake, RFC 6455 §4 — each rule, both roles.

Chapter: docs/05-the-upgrade-handshake.md
"""

from __future__ import annotations

import h11
import pytest
import vectors
from conftest import run
from lessons import (
    raw_upgrade,
    running,
)

from rawproto.aio import connect
from rawproto.core import handshake
from rawproto.core.errors import HandshakeFailed, HandshakeRejected
from rawproto.core.http1 import HttpSession, error_response
from rawproto.core.ws import (
    WsSession,
)

GOOD = [
    ("Host", "127.0.0.1:8080"),
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Key", vectors.KEY),
    ("Sec-WebSocket-Version", "13"),
]


def parse(raw: bytes) -> tuple[HttpSession, h11.Request]:
    """Parse request bytes with a real h11 server connection."""
    http = HttpSession("server")
    http.receive_data(raw)
    event = http.next_event()
    assert isinstance(event, h11.Request)
    return http, event


def request_bytes(
    method: str = "GET", headers: list[tuple[str, str]] = GOOD, version: str = "1.1"
) -> bytes:
    lines = [f"{method} /echo HTTP/{version}"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def replace(name: str, value: str | None) -> list[tuple[str, str]]:
    out = [(k, v) for k, v in GOOD if k != name]
    return out + ([(name, value)] if value is not None else [])


def test_accept_key_of_the_rfc_example_1_3() -> None:
    """RFC 6455 §1.3: key dGhlIHNhbXBsZSBub25jZQ== gives s3pPLMBiTxaQ9kYGzzhZRbK+xOo=."""
    steps = handshake.accept_steps(vectors.KEY)
    assert steps.concatenated == vectors.KEY + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    assert steps.sha1.hex() == "b37a4f2cc0624f1690f64606cf385945b2bec4ea"
    assert steps.accept == vectors.ACCEPT == handshake.accept_key(vectors.KEY)
    # accept_key (the server's, once per handshake) and the steps always agree.
    for _ in range(20):
        key = handshake.new_key()
        assert handshake.accept_key(key) == handshake.accept_steps(key).accept


def test_client_key_is_16_random_bytes_base64_4_1() -> None:
    """RFC 6455 §4.1: the key is "a randomly selected 16-byte value that has been base64-encoded"."""
    import base64

    keys = {handshake.new_key() for _ in range(20)}
    assert len(keys) == 20
    assert all(len(base64.b64decode(k)) == 16 for k in keys)
    assert handshake.new_key(lambda n: b"\x01" * n) == base64.b64encode(b"\x01" * 16).decode()


def test_server_accepts_a_valid_upgrade_4_2_2() -> None:
    """RFC 6455 §4.2.2: a valid request gets 101 with the computed Sec-WebSocket-Accept."""
    http, req = parse(request_bytes())
    accepted = handshake.check_upgrade(req)
    wire = http.send(handshake.accept_response(accepted))
    assert wire is not None
    assert wire.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert f"Sec-WebSocket-Accept: {vectors.ACCEPT}\r\n".encode() in wire


def test_server_accepts_firefox_connection_token_list_4_2_1() -> None:
    """RFC 6455 §4.2.1 (4): Connection *includes* the token Upgrade — Firefox sends
    ``Connection: keep-alive, Upgrade``, and upper-case ``WebSocket`` is fine too."""
    headers = [(k, v) for k, v in GOOD if k not in ("Connection", "Upgrade")]
    headers += [("Connection", "keep-alive, Upgrade"), ("Upgrade", "WebSocket")]
    _, req = parse(request_bytes(headers=headers))
    assert handshake.check_upgrade(req).accept == vectors.ACCEPT


REJECTIONS = [
    # (what we break, request bytes, status, rule, required header)
    ("method", request_bytes(method="POST"), 405, handshake.METHOD_IS_GET, ("allow", "GET")),
    ("version", request_bytes(version="1.0"), 400, handshake.VERSION_IS_HTTP_1_1, None),
    (
        "upgrade",
        request_bytes(headers=replace("Upgrade", "h2c")),
        426,
        handshake.UPGRADE_IS_WEBSOCKET,
        ("upgrade", "websocket"),
    ),
    (
        "connection",
        request_bytes(headers=replace("Connection", "keep-alive")),
        400,
        handshake.CONNECTION_HAS_UPGRADE,
        None,
    ),
    (
        "key missing",
        request_bytes(headers=replace("Sec-WebSocket-Key", None)),
        400,
        handshake.KEY_IS_16_BYTES,
        None,
    ),
    (
        "key not base64",
        request_bytes(headers=replace("Sec-WebSocket-Key", "not base64!")),
        400,
        handshake.KEY_IS_16_BYTES,
        None,
    ),
    (
        "key 15 bytes",
        request_bytes(headers=replace("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAA")),
        400,
        handshake.KEY_IS_16_BYTES,
        None,
    ),
    (
        "version 8",
        request_bytes(headers=replace("Sec-WebSocket-Version", "8")),
        426,
        handshake.VERSION_IS_13,
        ("sec-websocket-version", "13"),
    ),
]


@pytest.mark.parametrize(
    ("broken", "raw", "status", "rule", "required"), REJECTIONS, ids=[r[0] for r in REJECTIONS]
)
def test_server_rejects_each_broken_rule_4_2_1(broken, raw, status, rule, required) -> None:
    """RFC 6455 §4.2.1: "If the server ... finds that the client handshake does not
    meet these requirements, it MUST stop processing and return an HTTP response
    with an appropriate error code" — the body names the rule."""

    http, req = parse(raw)
    with pytest.raises(HandshakeRejected) as info:
        handshake.check_upgrade(req)
    assert info.value.status == status == rule.status
    assert info.value.rule == rule.name
    wire = http.send_all(*error_response(info.value))
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    client.send(h11.EndOfMessage())
    client.receive_data(wire)
    response = client.next_event()
    body = client.next_event()
    assert response.status_code == status
    assert rule.name.encode() in body.data
    if required:
        assert required in [(k.decode(), v.decode()) for k, v in response.headers]


def test_server_refuses_an_origin_not_allowed_with_403_4_2_2() -> None:
    """RFC 6455 §4.2.2: a server that does not accept the origin MUST answer an
    error code such as 403 Forbidden."""
    _, req = parse(request_bytes(headers=[*GOOD, ("Origin", "http://evil.example")]))
    with pytest.raises(HandshakeRejected) as info:
        handshake.check_upgrade(req, origins=["http://good.example"])
    assert info.value.status == 403
    _, req = parse(request_bytes(headers=[*GOOD, ("Origin", "http://good.example")]))
    assert handshake.check_upgrade(req, origins=["http://good.example"])


def test_server_picks_the_first_offered_subprotocol_it_supports_4_2_2() -> None:
    """RFC 6455 §4.2.2 (5.4): the server selects one of the client's subprotocols, or none."""
    _, req = parse(request_bytes(headers=[*GOOD, ("Sec-WebSocket-Protocol", "chat, json")]))
    assert handshake.check_upgrade(req, subprotocols=["json", "chat"]).subprotocol == "chat"
    assert handshake.check_upgrade(req, subprotocols=["xml"]).subprotocol is None


def test_server_hands_a_frame_sent_with_the_request_to_the_frame_layer_4_2_2() -> None:
    """RFC 6455 §4.2.2: frames may follow the handshake at once; h11 keeps them
    as trailing_data and the WebSocket session must not lose them."""
    http, req = parse(request_bytes() + vectors.MASKED_HELLO)
    assert http.next_event() == h11.EndOfMessage()
    http.send(handshake.accept_response(handshake.check_upgrade(req)))
    assert http.trailing_data == vectors.MASKED_HELLO
    ws = WsSession("server", trailing_data=http.trailing_data)
    events = ws.receive_data(b"")
    assert next(e for e in events if type(e).__name__ == "Message").data == "Hello"


def client_and_reply(reply: bytes) -> handshake.ClientHandshake:
    hs = handshake.ClientHandshake("127.0.0.1:8080", "/echo", key=vectors.KEY)
    hs.request_bytes()
    return hs


def test_client_request_carries_every_required_header_4_1() -> None:
    """RFC 6455 §4.1: GET, Host, Upgrade: websocket, Connection: Upgrade, a key, version 13."""
    hs = handshake.ClientHandshake("127.0.0.1:8080", "/echo", key=vectors.KEY)
    _, req = parse(hs.request_bytes())
    assert handshake.check_upgrade(req).accept == vectors.ACCEPT


def good_101(
    accept: str = vectors.ACCEPT,
    upgrade: str = "websocket",
    connection: str = "Upgrade",
    extra: str = "",
) -> bytes:
    return (
        f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: {upgrade}\r\n"
        f"Connection: {connection}\r\nSec-WebSocket-Accept: {accept}\r\n{extra}\r\n"
    ).encode()


def test_client_accepts_a_correct_101_and_keeps_trailing_frames_4_1() -> None:
    """RFC 6455 §4.1: a 101 with the right accept value establishes the connection;
    a frame in the same segment is kept for the frame layer."""
    hs = client_and_reply(b"")
    done = hs.receive_data(good_101() + vectors.UNMASKED_HELLO)
    assert done is not None and done.trailing_data == vectors.UNMASKED_HELLO


def test_client_waits_for_the_whole_101_fed_byte_by_byte_4_1() -> None:
    """The response head may arrive one byte at a time; nothing is decided early."""
    hs = client_and_reply(b"")
    reply = good_101()
    for i in range(len(reply) - 1):
        assert hs.receive_data(reply[i : i + 1]) is None
    assert hs.receive_data(reply[-1:]) is not None


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (good_101(accept="AAAAAAAAAAAAAAAAAAAAAAAAAAA="), "Sec-WebSocket-Accept"),
        (good_101(upgrade="h2c"), "Upgrade"),
        (good_101(connection="keep-alive"), "Connection"),
        (good_101(extra="Sec-WebSocket-Protocol: chat\r\n"), "subprotocol"),
        (good_101(extra="Sec-WebSocket-Extensions: permessage-deflate\r\n"), "extension"),
        (b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", "403"),
        (b"garbage\r\n\r\n", "not valid HTTP"),
    ],
    ids=["accept", "upgrade", "connection", "subprotocol", "extension", "status", "garbage"],
)
def test_client_fails_a_bad_answer_with_a_clear_reason_4_1(reply: bytes, reason: str) -> None:
    """RFC 6455 §4.1: the client MUST _Fail the WebSocket Connection_ when the
    status is not 101, Upgrade/Connection are wrong, the accept value does not
    match, or a subprotocol/extension was not offered."""
    hs = client_and_reply(b"")
    with pytest.raises(HandshakeFailed) as info:
        hs.receive_data(reply)
    assert reason in info.value.reason


def test_client_reports_eof_before_the_answer_4_1() -> None:
    """A server that closes before answering fails the handshake, with that reason."""
    hs = client_and_reply(b"")
    with pytest.raises(HandshakeFailed, match="closed"):
        hs.receive_data(b"")


def test_server_processes_a_frame_sent_with_the_handshake_4_2_2() -> None:
    """A first frame in the same TCP segment as the Upgrade request is not lost."""

    async def body() -> None:
        async with running() as server:
            reader, writer = await raw_upgrade(server.port, vectors.MASKED_HELLO)
            assert await reader.readexactly(7) == vectors.UNMASKED_HELLO
            writer.close()

    run(body())


def test_server_answers_a_handshake_for_an_unknown_path_with_404_9110_15_5_5() -> None:
    """An Upgrade to a path with no route is an ordinary 404, and the client says so."""

    async def body() -> None:
        async with running() as server:
            with pytest.raises(HandshakeFailed) as info:
                await connect(f"ws://127.0.0.1:{server.port}/nowhere")
            assert info.value.status == 404

    run(body())
