"""``make bench``: rawproto side by side with its peers, in one run.

For every scenario, every round starts a fresh server process per
implementation, pinned to CPU 0 (``taskset -c 0``), and a fresh load
generator pinned to CPU 1; the implementations take turns within a round,
in an order rotated from round to round (interleaved rounds). Each figure is
the median over rounds, and each ratio is the median of the per-round ratios
to the peer measured *in the same round*, so a colleague's test run loading
the machine for a while moves both sides of a ratio alike.

The ``trivial`` row is a hand-written canned-answer server: what the load
generator reaches against it is the generator's own ceiling. ``load CPU``
is the generator's share of its core over the measured window.

    python benchmarks/run.py                 # the full run (5 rounds x 5 s)
    python benchmarks/run.py --quick         # a short smoke run
    python benchmarks/run.py --scenario small --scenario http --rounds 3

Nothing here is asserted in ``make test``: timings are reported, not tested.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from load import cpu_busy, proc_cpu  # the same /proc readers as the generator

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SERVER_CPU, LOAD_CPU = "0", "1"


@dataclass
class Metric:
    key: str
    label: str
    higher_is_better: bool = True
    fmt: str = "{:,.0f}"


@dataclass
class Scenario:
    name: str
    title: str
    impls: list[str]
    peer: str
    metrics: list[Metric]
    #: (metric key, comparison, bound): the issue's targets, as ratios to the peer
    targets: list[tuple[str, str, float]] = field(default_factory=list)
    also_vs: str | None = None  # a second reference peer for the ratios


CPU = [
    Metric("load_cpu", "load CPU", False, "{:.0%}"),
    Metric("server_cpu", "server CPU", True, "{:.0%}"),
    Metric("others_cpu0", "others on CPU 0", False, "{:.0%}"),
]

SCENARIOS = {
    "small": Scenario(
        "small",
        "Small messages: 16-byte text echo, 50 connections, one in flight each",
        ["rawproto", "websockets", "aiohttp", "trivial", "engines"],
        "websockets",
        [
            Metric("msgs_per_s", "messages/s"),
            Metric("rtt_p50_ms", "RTT p50 ms", False, "{:.2f}"),
            Metric("rtt_p99_ms", "RTT p99 ms", False, "{:.2f}"),
            *CPU,
        ],
        [("msgs_per_s", ">=", 1.0)],
    ),
    "large": Scenario(
        "large",
        "Large messages: 1 MiB binary echo, 4 connections",
        ["rawproto", "websockets", "aiohttp", "trivial", "engines"],
        "websockets",
        [Metric("mb_per_s", "MB/s", True, "{:,.1f}"), *CPU],
        [("mb_per_s", ">=", 1.0)],
    ),
    "handshake": Scenario(
        "handshake",
        "Handshakes: connect, upgrade, closing handshake, TCP close (50 in parallel)",
        ["rawproto", "websockets", "aiohttp", "trivial", "engines"],
        "websockets",
        [Metric("handshakes_per_s", "handshakes/s"), Metric("failed", "failed", False), *CPU],
        [("handshakes_per_s", ">=", 1.0)],
    ),
    "memory": Scenario(
        "memory",
        "Idle memory: server RSS growth per open WebSocket, heartbeat on",
        ["rawproto", "websockets", "aiohttp"],
        "websockets",
        [
            Metric("kib_per_conn_1000", "KiB/conn @1k", False, "{:.1f}"),
            Metric("kib_per_conn_5000", "KiB/conn @5k", False, "{:.1f}"),
            Metric("kib_per_conn_10000", "KiB/conn @10k", False, "{:.1f}"),
            Metric("open", "still open", True),
        ],
        [
            ("kib_per_conn_1000", "<=", 0.6),
            ("kib_per_conn_5000", "<=", 0.6),
            ("kib_per_conn_10000", "<=", 0.6),
        ],
    ),
    "broadcast": Scenario(
        "broadcast",
        "Broadcast fan-out: 1,000 clients, one update every 10 ms for 5 s",
        ["rawproto", "websockets", "aiohttp", "trivial"],
        "websockets",
        [
            Metric("p50_ms", "latency p50 ms", False, "{:.2f}"),
            Metric("p99_ms", "latency p99 ms", False, "{:.2f}"),
            Metric("delivered", "delivered", True, "{:.1%}"),
            Metric("ticks_took_s", "ticks took s", False, "{:.2f}"),
            Metric("schedule_kept", "schedule kept", True, "{:.0%}"),
            *CPU,
        ],
        [("p99_ms", "<=", 1.0)],
    ),
    "http": Scenario(
        "http",
        "HTTP keep-alive GET: wrk, 50 connections",
        ["rawproto", "aiohttp", "uvicorn", "trivial", "engines"],
        "uvicorn",
        [
            Metric("requests_per_s", "requests/s"),
            Metric("p99_ms", "p99 ms", False, "{:.2f}"),
            Metric("errors", "errors", False),
            *CPU,
        ],
        [("requests_per_s", ">=", 1.5)],
        also_vs="aiohttp",
    ),
}


# --- one measurement -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError("server did not listen in time")


#: What the two reference rows are (see benchmarks/README.md).
LABELS = {
    "trivial": " (generator ceiling)",
    "engines": " (h11 + wsproto alone: engine ceiling)",
}


def wrk_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def run_wrk(port: int, server_pid: int, duration: float) -> dict[str, float]:
    cmd = ["taskset", "-c", LOAD_CPU, "wrk", "-t1", "-c50", f"-d{duration:g}s", "--latency"]
    url = f"http://127.0.0.1:{port}/"
    if duration >= 2:  # a short warm-up, not measured
        subprocess.run([*cmd[:5], "-d1s", url], capture_output=True, timeout=30, check=False)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    s0, t0, b0 = proc_cpu(server_pid), time.monotonic(), cpu_busy("cpu0")
    out = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=duration + 30)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    text = out.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    p99 = wrk_ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"(?:errors|responses):.*?(\d+)", text))
    load = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / wall
    server = (proc_cpu(server_pid) - s0) / wall
    return {
        "requests_per_s": rps,
        "p99_ms": p99,
        "errors": errors,
        "load_cpu": load,
        "server_cpu": server,
        "others_cpu0": max(0.0, (cpu_busy("cpu0") - b0) / wall - server),
    }


def measure(scenario: str, impl: str, opts: argparse.Namespace) -> dict[str, float]:
    """Start a fresh server (CPU 0), load it (CPU 1), stop the server by its pid."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), BENCH_TICKS=str(opts.ticks))
    log = (HERE / "results" / f"server-{impl}-{scenario}.log").open("wb")
    server = subprocess.Popen(
        ["taskset", "-c", SERVER_CPU, sys.executable, str(HERE / "servers.py"), impl, str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_listening(port, server)
        time.sleep(0.2)
        if scenario == "http":
            return run_wrk(port, server.pid, opts.duration)
        cmd = [
            "taskset", "-c", LOAD_CPU, sys.executable, str(HERE / "load.py"),
            scenario, str(port), str(server.pid),
            "--duration", str(opts.duration), "--warmup", str(opts.warmup),
            "--levels", ",".join(map(str, opts.levels)),
        ]  # fmt: skip
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
        if out.returncode != 0:
            raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr else "load failed")
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))
    finally:
        server.terminate()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
        log.close()


