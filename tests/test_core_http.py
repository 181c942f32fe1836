"""HTTP/1.1 over h11, RFC 9110/9112: the cycle, the framing, and every error's status."""

from __future__ import annotations

import h11
import pytest

from rawproto.core.errors import HTTP_STATUS, HttpError
from rawproto.core.http1 import HttpSession, error_response, response


def server_events(raw: bytes, **kw) -> list:
    http = HttpSession("server", **kw)
    http.receive_data(raw)
    out = []
    for _ in range(10):
        event = http.next_event()
        if event in (h11.NEED_DATA, h11.PAUSED):
            break
        out.append(event)
    return out


def status_of(raw: bytes, **kw) -> int:
    with pytest.raises(HttpError) as info:
        server_events(raw, **kw)
    return info.value.status


def test_server_reuses_the_connection_for_a_second_request_9112_9_3() -> None:
    """RFC 9112 §9.3: HTTP/1.1 connections are persistent by default; after a full
    exchange both sides return to IDLE with start_next_cycle()."""
    http = HttpSession("server")
    raw = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"
    http.receive_data(raw)
    assert http.next_event().target == b"/a"
    assert isinstance(http.next_event(), h11.EndOfMessage)
    http.send_all(*response(200, b"a"))
    assert http.states == {"client": "DONE", "server": "DONE"} and http.can_reuse()
    http.start_next_cycle()
    assert http.next_event().target == b"/b"


def test_server_closes_after_connection_close_9112_9_6() -> None:
    """RFC 9112 §9.6: "Connection: close" means this is the last exchange."""
    http = HttpSession("server")
    http.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    http.next_event(), http.next_event()
    http.send_all(*response(200, b"bye"))
    assert not http.can_reuse() and http.states["server"] == "MUST_CLOSE"


def test_server_reads_a_chunked_body_9112_7_1() -> None:
    """RFC 9112 §7.1: chunked transfer coding — size in hex, CRLF, data, CRLF, 0."""
    raw = (
        b"POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nHello\r\n6\r\n World\r\n0\r\n\r\n"
    )
    events = server_events(raw)
    assert b"".join(e.data for e in events if isinstance(e, h11.Data)) == b"Hello World"


def test_server_writes_a_chunked_body_when_the_length_is_unknown_9112_7_1() -> None:
    """RFC 9112 §6.1: with no Content-Length, an HTTP/1.1 response body is chunked."""
    http = HttpSession("server")
    http.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    http.next_event(), http.next_event()
    wire = http.send_all(
        h11.Response(status_code=200, headers=[]), h11.Data(data=b"Hello"), h11.EndOfMessage()
    )
    assert b"Transfer-Encoding: chunked" in wire and wire.endswith(b"5\r\nHello\r\n0\r\n\r\n")


def test_server_sends_no_body_to_head_9110_9_3_2() -> None:
    """RFC 9110 §9.3.2: a HEAD response carries the GET's headers but no content."""
    events = response(200, b"Hello", head=True)
    assert not any(isinstance(e, h11.Data) for e in events)
    http = HttpSession("server")
    http.receive_data(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
    http.next_event(), http.next_event()
    wire = http.send_all(*events)
    assert wire.endswith(b"\r\n\r\n") and b"Content-Length: 5" in wire


def test_server_sees_expect_100_continue_9110_10_1_1() -> None:
    """RFC 9110 §10.1.1: a client with "Expect: 100-continue" waits for a 100."""
    http = HttpSession("server")
    http.receive_data(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"
    )
    http.next_event()
    assert http.h11.they_are_waiting_for_100_continue
    wire = http.send(h11.InformationalResponse(status_code=100, headers=[]))
    assert wire is not None and wire.startswith(b"HTTP/1.1 100")


def test_responses_carry_a_reason_phrase_9112_4() -> None:
    """RFC 9112 §4: the reason phrase is optional, but a learner should read it."""
    http = HttpSession("server")
    http.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    http.next_event()
    assert http.send_all(*response(404)).startswith(b"HTTP/1.1 404 Not Found\r\n")


ERRORS = [
    (b"GET / HTTP/1.1\r\n\r\n", 400, {}),  # no Host (RFC 9112 §3.2)
    (b"GET / HTTP/1.1\r\nHost: x\r\nbad header\r\n\r\n", 400, {}),
    (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", 400, {}),  # a TLS ClientHello
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n", 413, {"max_body_bytes": 1000}),
    (b"GET /" + b"a" * 20000, 414, {}),
    (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Big: y\r\n" * 3000, 431, {}),
    (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, {}),
    (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, {}),
]


@pytest.mark.parametrize(
    ("raw", "status", "kw"),
    ERRORS,
    ids=["no-host", "bad-header", "tls", "413", "414", "431", "501", "505"],
)
def test_server_maps_each_protocol_error_to_its_status(raw: bytes, status: int, kw) -> None:
    """One table (rawproto.core.errors.HTTP_STATUS) turns every failure into a status
    and a reason; h11's error_status_hint seeds it (400, 431, 501)."""
    assert status_of(raw, **kw) == status


def test_error_response_names_the_rule_and_closes_9110_15() -> None:
    """Every error answer says what was wrong, links the rule, and closes the connection."""
    http = HttpSession("server")
    http.receive_data(b"GET / HTTP/2.0\r\nHost: x\r\n\r\n")
    with pytest.raises(HttpError) as info:
        http.next_event()
    wire = http.send_all(*error_response(info.value))
    assert wire.startswith(b"HTTP/1.1 505 HTTP Version Not Supported\r\n")
    assert b"Connection: close" in wire and HTTP_STATUS[505].link.encode() in wire


def test_client_and_server_agree_byte_for_byte_9112() -> None:
    """Two h11 peers: what the client writes, the server parses, and back."""
    client, server = HttpSession("client"), HttpSession("server")
    server.receive_data(
        client.send_all(
            h11.Request(
                method="POST", target="/x", headers=[("Host", "a"), ("Content-Length", "2")]
            ),
            h11.Data(data=b"hi"),
            h11.EndOfMessage(),
        )
    )
    req, data, end = server.next_event(), server.next_event(), server.next_event()
    assert (req.method, data.data, type(end)) == (b"POST", b"hi", h11.EndOfMessage)
    client.receive_data(server.send_all(*response(201, b"ok")))
    assert client.next_event().status_code == 201
