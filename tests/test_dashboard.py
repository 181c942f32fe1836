"""The dashboard without a browser: the feed, the byte meter, the fault proxy,
and ``rawproto compare`` — which must show relations, not absolute times:
push beats polling on latency and bytes, resume-by-sequence loses nothing,
and the naive long poll loses what the essay says it loses."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import pytest
from conftest import run

from rawproto.aio.client import HttpConnection
from rawproto.core.trace import WireRecord
from rawproto.dashboard import cli, compare
from rawproto.dashboard.feed import Feed
from rawproto.dashboard.meter import Meter
from rawproto.dashboard.proxy import FaultProxy


def test_feed_numbers_every_update_and_resumes_by_sequence() -> None:
    async def body() -> None:
        feed = Feed("stocks", 0.01, seed=1)
        for _ in range(5):
            feed.publish()
        assert [u.seq for u in feed.since(2)] == [3, 4, 5]
        assert feed.since(5) == []
        assert all(u.t > 0 for u in feed.history)
        waiter = asyncio.create_task(feed.wait_after(5, 1.0))
        await asyncio.sleep(0.01)
        feed.publish()
        assert [u.seq for u in await waiter] == [6]
        assert await feed.wait_after(6, 0.05) == []  # a held request times out empty

    run(body())


def test_stocks_feed_is_seeded() -> None:
    async def body() -> None:
        a, b = Feed("stocks", 1, seed=3), Feed("stocks", 1, seed=3)
        assert [a.publish().values for _ in range(3)] == [b.publish().values for _ in range(3)]

    run(body())


def test_load_feed_reads_this_machine() -> None:
    async def body() -> None:
        update = Feed("load", 1).publish()
        assert update.value >= 0
        assert "load1" in update.values

    run(body())


def _rec(conn: int, direction: str, size: int) -> WireRecord:
    return WireRecord(conn, "server", direction, "data", b"x" * size)  # type: ignore[arg-type]


def test_meter_attributes_keepalive_requests_to_their_transport() -> None:
    """One keep-alive connection carries a short poll, then a long poll: the
    request's bytes arrive before its handler labels the connection."""
    m = Meter()
    m(_rec(7, "recv", 100))
    m.label(7, "c", "short")
    m(_rec(7, "send", 300))
    m(_rec(7, "recv", 120))
    m.label(7, "c", "long")
    m(_rec(7, "send", 250))
    r = m.report("c")
    assert (r["short"]["bytes_up"], r["short"]["bytes_down"]) == (100, 300)
    assert (r["long"]["bytes_up"], r["long"]["bytes_down"]) == (120, 250)
    assert r["short"]["requests"] == r["long"]["requests"] == 1


