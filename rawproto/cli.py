"""The ``rawproto`` command: argument parsing and printing only, no protocol logic.

Exit status: 0 success, 1 a network or protocol failure, 2 a usage error.
Every failure is one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import signal
import sys
from collections.abc import Sequence

from rawproto import __version__
from rawproto.cliargs import port, positive
from rawproto.core import limits as L
from rawproto.core.errors import HandshakeFailed
from rawproto.core.limits import Limits
from rawproto.core.trace import WireRecord


class CliError(Exception):
    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rawproto",
        description="See HTTP/1.1 and WebSocket on the wire, byte by byte.",
    )
    p.add_argument("--version", action="version", version=f"rawproto {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("serve", help="HTTP + WebSocket echo server")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=port, default=8080, help="0 picks a free port")
    s.add_argument(
        "--max-message-size",
        type=positive(int),
        default=L.MAX_MESSAGE_SIZE,
        metavar="N",
        help=f"bytes (default {L.MAX_MESSAGE_SIZE}); over it: close 1009",
    )
    s.add_argument(
        "--ping-interval",
        type=positive(float),
        default=L.PING_INTERVAL,
        metavar="S",
        help=f"seconds between heartbeat pings (default {L.PING_INTERVAL:g})",
    )
    s.add_argument(
        "--ping-timeout",
        type=positive(float),
        default=L.PING_TIMEOUT,
        metavar="S",
        help=f"seconds to wait for a pong (default {L.PING_TIMEOUT:g})",
    )
    s.add_argument(
        "--origin",
        action="append",
        metavar="ORIGIN",
        help="allowed Origin (repeat); others get 403",
    )
    s.add_argument("--trace", action="store_true", help="one line per frame")

    g = sub.add_parser("get", help="HTTP GET, like curl -v")
    g.add_argument("url")
    g.add_argument("--trace", action="store_true", help="show request and response heads")

    c = sub.add_parser("connect", help="WebSocket client, like wscat")
    c.add_argument("url")
    c.add_argument(
        "--send",
        action="append",
        metavar="TEXT",
        help="send TEXT (repeat), print the replies and close",
    )
    c.add_argument("--trace", action="store_true", help="one line per frame")
    c.add_argument(
        "--wait",
        type=positive(float),
        default=2.0,
        metavar="S",
        help="with --send: seconds to wait for each reply (default 2)",
    )

    sub.add_parser("explain", help="explain bytes given as hex", add_help=False)
    for name, text in [
        ("tour", "the narrated walk through both protocols (the main job)"),
        ("capture", "write or check the annotated pcapng captures"),
        ("dashboard", "polling vs long polling vs WebSocket, live in a browser"),
        ("compare", "measure polling against WebSocket from the command line"),
        ("exercises", "the workbook: init, check, solution"),
    ]:
        sub.add_parser(name, help=text, add_help=False)
    return p


#: command → (module, function taking argv and returning the exit status)
DELEGATED = {
    "explain": ("rawproto.explain.cli", "main"),
    "tour": ("rawproto.tour", "main"),
    "capture": ("rawproto.capture.cli", "main"),
    "dashboard": ("rawproto.dashboard.cli", "main_dashboard"),
    "compare": ("rawproto.dashboard.cli", "main_compare"),
    "exercises": ("rawproto.exercises.cli", "main"),
}


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    # These commands parse their own options, in their own modules.
    if args_list[:1] and args_list[0] in DELEGATED:
        module_name, function = DELEGATED[args_list[0]]
        module = importlib.import_module(module_name)
        status: int = getattr(module, function)(args_list[1:])
        return status
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command == "serve":
            return asyncio.run(_serve(args))
        if args.command == "get":
            return asyncio.run(_get(args))
        if args.command == "connect":
            return asyncio.run(_connect(args))
    except CliError as exc:
        print(f"rawproto {args.command}: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        return 130
    parser.error(f"unknown command {args.command}")
    return 2


def _usage_or_network(exc: BaseException) -> CliError:
    from rawproto.aio.client import UsageError

    if isinstance(exc, UsageError):
        return CliError(str(exc), 2)
    if isinstance(exc, HandshakeFailed):
        return CliError(f"handshake refused: {exc.reason}", 1)
    if isinstance(exc, TimeoutError):
        return CliError("timed out", 1)
    return CliError(str(exc) or type(exc).__name__, 1)


# --- serve -------------------------------------------------------------------


async def _serve(args: argparse.Namespace) -> int:
    from rawproto.aio.server import ServerOptions, serve
    from rawproto.app import demo_router

    limits = Limits(
        max_message_size=args.max_message_size,
        ping_interval=args.ping_interval,
        ping_timeout=args.ping_timeout,
    )
    trace = (lambda line: print(line, flush=True)) if args.trace else None
    options = ServerOptions(limits=limits, origins=args.origin, trace=trace)
    try:
        server = await serve(demo_router(), args.host, args.port, options)
    except OSError as exc:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    print(
        f"rawproto serving on http://{args.host}:{server.port}/ "
        f"(WebSocket: ws://{args.host}:{server.port}/echo) — Ctrl-C to stop",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    print("shutting down: closing WebSockets with 1001", file=sys.stderr, flush=True)
    await server.shutdown()
    return 0


# --- get ---------------------------------------------------------------------


class _HeadPrinter:
    """curl -v style: each HTTP head on the wire, prefixed > or <.

    The heads come from the wire record through the explainer (which finds a
    head even when it spans several reads), not from splitting bytes here.
    """

    def __init__(self) -> None:
        from rawproto.explain.conn import ConnectionExplainer

        self.explainer = ConnectionExplainer()

    def __call__(self, record: WireRecord) -> None:
        from rawproto.explain.http import ExplainedHead

        arrow = ">" if record.direction == "send" else "<"
        for item in self.explainer.feed(record).items:
            if isinstance(item, ExplainedHead):
                for line in [item.start_line, *(f"{h.name}: {h.value}" for h in item.headers)]:
                    print(f"{arrow} {line}", file=sys.stderr)
                print(arrow, file=sys.stderr)


async def _get(args: argparse.Namespace) -> int:
    from rawproto.aio.client import request

    try:
        result = await request(args.url, tap=_HeadPrinter() if args.trace else None)
    except Exception as exc:  # every failure becomes one line
        raise _usage_or_network(exc) from None
    sys.stdout.buffer.write(result.body)
    sys.stdout.flush()
    if result.status >= 400:
        print(f"rawproto get: the server answered {result.status} {result.reason}", file=sys.stderr)
        return 1
    return 0


# --- connect -----------------------------------------------------------------


async def _connect(args: argparse.Namespace) -> int:
    from rawproto.aio.client import connect
    from rawproto.aio.websocket import ConnectionClosed

    trace = (lambda line: print(line, flush=True)) if args.trace else None
    try:
        ws = await connect(args.url, trace=trace)
    except Exception as exc:
        raise _usage_or_network(exc) from None

    def show(message: str | bytes) -> None:
        if not args.trace:
            print(
                message if isinstance(message, str) else f"<binary {message.hex(' ')}>", flush=True
            )

    if args.send:
        try:
            for text in args.send:
                await ws.send(text)
                async with asyncio.timeout(args.wait):
                    show(await ws.recv())
        except TimeoutError:
            print(f"rawproto connect: no reply within {args.wait:g} s", file=sys.stderr)
        except ConnectionClosed as exc:
            raise CliError(f"connection closed: {exc.code} {exc.reason}") from None
        await ws.close(1000)
        return 0

    async def printer() -> None:
        async for message in ws:
            show(message)

    printing = asyncio.create_task(printer())
    loop = asyncio.get_running_loop()
    try:
        while ws.open:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            line = line.rstrip("\n")
            try:
                if line == "/ping":
                    rtt = await ws.ping()
                    print(f"pong after {rtt * 1000:.2f} ms", flush=True)
                elif line.startswith("/close"):
                    parts = line.split(maxsplit=2)
                    code = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 1000
                    await ws.close(code, parts[2] if len(parts) > 2 else "")
                    break
                else:
                    await ws.send(line)
            except ConnectionClosed:
                break
    finally:
        if ws.open:
            await ws.close(1000)
        await printing
    print(f"closed: {ws.close_code} {ws.close_reason}".rstrip(), file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
