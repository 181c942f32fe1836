"""rawproto.capture: WireRecords → TCP/IP packets → pcapng that Wireshark reads.

TCP rules: RFC 9293, https://www.rfc-editor.org/rfc/rfc9293
WebSocket rules: RFC 6455, https://www.rfc-editor.org/rfc/rfc6455
"""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Packet
from tools import require_tool

from rawproto.capture import read_comments, read_file_comment, synthesize, write_pcapng
from rawproto.capture.tcpflow import MAX_COMMENT_BYTES
from rawproto.core.trace import Direction, Kind, Role, WireRecord

H = bytes.fromhex

HTTP_REQUEST = b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: rawproto\r\n\r\n"
HTTP_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
WS_UPGRADE = (
    b"GET /chat HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)
WS_101 = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
)
WS_TEXT_MASKED = H("818537fa213d7f9f4d5158")  # RFC 6455 §5.7: masked "Hello"
WS_TEXT_ECHO = H("810548656c6c6f")  # unmasked "Hello"
WS_CLOSE_MASKED = H("888237fa213d3412")  # CLOSE 1000, masked with 37fa213d
WS_CLOSE_ECHO = H("880203e8")  # CLOSE 1000

Step = tuple[Direction, Kind, bytes, str]


def records(role: Role, steps: Sequence[Step], *, step: float = 0.001) -> list[WireRecord]:
    """Records as ``role`` would make them, ``step`` seconds apart."""
    return [
        WireRecord(7, role, d, k, data, time=10.0 + i * step, note=note)
        for i, (d, k, data, note) in enumerate(steps)
    ]


def directions(role: Role) -> tuple[Direction, Direction]:
    """(client → server, server → client) as ``role`` records them."""
    return ("send", "recv") if role == "client" else ("recv", "send")


def http_get(role: Role = "client") -> list[WireRecord]:
    """Client view: GET, 200 response, client FIN first, then the server's."""
    send, recv = directions(role)
    c_eof, s_eof = send, recv
    return records(
        role,
        [
            ("send", "open", b"", ""),
            (send, "data", HTTP_REQUEST, "GET /hello: the request line and headers"),
            (recv, "data", HTTP_RESPONSE, ""),
            (c_eof, "eof", b"", ""),
            (s_eof, "eof", b"", ""),
            ("send", "close", b"", ""),
        ],
    )


def websocket_echo(role: Role = "client") -> list[WireRecord]:
    """Upgrade, 101, a masked text frame, its echo, CLOSE both ways, server FIN first."""
    send, recv = directions(role)
    return records(
        role,
        [
            ("send", "open", b"", ""),
            (send, "data", WS_UPGRADE, "WebSocket opening handshake: the Upgrade request"),
            (recv, "data", WS_101, "101 Switching Protocols: the connection is now WebSocket"),
            (send, "state", b"", "= OPEN"),
            (send, "data", WS_TEXT_MASKED, "> TEXT 'Hello' [5 bytes], masked"),
            (recv, "data", WS_TEXT_ECHO, "< TEXT 'Hello' [5 bytes]"),
            (send, "data", WS_CLOSE_MASKED, "> CLOSE 1000 (OK) [2 bytes]"),
            (recv, "data", WS_CLOSE_ECHO, "< CLOSE 1000 (OK) [2 bytes]"),
            (recv, "eof", b"", ""),  # the server's FIN comes first
            (send, "eof", b"", ""),
            ("send", "close", b"", ""),
        ],
    )


def big_chunk(size: int = 5000) -> list[WireRecord]:
    body = bytes(i % 251 for i in range(size))
    return records(
        "client",
        [
            ("send", "open", b"", ""),
            ("send", "data", body, ""),
            ("send", "eof", b"", ""),
            ("recv", "eof", b"", ""),
        ],
    )


def comment(pkt: Packet) -> str:
    assert pkt.comments is not None
    return pkt.comments[0].decode("utf-8")


def flags(pkt: Packet) -> str:
    return str(pkt[TCP].flags)


def payload(pkt: Packet) -> bytes:
    return bytes(pkt[TCP].payload)


def from_client(pkt: Packet) -> bool:
    return int(pkt[TCP].dport) == 8080