# --- rounds, medians, ratios -------------------------------------------------------


def median(values: list[float]) -> float:
    values = [v for v in values if v == v]  # drop NaN
    return statistics.median(values) if values else float("nan")


def run_scenario(sc: Scenario, opts: argparse.Namespace) -> dict[str, list[dict[str, float]]]:
    impls = [i for i in sc.impls if not opts.impl or i in opts.impl or i in (sc.peer, sc.also_vs)]
    rounds: dict[str, list[dict[str, float]]] = {impl: [] for impl in impls}
    for r in range(opts.rounds):
        order = impls[r % len(impls) :] + impls[: r % len(impls)]
        for impl in order:
            t0 = time.monotonic()
            try:
                result = measure(sc.name, impl, opts)
            except Exception as exc:  # report, keep going: one failure is not the run
                print(f"  {sc.name} round {r + 1} {impl}: FAILED {exc}", flush=True)
                result = {"failed_run": 1.0}
            result["round"] = r
            rounds[impl].append(result)
            main_key = sc.metrics[0].key
            shown = result.get(main_key, float("nan"))
            print(
                f"  {sc.name} round {r + 1}/{opts.rounds} {impl:<10} {main_key}={shown:,.2f}"
                f"  ({time.monotonic() - t0:.1f} s)",
                flush=True,
            )
    return rounds


def ratio_medians(
    rounds: dict[str, list[dict[str, float]]], impl: str, peer: str, key: str
) -> float:
    ratios = []
    for mine, theirs in zip(rounds[impl], rounds[peer], strict=True):
        a, b = mine.get(key, float("nan")), theirs.get(key, float("nan"))
        if b:
            ratios.append(a / b)
    return median(ratios)


