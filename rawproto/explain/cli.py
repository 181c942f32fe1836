"""``rawproto explain``: paste bytes, see every field and every rule.

A learner finds here the command behind::

    rawproto explain 81 85 37 fa 21 3d 7f 9f 4d 51 58
    echo '81 05 48 65 6c 6c 6f' | rawproto explain - --from server
    rawproto explain --http 48 54 54 50 2f 31 2e 31 20 32 30 34 ...

Hex may be written with spaces, ``0x`` prefixes, ``\\x`` escapes or colons
(as Wireshark copies it). Without ``--from``, a masked first frame is taken
to come from the client and an unmasked one from the server (RFC 6455 §5.1:
clients mask, servers don't). With ``--http`` the bytes are an HTTP/1.1
message; after a ``101`` response the rest is read as frames.

Bad input gives one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import TextIO

from rawproto.cliargs import parse
from rawproto.core.trace import Role, WireRecord
from rawproto.explain.conn import ConnectionExplainer
from rawproto.explain.views import explained, json_lines, use_color

__all__ = ["main", "parse_hex"]

PROG = "rawproto explain"


class InputError(ValueError):
    """Input we cannot explain; the message is shown to the user as is."""


def parse_hex(text: str) -> bytes:
    """``"81 85 0x37 \\\\xfa 21:3d"`` → bytes. :class:`InputError` if not hex."""
    cleaned = re.sub(r"\\x|0[xX]", " ", text)
    tokens = [t for t in re.split(r"[\s:,;-]+", cleaned) if t]
    out = bytearray()
    for token in tokens:
        if not re.fullmatch(r"[0-9A-Fa-f]+", token):
            raise InputError(f"invalid hex: {token[:20]!r}")
        if len(token) % 2:
            raise InputError(f"invalid hex: {token[:20]!r} has an odd number of digits")
        out += bytes.fromhex(token)
    if not out:
        raise InputError("no bytes given (hex as arguments, or - for stdin)")
    return bytes(out)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Explain WebSocket frames (or, with --http, an HTTP/1.1 message) byte by byte.",
    )
    p.add_argument("hex", nargs="*", help="bytes in hex, or - to read hex text from stdin")
    p.add_argument(
        "--from",
        dest="sender",
        choices=("client", "server"),
        help="who sent the bytes (default: masked = client, unmasked = server)",
    )
    p.add_argument("--http", action="store_true", help="the bytes are HTTP/1.1")
    p.add_argument("--json", action="store_true", help="JSON lines instead of tables")
    return p


def main(
    argv: list[str],
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run ``rawproto explain``; returns the exit status (0, or 2 on bad input)."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    args = parse(_parser(), argv)
    if isinstance(args, int):
        return args
    try:
        text = stdin.read() if args.hex == ["-"] else " ".join(args.hex)
        data = parse_hex(text)
    except InputError as exc:
        print(f"{PROG}: {exc}", file=stderr)
        return 2

    sender = args.sender
    assumed = ""
    if sender is None:
        if args.http:
            sender = "server" if data.startswith(b"HTTP/") else "client"
            assumed = f"{sender}: it is a {'response' if sender == 'server' else 'request'}"
        else:
            masked = len(data) > 1 and bool(data[1] & 0x80)
            sender = "client" if masked else "server"
            assumed = f"{sender}: the first frame is {'masked' if masked else 'not masked'}"
    # One record as the receiving endpoint saw it, then the end of the stream.
    receiver: Role = "server" if sender == "client" else "client"
    record = WireRecord(conn=0, role=receiver, direction="recv", kind="data", data=data)
    explainer = ConnectionExplainer("http" if args.http else "websocket")
    result = [explainer.feed(record)]
    needs = explainer.needs(sender == "client")

    if args.json:
        lines = json_lines(result)
    else:
        lines = explained(result, color=use_color(stdout))
        if assumed:
            lines.insert(0, f"(assumed from the {assumed}; --from to change)")
    for line in lines:
        print(line, file=stdout)
    if needs:
        what = "HTTP message" if args.http and explainer.phase == "http" else "frame"
        print(f"{PROG}: truncated {what}: {needs}", file=stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
