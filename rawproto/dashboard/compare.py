"""``rawproto compare``: the dashboard's comparison, without a browser.

One feed, one dashboard server behind the fault proxy, and plain asyncio
clients built on :mod:`rawproto.aio.client`:

* short poll, naive (latest value only, no timeout) and resuming (``after=``
  the last sequence number, with a request timeout);
* long poll, naive and resuming, likewise;
* WebSocket, with the heartbeat (ping/pong), backoff with jitter, and resume.

Phases: steady traffic, then (``--faults``) restart, blackhole, and idle-kill
during a quiet spell. Latency and bytes per update are taken from the steady
phase; losses and the time to notice are reported per fault. Bytes come from
the server's tap (:mod:`rawproto.dashboard.meter`), never from the clients.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from rawproto.aio.client import HttpConnection, connect
from rawproto.core.limits import Limits
from rawproto.dashboard.app import Dashboard, Settings

VARIANTS: tuple[tuple[str, str, bool], ...] = (
    ("short poll (naive)", "short", False),
    ("short poll (resume)", "short", True),
    ("long poll (naive)", "long", False),
    ("long poll (resume)", "long", True),
    ("WebSocket (resume)", "ws", True),
)
FAULT_PHASES = ("restart", "blackhole", "idle-kill")
#: A naive client has no timeout; this only bounds the run.
NAIVE_TIMEOUT = 3600.0


@dataclass
class Options:
    duration: float = 5.0
    interval: float = 0.2
    clients: int = 1
    faults: bool = False
    ping_interval: float = 0.5
    ping_timeout: float = 0.5
    heartbeat: float = 5.0  # the page's silence detector; these clients ping instead
    long_poll_timeout: float = 2.0
    short_timeout: float = 1.0
    down: float = 1.0
    idle_kill: float = 0.6
    quiet: float = 1.5
    drain: float = 1.5
    seed: int = 5


def _wall_ms() -> float:
    return time.time() * 1000


@dataclass
class Client:
    cid: str
    variant: str
    transport: str
    resume: bool
    url: str
    opts: Options
    latency: dict[int, float] = field(default_factory=dict)  # seq → ms
    troubles: list[tuple[float, str]] = field(default_factory=list)  # (wall ms, what)
    last: int | None = None
    attempt: int = 0

    def __post_init__(self) -> None:
        if self.resume:
            self.last = 0  # a fresh feed: a resuming client wants it all

    def take(self, updates: list[dict[str, Any]]) -> None:
        t = _wall_ms()
        for u in updates:
            seq = int(u["seq"])
            if seq not in self.latency:
                self.latency[seq] = t - float(u["t"])
            self.last = seq if self.last is None else max(self.last, seq)

    def trouble(self, what: str) -> None:
        self.troubles.append((_wall_ms(), what))

    def target(self, path: str) -> str:
        after = f"&after={self.last}" if self.resume and self.last is not None else ""
        return f"{path}?client={self.cid}{after}"

    async def backoff(self) -> None:
        self.attempt += 1
        delay = min(0.5, 0.05 * 2 ** (self.attempt - 1))
        await asyncio.sleep(delay * (0.5 + random.random() / 2))

    async def run(self, stop: asyncio.Event) -> None:
        runner = {"short": self._short, "long": self._long, "ws": self._ws}[self.transport]
        stopper = asyncio.create_task(stop.wait())
        work = asyncio.create_task(runner(stop))
        await asyncio.wait({stopper, work}, return_when=asyncio.FIRST_COMPLETED)
        for task in (stopper, work):
            task.cancel()
        await asyncio.gather(stopper, work, return_exceptions=True)

    async def _http(self, stop: asyncio.Event, path: str, timeout: float, period: float) -> None:
        loop = asyncio.get_running_loop()
        conn: HttpConnection | None = None
        try:
            while not stop.is_set():
                started = loop.time()
                try:
                    if conn is None:
                        conn = HttpConnection(f"http://{self.url}{path}")
                    result = await conn.request("GET", self.target(path), timeout=timeout)
                    self.take(json.loads(result.body)["updates"])
                    self.attempt = 0
                    if not conn.http.can_reuse():
                        await conn.close()
                        conn = None
                except Exception as exc:
                    self.trouble("timeout" if isinstance(exc, TimeoutError) else "closed")
                    if conn is not None and conn.wire is not None:
                        conn.wire.abort()
                    conn = None
                    await self.backoff()
                # Jittered (±20 %): a poller's clock is not the feed's clock, so
                # its phase against the feed drifts, as it does in real life.
                wait = period * random.uniform(0.8, 1.2)
                await asyncio.sleep(max(0.0, wait - (loop.time() - started)))
        finally:
            if conn is not None and conn.wire is not None:
                conn.wire.abort()

    async def _short(self, stop: asyncio.Event) -> None:
        timeout = self.opts.short_timeout if self.resume else NAIVE_TIMEOUT
        await self._http(stop, "/poll", timeout, self.opts.interval)

    async def _long(self, stop: asyncio.Event) -> None:
        timeout = self.opts.long_poll_timeout + 1 if self.resume else NAIVE_TIMEOUT
        await self._http(stop, "/longpoll", timeout, 0.0)

    async def _ws(self, stop: asyncio.Event) -> None:
        limits = Limits(
            ping_interval=self.opts.ping_interval,
            ping_timeout=self.opts.ping_timeout,
            close_timeout=1.0,
            header_timeout=2.0,
        )
        while not stop.is_set():
            sock = None
            try:
                sock = await connect(f"ws://{self.url}{self.target('/ws')}", limits=limits)
                self.attempt = 0
                async for message in sock:
                    data = json.loads(message)
                    if data.get("type") == "update":
                        self.take([data])
                self.trouble(f"close {sock.close_code}")
            except Exception as exc:
                self.trouble(f"connect failed: {type(exc).__name__}")
            finally:
                if sock is not None and sock.open:
                    await sock.abort()
            await self.backoff()


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 2)


async def run(opts: Options) -> dict[str, Any]:
    """Run every transport against one feed; returns the numbers (JSON-ready)."""
    settings = Settings(
        feed="stocks",
        interval=opts.interval,
        seed=opts.seed,
        ping_interval=opts.ping_interval,
        ping_timeout=opts.ping_timeout,
        heartbeat=opts.heartbeat,
        long_poll_timeout=opts.long_poll_timeout,
        down_seconds=opts.down,
        idle_kill=opts.idle_kill,
    )
    dash = Dashboard(settings)
    port = await dash.start("127.0.0.1", 0)
    url = f"127.0.0.1:{port}"
    stop = asyncio.Event()
    clients = [
        Client(f"{transport}-{'r' if resume else 'n'}-{i}", name, transport, resume, url, opts)
        for name, transport, resume in VARIANTS
        for i in range(opts.clients)
    ]
    feed = dash.feed
    phases: list[dict[str, Any]] = []
    tasks = [asyncio.create_task(c.run(stop)) for c in clients]
    try:
        await asyncio.sleep(min(0.5, 2 * opts.interval))  # everyone connected
        start_seq = feed.seq
        await asyncio.sleep(opts.duration)
        steady_end = feed.seq
        steady_counts = {c.cid: dash.meter.counts(c.cid, c.transport).as_dict() for c in clients}
        # What had arrived when the steady phase ended (before any fault).
        steady_seen = {c.cid: dict(c.latency) for c in clients}
        phases.append({"name": "steady", "t": None, "from": start_seq, "to": steady_end})
        if opts.faults:
            await _faults(dash, opts, phases)
        end_seq = feed.seq
        await asyncio.sleep(opts.drain)  # let resuming clients catch up
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await dash.stop()
    return _report(
        opts, clients, phases, start_seq, steady_end, end_seq, steady_counts, steady_seen, dash
    )


async def _faults(dash: Dashboard, opts: Options, phases: list[dict[str, Any]]) -> None:
    feed, proxy = dash.feed, dash.proxy
    assert proxy is not None
    # restart: every connection dropped, refused for `down` seconds, back.
    first = feed.seq
    event = await dash.inject("restart", opts.down)
    await asyncio.sleep(opts.down + 1.5)
    phases.append({"name": "restart", "t": event.t, "from": first, "to": feed.seq})
    # blackhole: half-open connections; only timeouts and heartbeats notice.
    first = feed.seq
    event = await dash.inject("blackhole")
    wait = max(
        opts.long_poll_timeout + 1, opts.short_timeout, opts.ping_interval + opts.ping_timeout
    )
    await asyncio.sleep(wait + 1.5)
    phases.append({"name": "blackhole", "t": event.t, "from": first, "to": feed.seq})
    # idle-kill during a quiet spell: held long polls are cut; pinged sockets live.
    first = feed.seq
    event = await dash.inject("idle-kill", opts.idle_kill)
    await dash.inject("hiccup", opts.quiet)
    await asyncio.sleep(opts.quiet + 1.0)
    await dash.inject("idle-kill", 0.0)
    phases.append({"name": "idle-kill", "t": event.t, "from": first, "to": feed.seq})


def _report(
    opts: Options,
    clients: list[Client],
    phases: list[dict[str, Any]],
    start_seq: int,
    steady_end: int,
    end_seq: int,
    steady_counts: dict[str, dict[str, Any]],
    steady_seen: dict[str, dict[int, float]],
    dash: Dashboard,
) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for name, transport, resume in VARIANTS:
        group = [c for c in clients if c.variant == name]
        delivered = lost = steady_delivered = requests = conns = up = down = 0
        lat: list[float] = []
        per_phase: dict[str, dict[str, Any]] = {}
        for c in group:
            got = c.latency
            delivered += sum(1 for s in got if start_seq < s <= end_seq)
            lost += sum(1 for s in range(start_seq + 1, end_seq + 1) if s not in got)
            seen = steady_seen.get(c.cid, {})
            steady = [seen[s] for s in range(start_seq + 1, steady_end + 1) if s in seen]
            steady_delivered += len(steady)
            lat.extend(steady)
            counts = steady_counts.get(c.cid, {})
            requests += counts.get("requests", 0)
            conns += counts.get("connections", 0)
            up += counts.get("bytes_up", 0)
            down += counts.get("bytes_down", 0)
        for phase in phases[1:]:
            notices: list[float] = []
            phase_lost = 0
            end_t = _next_t(phases, phase)
            for c in group:
                phase_lost += sum(
                    1 for s in range(phase["from"] + 1, phase["to"] + 1) if s not in c.latency
                )
                hits = [t for t, _ in c.troubles if phase["t"] <= t < end_t]
                if hits:
                    notices.append((hits[0] - phase["t"]) / 1000)
            per_phase[phase["name"]] = {
                "lost": phase_lost,
                "noticed_s": round(statistics.median(notices), 3) if notices else None,
                "noticed_by": len(notices),
            }
        rows.append(
            {
                "transport": name,
                "kind": transport,
                "resume": resume,
                "clients": len(group),
                "delivered": delivered,
                "lost": lost,
                "p50_ms": _pct(lat, 0.5),
                "p99_ms": _pct(lat, 0.99),
                "requests": requests,
                "connections": conns,
                "bytes_up_per_update": round(up / steady_delivered, 1)
                if steady_delivered
                else None,
                "bytes_down_per_update": (
                    round(down / steady_delivered, 1) if steady_delivered else None
                ),
                "faults": per_phase,
            }
        )
    blackhole = next((p for p in phases if p["name"] == "blackhole"), None)
    server_notice = None
    if blackhole is not None:
        closes = [
            (c["t"] - blackhole["t"]) / 1000
            for c in dash.server_closes
            if c["code"] == 1011 and c["t"] >= blackhole["t"]
        ]
        server_notice = round(min(closes), 3) if closes else None
    return {
        "options": opts.__dict__,
        "updates_produced": end_seq - start_seq,
        "steady_updates": steady_end - start_seq,
        "phases": phases,
        "rows": rows,
        "server_heartbeat_noticed_blackhole_s": server_notice,
        "proxy": dict(dash.proxy.stats) if dash.proxy else {},
    }


def _next_t(phases: list[dict[str, Any]], phase: dict[str, Any]) -> float:
    later = [p["t"] for p in phases if p["t"] is not None and p["t"] > phase["t"]]
    return min(later) if later else float("inf")


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "never" if unit == "s" else "–"
    if isinstance(value, float):
        return f"{value:.2f}" if unit == "s" else f"{value:g}"
    return str(value)


def table(result: dict[str, Any]) -> str:
    o = result["options"]
    lines = [
        f"rawproto compare: one feed, an update every {o['interval']:g} s, "
        f"{o['duration']:g} s steady, {o['clients']} client(s) per transport, on 127.0.0.1",
        f"{result['updates_produced']} updates produced ({result['steady_updates']} in the "
        "steady phase). Latency = server send time → client receive time, steady phase; "
        "bytes counted at the server's socket, headers included, per update delivered.",
        "",
    ]
    head = (
        f"{'transport':<22}{'delivered':>10}{'lost':>6}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'requests':>10}{'conns':>7}{'B/upd ↑':>9}{'B/upd ↓':>9}"
    )
    lines += [head, "-" * len(head)]
    for r in result["rows"]:
        lines.append(
            f"{r['transport']:<22}{r['delivered']:>10}{r['lost']:>6}"
            f"{_fmt(r['p50_ms']):>9}{_fmt(r['p99_ms']):>9}{r['requests']:>10}"
            f"{r['connections']:>7}{_fmt(r['bytes_up_per_update']):>9}"
            f"{_fmt(r['bytes_down_per_update']):>9}"
        )
    if any(r["faults"] for r in result["rows"]):
        lines += ["", "faults: updates lost / seconds until the client noticed"]
        head = f"{'transport':<22}" + "".join(f"{n:>20}" for n in FAULT_PHASES)
        lines += [head, "-" * len(head)]
        for r in result["rows"]:
            cells = []
            for n in FAULT_PHASES:
                f = r["faults"].get(n, {})
                cells.append(f"{f.get('lost', '–')} / {_fmt(f.get('noticed_s'), 's')}")
            lines.append(f"{r['transport']:<22}" + "".join(f"{c:>20}" for c in cells))
        sn = result["server_heartbeat_noticed_blackhole_s"]
        lines.append("")
        lines.append(
            f"blackhole: the server's heartbeat (ping every {o['ping_interval']:g} s, "
            f"timeout {o['ping_timeout']:g} s) closed the WebSocket after {_fmt(sn, 's')} s; "
            "a naive poller without a timeout never notices."
        )
    return "\n".join(lines)


def plot_problem(path: str) -> str | None:
    """Why ``--plot path`` cannot work, or None."""
    if not path.lower().endswith((".png", ".svg")):
        return f"--plot {path}: the file name must end in .png or .svg"
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return (
            "--plot needs matplotlib, which is not installed: "
            "pip install 'rawproto[plot]' (or pip install matplotlib)"
        )
    return None


def plot(result: dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    names = [r["transport"] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    axes[0].barh(names, [r["p50_ms"] or 0 for r in rows], label="p50")
    axes[0].barh(names, [r["p99_ms"] or 0 for r in rows], alpha=0.3, label="p99")
    axes[0].set_xlabel("latency, ms (server send → client receive)")
    axes[0].legend()
    up = [r["bytes_up_per_update"] or 0 for r in rows]
    down = [r["bytes_down_per_update"] or 0 for r in rows]
    axes[1].barh(names, down, label="server → client")
    axes[1].barh(names, up, left=down, label="client → server")
    axes[1].set_xlabel("bytes on the wire per update (headers included)")
    axes[1].legend()
    axes[1].set_yticklabels([])
    fig.suptitle(f"rawproto compare: an update every {result['options']['interval']:g} s")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
