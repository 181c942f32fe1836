"""The dashboard in a real browser: headless Chromium driven by Playwright.

The server runs as a subprocess (Playwright's sync API cannot run inside an
asyncio loop). Chromium is kept off the network by its launch arguments;
nothing is ever downloaded (no ``playwright install``: the Debian chromium).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tools import REQUIRE_ENV, require_tool

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]
# Short timers so every fault plays out in seconds.
SERVER_ARGS = [
    "--port", "0", "--feed", "stocks", "--interval", "0.2",
    "--ping-interval", "0.5", "--ping-timeout", "0.5", "--silence", "1.5",
    "--long-poll-timeout", "1.5", "--down-seconds", "1", "--hiccup-seconds", "1.5",
    "--idle-kill", "0.6", "--duration", "55",
]  # fmt: skip


def _playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"needs the Python package playwright ({REQUIRE_ENV}=1)")
        pytest.skip("needs the Python package playwright")
    return sync_playwright


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rawproto", "dashboard", *SERVER_ARGS],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert match, f"the dashboard did not start: {line!r}"
        yield match.group(0)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture(scope="module")
def page(server_url: str) -> Iterator[Any]:
    chromium = require_tool("chromium")
    ARTIFACTS.mkdir(exist_ok=True)
    sync_playwright = _playwright()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            pg = browser.new_page(viewport={"width": 1400, "height": 900})
            pg.goto(server_url)
            yield pg
        finally:
            browser.close()


def snap(page: Any) -> dict[str, Any]:
    return page.evaluate("window.dashboard.snapshot()")  # type: ignore[no-any-return]


def wait_for(page: Any, js: str, timeout: float = 10.0) -> None:
    page.wait_for_function(js, timeout=timeout * 1000, polling=100)


def report(page: Any, panel: str, kind: str) -> dict[str, Any] | None:
    reports = [r for r in snap(page)[panel]["reports"] if r["kind"] == kind]
    return reports[-1] if reports else None


def fault(page: Any, kind: str, wait_listed: bool = True) -> None:
    n = len(snap(page)["faults"])
    page.click(f"[data-fault='{kind}']")
    if wait_listed:  # the page learns of faults from /stats, once a second
        wait_for(page, f"window.dashboard.snapshot().faults.length > {n}")


def test_three_panels_update_and_websocket_has_no_gaps(page: Any) -> None:
    wait_for(
        page,
        "(() => { const s = window.dashboard.snapshot();"
        " return s.short.received >= 3 && s.long.received >= 5 && s.ws.received >= 5"
        " && s.ws.server && s.short.server; })()",
    )
    time.sleep(1.0)
    s = snap(page)
    seqs = s["ws"]["seqs"]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "a gap in the WebSocket sequence"
    assert s["ws"]["missed"] == 0 and s["ws"]["state"] == "connected"
    assert s["ws"]["latency"]["p50"] < 200
    # bytes on the wire, counted at the server's socket, reach the page
    assert s["short"]["server"]["bytes_down"] > s["ws"]["server"]["bytes_down"]
    for name in ("short", "long", "ws"):
        assert page.locator(f"#{name} [data-k=received]").inner_text() != "0"
    page.screenshot(path=str(ARTIFACTS / "dashboard-steady.png"))


def test_restart_websocket_reconnects_and_resumes(page: Any) -> None:
    fault(page, "restart")
    wait_for(
        page,
        "(() => { const s = window.dashboard.snapshot(); const r = s.ws.reports.at(-1);"
        " return r && r.kind === 'restart' && r.noticed !== null && s.ws.state === 'connected'"
        " && s.long.reports.at(-1).noticed !== null; })()",
    )
    time.sleep(1.0)  # a few updates after the comeback
    s = snap(page)
    assert s["ws"]["lastCode"] in (1012, 1006)
    assert any("closed" in t["what"] for t in s["ws"]["troubles"])
    for name in ("short", "long", "ws"):
        r = report(page, name, "restart")
        assert r is not None and r["lost"] == 0, (name, r)
    assert s["ws"]["missed"] == 0


def test_blackhole_noticed_by_silence_and_heartbeat(page: Any) -> None:
    fault(page, "blackhole", wait_listed=False)
    # The page hears nothing: its silence timeout (1.5 s) must fire, then resume.
    wait_for(
        page,
        "(() => { const s = window.dashboard.snapshot(); const r = s.ws.reports.at(-1);"
        " return r && r.kind === 'blackhole' && r.noticed !== null && r.server"
        " && s.ws.state === 'connected' && s.long.reports.at(-1).noticed !== null; })()",
        timeout=15,
    )
    time.sleep(0.8)
    ws = report(page, "ws", "blackhole")
    assert ws is not None
    assert ws["noticed"] <= 1.5 + 1.0 and "silence" in ws["how"]
    # The server's heartbeat: ping_interval + ping_timeout = 1 s, then 1011.
    assert ws["server"]["code"] == 1011 and ws["server"]["noticed"] <= 1.0 + 0.7
    assert ws["lost"] == 0 and snap(page)["ws"]["missed"] == 0
    long = report(page, "long", "blackhole")
    assert long is not None and long["lost"] == 0
    page.screenshot(path=str(ARTIFACTS / "dashboard-blackhole.png"))


def test_hiccup_is_silence_not_death(page: Any) -> None:
    fault(page, "hiccup")
    time.sleep(2.0)
    s = snap(page)
    r = report(page, "ws", "hiccup")
    assert r is not None and r["noticed"] is None and r["lost"] == 0  # heartbeats kept it up
    assert s["ws"]["state"] == "connected"


def test_idle_kill_cuts_idle_connections_not_pinged_sockets(page: Any) -> None:
    """A held long poll on a quiet feed is idle: the proxy cuts it. (Chrome
    may retry such a request silently when the cut connection was a reused
    keep-alive one, so the proxy's count is the evidence; ``rawproto
    compare``'s client shows the cut being noticed.) The WebSocket, pinged
    every 0.5 s and sent heartbeats, is never idle and stays up."""
    before = snap(page)["proxy"].get("idle_killed", 0)
    page.fill("#hiccup-s", "2.5")
    fault(page, "hiccup")  # a quiet spell: no update, so a held long poll is idle
    page.fill("#idle-s", "0.6")
    fault(page, "idle-kill")
    wait_for(page, f"window.dashboard.snapshot().proxy.idle_killed > {before}", timeout=5)
    time.sleep(1.0)
    s = snap(page)
    assert s["ws"]["state"] == "connected"
    assert s["ws"]["reports"][-1]["kind"] == "idle-kill"
    assert s["ws"]["reports"][-1]["noticed"] is None
    assert s["ws"]["missed"] == 0
    fault(page, "idle-off")


def test_naive_long_poll_loses_the_update_produced_while_reconnecting(page: Any) -> None:
    """The essay's 2 AM bug, reproduced; then the fix (resume by sequence number)."""
    page.uncheck("#long .fix input")
    page.uncheck("#short .fix input")
    time.sleep(0.5)
    page.fill("#restart-s", "1")
    fault(page, "restart")
    wait_for(
        page,
        "(() => { const s = window.dashboard.snapshot();"
        " const r = s.long.reports.filter(x => x.kind === 'restart').at(-1);"
        " return r && r.lost > 0; })()",
    )
    page.check("#long .fix input")
    page.check("#short .fix input")
    assert report(page, "ws", "restart")["lost"] == 0  # type: ignore[index]
    time.sleep(1.0)
    page.screenshot(path=str(ARTIFACTS / "dashboard-faults.png"), full_page=True)