def render(results: dict[str, dict[str, list[dict[str, float]]]], opts: argparse.Namespace) -> str:
    lines: list[str] = []
    verdicts: list[str] = []
    for name, rounds in results.items():
        sc = SCENARIOS[name]
        lines += [f"### {sc.title}", ""]
        ref = [sc.peer] + ([sc.also_vs] if sc.also_vs else [])
        ratio_keys = [k for k, _, _ in sc.targets] or [sc.metrics[0].key]
        head = ["server"] + [m.label for m in sc.metrics]
        head += [f"{k} ÷ {p}" for p in ref for k in ratio_keys]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for impl in rounds:
            row = [impl + LABELS.get(impl, "")]
            for m in sc.metrics:
                v = median([float(x.get(m.key, float("nan"))) for x in rounds[impl]])
                row.append(m.fmt.format(v) if v == v else "–")
            for p in ref:
                for k in ratio_keys:
                    row.append(f"{ratio_medians(rounds, impl, p, k):.2f}×")
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
        for key, op, bound in sc.targets:
            r = ratio_medians(rounds, "rawproto", sc.peer, key)
            met = r >= bound if op == ">=" else r <= bound
            verdict = "yes" if met else "NO"
            verdicts.append(f"| {name} | {key} ÷ {sc.peer} {op} {bound:g} | {r:.2f}× | {verdict} |")
        if name == "broadcast":
            if opts.floor:
                lines += [
                    "The schedule's floor on this machine (`sendfloor.py`: bare `send()`s,",
                    "no event loop, the reader on CPU 1):",
                    "",
                    "    " + opts.floor.replace("\n", "\n    "),
                    "",
                ]
            raw = rounds["rawproto"]
            ok = all(x.get("delivered", 0) >= 1.0 and x.get("schedule_kept") for x in raw)
            verdicts.append(
                f"| broadcast | 100 % delivered, schedule kept (every round) | "
                f"{median([x.get('delivered', 0) for x in raw]):.1%}, "
                f"{median([x.get('ticks_took_s', float('nan')) for x in raw]):.2f} s "
                f"| {'yes' if ok else 'NO'} |"
            )
    out = ["| scenario | target | rawproto | met |", "|---|---|---|---|", *verdicts, "", *lines]
    return "\n".join(out)


def machine() -> str:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = []
    for pkg in ("h11", "wsproto", "websockets", "aiohttp", "uvicorn"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            versions.append(f"{pkg} {version(pkg)}")
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return (
        f"{os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}, "
        f"Python {platform.python_version()}; {', '.join(versions)}; "
        f"{(wrk.stdout or wrk.stderr).split(' [')[0].strip()}; load average at start "
        f"{os.getloadavg()[0]:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument(
        "--scenario", action="append", choices=sorted(SCENARIOS), help="repeatable; default: all"
    )
    parser.add_argument(
        "--impl", action="append", help="only these (repeatable; each scenario's peer always runs)"
    )
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--duration", type=float, help="seconds measured per run")
    args = parser.parse_args()
    args.rounds = args.rounds or (1 if args.quick else 5)
    args.duration = args.duration or (1.0 if args.quick else 5.0)
    args.warmup = 0.3 if args.quick else 1.0
    args.levels = [1000] if args.quick else [1000, 5000, 10000]
    args.ticks = 100 if args.quick else 500
    for tool in ("taskset", "wrk"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: apt-get install util-linux wrk")
    if (os.cpu_count() or 1) < 2:
        sys.exit("needs 2 CPUs: the server on CPU 0, the load generator on CPU 1")
    (HERE / "results").mkdir(exist_ok=True)
    names = args.scenario or list(SCENARIOS)
    info = machine()
    print(info, flush=True)
    started = time.time()
    results = {}
    args.floor = ""
    if "broadcast" in names:
        # What 1,000 bare send()s per tick cost here: the schedule's floor.
        floor = subprocess.run(
            [sys.executable, str(HERE / "sendfloor.py"), "--ticks", str(args.ticks)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        args.floor = floor.stdout.strip() or f"sendfloor.py failed: {floor.stderr.strip()[-200:]}"
        print(args.floor, flush=True)
    for name in names:
        results[name] = run_scenario(SCENARIOS[name], args)
    table = render(results, args)
    how = (
        f"{args.rounds} interleaved round(s), {args.duration:g} s measured per run "
        f"(+{args.warmup:g} s warm-up), {time.time() - started:.0f} s in all"
    )
    print("\n" + table + "\n\n" + how)
    stamp = time.strftime("%Y-%m-%d %H:%M")
    (HERE / "results" / "latest.md").write_text(f"{stamp}\n\n{info}\n\n{how}\n\n{table}\n")
    (HERE / "results" / "latest.json").write_text(
        json.dumps({"machine": info, "how": how, "results": results}, indent=1)
    )


if __name__ == "__main__":
    main()
