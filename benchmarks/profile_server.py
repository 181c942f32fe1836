"""Profile one benchmark server under load: where does rawproto spend its time?

    python benchmarks/profile_server.py small          # cProfile, top functions
    python benchmarks/profile_server.py large --top 40
    python benchmarks/profile_server.py small --py-spy # sampling (needs py-spy)

The server runs pinned to CPU 0 under cProfile (or py-spy) for the load
generator's run (pinned to CPU 1), then prints the functions by inclusive
and by own time. cProfile inflates the cost of small calls; py-spy does not,
but needs ptrace rights. Use both, believe what they agree on.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def serve_profiled(impl: str, port: int, seconds: float, out: str) -> None:
    """(child) Run one server under cProfile for ``seconds``, then dump the stats."""
    import servers

    servers.raise_fd_limit()
    runner = getattr(servers, f"run_{impl}")

    async def bounded() -> None:
        try:
            await asyncio.wait_for(runner(port), seconds)
        except TimeoutError:
            pass

    profiler = cProfile.Profile()
    profiler.enable()
    asyncio.run(bounded())
    profiler.disable()
    profiler.dump_stats(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=["small", "large", "handshake", "broadcast", "http"])
    parser.add_argument("--impl", default="rawproto")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--py-spy", action="store_true", help="sample with py-spy instead")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE.parent))
    import run

    port = run.free_port()
    out = HERE / "results" / f"profile-{args.impl}-{args.scenario}"
    out.parent.mkdir(exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(HERE.parent), BENCH_TICKS="500")
    lifetime = args.duration + 12.0
    pin = ["taskset", "-c", run.SERVER_CPU]
    if args.py_spy:
        cmd = [*pin, sys.executable, str(HERE / "servers.py"), args.impl, str(port)]
    else:
        code = (
            "import sys; sys.path.insert(0, sys.argv[1]); import profile_server as p; "
            "p.serve_profiled(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5])"
        )
        cmd = [*pin, sys.executable, "-c", code, str(HERE), args.impl, str(port), str(lifetime)]
        cmd.append(str(out) + ".prof")
    py_spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if args.py_spy and py_spy is None:
        sys.exit("profile_server: py-spy not found (pip install py-spy)")
    server = subprocess.Popen(cmd, env=env)
    spy = None
    t0 = time.monotonic()
    try:
        run.wait_listening(port, server)
        if args.py_spy:
            spy = subprocess.Popen(
                [py_spy, "record", "--pid", str(server.pid), "--format", "raw", "--nonblocking",
                 "--rate", "400", "-o", str(out) + ".txt",
                 "--duration", str(int(args.duration + 2))],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        if args.scenario == "http":
            print(run.run_wrk(port, server.pid, args.duration))
        else:
            load = [
                "taskset", "-c", run.LOAD_CPU, sys.executable, str(HERE / "load.py"),
                args.scenario, str(port), str(server.pid), "--duration", str(args.duration),
            ]  # fmt: skip
            result = subprocess.run(load, env=env, capture_output=True, text=True, timeout=120)
            print(result.stdout.strip() or result.stderr.strip()[-500:])
        if spy is not None:
            spy.wait(30)
    finally:
        if args.py_spy:
            server.terminate()
        server.wait(max(5.0, lifetime - (time.monotonic() - t0) + 5))
    if args.py_spy:
        print_collapsed(Path(str(out) + ".txt"), args.top)
    else:
        stats = pstats.Stats(str(out) + ".prof")
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)


def print_collapsed(path: Path, top: int) -> None:
    """py-spy's raw (collapsed) stacks → % of samples per function, own and inclusive."""
    own: dict[str, int] = {}
    incl: dict[str, int] = {}
    inside: dict[str, int] = {}  # samples with the library anywhere on the stack
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = [f.split(" (")[0] + " " + f.split(" (")[-1].split(":")[0].rstrip(")")
                  for f in stack.split(";")]  # fmt: skip
        own[frames[-1]] = own.get(frames[-1], 0) + n
        for f in set(frames):
            incl[f] = incl.get(f, 0) + n
        for lib in {_library(f) for f in frames}:
            inside[lib] = inside.get(lib, 0) + n
    for title, table in (("inclusive", incl), ("own", own)):
        print(f"\n{title} % of {total} samples")
        for name, n in sorted(table.items(), key=lambda kv: -kv[1])[:top]:
            print(f"{100 * n / total:6.1f}%  {name}")
    # Own time by where the code lives: which library would a fix go into?
    where: dict[str, int] = {}
    for name, n in own.items():
        lib = _library(name)
        where[lib] = where.get(lib, 0) + n
    print(f"\nown % of {total} samples, by library")
    for lib, n in sorted(where.items(), key=lambda kv: -kv[1]):
        print(f"{100 * n / total:6.1f}%  {lib}")
    # Inside a library: its own code and all it calls (an engine's whole cost).
    print(f"\n% of {total} samples spent inside each library (it and what it calls)")
    for lib in ("h11/", "wsproto/", "rawproto/"):
        print(f"{100 * inside.get(lib, 0) / total:6.1f}%  {lib}")


def _library(frame: str) -> str:
    path = frame.rpartition(" ")[2]
    return next((k for k in LIBRARIES if k in path), "other (C calls: send, recv, epoll...)")


LIBRARIES = ("wsproto/", "h11/", "rawproto/", "asyncio/", "selectors", "servers.py", "websockets/")


if __name__ == "__main__":
    main()
