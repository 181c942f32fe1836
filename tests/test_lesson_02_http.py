"""Lesson 02 · An HTTP request and its response (RFC 9110, RFC 9112).

h11 parses and writes; these tests pin what crosses the wire and what every
failure is answered with. Chapter: docs/02-http-request-response.md
"""

from __future__ import annotations

import asyncio
import contextlib

import h11
import pytest
from conftest import run
from lessons import (
    QUIET,
    running,
)

from rawproto.aio import HttpConnection, Response, Router, serve
from rawproto.aio.server import ServerOptions
from rawproto.app import demo_router
from rawproto.core.errors import HTTP_STATUS, HttpError
from rawproto.core.http1 import HttpSession, error_response, response
from rawproto.core.limits import Limits
from rawproto.core.trace import Recorder


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


def test_server_closes_a_connection_that_never_sends_a_byte_after_header_timeout() -> None:
    """A client that connects and says nothing has no request to answer: after
    header_timeout the server just closes (RFC 9112 §9.6 lets either side close
    an idle connection). Until then it is counted among the connections."""

    async def body() -> None:
        async with running(limits=Limits(ping_interval=None, header_timeout=0.3)) as server:
            loop = asyncio.get_running_loop()
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            started = loop.time()
            await asyncio.sleep(0.05)
            assert server.connections == 1
            async with asyncio.timeout(3.0):
                assert await reader.read() == b""  # FIN, and no status line
            assert 0.25 <= loop.time() - started < 2.0
            for _ in range(100):  # bounded: 1 s
                if server.connections == 0:
                    break
                await asyncio.sleep(0.01)
            assert server.connections == 0
            writer.close()

    run(body())


def test_server_shutdown_closes_connections_that_have_sent_nothing_9112_9_6() -> None:
    """Graceful shutdown closes idle connections at once, including ones that
    connected and have not sent a byte yet — it does not wait out their
    header_timeout."""

    async def body() -> None:
        server = await serve(
            demo_router(), "127.0.0.1", 0, ServerOptions(limits=Limits(header_timeout=30.0))
        )
        loop = asyncio.get_running_loop()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        await asyncio.sleep(0.05)
        started = loop.time()
        await server.shutdown(timeout=5)
        assert loop.time() - started < 2.0
        async with asyncio.timeout(2.0):
            with contextlib.suppress(ConnectionError):
                assert await reader.read() == b""
        assert server.connections == 0
        writer.close()

    run(body())


def test_a_started_head_on_a_kept_alive_connection_has_header_timeout_not_keepalive_9110_15_5_9() -> None:
    """Between requests a connection may idle for keepalive_timeout; once the
    next head has started it must be complete within header_timeout (the
    shorter one), or 408 — the deadline moves earlier, and is kept."""

    async def body() -> None:
        limits = Limits(ping_interval=None, header_timeout=0.3, keepalive_timeout=5.0)
        async with running(limits=limits) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            await reader.readuntil(b"\r\n\r\n")  # the first answer: kept alive
            await asyncio.sleep(0.5)  # idle: past header_timeout, well within keepalive_timeout
            started = asyncio.get_running_loop().time()
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")  # a head that never ends
            async with asyncio.timeout(4.0):  # under keepalive_timeout: fails if that applied
                rest = await reader.read()
            waited = asyncio.get_running_loop().time() - started
            assert b"HTTP/1.1 408 Request Timeout\r\n" in rest
            assert waited < 2.0, waited
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


def test_server_shutdown_lets_an_in_flight_response_finish_9112_9_6() -> None:
    """Graceful shutdown: a request already being handled gets its whole response,
    marked `Connection: close` (RFC 9112 §9.6), before the server closes."""
    started = asyncio.Event()

    async def slow(request):
        started.set()
        await asyncio.sleep(0.3)
        return Response(200, b"finished")

    router = Router()
    router.http("/slow", slow)

    async def body() -> None:
        server = await serve(router, "127.0.0.1", 0, ServerOptions(limits=QUIET))
        async with HttpConnection(f"http://127.0.0.1:{server.port}/slow") as conn:
            pending = asyncio.create_task(conn.request("GET"))
            await started.wait()
            await server.shutdown(timeout=5)
            result = await pending
        assert (result.status, result.body) == (200, b"finished")
        assert result.header("connection") == "close"

    run(body())