def check_seq_ack(pkts: Sequence[Packet]) -> None:
    """Every seq is the sender's next byte, every ack the peer's next byte."""
    nxt: dict[bool, int] = {}
    for i, p in enumerate(pkts):
        me, peer = from_client(p), not from_client(p)
        tcp = p[TCP]
        if "S" in flags(p):
            nxt[me] = int(tcp.seq)
        assert int(tcp.seq) == nxt[me], f"packet {i}: seq"
        if "A" in flags(p):
            assert int(tcp.ack) == nxt[peer], f"packet {i}: ack"
        else:
            assert i == 0 and int(tcp.ack) == 0, f"packet {i}: only the SYN lacks ACK"
        nxt[me] = (nxt[me] + len(payload(p)) + ("S" in flags(p)) + ("F" in flags(p))) % 2**32


# --- TCP, RFC 9293 ------------------------------------------------------------


def test_three_way_handshake_with_mss_option() -> None:
    """RFC 9293 §3.5: SYN, SYN-ACK, ACK; each SYN's ack is the ISN + 1.

    https://www.rfc-editor.org/rfc/rfc9293#section-3.5 and §3.7.1 (MSS option).
    """
    pkts = synthesize(http_get(), mss=1400, isn=(1000, 5000))
    syn, synack, ack = pkts[:3]
    assert (flags(syn), flags(synack), flags(ack)) == ("S", "SA", "A")
    assert (syn[TCP].seq, synack[TCP].seq, synack[TCP].ack) == (1000, 5000, 1001)
    assert (ack[TCP].seq, ack[TCP].ack) == (1001, 5001)
    assert ("MSS", 1400) in syn[TCP].options
    assert ("MSS", 1400) in synack[TCP].options
    assert (syn[IP].src, syn[TCP].sport, syn[IP].dst, syn[TCP].dport) == (
        "127.0.0.1",
        50000,
        "127.0.0.1",
        8080,
    )
    assert syn[Ether].src == syn[Ether].dst == "00:00:00:00:00:00"


def test_sequence_numbers_count_bytes_not_packets() -> None:
    """RFC 9293 §3.4: seq is the number of the first data byte; ack the next one expected.

    https://www.rfc-editor.org/rfc/rfc9293#section-3.4
    """
    for recs in (http_get(), websocket_echo(), big_chunk()):
        check_seq_ack(synthesize(recs))
    pkts = synthesize(http_get())
    req = next(p for p in pkts if payload(p) == HTTP_REQUEST)
    resp = next(p for p in pkts if payload(p) == HTTP_RESPONSE)
    assert req[TCP].seq == 1001 and req[TCP].ack == 5001
    assert resp[TCP].seq == 5001 and resp[TCP].ack == 1001 + len(HTTP_REQUEST)


def test_sequence_numbers_wrap_modulo_2_32() -> None:
    """RFC 9293 §3.4: sequence arithmetic is modulo 2**32.

    https://www.rfc-editor.org/rfc/rfc9293#section-3.4
    """
    pkts = synthesize(http_get(), isn=(2**32 - 10, 2**32 - 1))
    check_seq_ack(pkts)
    assert pkts[1][TCP].ack == 2**32 - 9 and pkts[2][TCP].ack == 0


def test_each_byte_appears_once_in_order() -> None:
    """RFC 9293 §3.4: each direction's payloads concatenate to exactly the bytes sent.

    https://www.rfc-editor.org/rfc/rfc9293#section-3.4
    """
    pkts = synthesize(websocket_echo())
    up = b"".join(payload(p) for p in pkts if from_client(p))
    down = b"".join(payload(p) for p in pkts if not from_client(p))
    assert up == WS_UPGRADE + WS_TEXT_MASKED + WS_CLOSE_MASKED
    assert down == WS_101 + WS_TEXT_ECHO + WS_CLOSE_ECHO


