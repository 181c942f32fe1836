"""The committed captures in captures/: what Wireshark sees is what the scenario sent.

WebSocket rules: RFC 6455, https://www.rfc-editor.org/rfc/rfc6455
HTTP/1.1: RFC 9112, https://www.rfc-editor.org/rfc/rfc9112
TCP: RFC 9293, https://www.rfc-editor.org/rfc/rfc9293
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import run
from scapy.layers.inet import TCP
from scapy.utils import PcapNgReader
from tools import REQUIRE_ENV, require_tool

from rawproto.capture import cli, read_comments, read_file_comment
from rawproto.capture.committed import generate
from rawproto.capture.scenarios import SCENARIOS, Run, Scenario, basic_router, record
from rawproto.capture.session import connections, write_session
from rawproto.capture.tcpflow import MAX_COMMENT_BYTES
from rawproto.explain.frames import ExplainedFrame
from rawproto.explain.http import ExplainedHead

REPO = Path(__file__).resolve().parents[1]
CAPTURES = REPO / "captures"
NAMES = [s.name for s in SCENARIOS]
PI_WARN = (
    0x00600000  # Wireshark's expert severities: comment 0x100000 … warn 0x600000, error 0x800000
)

FIELDS = [
    "frame.number",
    "tcp.srcport",
    "tcp.dstport",
    "http.request.method",
    "http.request.uri",
    "http.response.code",
    "websocket.fin",
    "websocket.opcode",
    "websocket.mask",
    "websocket.masking_key",
    "websocket.payload.text",
    "websocket.payload.close.status_code",
    "_ws.expert.severity",
    "_ws.malformed",
    "tcp.checksum.status",
    "ip.checksum.status",
]


@dataclass(frozen=True)
class Packet:
    fields: dict[str, list[str]]

    def __getitem__(self, name: str) -> list[str]:
        return self.fields[name]


def tshark(path: Path, *extra: str) -> list[Packet]:
    exe = require_tool("tshark")
    args = [exe, "-r", str(path), "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE"]
    args += [*extra, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=\x1f"]
    for f in FIELDS:
        args += ["-e", f]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True)
    out = []
    for line in done.stdout.splitlines():
        values = line.split("\t")
        out.append(
            Packet({f: [v for v in values[i].split("\x1f") if v] for i, f in enumerate(FIELDS)})
        )
    return out


Item = tuple[object, ...]


def wireshark_items(packets: list[Packet]) -> dict[int, list[Item]]:
    """Per client port: requests, statuses and frames, in packet order, as tshark dissected them."""
    out: dict[int, list[Item]] = {}
    for p in packets:
        sport, dport = int(p["tcp.srcport"][0]), int(p["tcp.dstport"][0])
        items = out.setdefault(sport if dport == 8080 else dport, [])
        for method, uri in zip(p["http.request.method"], p["http.request.uri"], strict=True):
            items.append(("request", method, uri))
        items += [("status", int(c)) for c in p["http.response.code"]]
        keys = iter(p["websocket.masking_key"])
        opcodes = p["websocket.opcode"]
        assert len(opcodes) <= 1, "one frame per segment in these captures"
        for opcode, mask, fin in zip(opcodes, p["websocket.mask"], p["websocket.fin"], strict=True):
            masked = mask in ("1", "True")
            key = next(keys).replace(":", "") if masked else ""
            close = p["websocket.payload.close.status_code"]
            text = p["websocket.payload.text"]
            items.append(
                (
                    "frame",
                    int(opcode),
                    masked,
                    key,
                    int(close[0]) if close else None,
                    text[0] if text and int(opcode) == 1 and fin in ("1", "True") else None,
                )
            )
    return out


def explained_items(s: Scenario, records: list) -> dict[int, list[Item]]:
    """The same, from the records the scenario made, decoded by rawproto.explain."""
    from rawproto.explain.conn import ConnectionExplainer

    out: dict[int, list[Item]] = {}
    for conn in connections(records):
        explainer = ConnectionExplainer()
        items = out.setdefault(conn.client_port, [])
        for r in conn.records:
            for item in explainer.feed(r).items:
                if isinstance(item, ExplainedHead) and item.kind == "request":
                    items.append(("request", item.method, item.target))
                elif isinstance(item, ExplainedHead):
                    items.append(("status", item.status))
                elif isinstance(item, ExplainedFrame):
                    plain = item.opcode == 1 and item.fin
                    items.append(
                        (
                            "frame",
                            item.opcode,
                            item.masked,
                            item.masking_key.hex() if item.masking_key else "",
                            item.close_code,
                            item.payload.decode("utf-8", "replace") if plain else None,
                        )
                    )
    return out


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("captures")
    asyncio.run(generate(out))
    return out


@pytest.fixture(scope="module")
def recorded() -> dict[str, list]:
    async def all_runs() -> dict[str, list]:
        return {s.name: (await record(s)).tape.records for s in SCENARIOS}

    return asyncio.run(all_runs())


@pytest.fixture(scope="module")
def dissected() -> dict[str, list[Packet]]:
    # tshark starts slowly; run the 17 dissections side by side.
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = pool.map(lambda n: tshark(CAPTURES / f"{n}.pcapng"), NAMES)
        return dict(zip(NAMES, results, strict=True))


# --- The set is complete and current -----------------------------------------------------


def test_committed_set_has_every_step_with_companion_md() -> None:
    """RFC 6455 §1.2: one capture per protocol step, each with its packet-by-packet .md.

    https://www.rfc-editor.org/rfc/rfc6455#section-1.2
    """
    assert len(SCENARIOS) >= 17
    for name in NAMES:
        assert (CAPTURES / f"{name}.pcapng").is_file(), name
        md = (CAPTURES / f"{name}.md").read_text(encoding="utf-8")
        assert md.startswith(f"# {name}")
        assert "| No. | Time (s) | Direction | TCP | Len | Comment |" in md
    readme = (CAPTURES / "README.md").read_text(encoding="utf-8")
    for needle in (
        "`http`",
        "`websocket`",
        "`websocket.opcode == 9`",
        'frame.comment contains "§5.5"',
        "Follow TCP Stream",
        "checksum",
        *NAMES,
    ):
        assert needle in readme, needle


def test_regeneration_is_byte_identical(regenerated: Path) -> None:
    """RFC 6455 §5.3 masks and §4.1 keys come from seeded sources: same session, same bytes.

    https://www.rfc-editor.org/rfc/rfc6455#section-5.3
    """
    fresh = sorted(p.name for p in regenerated.iterdir())
    committed = sorted(p.name for p in CAPTURES.iterdir())
    assert fresh == committed
    stale = [n for n in fresh if (regenerated / n).read_bytes() != (CAPTURES / n).read_bytes()]
    assert stale == [], f"stale captures, run `rawproto capture --out captures/`: {stale}"


def test_check_passes_in_another_process_from_the_repo_root() -> None:
    """RFC 6455 §5.3: determinism holds across processes (fresh hash seeds, fresh ports).

    https://www.rfc-editor.org/rfc/rfc6455#section-5.3
    """
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONHASHSEED": "random"}
    done = subprocess.run(
        [sys.executable, "-m", "rawproto", "capture", "--check"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stdout


def test_check_names_every_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """RFC 6455 §5.2: a changed byte anywhere makes --check fail and name the file.

    https://www.rfc-editor.org/rfc/rfc6455#section-5.2
    """
    copy = tmp_path / "captures"
    shutil.copytree(CAPTURES, copy)
    (copy / "07-masked-text-echo.md").write_text("edited\n")
    (copy / "12-close-handshake.pcapng").unlink()
    assert cli.main(["--check", "--dir", str(copy)]) == 1
    err = capsys.readouterr().err
    assert "07-masked-text-echo.md" in err and "12-close-handshake.pcapng" in err
    assert "01-http-get.pcapng" not in err


# --- Comments ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_every_packet_has_a_short_comment_and_the_file_one(name: str) -> None:
    """RFC 9293 §3.4: every packet, data or not, says what it is, in < 240 bytes.

    https://www.rfc-editor.org/rfc/rfc9293#section-3.4
    """
    path = CAPTURES / f"{name}.pcapng"
    comments = read_comments(path)
    with PcapNgReader(str(path)) as reader:
        payloads = [len(bytes(p[TCP].payload)) for p in reader]
    assert len(comments) == len(payloads)
    for n, (c, size) in enumerate(zip(comments, payloads, strict=True), 1):
        assert c, f"packet {n} ({size} bytes) has no comment"
        assert len(c.encode()) < MAX_COMMENT_BYTES
    data_comments = [c for c, size in zip(comments, payloads, strict=True) if size]
    assert any("§" in c for c in data_comments)
    file_comment = read_file_comment(path)
    assert file_comment is not None and file_comment.startswith(f"rawproto {name}")


def test_masked_client_frame_comment_names_the_key() -> None:
    """RFC 6455 §5.3: the comment names the masking key, e.g. 37fa213d (the §5.7 example).

    https://www.rfc-editor.org/rfc/rfc6455#section-5.3
    """
    comments = read_comments(CAPTURES / "07-masked-text-echo.pcapng")
    assert "§5.3 client TEXT 'Hello', masked with key 37fa213d" in comments
    assert "§5.2 server TEXT 'Hello', unmasked" in comments


# --- What Wireshark dissects ---------------------------------------------------------------


@pytest.mark.tool("tshark")
@pytest.mark.parametrize("name", NAMES)
def test_wireshark_reports_no_warning_error_or_bad_checksum(
    name: str, dissected: dict[str, list[Packet]]
) -> None:
    """RFC 9293 §3.1: valid checksums; no expert info at warning or error severity.

    https://www.rfc-editor.org/rfc/rfc9293#section-3.1
    """
    for p in dissected[name]:
        n = p["frame.number"][0]
        assert not p["_ws.malformed"], f"packet {n} malformed"
        assert all(int(s) < PI_WARN for s in p["_ws.expert.severity"]), f"packet {n}"
        assert p["tcp.checksum.status"] == ["1"] and p["ip.checksum.status"] == ["1"], n


@pytest.mark.tool("tshark")
@pytest.mark.parametrize("name", NAMES)
def test_wireshark_dissects_what_the_scenario_sent(
    name: str, dissected: dict[str, list[Packet]], recorded: dict[str, list]
) -> None:
    """RFC 6455 §5.2: request/status lines, opcodes, mask flag and key, text, close codes agree.

    https://www.rfc-editor.org/rfc/rfc6455#section-5.2 (and RFC 9112 §3, §4 for the heads).
    """
    scenario = next(s for s in SCENARIOS if s.name == name)
    assert wireshark_items(dissected[name]) == explained_items(scenario, recorded[name])


@pytest.mark.tool("tshark")
def test_wireshark_sees_the_steps_each_capture_is_about(dissected: dict[str, list[Packet]]) -> None:
    """RFC 6455 §4.2.2, §5.1, §5.4, §5.5, §7.4.1: the point of each capture, as Wireshark shows it.

    https://www.rfc-editor.org/rfc/rfc6455#section-7.4.1
    """
    items = {name: wireshark_items(packets) for name, packets in dissected.items()}

    def frames(name: str, port: int = 50000) -> list[Item]:
        return [i for i in items[name][port] if i[0] == "frame"]

    assert items["01-http-get"][50000] == [("request", "GET", "/"), ("status", 200)]
    assert [i[0] for i in items["02-keep-alive-two-requests"][50000]] == ["request", "status"] * 2
    assert items["05-upgrade-handshake"][50000][:2] == [
        ("request", "GET", "/echo"),
        ("status", 101),
    ]
    statuses = {
        p: [i for i in v if i[0] == "status"] for p, v in items["06-rejected-handshakes"].items()
    }
    assert statuses == {
        50000: [("status", 400)],
        50001: [("status", 403)],
        50002: [("status", 426)],
    }
    assert frames("07-masked-text-echo")[:2] == [
        ("frame", 1, True, "37fa213d", None, "Hello"),
        ("frame", 1, False, "", None, "Hello"),
    ]
    assert [f[1] for f in frames("09-fragmentation-with-interleaved-ping")] == [
        1,
        9,
        10,
        0,
        0,
        1,
        8,
        8,
    ]
    assert [f[1] for f in frames("10-ping-pong")][:4] == [9, 10, 9, 10]
    assert [(f[1], f[4]) for f in frames("11-heartbeat-timeout")] == [(9, None), (8, 1011)]
    assert frames("14-protocol-error-1002")[0][:3] == ("frame", 1, False)  # unmasked client frame
    assert [f[4] for f in frames("14-protocol-error-1002")] == [None, 1002]
    assert [f[4] for f in frames("15-invalid-utf8-1007")] == [None, 1007]
    assert [f[4] for f in frames("16-message-too-big-1009")] == [None, 1009, 1009]
    # 04: two TCP streams; the second poll of the new connection gets seq 3.
    assert set(items["04-long-polling"]) == {50000, 50001}
    # 08: the three length encodings of §5.2.
    lengths = subprocess.run(
        [
            require_tool("tshark"),
            "-r",
            str(CAPTURES / "08-payload-lengths-125-126-65536.pcapng"),
            "-Y",
            "websocket.opcode == 2",
            "-T",
            "fields",
            "-e",
            "websocket.payload_length",
            "-e",
            "websocket.payload_length_ext_16",
            "-e",
            "websocket.payload_length_ext_64",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split("\n")
    assert [line.split("\t") for line in lengths if line] == [
        ["125", "", ""],
        ["125", "", ""],
        ["126", "126", ""],
        ["126", "126", ""],
        ["127", "", "65536"],
        ["127", "", "65536"],
    ]


@pytest.mark.tool("tshark")
def test_frame_split_across_two_segments_is_reassembled() -> None:
    """RFC 9293 §3.7.1: at MSS 536 a 608-byte frame travels in two segments; Wireshark joins them.

    https://www.rfc-editor.org/rfc/rfc9293#section-3.7.1 and RFC 6455 §5.2.
    """
    path = CAPTURES / "17-frame-split-across-segments.pcapng"
    with PcapNgReader(str(path)) as reader:
        sizes = [len(bytes(p[TCP].payload)) for p in reader if int(p[TCP].sport) == 50000]
    assert [s for s in sizes if s][1:3] == [536, 72]
    done = subprocess.run(
        [
            require_tool("tshark"),
            "-r",
            str(path),
            "-Y",
            "websocket.opcode == 1",
            "-T",
            "fields",
            "-e",
            "tcp.segment.count",
            "-e",
            "websocket.payload_length_ext_16",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.split("\n")[0].split("\t") == ["2", "600"]


@pytest.mark.tool("tshark")
def test_write_session_gives_each_connection_its_own_stream(
    tmp_path: Path, recorded: dict[str, list]
) -> None:
    """RFC 9293 §3.5: one file, one TCP stream per connection, client ports 50000, 50001, ….

    https://www.rfc-editor.org/rfc/rfc9293#section-3.5
    """
    path = tmp_path / "session.pcapng"
    write_session(recorded["06-rejected-handshakes"], path, comment="three connections")
    done = subprocess.run(
        [
            require_tool("tshark"),
            "-r",
            str(path),
            "-Y",
            "tcp.flags.syn == 1 && tcp.flags.ack == 0",
            "-T",
            "fields",
            "-e",
            "tcp.stream",
            "-e",
            "tcp.srcport",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.split() == ["0", "50000", "1", "50001", "2", "50002"]
    assert read_file_comment(path) == "three connections"


# --- Live capture ----------------------------------------------------------------------------


def test_live_capture_without_permission_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """RFC 9293 §3.1: sniffing needs root or CAP_NET_RAW; without them, say so and exit 2.

    https://www.rfc-editor.org/rfc/rfc9293#section-3.1
    """
    from rawproto.capture import live

    monkeypatch.setattr(live, "can_capture", lambda: False)
    assert cli.main(["--live", "--port", "8080", "-o", str(tmp_path / "x.pcapng")]) == 2
    assert "CAP_NET_RAW" in capsys.readouterr().err


def test_live_capture_to_an_unwritable_file_is_one_line_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A capture that cannot be written is one line on stderr and exit 1, no traceback."""
    from rawproto.capture import live

    class Quiet:  # captures nothing: this test is about the error path
        def __init__(self, port: int) -> None:
            pass

        def start(self) -> None:
            pass

        def stop(self) -> list[object]:
            return []

    monkeypatch.setattr(live, "LiveCapture", Quiet)
    out = tmp_path / "missing" / "x.pcapng"
    args = ["--live", "--port", "8080", "-o", str(out), "--duration", "0.01"]
    assert cli.main(args) == 1
    err = capsys.readouterr().err
    assert "cannot write" in err and "Traceback" not in err


