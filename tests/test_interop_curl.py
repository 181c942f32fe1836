"""Interop with curl, an independent HTTP/1.1 client, against rawproto's server.

curl runs as a subprocess (``require_tool("curl")``: skipped locally when it
is missing, failed in CI). The server runs in a background thread
(``helpers_server.rawproto_server``). Each docstring cites the rule checked.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator

import pytest
from helpers_server import rawproto_server
from tools import require_tool

from rawproto.aio.server import Request, Response, Router, ServerOptions
from rawproto.app import demo_router
from rawproto.core.handshake import accept_key
from rawproto.core.limits import Limits
from rawproto.core.trace import Recorder

pytestmark = pytest.mark.tool("curl")

#: Seconds one curl run may take.
CURL_TIMEOUT = 20

UPGRADE_HEADERS = [
    "-H",
    "Connection: Upgrade",
    "-H",
    "Upgrade: websocket",
    "-H",
    "Sec-WebSocket-Version: 13",
    "-H",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
]


async def upload(request: Request) -> Response:
    """Echo the request body, and say how it was framed."""
    framing = request.header("transfer-encoding") or f"length {request.header('content-length')}"
    return Response(
        200,
        request.body,
        content_type="application/octet-stream",
        headers=[("X-Framing", framing), ("X-Expect", request.header("expect") or "-")],
    )


async def chunked(request: Request) -> Response:
    """A response with no Content-Length, sent as chunks."""
    return Response(200, chunks=[b"one,", b"two,", b"three"])


def router() -> Router:
    r = demo_router()
    r.http("/upload", upload, methods=["POST"])
    r.http("/chunked", chunked)
    return r


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with rawproto_server(router()) as p:
        yield p


def curl(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run curl quietly (no proxy, no config file), bounded in time."""
    exe = require_tool("curl")
    return subprocess.run(
        [exe, "-q", "--silent", "--show-error", "--noproxy", "*", *args],
        input=stdin,
        capture_output=True,
        timeout=CURL_TIMEOUT,
        check=False,
    )


def head_and_body(out: bytes) -> tuple[int, dict[str, list[str]], bytes]:
    """Split ``curl -i`` output: the final status, its headers (lower-cased), the body."""
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return status, headers, body


# --- plain HTTP ---------------------------------------------------------------


def test_get_root_serves_html_9110_9_3_1(port: int) -> None:
    """RFC 9110 §9.3.1: GET transfers a representation; §8.6: Content-Length
    gives the body's exact length."""
    r = curl("-i", f"http://127.0.0.1:{port}/")
    assert r.returncode == 0, r.stderr
    status, headers, body = head_and_body(r.stdout)
    assert status == 200
    assert headers["content-type"] == ["text/html; charset=utf-8"]
    assert headers["content-length"] == [str(len(body))]
    assert b"<h1>rawproto</h1>" in body


def test_get_time_serves_json_9110_9_3_1(port: int) -> None:
    """RFC 9110 §9.3.1 and §8.3: the JSON document with its media type."""
    r = curl("-i", f"http://127.0.0.1:{port}/time")
    assert r.returncode == 0, r.stderr
    status, headers, body = head_and_body(r.stdout)
    assert status == 200
    assert headers["content-type"] == ["application/json"]
    assert headers["cache-control"] == ["no-store"]
    assert isinstance(json.loads(body)["time"], float)


def test_head_has_headers_and_no_body_9110_9_3_2(port: int) -> None:
    """RFC 9110 §9.3.2: HEAD is GET without the content; §8.6: a HEAD response's
    Content-Length is the size the GET body would have; RFC 9112 §6.3 (1): a
    response to HEAD ends with its header section."""
    get = curl(f"http://127.0.0.1:{port}/")
    tap = Recorder()
    with rawproto_server(router(), ServerOptions(tap=tap)) as head_port:
        head = curl("-I", "--max-time", "5", f"http://127.0.0.1:{head_port}/")
    assert head.returncode == 0, head.stderr  # curl would time out waiting for a body
    status, headers, body = head_and_body(head.stdout)
    assert status == 200
    assert headers["content-length"] == [str(len(get.stdout))]
    assert body == b""
    # What the server really wrote: the head, and not one byte more.
    sent = b"".join(r.data for r in tap.data(role="server") if r.direction == "send")
    assert sent.startswith(b"HTTP/1.1 200 OK\r\n")
    assert sent.endswith(b"\r\n\r\n")
    assert sent.count(b"\r\n\r\n") == 1


def test_keep_alive_reuses_connection_9112_9_3(port: int) -> None:
    """RFC 9112 §9.3: HTTP/1.1 connections are persistent by default; curl
    sends the second request on the same connection."""
    r = curl("-v", f"http://127.0.0.1:{port}/time", f"http://127.0.0.1:{port}/")
    assert r.returncode == 0, r.stderr
    err = r.stderr.decode("latin-1")
    # curl 7.88 prints "Re-using"; newer versions print "Reusing".
    assert re.search(r"Re-?using existing connection", err), err
    assert err.count("Connected to") == 1
    assert err.count("< HTTP/1.1 200 OK") == 2


