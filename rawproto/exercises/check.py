"""Checking a workbook: each exercise in its own process, with a time bound.

The learner's code never runs in this process. Each exercise runs in a child
(:mod:`rawproto.exercises.runner`) in its own session, killed with its whole
process group when it overruns; its results come back through a file, line
by line, so that an infinite loop, a crash, a ``sys.exit()`` or a flood of
``print`` still leaves a clear verdict — and never a traceback.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rawproto
from rawproto.exercises.table import Exercise

__all__ = ["DEFAULT_TIMEOUT", "Result", "check", "check_one", "report"]

#: Seconds one exercise (all its checks) may take, interpreter start included.
DEFAULT_TIMEOUT = 10.0
#: Bytes of the learner's printed output kept.
OUTPUT_LIMIT = 64 * 1024

#: The child processes still running, killed if the checker is interrupted.
_RUNNING: set[subprocess.Popen[bytes]] = set()
_LOCK = threading.Lock()


@dataclass
class Result:
    exercise: Exercise
    #: "pass", "fail", "todo" (not started), "error" (does not load),
    #: "timeout" or "crash"
    status: str
    passed: int = 0
    total: int = 0
    #: the first failing case, as the runner reported it
    failure: dict[str, Any] | None = None
    message: str = ""  #: for "error", "timeout" and "crash"
    detail: str = ""  #: e.g. the offending source line of a syntax error
    output: list[str] = field(default_factory=list)  #: the learner's last printed lines

    @property
    def ok(self) -> bool:
        return self.status == "pass"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    root = str(Path(rawproto.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # keep the workbook free of __pycache__
    env["PYTHONIOENCODING"] = "utf-8"
    env.pop("PYTHONSTARTUP", None)
    return env


def _kill(process: subprocess.Popen[bytes]) -> None:
    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signal.SIGKILL)  # the child and anything it started
        else:  # pragma: no cover - not POSIX
            process.kill()
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def _tail(path: Path, lines: int = 5) -> list[str]:
    try:
        with path.open("rb") as f:
            f.seek(max(0, path.stat().st_size - OUTPUT_LIMIT))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return []
    return [line[:200] for line in text.splitlines() if line.strip()][-lines:]


def _records(path: Path) -> list[dict[str, Any]]:
    out = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:  # a line cut short by the kill
            continue
        if isinstance(record, dict):
            out.append(record)
    return out


def check_one(directory: Path, exercise: Exercise, timeout: float = DEFAULT_TIMEOUT) -> Result:
    """Run every check of EXERCISE against the learner's file in DIRECTORY."""
    path = directory / exercise.filename
    if not path.is_file():
        return Result(exercise, "error",
                      message=f"{exercise.filename} is missing (rawproto exercises init "
                      f"--force {directory} writes it again)")
    with tempfile.TemporaryDirectory(prefix="rawproto-check-") as tmp:
        results, output = Path(tmp) / "results.jsonl", Path(tmp) / "output.txt"
        results.touch()
        with output.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "rawproto.exercises.runner", exercise.name,
                 str(path.resolve()), str(results)],
                stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
                cwd=directory, env=_env(), start_new_session=True,
            )
            with _LOCK:
                _RUNNING.add(process)
            try:
                returncode: int | None = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill(process)
                returncode = None
            finally:
                with _LOCK:
                    _RUNNING.discard(process)
        return _verdict(exercise, _records(results), returncode, timeout, _tail(output))


def _verdict(exercise: Exercise, records: list[dict[str, Any]], returncode: int | None,
             timeout: float, output: list[str]) -> Result:
    cases = [r for r in records if r.get("event") == "case"]
    passed = sum(1 for r in cases if r.get("ok"))
    failures = [r for r in cases if not r.get("ok")]
    starts = [r for r in records if r.get("event") == "start"]
    errors = [r for r in records if r.get("event") == "error"]
    done = any(r.get("event") == "done" for r in records)
    result = Result(exercise, "fail", passed, len(cases), output=output)
    if errors:
        result.status = "error"
        result.message = str(errors[0].get("message", "cannot load the file"))
        result.detail = str(errors[0].get("text", "") or errors[0].get("where", ""))
        return result
    if not done:
        running = starts[-1] if starts and starts[-1].get("index") != (
            cases[-1].get("index") if cases else None) else None
        call = str(running.get("call")) if running else "the checks"
        if returncode is None:
            result.status = "timeout"
            result.message = f"{call} did not finish within {timeout:g} s (an endless loop?)"
        else:
            result.status = "crash"
            result.message = (f"the check process ended (exit status {returncode}) "
                              f"while running {call}")
        result.failure = failures[0] if failures else None
        return result
    if cases and all(r.get("kind") == "todo" for r in cases):
        result.status = "todo"
    elif not failures:
        result.status = "pass"
    result.failure = failures[0] if failures else None
    return result


