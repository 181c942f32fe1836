"""The ``rawproto`` command, run as a user runs it: ``python -m rawproto ...``.

Every run is a subprocess with a timeout. The contract (rawproto/cli.py):
exit 0 on success, 1 on a network or protocol failure, 2 on a usage error,
and every failure is one line on stderr, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed as WsConnectionClosed
from websockets.sync.client import connect as ws_connect

import rawproto.aio
from rawproto.aio import ConnectionClosed
from rawproto.core.limits import Limits, MiB

ROOT = Path(__file__).resolve().parent.parent
#: Seconds any one command may take.
RUN_TIMEOUT = 20
#: Seconds the server may take to start, and to stop after SIGINT.
START_TIMEOUT = 15
STOP_TIMEOUT = 10

SERVING = re.compile(r"^rawproto serving on http://127\.0\.0\.1:(\d+)/ ")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("RAWPROTO_TRACE", None)
    return env


def run_cli(*args: str, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run ``python -m rawproto ARGS`` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "rawproto", *args],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=ROOT,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@dataclass
class Served:
    proc: subprocess.Popen[str]
    port: int
    first_line: str
    stdout: queue.Queue[str]

    def stop(self) -> tuple[int, float, str]:
        """SIGINT (to this process only), then wait: (exit status, seconds, stderr)."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGINT)
        try:
            status = self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise
        elapsed = time.monotonic() - started
        assert self.proc.stderr is not None
        return status, elapsed, self.proc.stderr.read()


def start_serve(*args: str) -> Served:
    """Start ``rawproto serve --port 0 ARGS``; read the real port from its first line."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "rawproto", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=_env(),
        cwd=ROOT,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        first = lines.get(timeout=START_TIMEOUT)
    except queue.Empty:
        proc.kill()
        proc.wait(5)
        raise AssertionError("rawproto serve printed nothing") from None
    match = SERVING.match(first)
    if match is None:
        proc.kill()
        proc.wait(5)
        raise AssertionError(f"unexpected first line: {first!r}")
    return Served(proc, int(match.group(1)), first, lines)


def _finish(served: Served) -> None:
    """Stop a server started by a fixture, whatever happened in the tests."""
    if served.proc.poll() is None:
        served.proc.send_signal(signal.SIGINT)
        try:
            served.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            served.proc.kill()
            served.proc.wait(5)
    for pipe in (served.proc.stdout, served.proc.stderr):
        if pipe is not None:
            pipe.close()


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    served = start_serve()
    yield served
    _finish(served)


@pytest.fixture(scope="module")
def strict_server() -> Iterator[Served]:
    """A server that only lets Origin http://good in (``rawproto connect`` sends none)."""
    served = start_serve("--origin", "http://good")
    yield served
    _finish(served)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port that is bound but not listening: connecting to it is refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    yield int(sock.getsockname()[1])
    sock.close()


