"""`rawproto connect` interactive, like wscat: stdin lines become messages."""

from __future__ import annotations

import subprocess
import sys

from helpers_server import rawproto_server
from test_cli import ROOT, _env


def connect_with_stdin(url: str, text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rawproto", "connect", url],
        input=text,
        capture_output=True,
        text=True,
        env=_env(),
        cwd=ROOT,
        timeout=30,
        check=False,
    )


def test_connect_sends_each_line_pings_and_closes_with_a_code_7_4() -> None:
    """Each stdin line is a TEXT message; /ping measures a round trip (RFC 6455 §5.5.2);
    /close CODE REASON runs the closing handshake with that code (§7.4)."""
    with rawproto_server() as port:
        result = connect_with_stdin(
            f"ws://127.0.0.1:{port}/echo", "hello\nworld\n/ping\n/close 4001 done\nnot sent\n"
        )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "hello" in lines and "world" in lines
    assert any(line.startswith("pong after ") for line in lines)
    assert "not sent" not in result.stdout
    assert result.stderr.strip() == "closed: 4001 done"


def test_connect_closes_with_1000_at_end_of_input_7_4_1() -> None:
    """End of stdin closes normally: code 1000."""
    with rawproto_server() as port:
        result = connect_with_stdin(f"ws://127.0.0.1:{port}/echo", "only\n")
    assert result.returncode == 0
    assert "only" in result.stdout and result.stderr.strip() == "closed: 1000"
