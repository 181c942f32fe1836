"""The HTTP explainer against RFC 9110/9112 — and against h11."""

from __future__ import annotations

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawproto.core.trace import WireRecord
from rawproto.explain.conn import ConnectionExplainer, Note
from rawproto.explain.frames import ExplainedFrame
from rawproto.explain.http import (
    HEADERS,
    BodyPart,
    ExplainedBody,
    ExplainedHead,
    HttpStream,
    Unparsed,
    explain_chunked,
    explain_head,
    explain_http,
)
from rawproto.explain.views import compact, explained, json_lines

UPGRADE = (
    b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)
SWITCH = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
)


def test_request_line_parts_9112_3() -> None:
    """RFC 9112 §3: request-line = method SP request-target SP HTTP-version."""
    head = explain_head(b"GET /time HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (head.kind, head.method, head.target, head.version) == (
        "request", "GET", "/time", "HTTP/1.1")
    assert [(p.name, p.start, p.end) for p in head.parts] == [
        ("method", 0, 3), ("request-target", 4, 9), ("HTTP-version", 10, 18)]
    assert head.trace_line("send") == "> GET /time HTTP/1.1 [31 bytes]"


def test_status_line_parts_9112_4() -> None:
    """RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]."""
    head = explain_head(b"HTTP/1.1 404 Not Found\r\n\r\n")
    assert (head.kind, head.status, head.reason) == ("response", 404, "Not Found")
    assert head.trace_line("recv") == "< HTTP/1.1 404 Not Found [26 bytes]"


def test_websocket_headers_have_meaning_and_rfc_6455_4_1() -> None:
    """RFC 6455 §4.1/§11.3: every handshake header is named and cited."""
    head = explain_head(UPGRADE)
    key = next(h for h in head.headers if h.name == "Sec-WebSocket-Key")
    assert key.rfc == 6455 and key.url == "https://www.rfc-editor.org/rfc/rfc6455#section-11.3.1"
    assert all(h.rfc is not None for h in head.headers)
    assert head.asks_upgrade and head.framing.kind == "none"


def test_header_table_links_are_stable_rfc_editor_anchors() -> None:
    """Citations use https://www.rfc-editor.org/rfc/rfcNNNN#section-X (STYLE.md)."""
    for info in HEADERS.values():
        assert info.url.startswith(f"https://www.rfc-editor.org/rfc/rfc{info.rfc}#")
        assert info.rfc in (6265, 6455, 9110, 9111, 9112)


