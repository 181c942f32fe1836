"""``rawproto capture``: write or check the annotated captures, or sniff live.

    rawproto capture --out captures/          regenerate the committed set
    rawproto capture --check [--dir DIR]      exit 1 naming every stale file
    rawproto capture --only 07 --out /tmp/c   one scenario
    rawproto capture --live --port N -o FILE.pcapng [--duration S]

Exit status: 0 success, 1 stale captures or a failure, 2 a usage error or
no permission to capture live.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from rawproto.cliargs import parse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rawproto capture",
        description="Annotated pcapng captures of every protocol step (open them in Wireshark).",
    )
    p.add_argument("--out", metavar="DIR", help="write the captures, their .md and README.md")
    p.add_argument(
        "--check",
        action="store_true",
        help="regenerate in a temporary directory and compare with the committed files",
    )
    p.add_argument("--dir", metavar="DIR", help="with --check: the committed captures/ directory")
    p.add_argument("--only", action="append", metavar="NAME", help="one scenario (repeat): 07")
    p.add_argument("--list", action="store_true", help="list the scenarios")
    p.add_argument("--live", action="store_true", help="sniff real traffic on 127.0.0.1 (lo)")
    p.add_argument("--port", type=int, metavar="N", help="with --live: the TCP port to capture")
    p.add_argument("-o", "--output", metavar="FILE", help="with --live: the pcapng to write")
    p.add_argument("--duration", type=float, metavar="S", help="with --live: stop after S seconds")
    return p


def main(argv: Sequence[str]) -> int:
    parser = build_parser()
    args = parse(parser, argv)
    if isinstance(args, int):
        return args
    from rawproto.capture.scenarios import SCENARIOS, iter_scenarios

    if args.list:
        for s in SCENARIOS:
            print(f"{s.name:<40} {s.title}")
        return 0
    if args.live:
        return _live(args)
    if args.check:
        return _check(args)
    if args.out:
        from rawproto.capture.committed import generate

        try:
            chosen = list(iter_scenarios(args.only))
        except KeyError as exc:
            print(f"rawproto capture: no scenario {exc}", file=sys.stderr)
            return 2
        for path in asyncio.run(generate(Path(args.out), chosen)):
            print(path)
        return 0
    parser.print_usage(sys.stderr)
    print("rawproto capture: give --out DIR, --check or --live", file=sys.stderr)
    return 2


def _check(args: argparse.Namespace) -> int:
    from rawproto.capture.committed import find_captures_dir, stale

    committed = Path(args.dir) if args.dir else find_captures_dir()
    if committed is None or not committed.is_dir():
        print(
            "rawproto capture: no captures/ directory found (run at the repository root,"
            " or give --dir)",
            file=sys.stderr,
        )
        return 2
    bad = stale(committed)
    if bad:
        for name in bad:
            print(f"stale: {committed / name}", file=sys.stderr)
        print(
            f"rawproto capture: {len(bad)} stale file(s); regenerate with"
            f" `rawproto capture --out {committed}`",
            file=sys.stderr,
        )
        return 1
    print(f"captures up to date: {committed}")
    return 0


def _live(args: argparse.Namespace) -> int:
    if args.port is None or not 1 <= args.port <= 65535 or not args.output:
        print(
            "rawproto capture: --live needs --port N (1-65535) and -o FILE.pcapng", file=sys.stderr
        )
        return 2
    from rawproto.capture.live import LiveCapture, NoPermission, write_live

    try:
        cap = LiveCapture(args.port)
    except NoPermission as exc:
        print(f"rawproto capture: {exc}", file=sys.stderr)
        return 2
    cap.start()
    until = "Ctrl-C" if args.duration is None else f"{args.duration:g} s or Ctrl-C"
    print(f"capturing TCP port {args.port} on lo until {until}", file=sys.stderr, flush=True)
    try:
        if args.duration is None:
            while True:
                time.sleep(3600)
        else:
            time.sleep(args.duration)
    except KeyboardInterrupt:
        pass
    packets = cap.stop()
    try:
        write_live(args.output, packets, args.port)
    except OSError as exc:
        print(
            f"rawproto capture: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr
        )
        return 1
    print(f"{len(packets)} packets → {args.output}", file=sys.stderr)
    return 0
