"""Writing a workbook, and reading the model answers back out.

A workbook is a directory (a small package) with one file per exercise,
``ex01_accept_key.py`` … , each holding a stub: the signature of the model
answer in :mod:`rawproto.exercises.reference`, a docstring made from the row
of :data:`rawproto.exercises.table.EXERCISES` (task, hint, RFC section, an
example from the first check vector), and a body that raises
``NotImplementedError``.
"""

from __future__ import annotations

import ast
import inspect
import pprint
import textwrap
from pathlib import Path

from rawproto.exercises import checks, reference
from rawproto.exercises.table import EXERCISES, Exercise

__all__ = ["WorkbookExists", "init", "solution_source", "stub_source"]

INIT = '''"""A rawproto workbook: HTTP/1.1 and WebSocket, one function at a time.

Fill in the files in order, ex01 first. Check your work with

    rawproto exercises check {dir}

and compare with a model answer with ``rawproto exercises solution NAME``.
"""
'''

README = """# rawproto workbook

Write each function in its file, in order. Every stub's docstring gives the
task, a hint and the RFC section. Then:

    rawproto exercises check {dir}
    rawproto exercises check {dir} accept_key
    rawproto exercises solution accept_key

(all the exercises; one exercise; the model answer of one).

| file | function | RFC |
|---|---|---|
{rows}
"""


class WorkbookExists(Exception):
    """The target directory exists and is not empty."""


def signature_source(exercise: Exercise) -> str:
    """``def accept_key(key: str) -> str:`` — the lines of the model answer's header."""
    source = inspect.getsource(reference)
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == exercise.name:
            if node.returns is None or node.returns.end_lineno is None:
                raise LookupError(f"reference.{exercise.name} needs a return annotation")
            lines = source.splitlines()[node.lineno - 1 : node.returns.end_lineno]
            return "\n".join(lines)
    raise LookupError(f"no reference function {exercise.name}")


def _example(exercise: Exercise) -> str:
    """The first vector of the exercise, as a doctest."""
    case = checks.VECTORS[exercise.name][0]
    call = checks.call_text(exercise.name, case)
    if len(call) > 64:
        args = [pprint.pformat(a, width=60) for a in case.args]
        call = "\n".join(
            [f"{exercise.name}(", *(textwrap.indent(a, "    ") + "," for a in args), ")"]
        )
    prompt = "\n".join(("... " if i else ">>> ") + line for i, line in enumerate(call.splitlines()))
    return f"{prompt}\n{checks.show(case.expect, 200)}"


def docstring(exercise: Exercise) -> str:
    fill = textwrap.TextWrapper(width=72, break_on_hyphens=False, break_long_words=False)
    hint = textwrap.TextWrapper(
        width=72, break_on_hyphens=False, break_long_words=False, subsequent_indent="    "
    )
    parts = [
        fill.fill(exercise.task),
        hint.fill("Hint: " + exercise.hint),
        f"{exercise.rfc}: {exercise.url}",
        "Example:\n\n" + textwrap.indent(_example(exercise), "    "),
    ]
    return "\n\n".join(parts)


def stub_source(exercise: Exercise) -> str:
    """The whole file ``exNN_name.py`` as the learner first sees it."""
    doc = textwrap.indent(docstring(exercise), "    ")
    if '"""' in doc:
        raise ValueError(f"the docstring of {exercise.name} must not contain triple quotes")
    return (
        f'"""Exercise {exercise.number}: {exercise.title}."""\n\n'
        "from __future__ import annotations\n\n\n"
        f"{signature_source(exercise)}\n"
        f'    r"""{doc.lstrip()}\n    """\n'
        f'    raise NotImplementedError("{exercise.name}")\n'
    )


def solution_source(exercise: Exercise) -> str:
    """The model answer: the imports it needs, then the function as written."""
    function = getattr(reference, exercise.name)
    source = inspect.getsource(function)
    used: set[str] = set()
    codes = [function.__code__]
    while codes:  # the names used by the function and by any function nested in it
        code = codes.pop()
        used.update(code.co_names)
        codes.extend(c for c in code.co_consts if inspect.iscode(c))
    imports = [
        f"import {name}"
        for name, value in vars(reference).items()
        if inspect.ismodule(value) and name in used
    ]
    head = "from __future__ import annotations\n\n" + "".join(i + "\n" for i in sorted(imports))
    return f"{head}\n\n{source}"


def init(directory: Path, *, force: bool = False) -> list[Path]:
    """Write a fresh workbook into DIRECTORY; :class:`WorkbookExists` if it holds anything.

    With ``force``, the workbook's own files are overwritten and any other
    file is left alone.
    """
    if directory.exists() and not directory.is_dir():
        raise WorkbookExists(f"{directory} exists and is not a directory")
    if directory.is_dir() and any(directory.iterdir()) and not force:
        raise WorkbookExists(f"{directory} is not empty (use --force to overwrite the exercises)")
    directory.mkdir(parents=True, exist_ok=True)
    rows = "\n".join(
        f"| `{e.filename}` | `{e.name}` | [{e.rfc}]({e.url}) |" for e in EXERCISES
    )
    written = []
    for name, text in [
        ("__init__.py", INIT.format(dir=directory)),
        ("README.md", README.format(dir=directory, rows=rows)),
        *[(e.filename, stub_source(e)) for e in EXERCISES],
    ]:
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