@pytest.mark.tool("tshark")
def test_live_capture_dissects_to_the_same_messages_as_the_synthesized_one(tmp_path: Path) -> None:
    """RFC 6455 §5.6: a real session sniffed on lo carries the same messages as its synthesis.

    https://www.rfc-editor.org/rfc/rfc6455#section-5.6
    """
    from rawproto.capture.live import LiveCapture, can_capture, write_live

    exe = require_tool("tshark")
    if not can_capture():
        message = "live capture needs root or CAP_NET_RAW"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{message} ({REQUIRE_ENV}=1)")
        pytest.skip(message)

    async def session() -> tuple[Run, int, list]:
        r = Run(99)
        srv = await r.server(basic_router())
        port = srv.port
        cap = LiveCapture(port)
        cap.start()
        try:
            ws = await r.websocket(srv)
            for text in ("Hello", "κόσμε", "x" * 300):
                await ws.send(text)
                await ws.recv()
            await ws.ping()
            await ws.close(1000, "bye")
            await r.finish()
            await asyncio.sleep(0.3)
        finally:
            packets = cap.stop()
        return r, port, packets

    r, port, packets = run(session())
    live_path, synth_path = tmp_path / "live.pcapng", tmp_path / "synth.pcapng"
    write_live(live_path, packets, port)
    write_session(r.tape.records, synth_path, comment="the same session, synthesized")

    def messages(path: Path, *extra: str) -> list[list[str]]:
        done = subprocess.run(
            [
                exe,
                "-r",
                str(path),
                *extra,
                "-Y",
                "websocket",
                "-T",
                "fields",
                "-e",
                "tcp.srcport",
                "-e",
                "websocket.opcode",
                "-e",
                "websocket.mask",
                "-e",
                "websocket.payload.text",
                "-e",
                "websocket.payload.close.status_code",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        rows = [line.split("\t") for line in done.stdout.splitlines()]
        # Ports differ (live: the real ones); keep who sent it.
        return [["server" if row[0] in (str(port), "8080") else "client", *row[1:]] for row in rows]

    live = messages(live_path, "-d", f"tcp.port=={port},http")
    synthesized = messages(synth_path)
    assert live == synthesized
    assert [row[1] for row in live] == ["1", "1", "1", "1", "1", "1", "9", "10", "8", "8"]
