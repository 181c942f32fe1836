"""The child process of ``rawproto exercises check``: one exercise, one process.

    python -m rawproto.exercises.runner NAME FILE RESULTS

loads the learner's FILE, runs every case of exercise NAME against the
function NAME in it, and appends one JSON object per line to RESULTS:

    {"event": "start", "index": i, "call": "..."}    before each case
    {"event": "case", "index": i, "ok": ..., ...}    after it
    {"event": "error", "kind": "syntax"|"import"|"missing", "message": ...}
    {"event": "done"}

Lines are flushed one by one, so when the parent kills a process that ran
out of time, the last "start" without its "case" names the call that looped.
The learner's own output goes to this process's stdout and stderr, which the
parent keeps apart from the results.
"""

from __future__ import annotations

import json
import os
import sys
import types
from pathlib import Path
from typing import Any, TextIO

from rawproto.exercises import checks

#: Bytes of address space the learner's code may use (a runaway list fails
#: with MemoryError instead of exhausting the machine).
MEMORY_LIMIT = 2 * 1024**3
#: Bytes any one file written may grow to (a print in an endless loop fills
#: no disk: the write fails with "File too large").
FILE_LIMIT = 16 * 1024**2


def _limit_resources() -> None:
    try:
        import resource
    except ImportError:  # not POSIX: the time bound still holds
        return
    for kind, limit in ((resource.RLIMIT_AS, MEMORY_LIMIT), (resource.RLIMIT_FSIZE, FILE_LIMIT)):
        _soft, hard = resource.getrlimit(kind)
        if hard == resource.RLIM_INFINITY or hard > limit:
            try:
                resource.setrlimit(kind, (limit, hard))
            except (ValueError, OSError):
                pass


def _emit(out: TextIO, **record: Any) -> None:
    out.write(json.dumps(record) + "\n")
    out.flush()


def _load(name: str, path: Path, out: TextIO) -> Any:
    """The learner's function NAME from PATH, or None after reporting why not."""
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _emit(out, event="error", kind="missing", message=f"cannot read {path.name}: {exc}")
        return None
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as exc:  # IndentationError and TabError included
        text = (exc.text or "").rstrip("\n")
        _emit(out, event="error", kind="syntax",
              message=f"{path.name}, line {exc.lineno}: {exc.msg}", text=text)
        return None
    module = types.ModuleType(path.stem)
    module.__file__ = str(path)
    sys.modules[path.stem] = module
    _emit(out, event="start", index=-1, call=f"import {path.stem}")
    try:
        exec(code, module.__dict__)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt too: report, do not die
        where = checks.where_in(exc, str(path))
        _emit(out, event="error", kind="import",
              message=f"importing {path.name} raised {type(exc).__name__}: {exc}"[:300],
              where=where)
        return None
    function = getattr(module, name, None)
    if not callable(function):
        _emit(out, event="error", kind="missing", message=f"{path.name} defines no function {name}")
        return None
    return function


def run(name: str, path: Path, out: TextIO) -> None:
    cases = checks.cases(name)  # computed before the learner's code can touch anything
    sys.path.insert(0, str(path.parent))  # sibling modules of the workbook import
    function = _load(name, path, out)
    if function is None:
        _emit(out, event="done")
        return
    for index, case in enumerate(cases):
        call = checks.call_text(name, case)
        _emit(out, event="start", index=index, call=call)
        try:
            outcome = checks.evaluate(function, case, str(path))
        except BaseException as exc:  # sys.exit() or Ctrl-C raised by the learner's code
            outcome = checks.Outcome(False, f"raised {type(exc).__name__}", "", "raised",
                                     checks.where_in(exc, str(path)))
        _emit(out, event="case", index=index, label=case.label, call=call, ok=outcome.ok,
              got=outcome.got, expected=outcome.expected, kind=outcome.kind,
              where=outcome.where, hint=case.hint, url=case.url)
    _emit(out, event="done")


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python -m rawproto.exercises.runner NAME FILE RESULTS", file=sys.stderr)
        return 2
    name, file, results = argv
    _limit_resources()
    sys.setrecursionlimit(2000)
    with open(results, "a", encoding="utf-8") as out:
        run(name, Path(file).resolve(), out)
    return 0


if __name__ == "__main__":
    status = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # Leave now: a thread or an atexit hook of the learner's must not keep us alive.
    os._exit(status)