def test_client_and_server_views_give_the_same_packets() -> None:
    """RFC 9293 §3.4: one stream, whichever endpoint recorded it.

    https://www.rfc-editor.org/rfc/rfc9293#section-3.4
    """
    for make in (http_get, websocket_echo):
        c = [bytes(p) for p in synthesize(make("client"))]
        s = [bytes(p) for p in synthesize(make("server"))]
        assert c == s
    # Mixed records: only the first record's role (or ``view``) is used.
    mixed = http_get("client") + http_get("server")
    assert [bytes(p) for p in synthesize(mixed)] == [
        bytes(p) for p in synthesize(http_get("client"))
    ]
    assert [bytes(p) for p in synthesize(mixed, view="server")] == [
        bytes(p) for p in synthesize(http_get("server"))
    ]


def test_chunk_larger_than_mss_becomes_several_segments() -> None:
    """RFC 9293 §3.7.1: no segment carries more than the MSS; 5000 = 3 × 1460 + 620.

    https://www.rfc-editor.org/rfc/rfc9293#section-3.7.1
    """
    pkts = synthesize(big_chunk(5000), mss=1460)
    data = [p for p in pkts if payload(p)]
    assert [len(payload(p)) for p in data] == [1460, 1460, 1460, 620]
    assert [flags(p) for p in data] == ["A", "A", "A", "PA"]  # PSH on the last one
    assert [int(p[TCP].seq) for p in data] == [1001, 2461, 3921, 5381]
    assert b"".join(payload(p) for p in data) == big_chunk(5000)[1].data
    comments = [comment(p) for p in data]
    assert comments[0] == "client → server: 5000 bytes (segment 1 of 4, MSS 1460)"
    assert comments[3].endswith("(segment 4 of 4, MSS 1460)")
    # SYN, SYN-ACK, ACK, 4 segments, ACK, FIN, FIN (carries the ACK), final ACK
    assert len(pkts) == 3 + 4 + 1 + 3
    check_seq_ack(pkts)


def test_receiver_acknowledges_data() -> None:
    """RFC 9293 §3.4: the receiver ACKs the next byte it expects.

    https://www.rfc-editor.org/rfc/rfc9293#section-3.4
    """
    pkts = synthesize(big_chunk(5000))
    ack = pkts[7]
    assert not from_client(ack) and flags(ack) == "A" and not payload(ack)
    assert ack[TCP].ack == 1001 + 5000
    assert "acknowledges 5000 bytes" in comment(ack)
    # A reply that goes out at once carries the ACK itself (no extra pure ACK).
    http = synthesize(http_get())
    assert [flags(p) for p in http[3:5]] == ["PA", "PA"]


def test_fin_teardown_follows_the_records() -> None:
    """RFC 9293 §3.6: the side whose eof comes first sends the first FIN.

    https://www.rfc-editor.org/rfc/rfc9293#section-3.6
    """
    pkts = synthesize(http_get())
    tail = [(from_client(p), flags(p)) for p in pkts[-3:]]
    assert tail == [(True, "FA"), (False, "FA"), (True, "A")]
    assert pkts[-1][TCP].ack == pkts[-2][TCP].seq + 1


def test_missing_eof_still_closes_cleanly() -> None:
    """RFC 9293 §3.6: closing a socket sends FIN; both sides end with FIN + ACK.

    https://www.rfc-editor.org/rfc/rfc9293#section-3.6
    """
    recs = records(
        "server",
        [
            ("recv", "data", HTTP_REQUEST, ""),
            ("send", "data", HTTP_RESPONSE, ""),
            ("send", "close", b"", ""),
        ],
    )
    pkts = synthesize(recs)
    check_seq_ack(pkts)
    fins = [from_client(p) for p in pkts if "F" in flags(p)]
    assert fins == [False, True]  # the server's close sends the first FIN
    assert flags(pkts[-1]) == "A"


def test_data_after_fin_is_rejected() -> None:
    """RFC 9293 §3.6: after FIN a side sends no more data.

    https://www.rfc-editor.org/rfc/rfc9293#section-3.6
    """
    recs = records("client", [("send", "eof", b"", ""), ("send", "data", b"late", "")])
    with pytest.raises(ValueError, match="after its FIN"):
        synthesize(recs)


