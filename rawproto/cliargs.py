"""Argument types shared by every ``rawproto`` subcommand: one wording for each mistake."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence


def positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    """An argparse type: a number greater than 0 (``--max-message-size 0`` exits 2)."""

    def convert(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
        return value

    return convert


def port(text: str) -> int:
    """An argparse type: a TCP port, 0 to 65535 (0 lets the kernel pick a free one)."""
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0-65535)")
    return int(text)


def parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace | int:
    """Parse ``argv``, or return the exit status argparse chose.

    argparse prints the usage and a one-line error (or the help) itself and
    then raises ``SystemExit``; a subcommand returns that status instead of
    exiting, so ``rawproto`` stays one function call from top to bottom.
    """
    try:
        return parser.parse_args(list(argv))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
