"""``rawproto explain``: hex in, fields out; bad input is one line and exit 2."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from rawproto.explain.cli import InputError, main, parse_hex

MASKED_HELLO = "81 85 37 fa 21 3d 7f 9f 4d 51 58"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("text", [
    "81 85 37 fa 21 3d", "0x81 0x85 0x37 0xfa 0x21 0x3d", "\\x81\\x85\\x37\\xfa\\x21\\x3d",
    "81:85:37:fa:21:3d", "818537fa213d", "81 8537FA213D",
])
def test_hex_forms_are_accepted(text: str) -> None:
    """Spaces, 0x, \\x and colons (Wireshark's copy) all give the same bytes."""
    assert parse_hex(text) == bytes.fromhex("818537fa213d")


@pytest.mark.parametrize("text", ["zz", "8", "81 8", ""])
def test_bad_hex_is_an_input_error(text: str) -> None:
    with pytest.raises(InputError):
        parse_hex(text)


def test_masked_hello_explained_5_7() -> None:
    """RFC 6455 §5.7: the masked "Hello" frame, field by field."""
    code, out, err = run(MASKED_HELLO.split(" "))
    assert (code, err) == (0, "")
    for needle in ("FIN", "opcode", "0x1 TEXT", "MASK", "masking key", "37 fa 21 3d",
                   "7f ^ 37 = 48 'H'", "'Hello'", "from the client"):
        assert needle in out
    assert "\x1b[" not in out  # not a terminal: no colour
    assert all(len(line) <= 80 for line in out.splitlines())


def test_unmasked_frame_is_assumed_from_server_5_1() -> None:
    """RFC 6455 §5.1: only clients mask, so an unmasked frame is the server's."""
    code, out, _ = run(["81", "05", "48656c6c6f"])
    assert code == 0 and "from the server" in out and "no rule broken" in out


def test_from_flag_checks_the_masking_rule_5_1() -> None:
    """RFC 6455 §5.1: --from client on an unmasked frame shows the broken rule."""
    code, out, _ = run(["--from", "client", "810548656c6c6f"])
    assert code == 0 and "RFC 6455 §5.1" in out
    assert "https://www.rfc-editor.org/rfc/rfc6455#section-5.1" in out


def test_stdin_dash_reads_hex_text() -> None:
    code, out, _ = run(["-"], stdin="89 05 48 65 6c 6c 6f\n")
    assert code == 0 and "PING" in out


def test_truncated_frame_is_one_line_and_exit_2() -> None:
    code, _out, err = run(MASKED_HELLO.split(" ")[:8])
    assert code == 2
    assert err == "rawproto explain: truncated frame: needs 3 more bytes\n"


def test_invalid_hex_is_one_line_and_exit_2() -> None:
    code, out, err = run(["81", "zz"])
    assert (code, out) == (2, "")
    assert err == "rawproto explain: invalid hex: 'zz'\n"


def test_json_is_one_object_per_chunk_and_per_frame() -> None:
    code, out, _ = run(["--json", "810548656c6c6f", "8a80 00000000"])
    objects = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [o["type"] for o in objects] == ["chunk", "frame", "frame"]
    assert objects[1]["text"] == "Hello" and objects[1]["opcode_name"] == "TEXT"
    # The first frame is unmasked, so both are taken as the server's: §5.1.
    assert [v["section"] for v in objects[2]["violations"]] == ["5.1"]


def test_http_flag_explains_a_response_9112_4() -> None:
    """RFC 9112 §4: --http explains a status line and its headers."""
    wire = b"HTTP/1.1 204 No Content\r\nServer: rawproto\r\n\r\n"
    code, out, _ = run(["--http", wire.hex()])
    assert code == 0 and "204" in out and "RFC 9110 §10.2.4" in out


def test_http_truncated_head_is_exit_2() -> None:
    code, _, err = run(["--http", b"GET / HTTP/1.1\r\nHo".hex()])
    assert code == 2 and err.startswith("rawproto explain: truncated HTTP message")


def test_bad_option_returns_2_not_systemexit() -> None:
    code, _, _ = run(["--from", "nobody", "81"])
    assert code == 2


def test_main_via_python_c() -> None:
    """The function the top-level CLI calls works in a fresh interpreter."""
    code = "import sys; from rawproto.explain.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "PYTHONPATH": ROOT, "NO_COLOR": "1"}
    ok = subprocess.run([sys.executable, "-c", code, *MASKED_HELLO.split(" ")],
                        capture_output=True, text=True, env=env)
    assert ok.returncode == 0 and "'Hello'" in ok.stdout and ok.stderr == ""
    bad = subprocess.run([sys.executable, "-c", code, "81", "85", "37"],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().startswith("rawproto explain: truncated frame: needs")


def test_use_color_respects_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    from rawproto.explain.views import use_color

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(Tty()) and not use_color(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color(Tty())