def test_checksums_are_valid() -> None:
    """RFC 9293 §3.1: the TCP checksum covers pseudo-header, header and data.

    https://www.rfc-editor.org/rfc/rfc9293#section-3.1 (IPv4 header checksum: RFC 791).
    """
    for recs in (http_get(), websocket_echo(), big_chunk()):
        for p in synthesize(recs):
            again = Ether(bytes(p))
            stored = (again[IP].chksum, again[TCP].chksum)
            del again[IP].chksum
            del again[TCP].chksum
            fresh = Ether(bytes(again))
            assert stored == (fresh[IP].chksum, fresh[TCP].chksum)


def test_timestamps_follow_record_times() -> None:
    """RFC 9293 §3.5: packets keep the records' order and spacing, ≥ 1 µs apart.

    https://www.rfc-editor.org/rfc/rfc9293#section-3.5
    """
    pkts = synthesize(http_get(), start_time=1_700_000_000.0)
    times = [int(p.time * 1_000_000) for p in pkts]
    assert times[0] == 1_700_000_000_000_000
    assert all(b - a >= 1 for a, b in itertools.pairwise(times))
    # The request record is 1 ms after the open record.
    assert times[3] == 1_700_000_000_001_000


# --- Comments ---------------------------------------------------------------


def test_every_packet_has_a_comment() -> None:
    """RFC 9293 §3.5: the handshake packets say what they do, data packets say whose bytes.

    https://www.rfc-editor.org/rfc/rfc9293#section-3.5
    """
    pkts = synthesize(websocket_echo())
    comments = [comment(p) for p in pkts]
    assert all(comments)
    assert comments[0].startswith(
        "TCP SYN: client 127.0.0.1:50000 opens a connection to the server"
    )
    assert "RFC 9293 §3.5" in comments[0]
    assert comments[3] == "WebSocket opening handshake: the Upgrade request"
    plain = synthesize(big_chunk(100))
    assert plain[3].comments == [b"client \xe2\x86\x92 server: 100 bytes"]


def test_annotate_overrides_and_long_comments_are_cut() -> None:
    """RFC 9293 §3.7.1: annotate sees each segment's index and count.

    https://www.rfc-editor.org/rfc/rfc9293#section-3.7.1
    """
    seen: list[tuple[int, int]] = []

    def annotate(record: WireRecord, index: int, count: int) -> str:
        seen.append((index, count))
        return "é" * 300

    pkts = synthesize(big_chunk(3000), annotate=annotate)
    assert seen == [(0, 3), (1, 3), (2, 3)]
    for p in pkts:
        raw = comment(p).encode()
        assert len(raw) < MAX_COMMENT_BYTES
        text = raw.decode("utf-8")  # never cut inside a character
        if payload(p):
            assert text.endswith("…") and text.startswith("éé")


# --- pcapng -------------------------------------------------------------------


def test_pcapng_regeneration_is_byte_identical(tmp_path: Path) -> None:
    """RFC 9293 §3.4: same records, same capture, byte for byte.

    https://www.rfc-editor.org/rfc/rfc9293#section-3.4
    """
    a, b = tmp_path / "a.pcapng", tmp_path / "b.pcapng"
    write_pcapng(a, synthesize(websocket_echo()), comment="rawproto: WebSocket echo")
    write_pcapng(b, synthesize(websocket_echo()), comment="rawproto: WebSocket echo")
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"  # Section Header Block


def test_pcapng_keeps_packet_and_file_comments(tmp_path: Path) -> None:
    """RFC 9293 §3.5: the comments survive the file (opt_comment in EPB and SHB).

    https://www.rfc-editor.org/rfc/rfc9293#section-3.5
    """
    pkts = synthesize(websocket_echo())
    path = tmp_path / "ws.pcapng"
    write_pcapng(path, pkts, comment="WebSocket echo — synthesized by rawproto")
    assert read_comments(path) == [comment(p) for p in pkts]
    assert read_file_comment(path) == "WebSocket echo — synthesized by rawproto"
    write_pcapng(path, pkts)
    assert read_file_comment(path) is None


# --- Wireshark's view ---------------------------------------------------------


