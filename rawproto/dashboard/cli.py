"""``rawproto dashboard`` and ``rawproto compare``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Sequence

from rawproto.cliargs import port, positive
from rawproto.dashboard.app import FAULTS, Dashboard, Settings
from rawproto.dashboard.feed import FEEDS


def _fault(text: str) -> tuple[str, float]:
    """``KIND@T``: inject KIND T seconds after start (``KIND`` alone: at 10 s)."""
    kind, _, at = text.partition("@")
    if kind not in FAULTS:
        raise argparse.ArgumentTypeError(f"{kind!r}: choose from {', '.join(FAULTS)}")
    try:
        when = float(at) if at else 10.0
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected KIND@SECONDS") from None
    return kind, when


def dashboard_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rawproto dashboard",
        description="One live feed over short polling, long polling and WebSocket, "
        "side by side in your browser, with a fault lab.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=port, default=8080)
    p.add_argument(
        "--feed",
        choices=FEEDS,
        default="load",
        help="load: this machine's CPU %%; stocks: a seeded random walk",
    )
    p.add_argument(
        "--interval",
        type=positive(float),
        default=1.0,
        metavar="S",
        help="seconds between updates (default 1)",
    )
    p.add_argument("--seed", type=int, default=5, help="the stocks feed's random seed")
    p.add_argument("--ping-interval", type=positive(float), default=5.0, metavar="S")
    p.add_argument("--ping-timeout", type=positive(float), default=5.0, metavar="S")
    p.add_argument(
        "--silence",
        type=positive(float),
        default=3.5,
        metavar="S",
        help="the page's silence timeout on the WebSocket (default 3.5)",
    )
    p.add_argument("--long-poll-timeout", type=positive(float), default=10.0, metavar="S")
    p.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="KIND@T",
        help=f"inject KIND ({', '.join(FAULTS)}) T seconds after start (repeat)",
    )
    p.add_argument("--hiccup-seconds", type=positive(float), default=3.0, metavar="S")
    p.add_argument(
        "--down-seconds",
        type=float,
        default=2.0,
        metavar="S",
        help="how long a restart refuses connections",
    )
    p.add_argument(
        "--idle-kill",
        type=positive(float),
        default=5.0,
        metavar="N",
        help="the idle-kill fault cuts connections idle longer than N s",
    )
    p.add_argument(
        "--duration",
        type=positive(float),
        default=None,
        metavar="S",
        help="stop after S seconds (default: run until Ctrl-C)",
    )
    return p


async def _run_dashboard(args: argparse.Namespace) -> int:
    settings = Settings(
        feed=args.feed,
        interval=args.interval,
        seed=args.seed,
        ping_interval=args.ping_interval,
        ping_timeout=args.ping_timeout,
        silence=args.silence,
        long_poll_timeout=args.long_poll_timeout,
        hiccup_seconds=args.hiccup_seconds,
        down_seconds=args.down_seconds,
        idle_kill=args.idle_kill,
        poll_every_ms=max(50, int(args.interval * 1000)),
    )
    dash = Dashboard(settings)
    try:
        port = await dash.start(args.host, args.port)
    except OSError as exc:
        print(
            f"rawproto dashboard: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1
    print(
        f"rawproto dashboard: http://{args.host}:{port}/  (feed {settings.feed}, "
        f"every {settings.interval:g} s; Ctrl-C stops)",
        flush=True,
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        for kind, at in sorted(args.fault, key=lambda f: f[1]):
            await asyncio.sleep(max(0.0, started + at - loop.time()))
            event = await dash.inject(kind)
            print(f"fault: {event.kind} ({event.affected} connections affected)", flush=True)
        if args.duration is not None:
            await asyncio.sleep(max(0.0, started + args.duration - loop.time()))
        else:
            await asyncio.Event().wait()
    finally:
        await dash.stop()
    return 0


def main_dashboard(argv: Sequence[str]) -> int:
    args = dashboard_parser().parse_args(list(argv))
    try:
        return asyncio.run(_run_dashboard(args))
    except KeyboardInterrupt:
        return 130


def compare_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rawproto compare",
        description="Short polling, long polling and WebSocket against one feed on "
        "127.0.0.1, measured: delivered, lost, latency, requests, bytes per update, "
        "and (with --faults) the time to notice a dead peer.",
    )
    p.add_argument(
        "--duration",
        type=positive(float),
        default=5.0,
        metavar="S",
        help="seconds of steady traffic (default 5)",
    )
    p.add_argument(
        "--interval",
        type=positive(float),
        default=0.2,
        metavar="S",
        help="seconds between updates; short polls ask this often (default 0.2)",
    )
    p.add_argument(
        "--clients",
        type=positive(int),
        default=1,
        metavar="N",
        help="clients per transport (default 1)",
    )
    p.add_argument(
        "--faults",
        action="store_true",
        help="then inject restart, blackhole and idle-kill, and measure",
    )
    p.add_argument(
        "--ping-interval",
        type=positive(float),
        default=0.5,
        metavar="S",
        help="WebSocket heartbeat, both sides (default 0.5, short to keep the run short)",
    )
    p.add_argument("--ping-timeout", type=positive(float), default=0.5, metavar="S")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--plot", metavar="FILE", help="write a chart (.png or .svg; needs matplotlib)")
    return p


def main_compare(argv: Sequence[str]) -> int:
    from rawproto.dashboard import compare

    args = compare_parser().parse_args(list(argv))
    if args.plot:
        problem = compare.plot_problem(args.plot)
        if problem:
            print(f"rawproto compare: {problem}", file=sys.stderr)
            return 2
    options = compare.Options(
        duration=args.duration,
        interval=args.interval,
        clients=args.clients,
        faults=args.faults,
        ping_interval=args.ping_interval,
        ping_timeout=args.ping_timeout,
    )
    try:
        result = asyncio.run(compare.run(options))
    except KeyboardInterrupt:
        return 130
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(compare.table(result))
    if args.plot:
        with contextlib.suppress(BrokenPipeError):
            compare.plot(result, args.plot)
            print(f"chart written to {args.plot}", file=sys.stderr)
    return 0