def test_content_length_frames_the_body_9112_6_3() -> None:
    """RFC 9112 §6.3 step 6: a valid Content-Length gives the body length."""
    items = explain_http(b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET")
    head, part, body = items[:3]
    assert isinstance(head, ExplainedHead) and head.framing.kind == "content-length"
    assert isinstance(part, BodyPart) and isinstance(body, ExplainedBody)
    assert body.data == b"hello"


def test_chunked_body_shows_each_chunk_size_9112_7_1() -> None:
    """RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF."""
    body = explain_chunked(b"5;name=v\r\nhello\r\n1a\r\n" + b"x" * 26 + b"\r\n0\r\nX-T: 1\r\n\r\n")
    assert [c.size for c in body.chunks] == [5, 26, 0]
    assert body.chunks[0].extensions == "name=v" and body.chunks[1].size_line == b"1a\r\n"
    assert body.data == b"hello" + b"x" * 26
    assert [(t.name, t.value) for t in body.trailers] == [("X-T", "1")]


def test_response_without_length_runs_until_close_9112_6_3() -> None:
    """RFC 9112 §6.3 step 8: no length → the body ends when the server closes."""
    items = explain_http(b"HTTP/1.1 200 OK\r\n\r\nabc")
    assert isinstance(items[0], ExplainedHead) and items[0].framing.kind == "until-close"
    assert "HEAD" in items[0].framing.why  # it cannot know: say so
    assert isinstance(items[-1], ExplainedBody) and items[-1].data == b"abc"


@pytest.mark.parametrize("status", [101, 204, 304, 100])
def test_statuses_without_body_9112_6_3(status: int) -> None:
    """RFC 9112 §6.3 step 1: 1xx, 204 and 304 responses never have a body."""
    head = explain_head(f"HTTP/1.1 {status} X\r\nContent-Length: 5\r\n\r\n".encode())
    assert head.framing.kind == "none"


def test_response_to_head_has_no_body_9112_6_3() -> None:
    """RFC 9112 §6.3 step 1: a response to HEAD has no body, whatever it declares."""
    head = explain_head(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", request_method="HEAD")
    assert head.framing.kind == "none"


def test_both_transfer_encoding_and_content_length_break_9112_6_3() -> None:
    """RFC 9112 §6.3 step 3: TE overrides CL and "ought to be handled as an error"."""
    head = explain_head(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\n")
    assert head.framing.kind == "chunked" and [v.section for v in head.violations] == ["6.3"]


def test_invalid_content_length_breaks_9112_6_3() -> None:
    """RFC 9112 §6.3 step 5: an invalid Content-Length is an unrecoverable error."""
    items = explain_http(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 4\r\n\r\nabc")
    assert isinstance(items[-1], Unparsed)


def test_missing_host_breaks_9112_3_2() -> None:
    """RFC 9112 §3.2: "A client MUST send a Host header field in all HTTP/1.1 requests"."""
    head = explain_head(b"GET / HTTP/1.1\r\n\r\n")
    assert [v.section for v in head.violations] == ["3.2"]


def test_whitespace_before_colon_breaks_9112_5_1() -> None:
    """RFC 9112 §5.1: "No whitespace is allowed between the field name and colon"."""
    head = explain_head(b"GET / HTTP/1.1\r\nHost : h\r\n\r\n")
    assert "5.1" in [v.section for v in head.violations]


def test_obs_fold_breaks_9112_5_2() -> None:
    """RFC 9112 §5.2: obs-fold is deprecated; a recipient must reject or unfold it."""
    head = explain_head(b"GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n  2\r\n\r\n")
    assert "5.2" in [v.section for v in head.violations]


def test_garbage_is_unparsed_not_an_exception_9112_2_1() -> None:
    """RFC 9112 §2.1: bytes that are not a start line end the explanation, clearly."""
    items = HttpStream().feed(b"\x16\x03\x01\x00\xa5hello\r\n\r\n")  # a TLS ClientHello
    assert len(items) == 1 and isinstance(items[0], Unparsed)


def test_byte_at_a_time_chunked_response_9112_7_1() -> None:
    """RFC 9112 §7.1: chunks are reported as they complete, however bytes arrive."""
    wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    stream, items = HttpStream(), []
    for b in wire:
        items += stream.feed(bytes([b]))
    assert [type(i).__name__ for i in items] == [
        "ExplainedHead", "BodyPart", "BodyPart", "ExplainedBody"]
    assert stream.needs == ""


# --- against h11 -----------------------------------------------------------------------

header_names = st.sampled_from(["Accept", "User-Agent", "X-Custom", "Cache-Control", "Origin"])
header_values = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789/;=-. ", min_size=1,
                        max_size=30).map(str.strip).filter(bool)


@settings(max_examples=100, deadline=None)
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "OPTIONS"]),
       target=st.from_regex(r"/[a-z0-9/]{0,20}(\?[a-z=&]{1,10})?", fullmatch=True),
       headers=st.lists(st.tuples(header_names, header_values), max_size=5),
       body=st.binary(max_size=50))
def test_requests_from_h11_decode_like_h11_9112_3(
    method: str, target: str, headers: list[tuple[str, str]], body: bytes
) -> None:
    """RFC 9112 §3, §6: method, target, headers and body as h11 sees them."""
    client = h11.Connection(h11.CLIENT)
    all_headers = [("Host", "example.com"), *headers]
    if body:
        all_headers.append(("Content-Length", str(len(body))))
    wire = client.send(h11.Request(method=method, target=target, headers=all_headers))
    if body:
        wire += client.send(h11.Data(data=body))
    wire += client.send(h11.EndOfMessage())

    server = h11.Connection(h11.SERVER)
    server.receive_data(wire)
    event = server.next_event()
    assert isinstance(event, h11.Request)

    items = explain_http(wire)
    head = items[0]
    assert isinstance(head, ExplainedHead)
    assert head.method == event.method.decode() and head.target == event.target.decode()
    assert [(h.name.lower(), h.value) for h in head.headers] == [
        (n.decode(), v.decode()) for n, v in event.headers]
    assert head.violations == ()
    data = server.next_event()
    got = [i for i in items if isinstance(i, ExplainedBody)]
    if body:
        assert isinstance(data, h11.Data) and got[0].data == bytes(data.data)


