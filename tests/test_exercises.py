"""``rawproto exercises``: the workbook, its model answers and its checker.

The contract: the model answers (rawproto/exercises/reference.py) pass every
check; a blank workbook fails every exercise with its hint; whatever the
learner's code does — a syntax error, an exception, an endless loop, an exit —
``check`` answers with a clear message and exit 1 within a time bound, never a
traceback. Usage errors are one line on stderr and exit 2.
"""

from __future__ import annotations

import ast
import inspect
import io
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rawproto.exercises import checks, reference, workbook
from rawproto.exercises.cli import main
from rawproto.exercises.table import EXERCISES, Exercise, find

ROOT = Path(__file__).resolve().parent.parent
NAMES = [e.name for e in EXERCISES]
RFC_LINK = re.compile(r"https://www\.rfc-editor\.org/rfc/rfc\d+#section-[\d.]+")


def run(*argv: str) -> tuple[int, str, str]:
    """``rawproto exercises ARGV`` in this process (the learner's code still runs in a child)."""
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def run_module(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``python -m rawproto.exercises.cli ARGV``, as the ``rawproto`` command delegates."""
    return subprocess.run(
        [sys.executable, "-m", "rawproto.exercises.cli", *argv],
        capture_output=True, text=True, cwd=ROOT, timeout=timeout, stdin=subprocess.DEVNULL,
    )


def flat(text: str) -> str:
    """Whitespace collapsed: the report wraps long lines."""
    return " ".join(text.split())


def assert_no_traceback(*texts: str) -> None:
    for text in texts:
        assert "Traceback" not in text, text


@pytest.fixture(scope="module")
def blank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("blank") / "workbook"
    assert run("init", str(directory))[0] == 0
    return directory


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workbook whose every file is what ``solution`` prints: the model answer."""
    directory = tmp_path_factory.mktemp("solved") / "workbook"
    assert run("init", str(directory))[0] == 0
    for e in EXERCISES:
        status, text, _ = run("solution", e.name)
        assert status == 0
        (directory / e.filename).write_text(text)
    return directory


def learner(directory: Path, exercise: str, source: str) -> Path:
    """Write SOURCE as the learner's file for EXERCISE in a fresh workbook."""
    assert run("init", str(directory))[0] == 0
    e = find(exercise)
    assert e is not None
    path = directory / e.filename
    path.write_text(textwrap.dedent(source))
    return path


# --- the table, the answers and the stubs agree --------------------------------


def test_course_starts_with_the_accept_key_and_names_are_unique() -> None:
    """RFC 6455 §1.3: the course opens with the accept key, then HTTP, then frames."""
    assert NAMES[0] == "accept_key"
    assert [e.number for e in EXERCISES] == list(range(1, len(EXERCISES) + 1))
    assert len(set(NAMES)) == len(NAMES) >= 12


def test_every_exercise_has_a_model_answer_vectors_and_cross_checks() -> None:
    assert sorted(NAMES) == sorted(reference.__all__)
    assert set(NAMES) == set(checks.VECTORS) == set(checks.CROSS)
    for name in NAMES:
        assert callable(getattr(reference, name))
        assert checks.VECTORS[name], name


def test_model_answers_import_neither_h11_nor_wsproto() -> None:
    """The answers are a second, independent implementation: stdlib only."""
    tree = ast.parse(inspect.getsource(reference))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
    }
    assert imported <= {"__future__", "base64", "codecs", "hashlib"}, imported
    code = "import sys, rawproto.exercises.reference; print('h11' in sys.modules, 'wsproto' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         check=True).stdout
    assert out.split() == ["False", "False"]


@pytest.mark.parametrize("exercise", EXERCISES, ids=NAMES)
def test_model_answer_passes_every_check(exercise: Exercise) -> None:
    """Every vector (RFC 6455 §1.3, §5.7, RFC 9112 grammar) and every cross-check
    against h11 and wsproto agrees with the model answer."""
    function = getattr(reference, exercise.name)
    failures = [
        (case.label, outcome.expected, outcome.got)
        for case in checks.cases(exercise.name)
        if not (outcome := checks.evaluate(function, case)).ok
    ]
    assert failures == []