def check(directory: Path, exercises: list[Exercise], timeout: float = DEFAULT_TIMEOUT,
          jobs: int | None = None) -> list[Result]:
    """Check several exercises at once (each in its own process), in course order."""
    workers = max(1, min(len(exercises), jobs or min(8, os.cpu_count() or 2)))
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        return list(pool.map(lambda e: check_one(directory, e, timeout), exercises))
    except BaseException:  # Ctrl-C: no learner's loop may outlive the checker
        with _LOCK:
            running = list(_RUNNING)
        for process in running:
            if process.poll() is None:
                _kill(process)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# --- the report --------------------------------------------------------------

_MARK = {"pass": "ok", "fail": "FAIL", "todo": "todo", "error": "ERROR",
         "timeout": "TIMEOUT", "crash": "CRASH"}


def _row(r: Result) -> str:
    e = r.exercise
    if r.status in ("pass", "fail"):
        what = f"{r.passed}/{r.total} checks"
    elif r.status == "todo":
        what = "not started"
    elif r.status == "error":
        what = "does not load"
    elif r.status == "timeout":
        what = "too slow or an endless loop"
    else:
        what = "stopped the checker"
    return f"  {_MARK[r.status]:<7} {e.number:02d} {e.name:<28} {what}"


def _field(label: str, text: str) -> str:
    body = textwrap.fill(text, width=96, initial_indent=" " * 12, subsequent_indent=" " * 12,
                         break_on_hyphens=False, break_long_words=False)
    head = label + ":" if label else ""
    return f"  {head:<10}" + body[12:]


def _focus(r: Result, directory: Path) -> list[str]:
    e = r.exercise
    where = directory / e.filename
    lines = []
    f = r.failure
    if r.status == "todo":
        lines.append(f"Next: {e.number:02d} {e.name} in {where} — not started yet")
        lines.append(_field("task", e.task))
    else:
        lines.append(f"First to fix: {e.number:02d} {e.name} in {where}")
    if r.status in ("error", "timeout", "crash"):
        lines.append(_field("problem", r.message))
        if r.detail:
            lines.append(_field("line", r.detail.strip()))
    if f is not None and r.status != "todo":
        lines.append(_field("check", str(f.get("label", ""))))
        lines.append(_field("call", str(f.get("call", ""))))
        lines.append(_field("expected", str(f.get("expected", ""))))
        got = str(f.get("got", ""))
        if f.get("where"):
            got += f" (at {f['where']})"
        lines.append(_field("got", got))
    case_hint = str(f.get("hint") or "") if f is not None and r.status != "todo" else ""
    if case_hint:
        lines.append(_field("hint", case_hint))
    lines.append(_field("" if case_hint else "hint", e.hint))
    lines.append(_field("RFC", f"{e.rfc}  {e.url}"))
    url = (f or {}).get("url") if r.status != "todo" else None
    if url and url != e.url:
        lines.append(_field("see also", str(url)))
    if r.output:
        lines.append("  your code printed (last lines):")
        lines.extend("    " + line for line in r.output)
    return lines


def report(results: list[Result], directory: Path) -> str:
    """The progress table, the count, and a focused hint for the first failure."""
    lines = [f"rawproto workbook {directory}", *(_row(r) for r in results)]
    passed = sum(r.ok for r in results)
    lines.append(f"{passed}/{len(results)} passed")
    first = next((r for r in results if not r.ok), None)
    if first is None:
        lines.append("All done: every check agrees with the RFCs, h11 and wsproto.")
    else:
        lines += ["", *_focus(first, directory)]
    return "\n".join(lines)
