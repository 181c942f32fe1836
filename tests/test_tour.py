"""The tour (the main job): every chapter, in order, and a golden transcript.

Regenerate the golden copy after a deliberate change with ``make golden``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rawproto.docsgen import normalize

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "tour.txt"


def tour(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "rawproto", "tour", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
        input=stdin,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def deterministic_run() -> subprocess.CompletedProcess[str]:
    return tour("--deterministic")


def test_tour_runs_every_chapter_in_order(deterministic_run) -> None:
    """The tour narrates chapters 1-10 in order and exits 0, with nothing on stderr."""
    assert deterministic_run.returncode == 0, deterministic_run.stderr
    assert deterministic_run.stderr == ""
    numbers = [int(n) for n in re.findall(r"^ Chapter (\d+)\.", deterministic_run.stdout, re.M)]
    assert numbers == list(range(1, 11))


def test_deterministic_tour_matches_the_golden_transcript(deterministic_run) -> None:
    """--deterministic fixes keys, masks, clock, Host and ports: the output is the
    committed transcript (tests/golden/tour.txt; regenerate with `make golden`)."""
    assert normalize(deterministic_run.stdout) == normalize(GOLDEN.read_text())


def test_tour_output_fits_80_columns(deterministic_run) -> None:
    """The tour reads well on an 80-column terminal."""
    long = [line for line in deterministic_run.stdout.splitlines() if len(line) > 80]
    assert long == []


def test_tour_shows_the_upgrade_and_the_masked_frame_byte_by_byte(deterministic_run) -> None:
    """RFC 6455 §4.2.2 and §5.3: the accept key steps and the XOR of each payload byte."""
    out = deterministic_run.stdout
    assert "+ GUID        258EAFA5-E914-47DA-95CA-C5AB0DC85B11" in out
    assert re.search(r"^  0000  81 85 ", out, re.M)  # a masked 5-byte text frame
    assert re.search(r"[0-9a-f]{2} \^ [0-9a-f]{2} = 48 'H'", out)
    assert "1011 (internal error)" in out  # the heartbeat timeout
    assert "TCP FIN order: first server, then client" in out  # RFC 6455 §7.1.1


def test_deterministic_tour_is_identical_twice(deterministic_run) -> None:
    """Two deterministic runs print the same frames, keys and masks."""
    again = tour("--deterministic")
    assert normalize(again.stdout) == normalize(deterministic_run.stdout)


def test_tour_runs_a_single_chapter() -> None:
    """--chapter N runs only chapter N (setting up what it needs silently)."""
    result = tour("--chapter", "5", "--deterministic")
    assert result.returncode == 0, result.stderr
    assert re.findall(r"^ Chapter (\d+)\.", result.stdout, re.M) == ["5"]
    assert "TEXT 'Hello'" in result.stdout


def test_tour_step_mode_waits_for_enter() -> None:
    """--step asks for Enter between steps; with input exhausted it carries on."""
    result = tour("--chapter", "2", "--step", stdin="\n\n\n")
    assert result.returncode == 0, result.stderr
    assert "[Enter] for the next step" in result.stdout


@pytest.mark.parametrize("args", [["--chapter", "11"], ["--chapter", "x"], ["--bogus"]])
def test_tour_rejects_bad_options_with_status_2(args: list[str]) -> None:
    """A usage error is one line on stderr and exit status 2, never a traceback."""
    result = tour(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_tour_capture_writes_the_session_as_pcapng(tmp_path: Path) -> None:
    """--capture FILE writes every connection of the run as one pcapng that tshark
    dissects: the Upgrade (RFC 6455 §4.1), the 101, and masked client frames (§5.3)."""
    from tools import require_tool

    tshark = require_tool("tshark")
    out = tmp_path / "tour.pcapng"
    result = tour("--deterministic", "--chapter", "5", "--capture", str(out))
    assert result.returncode == 0, result.stderr
    fields = subprocess.run(
        [
            tshark,
            "-r",
            str(out),
            "-Y",
            "websocket",
            "-T",
            "fields",
            "-e",
            "websocket.mask",
            "-e",
            "websocket.payload.text",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split("\n")
    assert "1\tHello" in fields and "0\tHello" in fields


def test_tour_capture_to_an_unwritable_path_is_one_line_exit_1(tmp_path: Path) -> None:
    """A file that cannot be written: one line on stderr, exit 1, no traceback."""
    result = tour("--chapter", "1", "--capture", str(tmp_path / "missing" / "x.pcapng"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "cannot write" in result.stderr