def test_error_response_closes_connection_9112_9_6(port: int) -> None:
    """RFC 9112 §9.6: after "Connection: close" the client must not reuse the
    connection; rawproto closes after an error, curl opens a new one."""
    r = curl("-v", f"http://127.0.0.1:{port}/nope", f"http://127.0.0.1:{port}/time")
    err = r.stderr.decode("latin-1")
    assert "< Connection: close" in err
    assert not re.search(r"Re-?using existing connection", err), err
    assert err.count("Connected to") == 2
    assert r.stdout.startswith(b"404 Not Found: nothing at /nope")


def test_chunked_request_body_is_decoded_9112_7_1(port: int) -> None:
    """RFC 9112 §7.1: a chunked request body is decoded to the bytes sent."""
    data = b"".join(bytes([i % 251]) for i in range(70_000))
    r = curl(
        "-i",
        "-H",
        "Transfer-Encoding: chunked",
        "-H",
        "Content-Type: application/octet-stream",
        "--data-binary",
        "@-",
        f"http://127.0.0.1:{port}/upload",
        stdin=data,
    )
    assert r.returncode == 0, r.stderr
    status, headers, body = head_and_body(r.stdout)
    assert status == 200
    assert headers["x-framing"] == ["chunked"]
    assert body == data


def test_chunked_response_is_decoded_by_curl_9112_7_1(port: int) -> None:
    """RFC 9112 §7.1 and §6.1: a response without Content-Length is sent chunked."""
    r = curl("-v", f"http://127.0.0.1:{port}/chunked")
    assert r.returncode == 0, r.stderr
    assert b"< Transfer-Encoding: chunked" in r.stderr
    assert b"Content-Length" not in r.stderr
    assert r.stdout == b"one,two,three"


def test_expect_100_continue_gets_interim_response_9110_10_1_1(port: int) -> None:
    """RFC 9110 §10.1.1 and §15.2.1: a client that sent "Expect: 100-continue"
    waits for 100 Continue before the body; the final response follows."""
    data = b"x" * 200_000
    r = curl(
        "-v",
        "-H",
        "Expect: 100-continue",
        "--expect100-timeout",
        "10",
        "--data-binary",
        "@-",
        f"http://127.0.0.1:{port}/upload",
        stdin=data,
    )
    assert r.returncode == 0, r.stderr
    err = r.stderr.decode("latin-1")
    assert "> Expect: 100-continue" in err
    assert "< HTTP/1.1 100 Continue" in err
    assert err.index("< HTTP/1.1 100 Continue") < err.index("< HTTP/1.1 200 OK")
    assert "< X-Expect: 100-continue" in err
    assert r.stdout == data


def test_expect_100_continue_refused_with_413_9110_10_1_1() -> None:
    """RFC 9110 §10.1.1: a server may answer the head with a final status instead
    of 100 Continue; §15.5.14: 413 when the content is larger than allowed."""
    options = ServerOptions(limits=Limits(max_body_bytes=1000))
    with rawproto_server(router(), options) as port:
        r = curl(
            "-v",
            "-H",
            "Expect: 100-continue",
            "--expect100-timeout",
            "10",
            "--data-binary",
            "@-",
            f"http://127.0.0.1:{port}/upload",
            stdin=b"y" * 5000,
        )
    err = r.stderr.decode("latin-1")
    assert "< HTTP/1.1 413" in err, err
    assert "100 Continue" not in err


def test_unknown_path_is_404_9110_15_5_5(port: int) -> None:
    """RFC 9110 §15.5.5: 404 when the origin server has no representation."""
    r = curl("-i", f"http://127.0.0.1:{port}/no/such/thing")
    status, _, body = head_and_body(r.stdout)
    assert status == 404
    assert body.startswith(b"404 Not Found")


def test_method_not_allowed_lists_allow_9110_15_5_6(port: int) -> None:
    """RFC 9110 §15.5.6: a 405 "MUST generate an Allow header field"."""
    r = curl("-i", "-X", "DELETE", f"http://127.0.0.1:{port}/time")
    status, headers, _ = head_and_body(r.stdout)
    assert status == 405
    assert headers["allow"] == ["GET, HEAD"]


def test_plain_get_on_websocket_route_is_426_9110_15_5_22(port: int) -> None:
    """RFC 9110 §15.5.22: 426 Upgrade Required "MUST send an Upgrade header field"
    naming the protocol; RFC 6455 §4.2.1 makes that protocol websocket."""
    r = curl("-i", f"http://127.0.0.1:{port}/echo")
    status, headers, body = head_and_body(r.stdout)
    assert status == 426
    assert headers["upgrade"] == ["websocket"]
    assert b"websocket" in body.lower()


# --- the WebSocket opening handshake, by hand ---------------------------------


