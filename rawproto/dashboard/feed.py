"""One live feed, shared by every transport.

Every update carries a sequence number (``seq``, 1, 2, 3, ...) and the
server's wall-clock time in milliseconds (``t``). The last ``history``
updates are kept, so a client that says "I have seen up to N" can be given
everything after N: that is the whole fix for the essay's 2 AM bug.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

FEEDS = ("load", "stocks")
TICKERS = ("ACME", "GLOBEX", "INITECH", "UMBRELLA")


@dataclass(frozen=True)
class Update:
    seq: int
    t: float  # server time, ms since the epoch
    value: float  # the number the charts draw
    values: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "t": self.t, "value": self.value, "values": self.values}


class LoadSource:
    """This machine's CPU use in % from /proc/stat, else the 1-minute load average."""

    def __init__(self) -> None:
        self._last: tuple[int, int] | None = self._read_stat()

    @staticmethod
    def _read_stat() -> tuple[int, int] | None:
        try:
            with open("/proc/stat", encoding="ascii") as f:
                fields = [int(x) for x in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields), idle

    def __call__(self) -> tuple[float, dict[str, float]]:
        load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
        now = self._read_stat()
        if now is None or self._last is None:
            return round(load1, 2), {"load1": round(load1, 2)}
        total, idle = now[0] - self._last[0], now[1] - self._last[1]
        self._last = now
        cpu = 100.0 * (1 - idle / total) if total > 0 else 0.0
        cpu = round(max(0.0, min(100.0, cpu)), 1)
        return cpu, {"cpu": cpu, "load1": round(load1, 2)}


class StocksSource:
    """A seeded random walk of a few tickers: the same seed, the same prices."""

    def __init__(self, seed: int = 5) -> None:
        self._rng = random.Random(seed)
        self._prices = {t: 100.0 + 20 * i for i, t in enumerate(TICKERS)}

    def __call__(self) -> tuple[float, dict[str, float]]:
        for name, price in self._prices.items():
            step = self._rng.gauss(0, 0.01) * price
            self._prices[name] = round(max(1.0, price + step), 2)
        first = self._prices[TICKERS[0]]
        return first, dict(self._prices)


class Feed:
    """Produces one update every ``interval`` seconds until stopped."""

    def __init__(
        self,
        kind: str = "stocks",
        interval: float = 1.0,
        *,
        seed: int = 5,
        history: int = 10_000,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if kind not in FEEDS:
            raise ValueError(f"unknown feed {kind!r}; choose from {', '.join(FEEDS)}")
        self.kind = kind
        self.interval = interval
        self.source: Callable[[], tuple[float, dict[str, float]]] = (
            LoadSource() if kind == "load" else StocksSource(seed)
        )
        self.history: deque[Update] = deque(maxlen=history)
        self.seq = 0
        self.paused_until = 0.0  # monotonic time; a hiccup sets it
        self._wall = wall
        self._event = asyncio.Event()
        self._listeners: list[Callable[[Update], None]] = []
        self._task: asyncio.Task[None] | None = None

    def now_ms(self) -> float:
        return round(self._wall() * 1000, 3)

    def listen(self, callback: Callable[[Update], None]) -> None:
        """Call ``callback(update)`` for every new update (synchronously)."""
        self._listeners.append(callback)

    def publish(self) -> Update:
        value, values = self.source()
        self.seq += 1
        update = Update(self.seq, self.now_ms(), value, values)
        self.history.append(update)
        event, self._event = self._event, asyncio.Event()
        event.set()  # wakes every held long poll
        for callback in self._listeners:
            callback(update)
        return update

    @property
    def paused(self) -> bool:
        return time.monotonic() < self.paused_until

    def pause(self, seconds: float) -> None:
        """A hiccup: produce nothing for ``seconds``, then carry on."""
        self.paused_until = time.monotonic() + seconds

    def since(self, after: int) -> list[Update]:
        """Every kept update with ``seq > after`` (oldest first)."""
        if after >= self.seq:
            return []
        start = len(self.history) - (self.seq - after)
        return list(self.history)[max(0, start) :]

    async def wait_after(self, after: int, timeout: float) -> list[Update]:
        """Updates after ``after``; if there are none yet, wait (at most ``timeout``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while after >= self.seq:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), remaining)
        return self.since(after)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            next_at += self.interval
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            if not self.paused:
                self.publish()
            if next_at < loop.time() - 10 * self.interval:
                next_at = loop.time()  # the loop was blocked: do not burst to catch up

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="dashboard-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