def one_line_failure(result: subprocess.CompletedProcess[str], status: int) -> str:
    """Assert the CLI failed with ``status`` and exactly one stderr line; return it."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == status, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert result.stdout == ""
    return lines[0]


# --- serve ----------------------------------------------------------------------


def test_serve_port_0_prints_the_real_port(server: Served) -> None:
    """``--port 0`` lets the OS choose; the banner must show the port it chose."""
    assert server.port != 0
    assert f"ws://127.0.0.1:{server.port}/echo" in server.first_line
    with socket.create_connection(("127.0.0.1", server.port), timeout=5):
        pass


def test_serve_rejects_max_message_size_0_as_usage_error() -> None:
    """argparse refuses a limit of 0 bytes: exit 2, the reason, no traceback."""
    result = run_cli("serve", "--max-message-size", "0")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].endswith("'0' must be greater than 0")


def test_serve_rejects_port_out_of_range_as_usage_error() -> None:
    """A port that does not exist is a usage error: exit 2, one line, no traceback."""
    result = run_cli("serve", "--port", "99999")
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "99999" in result.stderr


def test_serve_stops_on_sigint_closing_websockets_with_1001() -> None:
    """SIGINT stops the server within 10 s with exit 0; open WebSockets are
    closed with 1001 "going away" first (RFC 6455 §7.4.1)."""
    served = start_serve()
    try:
        with ws_connect(
            f"ws://127.0.0.1:{served.port}/echo", proxy=None, open_timeout=5, close_timeout=5
        ) as ws:
            ws.send("before")
            assert ws.recv(timeout=5) == "before"
            status, elapsed, stderr = served.stop()
            with pytest.raises(WsConnectionClosed) as info:
                ws.recv(timeout=5)
        assert info.value.rcvd is not None
        assert info.value.rcvd.code == 1001
        assert status == 0, stderr
        assert elapsed < STOP_TIMEOUT
        assert "Traceback" not in stderr
        assert stderr.splitlines() == ["shutting down: closing WebSockets with 1001"]
    finally:
        _finish(served)


def test_serve_max_message_size_16_mib_echoes_16_mib() -> None:
    """``--max-message-size`` raises the 1 MiB default: 16 MiB echoes, one byte
    more is closed with 1009 (RFC 6455 §7.4.1)."""
    served = start_serve("--max-message-size", str(16 * MiB))

    async def main() -> tuple[bool, int | None]:
        limits = Limits(max_message_size=16 * MiB)
        async with asyncio.timeout(60):
            ws = await rawproto.aio.connect(f"ws://127.0.0.1:{served.port}/echo", limits=limits)
            data = os.urandom(16 * MiB)
            await ws.send(data)
            same = await ws.recv() == data
            await ws.send(data + b"!")
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            await ws.wait_closed()
            return same, ws.close_code

    try:
        same, code = asyncio.run(main())
        assert same
        assert code == 1009
    finally:
        _finish(served)


# --- connect ----------------------------------------------------------------------


def test_connect_send_prints_the_echoes(server: Served) -> None:
    """``connect --send`` sends each text, prints each reply, closes, exits 0."""
    result = run_cli(
        "connect", f"ws://127.0.0.1:{server.port}/echo", "--send", "Hello", "--send", "World"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["Hello", "World"]
    assert "Traceback" not in result.stderr


def test_connect_trace_prints_one_line_per_frame(server: Served) -> None:
    """``--trace``: the compact grammar, ``>`` sent, ``<`` received, ``=`` state;
    the closing handshake is visible (RFC 6455 §5.5.1, §7.1.2)."""
    result = run_cli("connect", f"ws://127.0.0.1:{server.port}/echo", "--send", "Hello", "--trace")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "= OPEN",
        "> TEXT 'Hello' [5 bytes]",
        "< TEXT 'Hello' [5 bytes]",
        "> CLOSE 1000 (normal closure) [2 bytes]",
        "< CLOSE 1000 (normal closure) [2 bytes]",
        "= CLOSED 1000",
    ]


def test_connect_refused_is_one_line_exit_1(closed_port: int) -> None:
    """Nobody listening: exit 1 and one line, not a traceback."""
    line = one_line_failure(run_cli("connect", f"ws://127.0.0.1:{closed_port}/echo"), 1)
    assert "connection refused" in line
    assert f"127.0.0.1:{closed_port}" in line


def test_connect_handshake_rejected_is_one_line_exit_1(strict_server: Served) -> None:
    """RFC 6455 §4.2.2: the server refuses an Origin it does not allow with 403;
    the client reports the status in one line, exit 1."""
    line = one_line_failure(
        run_cli("connect", f"ws://127.0.0.1:{strict_server.port}/echo", "--send", "Hello"), 1
    )
    assert "403 Forbidden" in line
    assert line.startswith("rawproto connect: handshake refused")


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("wss://127.0.0.1/echo", "TLS (wss://) is not supported"),
        ("http://x", "expected a URL starting with ws://"),
        ("ws://127.0.0.1:99999/echo", "port"),
        ("ws://127.0.0.1:abc/echo", "port"),
        ("ws:///echo", "no host"),
        ("ws://[::1/echo", "Invalid IPv6 URL"),
    ],
)
def test_connect_bad_url_is_usage_error_exit_2(url: str, words: str) -> None:
    """A URL rawproto cannot use is a usage error: exit 2, one line naming why."""
    line = one_line_failure(run_cli("connect", url), 2)
    assert line.startswith("rawproto connect: ")
    assert words in line


def test_connect_port_0_in_url_is_not_port_80() -> None:
    """``ws://127.0.0.1:0/`` names port 0, which nobody can connect to; it must
    not silently become the default port 80 (RFC 3986 §3.2.3: the default port
    applies only when the port is empty or absent)."""
    result = run_cli("connect", "ws://127.0.0.1:0/echo")
    assert result.returncode != 0
    assert "127.0.0.1:80" not in result.stderr, result.stderr


# --- get --------------------------------------------------------------------------


def test_get_prints_the_json_body(server: Served) -> None:
    """``get`` prints the body, and only the body, on stdout; exit 0 for a 200."""
    result = run_cli("get", f"http://127.0.0.1:{server.port}/time")
    assert result.returncode == 0, result.stderr
    assert isinstance(json.loads(result.stdout)["time"], float)
    assert result.stderr == ""


def test_get_trace_shows_heads_on_stderr(server: Served) -> None:
    """``get --trace`` shows both heads curl -v style on stderr (RFC 9112 §3, §4)."""
    result = run_cli("get", f"http://127.0.0.1:{server.port}/time", "--trace")
    assert result.returncode == 0, result.stderr
    err = result.stderr.splitlines()
    assert err[0] == "> GET /time HTTP/1.1"
    assert f"> Host: 127.0.0.1:{server.port}" in err
    assert "< HTTP/1.1 200 OK" in err
    assert "< Content-Type: application/json" in err
    json.loads(result.stdout)  # the body stays alone on stdout


def test_get_refused_is_one_line_exit_1(closed_port: int) -> None:
    """Nobody listening: exit 1 and one line."""
    line = one_line_failure(run_cli("get", f"http://127.0.0.1:{closed_port}/"), 1)
    assert "connection refused" in line


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://127.0.0.1/", "TLS (https://) is not supported"),
        ("ws://127.0.0.1/", "expected a URL starting with http://"),
        ("http://127.0.0.1:70000/", "port"),
    ],
)
def test_get_bad_url_is_usage_error_exit_2(url: str, words: str) -> None:
    """A URL rawproto cannot use is a usage error: exit 2, one line naming why."""
    line = one_line_failure(run_cli("get", url), 2)
    assert words in line