def tshark(path: Path, *args: str) -> str:
    exe = require_tool("tshark")
    done = subprocess.run(
        [exe, "-r", str(path), "-o", "tcp.check_checksum:TRUE", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


@pytest.fixture
def ws_capture(tmp_path: Path) -> Path:
    path = tmp_path / "ws.pcapng"
    write_pcapng(path, synthesize(websocket_echo()), comment="WebSocket echo")
    return path


@pytest.fixture
def http_capture(tmp_path: Path) -> Path:
    path = tmp_path / "http.pcapng"
    write_pcapng(path, synthesize(http_get()), comment="HTTP GET")
    return path


@pytest.mark.tool("tshark")
def test_tshark_finds_no_bad_checksum(ws_capture: Path, http_capture: Path) -> None:
    """RFC 9293 §3.1: Wireshark verifies every TCP checksum as good.

    https://www.rfc-editor.org/rfc/rfc9293#section-3.1
    """
    for path in (ws_capture, http_capture):
        assert tshark(path, "-Y", 'tcp.checksum.status == "Bad"') == ""
        good = tshark(path, "-Y", 'tcp.checksum.status == "Good"').strip().splitlines()
        assert len(good) == len(read_comments(path))


@pytest.mark.tool("tshark")
def test_tshark_reports_nothing_malformed(ws_capture: Path, http_capture: Path) -> None:
    """RFC 9293 §3.4: no retransmissions, gaps or malformed packets in Wireshark's eyes.

    https://www.rfc-editor.org/rfc/rfc9293#section-3.4
    """
    for path in (ws_capture, http_capture):
        detail = tshark(path, "-V")
        assert "malformed" not in detail.lower()
        assert "Expert Info (Error" not in detail
        assert "Expert Info (Warning" not in detail


@pytest.mark.tool("tshark")
def test_tshark_dissects_http_request_and_response(http_capture: Path) -> None:
    """RFC 9293 §3.4: the segments reassemble into an HTTP request and response.

    https://www.rfc-editor.org/rfc/rfc9293#section-3.4 (HTTP/1.1: RFC 9112).
    """
    out = tshark(
        http_capture,
        "-Y",
        "http",
        "-T",
        "fields",
        "-e",
        "http.request.method",
        "-e",
        "http.response.code",
    )
    assert out.split("\n")[:2] == ["GET\t", "\t200"]


@pytest.mark.tool("tshark")
def test_tshark_dissects_websocket_frames_after_upgrade(ws_capture: Path) -> None:
    """RFC 6455 §5.2: after Upgrade + 101, Wireshark reads the frames; client ones masked.

    https://www.rfc-editor.org/rfc/rfc6455#section-5.2 and §5.3 (masking).
    """
    out = tshark(
        ws_capture,
        "-Y",
        "websocket",
        "-T",
        "fields",
        "-e",
        "websocket.opcode",
        "-e",
        "websocket.mask",
    )
    assert out.split() == ["1", "1", "1", "0", "8", "1", "8", "0"]
    text = tshark(ws_capture, "-Y", "websocket.opcode == 1", "-V")
    assert text.count("Text: Hello") == 2


@pytest.mark.tool("tshark")
def test_tshark_filters_on_packet_comments(ws_capture: Path) -> None:
    """RFC 6455 §7.1.1: the server closes the TCP connection first, and says so.

    https://www.rfc-editor.org/rfc/rfc6455#section-7.1.1
    """
    out = tshark(
        ws_capture,
        "-Y",
        'frame.comment contains "closes its sending side first"',
        "-T",
        "fields",
        "-e",
        "tcp.srcport",
        "-e",
        "tcp.flags.fin",
    )
    assert out.split() == ["8080", "1"]
    masked = tshark(
        ws_capture, "-Y", 'frame.comment contains "masked"', "-T", "fields", "-e", "websocket.mask"
    )
    assert masked.split() == ["1"]


def test_no_records_give_an_empty_but_valid_pcapng(tmp_path: Path) -> None:
    """RFC 9293 §3.5: no records, no connection; the file still has its header.

    https://www.rfc-editor.org/rfc/rfc9293#section-3.5
    """
    assert synthesize([]) == []
    path = tmp_path / "empty.pcapng"
    write_pcapng(path, [], comment="nothing happened")
    assert read_comments(path) == []
    assert read_file_comment(path) == "nothing happened"
