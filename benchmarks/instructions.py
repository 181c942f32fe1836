"""Instructions per operation, counted under valgrind: A/B without the noise.

    python benchmarks/instructions.py                     # handshake, small, broadcast
    python benchmarks/instructions.py handshake --impl rawproto --impl engines
    python benchmarks/instructions.py small --tree ../other-checkout   # A/B two trees

On this shared VM a timed figure moves by 10-30 % between runs, so a change
worth 3 % cannot be seen with ``run.py``. The number of CPU instructions an
operation takes does not move: this script runs the client and the server in
one process, on one event loop, over real sockets on 127.0.0.1, under
``valgrind --tool=cachegrind --cache-sim=no``, twice — with N and with 3N
operations — and divides the difference by 2N (start-up and imports cancel
out). Repeated runs agree to within ~0.1 % (broadcast: ~3 %, as the loop
batches reads differently).

What it counts: user-space instructions of the whole process — the client's
share included, the same for every server, so compare rows, not absolutes.
What it misses: time in the kernel (system calls: ``strace -c`` shows those)
and cache misses. It is a guide for A/B between runs of ``run.py``, never
its replacement. Needs valgrind (Debian package ``valgrind``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

CLIENTS = 1000  #: broadcast: clients per message

#: (operations in the short run, in the long run) per scenario
COUNTS = {"handshake": (200, 600), "small": (1000, 3000), "broadcast": (20, 60)}
UNITS = {
    "handshake": "k instructions per handshake",
    "small": "k instructions per 16-byte echo",
    "broadcast": "k instructions per client per broadcast (1,000 clients)",
}
IMPLS = {
    "handshake": ("rawproto", "websockets", "engines", "trivial"),
    "small": ("rawproto", "websockets", "engines", "trivial"),
    "broadcast": ("rawproto", "websockets", "trivial"),
}


# --- the workload (runs inside valgrind) -------------------------------------


async def start_server(impl: str) -> tuple[int, object]:
    """Start ``impl`` on this loop; returns (port, a broadcast function or None)."""
    import servers

    loop = asyncio.get_running_loop()
    if impl == "rawproto":
        from rawproto.aio import Router, ServerOptions, serve
        from rawproto.aio.websocket import broadcast
        from rawproto.app import demo_router
        from rawproto.core.limits import Limits

        router: Router = demo_router()

        async def quiet(ws: object) -> None:
            async for _ in ws:  # type: ignore[attr-defined]
                pass

        router.websocket("/bcast", quiet)
        server = await serve(
            router, "127.0.0.1", 0, ServerOptions(limits=Limits(max_connections=5000))
        )
        return server.port, lambda m: broadcast(server.websockets, m)
    if impl == "websockets":
        from websockets.asyncio.server import broadcast as ws_broadcast
        from websockets.asyncio.server import serve as ws_serve

        async def handler(ws: object) -> None:
            async for message in ws:  # type: ignore[attr-defined]
                if ws.request.path == "/echo":  # type: ignore[attr-defined]
                    await ws.send(message)  # type: ignore[attr-defined]

        server = await ws_serve(handler, "127.0.0.1", 0).__aenter__()

        async def send_all(message: str) -> None:
            ws_broadcast(server.connections, message)

        return server.sockets[0].getsockname()[1], send_all
    protocol = {"engines": servers.EnginesOnly, "trivial": servers.Trivial}[impl]
    raw = await loop.create_server(protocol, "127.0.0.1", 0, backlog=1024)

    async def write_all(message: str) -> None:  # the trivial server's broadcast
        data = servers.server_frame(1, message.encode())
        for client in list(servers.Trivial.clients):
            client.t.write(data)

    return raw.sockets[0].getsockname()[1], write_all


async def workload(scenario: str, impl: str, n: int) -> None:
    import load

    loop = asyncio.get_running_loop()
    port, send_all = await start_server(impl)

    async def connect(path: str, cls: type[load.Client] = load.Client) -> load.Client:
        _, proto = await loop.create_connection(
            lambda: cls(load.upgrade_request(port, path)), "127.0.0.1", port
        )
        await proto.opened
        return proto

    if scenario == "handshake":  # connect, upgrade, Close, TCP close; 10 at a time

        async def handshakes(k: int) -> None:
            for _ in range(k):
                proto = await connect("/echo")
                proto.t.write(load.CLOSE_1000)
                await proto.lost
                assert proto.close_received

        await asyncio.gather(*(handshakes(n // 10) for _ in range(10)))
    elif scenario == "small":  # 16-byte text echo over 10 connections

        class Echo(load.Client):
            got: asyncio.Future[None] | None = None

            def on_message(self, opcode: int, payload: bytes, now: float) -> None:
                if self.got is not None and not self.got.done():
                    self.got.set_result(None)

        message = load.client_frame(1, b"x" * 16)

        async def echoes(k: int) -> None:
            proto = await connect("/echo", Echo)
            for _ in range(k):
                proto.got = loop.create_future()
                proto.t.write(message)
                await proto.got
            proto.t.close()

        await asyncio.gather(*(echoes(n // 10) for _ in range(10)))
    else:  # broadcast: one message to 1,000 clients, n times (clients read in between)
        clients = [await connect("/bcast") for _ in range(CLIENTS)]
        await asyncio.sleep(0.2)
        for i in range(n):
            await send_all(f'{{"n": {i}, "payload": "0123456789abcdef"}}')  # type: ignore[operator]
            await asyncio.sleep(0.002)
        for client in clients:
            client.t.close()


def child(scenario: str, impl: str, n: int, tree: str) -> None:
    sys.path[:0] = [tree, str(HERE)]
    asyncio.run(workload(scenario, impl, n))


# --- the measurement ----------------------------------------------------------


def instructions(scenario: str, impl: str, n: int, tree: Path) -> int:
    code = "import sys; sys.path.insert(0, sys.argv[1]); import instructions as i; "
    code += "i.child(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])"
    cmd = [
        "valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
        sys.executable, "-c", code, str(HERE), scenario, impl, str(n), str(tree),
    ]  # fmt: skip
    env = dict(os.environ, PYTHONHASHSEED="0")
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    match = re.search(r"I\s+refs:\s+([\d,]+)", out.stderr)
    if out.returncode != 0 or match is None:
        tail = out.stderr.strip().splitlines()[-1:] or ["no output"]
        raise SystemExit(f"instructions: {impl} {scenario} failed: {tail[0]}")
    return int(match.group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenario", nargs="*", help=f"{', '.join(COUNTS)} (default: all)")
    parser.add_argument("--impl", action="append", help="repeatable; default: all for the scenario")
    parser.add_argument(
        "--tree", type=Path, action="append", help="a rawproto checkout to count (repeatable)"
    )
    args = parser.parse_args()
    for name in args.scenario:
        if name not in COUNTS:
            parser.error(f"no scenario {name!r} (choose from {', '.join(COUNTS)})")
    if shutil.which("valgrind") is None:
        raise SystemExit("instructions: valgrind not found (Debian package valgrind)")
    trees = args.tree or [ROOT]
    for scenario in args.scenario or list(COUNTS):
        short, long = COUNTS[scenario]
        print(f"\n{scenario}: {UNITS[scenario]} (client included: compare rows)")
        for impl in args.impl or IMPLS[scenario]:
            for tree in trees if impl == "rawproto" else [ROOT]:
                a = instructions(scenario, impl, short, tree)
                b = instructions(scenario, impl, long, tree)
                label = impl if len(trees) == 1 or impl != "rawproto" else f"{impl} ({tree})"
                per = (b - a) / (long - short) / (CLIENTS if scenario == "broadcast" else 1)
                print(f"  {label:30s} {per / 1000:8.1f}", flush=True)


if __name__ == "__main__":
    main()