@pytest.mark.parametrize("exercise", EXERCISES, ids=NAMES)
def test_stub_states_task_hint_and_rfc_link_and_raises(exercise: Exercise) -> None:
    """Each stub: the model answer's signature, a docstring with the task, the hint
    and a stable rfc-editor.org section link, and a body that raises NotImplementedError."""
    source = workbook.stub_source(exercise)
    tree = ast.parse(source)
    function = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    assert function.name == exercise.name
    doc = ast.get_docstring(function) or ""
    assert flat(exercise.task) in flat(doc)
    assert flat(exercise.hint) in flat(doc)
    assert exercise.url in doc and RFC_LINK.fullmatch(exercise.url)
    namespace: dict[str, Any] = {}
    exec(compile(source, exercise.filename, "exec"), namespace)
    stub = namespace[exercise.name]
    assert inspect.signature(stub) == inspect.signature(getattr(reference, exercise.name))
    case = checks.VECTORS[exercise.name][0]
    with pytest.raises(NotImplementedError):
        stub(*case.args)


def test_solution_source_runs_on_its_own() -> None:
    """``solution`` prints imports + the function: pasted alone, it works."""
    for exercise in EXERCISES:
        namespace: dict[str, Any] = {}
        exec(workbook.solution_source(exercise), namespace)
        case = checks.VECTORS[exercise.name][0]
        assert checks.evaluate(namespace[exercise.name], case).ok, exercise.name


# --- the checks tell right from wrong -------------------------------------------


def _fails(name: str, function: Callable[..., Any], label_part: str) -> None:
    failed = [c.label for c in checks.cases(name) if not checks.evaluate(function, c).ok]
    assert any(label_part in label for label in failed), failed


def test_utf8_decoded_fragment_by_fragment_is_caught() -> None:
    """RFC 6455 §8.1 / §5.4: a character may be split across fragments, so decoding
    each fragment on its own rejects a valid message."""
    def per_fragment(fragments: list[bytes]) -> bool:
        try:
            for fragment in fragments:
                fragment.decode()
        except UnicodeDecodeError:
            return False
        return True

    _fails("valid_utf8_across_fragments", per_fragment, "split between fragments")


def test_connection_as_a_substring_is_caught() -> None:
    """RFC 6455 §4.2.1: Connection "includes a token" upgrade — 'upgraded' is not it."""
    def substring(method: str, version: str, headers: list[tuple[str, str]]) -> str | None:
        def lenient(name: str, value: str) -> str:
            substring_match = name.lower() == "connection" and "upgrade" in value.lower()
            return "Upgrade" if substring_match else value

        return reference.check_upgrade_request(
            method, version, [(n, lenient(n, v)) for n, v in headers])

    _fails("check_upgrade_request", substring, "upgraded")


def test_126_in_seven_bits_is_caught() -> None:
    """RFC 6455 §5.2: 126 and 127 in the 7-bit field announce an extended length."""
    def seven_bits_up_to_126(n: int) -> bytes:
        return bytes([n]) if n <= 126 else reference.encode_payload_length(n)

    _fails("encode_payload_length", seven_bits_up_to_126, "126 needs the 16-bit form")


def test_whitespace_before_the_colon_is_caught() -> None:
    """RFC 9112 §5.1: "No whitespace is allowed between the field name and colon"."""
    def lenient(block: bytes) -> list[tuple[str, str]]:
        return reference.parse_headers(block.replace(b" :", b":"))

    _fails("parse_headers", lenient, "whitespace between field name and colon")


def test_sending_close_code_1005_is_caught() -> None:
    """RFC 6455 §7.4.1: 1005 "MUST NOT be set as a status code in a Close control frame"."""
    def any_code(payload: bytes) -> tuple[int, str]:
        if len(payload) >= 2:
            return int.from_bytes(payload[:2], "big"), payload[2:].decode()
        return reference.parse_close_payload(payload)

    _fails("parse_close_payload", any_code, "1005 is never sent")


def test_headers_wrongly_masked_payload_is_caught_by_wsproto() -> None:
    """RFC 6455 §5.2: encoded headers must let wsproto read the frame back."""
    def no_extended_length(fin: bool, opcode: int, masked: bool, length: int,
                           mask_key: bytes | None = None) -> bytes:
        return bytes([0x80 * fin | opcode, 0x80 * masked | min(length, 125)]) + (mask_key or b"")

    _fails("encode_frame_header", no_extended_length, "read by wsproto")