def test_proxy_blackhole_delivers_nothing_and_closes_nothing() -> None:
    """A blackholed connection: no byte either way, no FIN, no RST."""

    async def body() -> None:
        async def echo(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            while data := await r.read(100):
                w.write(data)
            w.close()

        upstream = await asyncio.start_server(echo, "127.0.0.1", 0)
        proxy = await FaultProxy("127.0.0.1", upstream.sockets[0].getsockname()[1]).start()
        try:
            r, w = await asyncio.open_connection("127.0.0.1", proxy.port)
            w.write(b"ping")
            assert await asyncio.wait_for(r.read(100), 2) == b"ping"
            assert proxy.blackhole() == 1
            w.write(b"lost")
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(r.read(100), 0.5)  # neither data nor EOF
            assert not r.at_eof()
            w.close()
        finally:
            await proxy.close()
            upstream.close()

    run(body())


def test_dashboard_http_endpoints() -> None:
    async def body() -> None:
        from rawproto.dashboard.app import Dashboard, Settings

        dash = Dashboard(Settings(interval=0.05, long_poll_timeout=1.0))
        port = await dash.start()
        try:
            async with HttpConnection(f"http://127.0.0.1:{port}/") as conn:
                page = await conn.request("GET", "/")
                assert b"Short polling" in page.body
                await asyncio.sleep(0.2)
                got = json.loads((await conn.request("GET", "/poll?client=t&after=0")).body)
                assert [u["seq"] for u in got["updates"]] == list(range(1, got["seq"] + 1))
                naive = json.loads((await conn.request("GET", "/poll?client=t")).body)
                assert len(naive["updates"]) == 1  # the latest only
                held = json.loads((await conn.request("GET", "/longpoll?client=t")).body)
                assert held["updates"][0]["seq"] > naive["updates"][0]["seq"]
                bad = await conn.request("POST", "/fault?kind=nope")
                assert bad.status == 400
                stats = json.loads((await conn.request("GET", "/stats?client=t")).body)
                short = stats["transports"]["short"]
                assert short["requests"] == 2 and short["bytes_up"] > 0 and short["bytes_down"] > 0
        finally:
            await dash.stop()

    run(body())


@pytest.fixture(scope="module")
def faults_run() -> dict[str, Any]:
    opts = compare.Options(duration=2.0, interval=0.05, faults=True)
    return asyncio.run(asyncio.wait_for(compare.run(opts), 45))


def _row(result: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in result["rows"] if r["transport"] == name)


def test_compare_websocket_beats_polling_on_latency_and_bytes(
    faults_run: dict[str, Any],
) -> None:
    """RFC 6202 §2.2: short polling's latency averages half the interval; push
    is one transit. HPBN: every poll repeats its HTTP headers; a frame has 2–6 B."""
    ws = _row(faults_run, "WebSocket (resume)")
    for name in ("short poll (naive)", "short poll (resume)"):
        short = _row(faults_run, name)
        assert ws["p50_ms"] < short["p50_ms"]
        assert ws["bytes_down_per_update"] < short["bytes_down_per_update"]
        assert ws["bytes_up_per_update"] < short["bytes_up_per_update"]
    assert ws["requests"] == 1 and _row(faults_run, "short poll (resume)")["requests"] > 10


def test_compare_websocket_loses_nothing_across_restart_and_blackhole(
    faults_run: dict[str, Any],
) -> None:
    ws = _row(faults_run, "WebSocket (resume)")
    assert ws["lost"] == 0
    for fault in ("restart", "blackhole"):
        assert ws["faults"][fault]["lost"] == 0
        assert ws["faults"][fault]["noticed_s"] is not None
    o = faults_run["options"]
    # The heartbeat notices a half-open connection within ping_interval + ping_timeout.
    budget = o["ping_interval"] + o["ping_timeout"] + 0.5
    assert ws["faults"]["blackhole"]["noticed_s"] <= budget
    assert faults_run["server_heartbeat_noticed_blackhole_s"] <= budget
    assert ws["faults"]["idle-kill"]["noticed_s"] is None  # pings keep it alive


def test_compare_naive_long_poll_loses_what_the_essay_says(faults_run: dict[str, Any]) -> None:
    """The 2 AM bug: updates produced while the long-poll client reconnects are
    lost; on a half-open connection it waits forever. Resume-by-seq fixes both."""
    naive, fixed = _row(faults_run, "long poll (naive)"), _row(faults_run, "long poll (resume)")
    assert naive["faults"]["restart"]["lost"] > 0
    assert naive["faults"]["blackhole"]["noticed_s"] is None
    assert naive["faults"]["blackhole"]["lost"] > 0
    assert fixed["lost"] == 0
    assert fixed["faults"]["blackhole"]["noticed_s"] is not None
    assert fixed["faults"]["idle-kill"]["noticed_s"] is not None  # a held request was cut
    assert _row(faults_run, "short poll (resume)")["lost"] == 0


def test_compare_table_prints_every_transport(faults_run: dict[str, Any]) -> None:
    text = compare.table(faults_run)
    for name, _, _ in compare.VARIANTS:
        assert name in text
    assert "blackhole" in text and "never" in text


def test_compare_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main_compare(["--duration", "0.5", "--interval", "0.1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {r["transport"] for r in result["rows"]} == {v[0] for v in compare.VARIANTS}


def test_compare_plot_without_matplotlib_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert cli.main_compare(["--duration", "0.5", "--plot", "out.png"]) == 2
    assert "matplotlib" in capsys.readouterr().err


def test_dashboard_cli_rejects_bad_fault(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main_dashboard(["--fault", "earthquake@3"])
    assert "choose from" in capsys.readouterr().err
