"""The load generator: ``python load.py SCENARIO PORT SERVER_PID [options]``.

Raw asyncio Protocols, not a WebSocket library: the client frames are
encoded (and masked, with a fixed key) once, replies are parsed just enough
to find frame boundaries, so the generator spends as little CPU per message
as it can. It prints one JSON object: the scenario's figures, plus its own
CPU use and the server's over the measured window (from /proc), which show
which side was the bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import resource
import time
from collections.abc import Callable

KEY = base64.b64encode(b"rawproto-bench!!").decode()
MASK = b"\x37\xfa\x21\x3d"  # RFC 6455 §5.7's example key: fixed, so frames are encoded once
CLK = os.sysconf("SC_CLK_TCK")


def client_frame(opcode: int, payload: bytes) -> bytes:
    """One masked client frame (RFC 6455 §5.2)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    k = int.from_bytes((MASK * (n // 4 + 1))[:n], "big")
    masked = (int.from_bytes(payload, "big") ^ k).to_bytes(n, "big") if n else b""
    return head + MASK + masked


def upgrade_request(port: int, path: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n"
        f"Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


CLOSE_1000 = client_frame(8, (1000).to_bytes(2, "big"))


class Client(asyncio.Protocol):
    """One WebSocket client connection; subclasses handle messages.

    ``on_message(opcode, payload, now)`` is called per complete data frame;
    with ``keep_payload = False`` large payloads are counted, never buffered.
    """

    keep_payload = True

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.buf = bytearray()
        self.is_open = False
        self.skip = 0  # payload bytes of the current frame still to skip
        self.skip_opcode = 0
        self.close_received = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t: asyncio.Transport = transport  # type: ignore[assignment]
        self.t.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("closed before the handshake"))
        if not self.lost.done():
            self.lost.set_result(None)

    def on_message(self, opcode: int, payload: bytes, now: float) -> None:
        pass

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        if self.skip:
            if len(data) <= self.skip:
                self.skip -= len(data)
                if not self.skip:
                    self.on_message(self.skip_opcode, b"", now)
                return
            data = data[self.skip :]
            self.skip = 0
            self.on_message(self.skip_opcode, b"", now)
        buf = self.buf
        buf += data
        if not self.is_open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.opened.set_exception(ConnectionError(bytes(buf[:40]).decode()))
                self.t.close()
                return
            del buf[: end + 4]
            self.is_open = True
            self.opened.set_result(None)
        while len(buf) >= 2:
            n = buf[1] & 0x7F
            pos = 2
            if n == 126:
                if len(buf) < 4:
                    return
                n, pos = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n, pos = int.from_bytes(buf[2:10], "big"), 10
            opcode = buf[0] & 0x0F
            if not self.keep_payload and opcode < 8 and len(buf) < pos + n:
                self.skip = pos + n - len(buf)
                self.skip_opcode = opcode
                buf.clear()
                return
            if len(buf) < pos + n:
                return
            payload = bytes(buf[pos : pos + n])
            del buf[: pos + n]
            if opcode == 9:  # a heartbeat ping: answer it (RFC 6455 §5.5.2)
                self.t.write(client_frame(10, payload))
            elif opcode == 8:
                self.close_received = True
            elif opcode != 10:
                self.on_message(opcode, payload, now)


async def connect(
    port: int, path: str, factory: Callable[[bytes], Client], sem: asyncio.Semaphore | None = None
) -> Client:
    loop = asyncio.get_running_loop()
    request = upgrade_request(port, path)
    for attempt in range(5):
        try:
            async with sem or contextlib.nullcontext():
                _, proto = await loop.create_connection(lambda: factory(request), "127.0.0.1", port)
                await asyncio.wait_for(proto.opened, 30)
            return proto
        except (OSError, TimeoutError):
            if attempt == 4:
                raise
            await asyncio.sleep(0.2)
    raise AssertionError("unreachable")


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used, from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK
    except OSError:
        return float("nan")


def cpu_busy(cpu: str) -> float:
    """Seconds CPU ``cpu`` ("cpu0") has spent busy since boot, whoever ran."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(cpu + " "):
                ticks = [int(x) for x in line.split()[1:]]
                return (sum(ticks[:8]) - ticks[3] - ticks[4]) / CLK  # less idle, iowait
    return float("nan")


class Meter:
    """CPU seconds of this process and of the server over a window, and how
    busy the server's core was with anything else (a colleague's test run)."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid

    def start(self) -> None:
        self.t0, self.c0, self.s0 = time.monotonic(), time.process_time(), proc_cpu(self.server_pid)
        self.b0 = cpu_busy("cpu0")

    def stop(self) -> dict[str, float]:
        wall = time.monotonic() - self.t0
        server = (proc_cpu(self.server_pid) - self.s0) / wall
        return {
            "seconds": wall,
            "load_cpu": (time.process_time() - self.c0) / wall,
            "server_cpu": server,
            "others_cpu0": max(0.0, (cpu_busy("cpu0") - self.b0) / wall - server),
        }


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


# --- scenarios ------------------------------------------------------------------


async def measured_window(args: argparse.Namespace, state: dict[str, bool]) -> dict[str, object]:
    """Warm up, measure for ``args.duration`` with ``state["measuring"]`` set, then stop.

    Returns the meter's figures (seconds, CPU); the scenario adds its own.
    """
    await asyncio.sleep(args.warmup)
    meter = Meter(args.server_pid)
    meter.start()
    state["measuring"] = True
    await asyncio.sleep(args.duration)
    state["measuring"] = False
    out: dict[str, object] = dict(meter.stop())
    state["running"] = False
    return out


async def small(args: argparse.Namespace) -> dict[str, object]:
    """16-byte text echo, 50 connections, one message in flight each."""
    frame = client_frame(1, b"0123456789abcdef")
    state = {"measuring": False, "running": True}
    rtts: list[float] = []

    class Echo(Client):
        sent = 0.0

        def go(self) -> None:
            self.sent = time.monotonic()
            self.t.write(frame)

        def on_message(self, opcode: int, payload: bytes, now: float) -> None:
            if state["measuring"]:
                rtts.append(now - self.sent)
            if state["running"]:
                self.sent = now
                self.t.write(frame)

    clients = [await connect(args.port, "/echo", Echo) for _ in range(args.connections or 50)]
    for c in clients:
        c.go()  # type: ignore[attr-defined]
    out = await measured_window(args, state)
    n = len(rtts)
    out.update(
        msgs_per_s=n / float(out["seconds"]),  # type: ignore[arg-type]
        rtt_p50_ms=pct(rtts, 50) * 1e3,
        rtt_p99_ms=pct(rtts, 99) * 1e3,
    )
    for c in clients:
        c.t.abort()
    return out


async def large(args: argparse.Namespace) -> dict[str, object]:
    """1 MiB binary echo, 4 connections, one message in flight each."""
    size = 1 << 20
    frame = client_frame(2, os.urandom(size))
    state = {"measuring": False, "running": True}
    done = [0]

    class Bulk(Client):
        keep_payload = False

        def on_message(self, opcode: int, payload: bytes, now: float) -> None:
            if state["measuring"]:
                done[0] += 1
            if state["running"]:
                self.t.write(frame)

    clients = [await connect(args.port, "/echo", Bulk) for _ in range(args.connections or 4)]
    for c in clients:
        c.t.write(frame)
    out = await measured_window(args, state)
    # MB/s of echoed payload (10^6 bytes), counted when the echo is complete.
    out["mb_per_s"] = done[0] * size / 1e6 / float(out["seconds"])  # type: ignore[arg-type]
    out["messages"] = done[0]
    for c in clients:
        c.t.abort()
    return out


async def handshakes(args: argparse.Namespace) -> dict[str, object]:
    """Connect, upgrade, closing handshake, TCP close; 50 in parallel."""
    loop = asyncio.get_running_loop()
    state = {"measuring": False, "running": True}
    count = [0, 0]  # completed, failed

    async def one() -> None:
        _, proto = await loop.create_connection(
            lambda: Client(upgrade_request(args.port, "/echo")), "127.0.0.1", args.port
        )
        try:
            await asyncio.wait_for(proto.opened, 5)
            proto.t.write(CLOSE_1000)
            # The server echoes the Close and closes TCP first (§7.1.1).
            await asyncio.wait_for(asyncio.shield(proto.lost), 5)
        finally:
            proto.t.close()
        if not proto.close_received:
            raise ConnectionError("no Close frame from the server")

    async def worker() -> None:
        while state["running"]:
            try:
                await one()
                ok = True
            except (OSError, TimeoutError):
                ok = False
            if state["measuring"]:
                count[0 if ok else 1] += 1

    workers = [asyncio.create_task(worker()) for _ in range(args.connections or 50)]
    out = await measured_window(args, state)
    await asyncio.wait(workers, timeout=10)
    out["handshakes_per_s"] = count[0] / float(out["seconds"])  # type: ignore[arg-type]
    out["failed"] = count[1]
    return out


async def memory(args: argparse.Namespace) -> dict[str, object]:
    """Server RSS growth per open, idle WebSocket at each level."""
    sem = asyncio.Semaphore(100)  # connects in flight: stays under the listen backlog
    warm = [await connect(args.port, "/echo", Client) for _ in range(20)]
    await asyncio.sleep(0.5)
    base = rss(args.server_pid)
    clients: list[Client] = []
    out: dict[str, object] = {"base_rss_mb": base / 1e6}
    for level in args.levels:
        todo = level - len(clients)
        clients += await asyncio.gather(
            *(connect(args.port, "/echo", Client, sem) for _ in range(todo))
        )
        await asyncio.sleep(args.settle)
        grown = rss(args.server_pid) - base
        out[f"kib_per_conn_{level}"] = grown / level / 1024
    out["open"] = sum(1 for c in clients if not c.lost.done())
    for c in clients + warm:
        c.t.abort()
    return out


async def fanout(args: argparse.Namespace) -> dict[str, object]:
    """1,000 clients; the server broadcasts every 10 ms; latency from its timestamps.

    Receiving 100,000 messages a second is more than one Python process can
    parse and time one by one: parsing every message, the generator ran at
    ~92 % of its core and *its* backlog showed up as latency (the trivial
    server had the worst p99). So one client in ``PROBE_EVERY`` is a probe
    that parses every message and records its latency; the others only count
    the bytes they receive. The server broadcasts the same bytes to everyone,
    so a complete non-probe has received exactly what a probe did.
    """
    latencies: list[float] = []
    received = [0]  # tick messages received by probes
    stream = [0]  # bytes of one complete stream after the 101 (ticks + "done"), per probe
    done: dict[str, float] = {}
    finished = asyncio.Event()
    n_clients = args.connections or 1000

    class Probe(Client):
        got = 0

        def on_message(self, opcode: int, payload: bytes, now: float) -> None:
            self.got += 2 + len(payload)  # server frames under 126 bytes: 2-byte header
            if payload.startswith(b"done"):
                done["elapsed"] = float(payload.split()[1])
                stream[0] = max(stream[0], self.got)
                done["count"] = done.get("count", 0) + 1
                if done["count"] == n_probes:
                    finished.set()
                return
            received[0] += 1
            latencies.append(now - float(payload.split(b" ", 1)[1]))

    class Counter(Client):
        got = 0

        def data_received(self, data: bytes) -> None:
            if self.is_open:
                self.got += len(data)  # no parsing: just how many bytes came
            else:
                super().data_received(data)  # the 101 (and frames with it)

        def on_message(self, opcode: int, payload: bytes, now: float) -> None:
            self.got += 2 + len(payload)

    n_probes = max(1, n_clients // PROBE_EVERY)
    sem = asyncio.Semaphore(100)
    clients = await asyncio.gather(
        *(
            connect(args.port, "/bcast", Probe if i % PROBE_EVERY == 0 else Counter, sem)
            for i in range(n_clients)
        )
    )
    await asyncio.sleep(0.5)
    meter = Meter(args.server_pid)
    meter.start()
    clients[0].t.write(client_frame(1, b"start"))
    ticks = int(os.environ.get("BENCH_TICKS", "500"))
    try:
        await asyncio.wait_for(finished.wait(), ticks * 0.01 * 4 + 10)
    except TimeoutError:
        pass
    await asyncio.sleep(0.2)  # the counters' last bytes
    out: dict[str, object] = dict(meter.stop())
    probes = [c for c in clients if isinstance(c, Probe)]
    complete = sum(1 for c in clients if isinstance(c, Counter) and c.got >= stream[0] > 0)
    out.update(
        # Every message for probes; whole streams for the others.
        delivered=(received[0] + complete * ticks) / (ticks * n_clients),
        p50_ms=pct(latencies, 50) * 1e3,
        p99_ms=pct(latencies, 99) * 1e3,
        ticks_took_s=done.get("elapsed", float("nan")),
        # Tick 499 is due at 4.99 s: kept = all ticks sent within one more tick.
        schedule_kept=done.get("elapsed", 1e9) <= ticks * 0.01 + 0.01,
        clients=n_clients,
        probes=len(probes),
    )
    for c in clients:
        c.t.abort()
    return out


#: One broadcast client in this many measures latency; see fanout().
PROBE_EVERY = 10


SCENARIOS = {
    "small": small,
    "large": large,
    "handshake": handshakes,
    "memory": memory,
    "broadcast": fanout,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("port", type=int)
    parser.add_argument("server_pid", type=int)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--connections", type=int, default=0)
    parser.add_argument("--levels", type=lambda s: [int(x) for x in s.split(",")], default=[1000])
    parser.add_argument("--settle", type=float, default=1.5)
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        # The generator's own loop: uvloop when installed, the cheapest way to
        # keep the generator off the critical path. Servers all run on the
        # stock asyncio loop.
        import uvloop

        result = uvloop.run(SCENARIOS[args.scenario](args))
        result["loop"] = "uvloop"
    except ImportError:
        result = asyncio.run(SCENARIOS[args.scenario](args))
        result["loop"] = "asyncio"
    print(json.dumps(result, default=float), flush=True)


if __name__ == "__main__":
    main()