# --- check: the solved and the blank workbook -------------------------------------


def test_check_passes_a_workbook_of_model_answers(solved: Path) -> None:
    """``init`` + every ``solution`` pasted in: ``check`` exits 0 with 12/12 passed."""
    status, out, err = run("check", str(solved))
    assert status == 0, out
    assert f"{len(EXERCISES)}/{len(EXERCISES)} passed" in out
    assert err == ""


def test_check_as_a_module_passes_one_solved_exercise(solved: Path) -> None:
    result = run_module("check", str(solved), "apply_mask")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1/1 passed" in result.stdout


def test_blank_workbook_fails_every_exercise_as_not_started(blank: Path) -> None:
    status, out, err = run("check", str(blank))
    assert status == 1
    assert f"0/{len(EXERCISES)} passed" in out
    for e in EXERCISES:
        assert re.search(rf"^  todo +{e.number:02d} {e.name} +not started$", out, re.M), e.name
    assert flat(EXERCISES[0].hint) in flat(out) and EXERCISES[0].url in out
    assert_no_traceback(out, err)


@pytest.mark.parametrize("exercise", EXERCISES, ids=NAMES)
def test_blank_exercise_fails_with_its_task_hint_and_rfc(blank: Path, exercise: Exercise) -> None:
    status, out, err = run("check", str(blank), exercise.name)
    assert status == 1
    assert "0/1 passed" in out
    assert flat(exercise.task) in flat(out)
    assert flat(exercise.hint) in flat(out)
    assert exercise.url in out
    assert_no_traceback(out, err)


# --- check: whatever the learner's code does ----------------------------------------


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    learner(tmp_path / "wb", "accept_key", """
        def accept_key(key):
            return base64.b64encode(hashlib.sha1(key.encode()).digest()
    """)
    status, out, err = run("check", str(tmp_path / "wb"), "accept_key")
    assert status == 1
    assert "ERROR" in out and "ex01_accept_key.py, line 3" in out
    assert "return base64.b64encode(" in out  # the offending line is shown
    assert_no_traceback(out, err)


def test_exception_in_learner_code_shows_check_expected_got_and_line(tmp_path: Path) -> None:
    """RFC 6455 §5.7: the first vector, 'Hello' unmasked, is the first check."""
    learner(tmp_path / "wb", "decode_frame_header", """
        def decode_frame_header(data):
            fin = data[0] >> 7
            return fin, 0, data[0] & 15, False, data[9], None, 2
    """)
    status, out, err = run("check", str(tmp_path / "wb"), "decode_frame_header")
    assert status == 1
    assert "FAIL" in out
    assert "expected: (True, 0, 1, False, 5, None, 2)" in out
    assert "raised IndexError" in out and "ex09_decode_frame_header.py:4" in out
    assert flat(find("decode_frame_header").hint) in flat(out)  # type: ignore[union-attr]
    assert_no_traceback(out, err)


def test_wrong_answer_shows_expected_and_got_in_hex(tmp_path: Path) -> None:
    learner(tmp_path / "wb", "apply_mask", """
        def apply_mask(payload, key):
            return bytes(b ^ key[0] for b in payload)
    """)
    status, out, _ = run("check", str(tmp_path / "wb"), "apply_mask")
    assert status == 1
    assert "masking 'Hello' (RFC 6455 §5.7)" in out
    assert "(hex 7f 9f 4d 51 58)" in out
    assert re.search(r"^  \w*FAIL +10 apply_mask +\d+/15 checks$", out, re.M)


def test_endless_loop_is_cut_off_within_the_time_bound(tmp_path: Path) -> None:
    learner(tmp_path / "wb", "decode_chunked", """
        def decode_chunked(body):
            pos = 0
            while pos < len(body):
                pass
    """)
    start = time.monotonic()
    status, out, err = run("check", str(tmp_path / "wb"), "decode_chunked", "--timeout", "1")
    assert time.monotonic() - start < 15
    assert status == 1
    assert "TIMEOUT" in out and "did not finish within 1 s" in out
    assert "decode_chunked(b'4;name=value" in out  # the call that looped
    assert_no_traceback(out, err)