@settings(max_examples=50, deadline=None)
@given(status=st.sampled_from([200, 201, 404, 500]),
       pieces=st.lists(st.binary(min_size=1, max_size=20), max_size=4))
def test_chunked_responses_from_h11_decode_like_h11_9112_7_1(
    status: int, pieces: list[bytes]
) -> None:
    """RFC 9112 §7.1: h11's chunked bodies decode to the same data, chunk by chunk."""
    server = h11.Connection(h11.SERVER)
    server.receive_data(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    server.next_event()
    wire = server.send(h11.Response(status_code=status, headers=[
        ("Transfer-Encoding", "chunked")]))
    for p in pieces:
        wire += server.send(h11.Data(data=p))
    wire += server.send(h11.EndOfMessage())
    items = explain_http(wire, request_method="GET")
    body = items[-1]
    assert isinstance(body, ExplainedBody)
    assert body.data == b"".join(pieces)
    assert [c.size for c in body.chunks] == [len(p) for p in pieces] + [0]


# --- one connection: HTTP, 101, frames ----------------------------------------------------


def _records() -> list[WireRecord]:
    # The server's view: the request arrives; it sends 101 plus a first frame
    # in the same chunk; the client's masked frame arrives split in two.
    return [
        WireRecord(1, "server", "recv", "data", UPGRADE),
        WireRecord(1, "server", "send", "data", SWITCH + bytes.fromhex("810548656c6c6f")),
        WireRecord(1, "server", "recv", "data", bytes.fromhex("8185 37fa213d 7f9f")),
        WireRecord(1, "server", "recv", "data", bytes.fromhex("4d5158")),
        WireRecord(1, "server", "recv", "eof"),
    ]


def test_101_switches_both_directions_to_frames_rfc9110_15_2_2() -> None:
    """RFC 9110 §15.2.2: after the 101's empty line both sides speak the new protocol."""
    explainer = ConnectionExplainer()
    out = explainer.explain(_records())
    assert explainer.phase == "websocket"
    kinds = [[type(i).__name__ for i in e.items] for e in out]
    assert kinds[1] == ["ExplainedHead", "Note", "ExplainedFrame"]
    assert out[2].items == () and out[2].needs == "needs 3 more bytes"
    [frame] = out[3].items
    assert isinstance(frame, ExplainedFrame) and frame.sender == "client" and frame.text == "Hello"
    assert isinstance(out[4].items[-1], Note)


def test_refused_upgrade_stays_http_rfc6455_4_1() -> None:
    """RFC 6455 §4.1: a response other than 101 means HTTP goes on."""
    explainer = ConnectionExplainer()
    explainer.feed(WireRecord(1, "client", "send", "data", UPGRADE))
    explainer.feed(WireRecord(1, "client", "recv", "data",
                              b"HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n"))
    assert explainer.phase == "http"
    second = explainer.feed(WireRecord(1, "client", "send", "data",
                                       b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"))
    assert [type(i).__name__ for i in second.items] == ["ExplainedHead"]


def test_views_render_one_connection_in_80_columns() -> None:
    """The compact, explained and JSON views over the same records."""
    records = _records()
    assert compact(records) == [
        "< GET /chat HTTP/1.1 [154 bytes]",
        "> HTTP/1.1 101 Switching Protocols [129 bytes]",
        "= 101: both directions now carry WebSocket frames",
        "> TEXT 'Hello' [5 bytes]",
        "< TEXT 'Hello' [5 bytes]",
        "x EOF from the client",
    ]
    lines = explained(records)
    assert all(len(line) <= 80 for line in lines), [x for x in lines if len(x) > 80]
    assert not any("\x1b[" in line for line in lines)
    assert any("\x1b[" in line for line in explained(records, color=True))
    import json
    objects = [json.loads(line) for line in json_lines(records)]
    assert [o["type"] for o in objects].count("chunk") == len(records)
    assert [o["type"] for o in objects].count("frame") == 2