def test_curl_upgrade_gets_101_with_accept_key_6455_4_2_2(port: int) -> None:
    """RFC 6455 §4.2.2: the 101 carries Sec-WebSocket-Accept, base64(SHA-1(key +
    GUID)); §1.3's sample key gives s3pPLMBiTxaQ9kYGzzhZRbK+xOo=."""
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    # curl does not speak WebSocket here: after the 101 it waits, until --max-time.
    r = curl("-i", "--max-time", "2", *UPGRADE_HEADERS, f"http://127.0.0.1:{port}/echo")
    assert r.returncode in (0, 28), r.stderr  # 28: curl's own timeout
    out = r.stdout.decode("latin-1")
    assert out.startswith("HTTP/1.1 101 Switching Protocols\r\n"), out
    status, headers, _ = head_and_body(r.stdout)
    assert status == 101
    assert headers["sec-websocket-accept"] == ["s3pPLMBiTxaQ9kYGzzhZRbK+xOo="]
    assert headers["upgrade"] == ["websocket"]
    assert headers["connection"] == ["Upgrade"]


def test_bad_version_is_426_with_supported_version_6455_4_4(port: int) -> None:
    """RFC 6455 §4.2.2 (and §4.4): an unsupported Sec-WebSocket-Version gets an
    error such as 426 plus a Sec-WebSocket-Version header listing 13."""
    headers_v8 = [h.replace("Version: 13", "Version: 8") for h in UPGRADE_HEADERS]
    r = curl("-i", *headers_v8, f"http://127.0.0.1:{port}/echo")
    status, headers, body = head_and_body(r.stdout)
    assert status == 426
    assert headers["sec-websocket-version"] == ["13"]
    assert b"Sec-WebSocket-Version is 13" in body


def test_bad_version_426_also_names_upgrade_9110_15_5_22(port: int) -> None:
    """RFC 9110 §15.5.22: "The server MUST send an Upgrade header field in a 426
    response" — also when the 426 is about Sec-WebSocket-Version."""
    headers_v8 = [h.replace("Version: 13", "Version: 8") for h in UPGRADE_HEADERS]
    r = curl("-i", *headers_v8, f"http://127.0.0.1:{port}/echo")
    status, headers, _ = head_and_body(r.stdout)
    assert status == 426
    assert headers.get("upgrade") == ["websocket"], headers


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("abc", "is not base64"),
        ("AAAAAAAAAAAAAAAAAAAAAA==AA", "is not base64"),
        ("AAAA", "3 bytes"),
    ],
)
def test_bad_key_is_400_naming_the_rule_6455_4_2_1(port: int, key: str, why: str) -> None:
    """RFC 6455 §4.2.1 (5): Sec-WebSocket-Key must decode to 16 bytes; otherwise
    §4.2.2: "the server MUST stop processing" and answer 400 Bad Request."""
    bad = [h.replace("dGhlIHNhbXBsZSBub25jZQ==", key) for h in UPGRADE_HEADERS]
    r = curl("-i", *bad, f"http://127.0.0.1:{port}/echo")
    status, _, body = head_and_body(r.stdout)
    assert status == 400
    assert b"Sec-WebSocket-Key is 16 bytes, base64-encoded" in body
    assert why.encode() in body


def test_post_upgrade_is_405_allow_get_6455_4_2_1(port: int) -> None:
    """RFC 6455 §4.2.1 (1): the handshake is a GET; RFC 9110 §15.5.6: the 405
    carries Allow."""
    r = curl("-i", "-X", "POST", *UPGRADE_HEADERS, f"http://127.0.0.1:{port}/echo")
    status, headers, body = head_and_body(r.stdout)
    assert status == 405
    assert headers["allow"] == ["GET"]
    assert b"method is GET" in body


def test_missing_connection_upgrade_is_400_6455_4_2_1(port: int) -> None:
    """RFC 6455 §4.2.1 (4): Connection must include the token "Upgrade"."""
    r = curl(
        "-i",
        "-H",
        "Upgrade: websocket",
        "-H",
        "Sec-WebSocket-Version: 13",
        "-H",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        f"http://127.0.0.1:{port}/echo",
    )
    status, _, body = head_and_body(r.stdout)
    assert status == 400
    assert b"Connection header contains 'upgrade'" in body


def test_413_reason_phrase_is_rfc_9110_name_15_5_14() -> None:
    """RFC 9110 §15.5.14 renamed 413 "Content Too Large" (and §15.5.15 414 "URI Too
    Long"); the status line should say the same as rawproto's own table and body,
    on every Python version (``http.HTTPStatus`` says "Request Entity Too Large"
    before Python 3.13)."""
    options = ServerOptions(limits=Limits(max_body_bytes=1000))
    with rawproto_server(router(), options) as port:
        r = curl("-i", "--data-binary", "@-", f"http://127.0.0.1:{port}/upload", stdin=b"z" * 5000)
    first_line = r.stdout.split(b"\r\n", 1)[0]
    assert first_line == b"HTTP/1.1 413 Content Too Large", r.stdout