def test_endless_loop_at_import_is_cut_off_too(tmp_path: Path) -> None:
    learner(tmp_path / "wb", "accept_key", "while True:\n    pass\n")
    status, out, _ = run("check", str(tmp_path / "wb"), "1", "--timeout", "1")
    assert status == 1
    assert "import ex01_accept_key did not finish within 1 s" in flat(out)


@pytest.mark.parametrize("body", [
    "import sys\nsys.exit(3)\n",
    "import os\ndef accept_key(key):\n    os._exit(7)\n",
    "def accept_key(key):\n    raise SystemExit(1)\n",
    "def accept_key(key):\n    return accept_key(key)\n",
    "accept_key = 42\n",
], ids=["exit-at-import", "os-exit", "system-exit", "recursion", "not-a-function"])
def test_exits_and_oddities_are_one_clear_verdict(tmp_path: Path, body: str) -> None:
    learner(tmp_path / "wb", "accept_key", body)
    status, out, err = run("check", str(tmp_path / "wb"), "accept_key")
    assert status == 1
    assert "0/1 passed" in out and "First to fix: 01 accept_key" in out
    assert_no_traceback(out, err)


def test_learner_prints_are_shown_apart_from_the_verdict(tmp_path: Path) -> None:
    learner(tmp_path / "wb", "accept_key", """
        def accept_key(key):
            print("debug:", key)
            return key
    """)
    status, out, _ = run("check", str(tmp_path / "wb"), "accept_key")
    assert status == 1
    assert "your code printed" in out and "debug: " in out


def test_missing_exercise_file_fails_that_exercise(tmp_path: Path) -> None:
    learner(tmp_path / "wb", "apply_mask", "").unlink()
    status, out, _ = run("check", str(tmp_path / "wb"), "apply_mask")
    assert status == 1 and "ex10_apply_mask.py is missing" in flat(out)


# --- init, list, solution, usage errors ---------------------------------------------


def test_init_writes_a_package_of_stubs(tmp_path: Path) -> None:
    result = run_module("init", str(tmp_path / "wb"))
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in (tmp_path / "wb").iterdir())
    assert names == sorted(["__init__.py", "README.md", *(e.filename for e in EXERCISES)])


def test_init_refuses_a_non_empty_directory_without_force(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    status, out, err = run("init", str(tmp_path))
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "not empty" in err and "--force" in err
    status, _, _ = run("init", str(tmp_path), "--force")
    assert status == 0
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (tmp_path / EXERCISES[0].filename).is_file()


def test_init_refuses_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    status, _, err = run("init", str(tmp_path / "f"))
    assert status == 2 and err.count("\n") == 1


@pytest.mark.parametrize("argv", [
    ["check", "/nonexistent/workbook"],
    ["check", "{blank}", "no_such_exercise"],
    ["check", "{empty}"],
    ["solution", "no_such_exercise"],
    ["solution", "13"],
], ids=["missing-dir", "unknown-exercise", "not-a-workbook", "unknown-solution", "number-13"])
def test_usage_errors_are_one_line_and_exit_2(blank: Path, tmp_path: Path, argv: list[str]) -> None:
    argv = [a.format(blank=blank, empty=tmp_path) for a in argv]
    status, out, err = run(*argv)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("rawproto exercises ")


def test_no_command_and_bad_options_exit_2() -> None:
    assert run()[0] == 2
    assert run("check")[0] == 2  # argparse: DIR is required
    assert run("check", ".", "--timeout", "0")[0] == 2


def test_list_shows_every_exercise_with_its_rfc_section() -> None:
    result = run_module("list")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert len(lines) == len(EXERCISES)
    for line, e in zip(lines, EXERCISES, strict=True):
        assert e.name in line and e.rfc in line and e.url in line


def test_list_through_the_rawproto_command() -> None:
    """``rawproto exercises`` delegates to rawproto.exercises.cli:main."""
    result = subprocess.run([sys.executable, "-m", "rawproto", "exercises", "list"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0 and "accept_key" in result.stdout


@pytest.mark.parametrize("spelling", ["accept_key", "1", "01", "ex01_accept_key"])
def test_solution_prints_the_model_answer(spelling: str) -> None:
    """RFC 6455 §4.2.2: the answer is the reference function, source and all."""
    status, out, _ = run("solution", spelling)
    assert status == 0
    assert inspect.getsource(reference.accept_key) in out
    assert "258EAFA5-E914-47DA-95CA-C5AB0DC85B11" in out
