"""Lesson 03 · Keep-alive: one TCP connection, several requests (RFC 9112 §9).

Chapter: docs/03-keep-alive-and-polling.md
"""

from __future__ import annotations

import h11
from conftest import run
from lessons import (
    running,
)

from rawproto.aio import HttpConnection
from rawproto.core.http1 import HttpSession, response
from rawproto.core.trace import Recorder


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
