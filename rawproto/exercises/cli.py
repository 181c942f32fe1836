"""``rawproto exercises``: the workbook.

    rawproto exercises list                   # the course, with RFC sections
    rawproto exercises init DIR [--force]     # write the stubs
    rawproto exercises check DIR [EXERCISE]   # run the checks, hint at the first failure
    rawproto exercises solution EXERCISE      # print the model answer

Exit status: 0 success (for ``check``: every exercise passes), 1 some
exercise fails, 2 a usage error — always one line on stderr, never a
traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from rawproto.cliargs import parse
from rawproto.exercises import check as checker
from rawproto.exercises import workbook
from rawproto.exercises.table import EXERCISES, Exercise, find

__all__ = ["main"]

PROG = "rawproto exercises"


class UsageError(Exception):
    """Shown as one line on stderr, exit status 2."""


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="A workbook: write HTTP/1.1 and WebSocket by hand, checked against "
        "the RFCs, h11 and wsproto.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("list", help="list the exercises with their RFC sections")
    i = sub.add_parser("init", help="write a workbook of stubs into DIR")
    i.add_argument("dir", metavar="DIR", type=Path)
    i.add_argument(
        "--force", action="store_true", help="overwrite the exercise files in a non-empty DIR"
    )
    c = sub.add_parser("check", help="check the workbook in DIR (exit 0 when all pass)")
    c.add_argument("dir", metavar="DIR", type=Path)
    c.add_argument(
        "exercise",
        metavar="EXERCISE",
        nargs="?",
        help="one exercise, by name or number (default: all)",
    )
    c.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=checker.DEFAULT_TIMEOUT,
        metavar="S",
        help=f"seconds one exercise may take (default {checker.DEFAULT_TIMEOUT:g})",
    )
    s = sub.add_parser("solution", help="print the model answer of EXERCISE")
    s.add_argument("exercise", metavar="EXERCISE", help="by name or number")
    return p


def _exercise(name: str) -> Exercise:
    exercise = find(name)
    if exercise is None:
        raise UsageError(f"unknown exercise {name!r} (see: {PROG} list)")
    return exercise


def _list(out: TextIO) -> int:
    for e in EXERCISES:
        print(f"{e.number:2d}  {e.name:<28} {e.rfc:<22} {e.url}", file=out)
    return 0


def _init(args: argparse.Namespace, out: TextIO) -> int:
    directory: Path = args.dir
    try:
        workbook.init(directory, force=args.force)
    except workbook.WorkbookExists as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot write {directory}: {exc.strerror or exc}") from None
    print(
        f"wrote {len(EXERCISES)} exercises to {directory}/ (start with {EXERCISES[0].filename})",
        file=out,
    )
    print(f"check your work with: {PROG} check {directory}", file=out)
    return 0


def _check(args: argparse.Namespace, out: TextIO) -> int:
    directory: Path = args.dir
    if not directory.exists():
        raise UsageError(f"no workbook at {directory} (create one with: {PROG} init {directory})")
    if not directory.is_dir():
        raise UsageError(f"{directory} is not a directory")
    exercises = [_exercise(args.exercise)] if args.exercise else list(EXERCISES)
    if not any((directory / e.filename).exists() for e in EXERCISES):
        raise UsageError(
            f"{directory} holds no exercise files (create them with: {PROG} init {directory})"
        )
    results = checker.check(directory, exercises, timeout=args.timeout)
    print(checker.report(results, directory), file=out)
    return 0 if all(r.ok for r in results) else 1


def _solution(args: argparse.Namespace, out: TextIO) -> int:
    exercise = _exercise(args.exercise)
    print(
        f"# Exercise {exercise.number}: {exercise.title} — the model answer "
        f"({exercise.rfc}, {exercise.url})",
        file=out,
    )
    print(workbook.solution_source(exercise), end="", file=out)
    return 0


def main(argv: list[str], *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run ``rawproto exercises``; returns the exit status (0, 1, or 2 on a usage error)."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    parser = _parser()
    args = parse(parser, argv)
    if isinstance(args, int):
        return args
    try:
        if args.command == "list":
            return _list(out)
        if args.command == "init":
            return _init(args, out)
        if args.command == "check":
            return _check(args, out)
        if args.command == "solution":
            return _solution(args, out)
    except UsageError as exc:
        print(f"{PROG} {args.command}: {exc}", file=err)
        return 2
    except KeyboardInterrupt:
        return 130
    parser.print_usage(err)
    print(f"{PROG}: choose a command: list, init, check or solution", file=err)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
