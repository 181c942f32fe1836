"""The frame explainer against RFC 6455 §5 — and against wsproto.

One test per rule, named after it, with the RFC section in its docstring.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wsproto.frame_protocol import FrameDecoder, FrameProtocol, Opcode, ParseFailed

from rawproto.core.trace import CLOSE_CODE_NAMES
from rawproto.explain.frames import (
    ExplainedFrame,
    FrameStream,
    Truncated,
    explain_frame,
    explain_frames,
    unmask,
)

H = bytes.fromhex

# RFC 6455 §5.7 examples.
UNMASKED_HELLO = H("81 05 48656c6c6f")
MASKED_HELLO = H("81 85 37fa213d 7f9f4d5158")
FRAGMENT_1 = H("01 03 48656c")
FRAGMENT_2 = H("80 02 6c6f")
PING_HELLO = H("89 05 48656c6c6f")
MASKED_PONG_HELLO = H("8a 85 37fa213d 7f9f4d5158")
BINARY_256 = H("82 7E 0100") + bytes(256)
BINARY_64K = H("82 7F 0000000000010000") + bytes(65536)


def sections(frame: ExplainedFrame) -> list[str]:
    return [v.section for v in frame.violations]


# --- §5.7 examples ------------------------------------------------------------------


def test_single_frame_unmasked_text_5_7() -> None:
    """RFC 6455 §5.7: a single-frame unmasked text message "Hello"."""
    f = explain_frame(UNMASKED_HELLO, "server")
    assert (f.fin, f.opcode, f.opcode_name, f.masked) == (True, 1, "TEXT", False)
    assert (f.payload_length, f.length_encoding, f.masking_key) == (5, "7-bit", None)
    assert f.payload == f.masked_payload == b"Hello"
    assert f.text == "Hello" and f.violations == ()
    assert f.trace_line("recv") == "< TEXT 'Hello' [5 bytes]"


def test_single_frame_masked_text_5_7() -> None:
    """RFC 6455 §5.7: a masked "Hello" with key 37 fa 21 3d, unmasked by §5.3 XOR."""
    f = explain_frame(MASKED_HELLO, "client")
    assert f.masked and f.masking_key == H("37fa213d")
    assert f.masked_payload == H("7f9f4d5158") and f.payload == b"Hello"
    assert f.xor[0] == "7f ^ 37 = 48 'H'"
    assert f.xor[4] == "58 ^ 37 = 6f 'o'"  # the key wraps around: i % 4
    assert f.text == "Hello" and f.violations == ()
    assert f.field("masking key").start == 2 and f.field("masking key").end == 6
    assert f.field("payload").start == 6 and f.field("payload").end == 11


def test_fragmented_unmasked_text_5_7() -> None:
    """RFC 6455 §5.7: "Hel" (FIN=0, TEXT) then "lo" (FIN=1, CONT)."""
    first, second = explain_frames(FRAGMENT_1 + FRAGMENT_2, "server")
    assert (first.fin, first.opcode_name, first.text) == (False, "TEXT", "Hel")
    assert (second.fin, second.opcode_name, second.text) == (True, "CONT", "lo")
    assert first.violations == second.violations == ()
    assert first.trace_line("recv") == "< TEXT 'Hel' [3 bytes, continued]"
    assert second.offset == len(FRAGMENT_1)


def test_ping_and_masked_pong_5_7() -> None:
    """RFC 6455 §5.7: unmasked Ping "Hello", masked Pong "Hello"."""
    ping = explain_frame(PING_HELLO, "server")
    pong = explain_frame(MASKED_PONG_HELLO, "client")
    assert (ping.opcode_name, ping.payload, ping.is_control) == ("PING", b"Hello", True)
    assert (pong.opcode_name, pong.payload, pong.masked) == ("PONG", b"Hello", True)
    assert ping.violations == pong.violations == ()


def test_256_bytes_use_16_bit_length_5_7() -> None:
    """RFC 6455 §5.7: 256 bytes of binary data: 7E then a 16-bit length."""
    f = explain_frame(BINARY_256, "server")
    assert (f.opcode_name, f.payload_length, f.length_encoding) == ("BINARY", 256, "16-bit")
    assert f.field("extended length").start == 2 and f.field("extended length").end == 4
    assert f.text is None and f.shown.startswith("00 00") and f.violations == ()


def test_64_kib_use_64_bit_length_5_7() -> None:
    """RFC 6455 §5.7: 64 KiB of binary data: 7F then a 64-bit length."""
    f = explain_frame(BINARY_64K, "server")
    assert (f.payload_length, f.length_encoding) == (65536, "64-bit")
    assert f.field("extended length").end == 10 and f.violations == ()


# --- one test per rule ------------------------------------------------------------------


def test_control_frame_payload_over_125_breaks_5_5() -> None:
    """RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or less"."""
    f = explain_frame(H("89 7E 007E") + bytes(126), "server")
    assert "5.5" in sections(f)


def test_fragmented_control_frame_breaks_5_5() -> None:
    """RFC 6455 §5.5: control frames "MUST NOT be fragmented" (FIN=0 PING)."""
    f = explain_frame(H("09 00"), "server")
    assert sections(f) == ["5.5"]
    assert f.violations[0].url == "https://www.rfc-editor.org/rfc/rfc6455#section-5.5"


@pytest.mark.parametrize("opcode", [0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF])
def test_reserved_opcode_breaks_5_2(opcode: int) -> None:
    """RFC 6455 §5.2: an unknown opcode MUST fail the connection."""
    f = explain_frame(bytes([0x80 | opcode, 0]), "server")
    assert f.opcode_name == f"reserved 0x{opcode:x}"
    assert "5.2" in sections(f)


@pytest.mark.parametrize("bit", [0x40, 0x20, 0x10])
def test_rsv_bit_without_extension_breaks_5_2(bit: int) -> None:
    """RFC 6455 §5.2: RSV1-3 "MUST be 0 unless an extension is negotiated"."""
    frame = bytes([0x81 | bit, 0])
    assert sections(explain_frame(frame, "server")) == ["5.2"]
    assert explain_frame(frame, "server", extensions=True).violations == ()


def test_client_frame_without_mask_breaks_5_1() -> None:
    """RFC 6455 §5.1: "a client MUST mask all frames that it sends to the server"."""
    assert sections(explain_frame(UNMASKED_HELLO, "client")) == ["5.1"]


def test_server_frame_with_mask_bit_breaks_5_1() -> None:
    """RFC 6455 §5.1: "A server MUST NOT mask any frames that it sends to the client"."""
    assert sections(explain_frame(MASKED_HELLO, "server")) == ["5.1"]


def test_unknown_sender_skips_mask_rules_5_1() -> None:
    """RFC 6455 §5.1: the masking rule depends on who sent the frame."""
    assert explain_frame(UNMASKED_HELLO).violations == ()
    assert explain_frame(MASKED_HELLO).violations == ()


def test_16_bit_length_for_small_payload_breaks_5_2() -> None:
    """RFC 6455 §5.2: "the minimal number of bytes MUST be used to encode the length"."""
    f = explain_frame(H("82 7E 0005") + b"hello", "server")
    assert (f.payload_length, f.length_encoding, sections(f)) == (5, "16-bit", ["5.2"])


def test_64_bit_length_for_16_bit_payload_breaks_5_2() -> None:
    """RFC 6455 §5.2: minimal length encoding (64 bits used where 16 would do)."""
    f = explain_frame(H("82 7F 0000000000000100") + bytes(256), "server")
    assert sections(f) == ["5.2"]


def test_invalid_utf8_in_complete_text_frame_breaks_8_1() -> None:
    """RFC 6455 §8.1: text that is not valid UTF-8 MUST fail the connection."""
    f = explain_frame(H("81 02 c328"), "server")
    assert sections(f) == ["8.1"]


def test_invalid_utf8_across_fragments_breaks_8_1() -> None:
    """RFC 6455 §8.1: UTF-8 is checked over the whole message, across fragments."""
    ok = explain_frames(H("01 01 c3") + H("80 01 a9"), "server")  # "é" split in two
    assert [f.violations for f in ok] == [(), ()]
    assert "".join(f.text or "" for f in ok) == "é"
    bad = explain_frames(H("01 01 c3") + H("80 01 28"), "server")
    assert sections(bad[1]) == ["8.1"]


def test_close_payload_of_one_byte_breaks_5_5_1() -> None:
    """RFC 6455 §5.5.1/§7.4: a close body starts with a 2-byte status code."""
    assert sections(explain_frame(H("88 01 03"), "server")) == ["5.5.1"]


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000])
def test_invalid_close_code_breaks_7_4(code: int) -> None:
    """RFC 6455 §7.4.1/§7.4.2: reserved and out-of-range close codes."""
    f = explain_frame(H("88 02") + code.to_bytes(2, "big"), "server")
    assert f.close_code == code
    assert [v.section[:3] for v in f.violations] == ["7.4"]


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                                  3000, 4999])
def test_valid_close_code_is_named_7_4_1(code: int) -> None:
    """RFC 6455 §7.4.1: defined status codes, and §7.4.2 ranges, are accepted."""
    f = explain_frame(H("88 04") + code.to_bytes(2, "big") + b"by", "server")
    assert f.violations == () and f.close_reason == "by"
    if code in CLOSE_CODE_NAMES:
        assert f.close_name == CLOSE_CODE_NAMES[code]


def test_close_reason_not_utf8_breaks_5_5_1() -> None:
    """RFC 6455 §5.5.1: the close reason is UTF-8."""
    assert sections(explain_frame(H("88 03 03e8 ff"), "server")) == ["5.5.1"]


def test_continuation_without_message_breaks_5_4() -> None:
    """RFC 6455 §5.4: a CONT frame must continue a fragmented message."""
    assert sections(explain_frames(FRAGMENT_2, "server")[0]) == ["5.4"]


def test_new_message_inside_fragmented_one_breaks_5_4() -> None:
    """RFC 6455 §5.4: fragments of two messages must not interleave."""
    frames = explain_frames(FRAGMENT_1 + UNMASKED_HELLO, "server")
    assert sections(frames[1]) == ["5.4"]


def test_control_frame_inside_fragmented_message_is_fine_5_4() -> None:
    """RFC 6455 §5.4: "Control frames MAY be injected in the middle of a fragmented message"."""
    frames = explain_frames(FRAGMENT_1 + PING_HELLO + FRAGMENT_2, "server")
    assert [f.violations for f in frames] == [(), (), ()]


def test_data_after_close_breaks_5_5_1() -> None:
    """RFC 6455 §5.5.1: no data frames after a Close frame."""
    frames = explain_frames(H("88 02 03e8") + UNMASKED_HELLO, "server")
    assert sections(frames[1]) == ["5.5.1"]


# --- streaming --------------------------------------------------------------------------


def test_byte_at_a_time_gives_the_same_frames_5_2() -> None:
    """RFC 6455 §5.2: framing does not depend on how TCP splits the bytes."""
    wire = MASKED_HELLO + MASKED_PONG_HELLO + H("82 FE 0100 00000000") + bytes(256)
    stream = FrameStream("client")
    frames = []
    for b in wire:
        frames += stream.feed(bytes([b]))
    assert frames == explain_frames(wire, "client")
    assert [f.opcode_name for f in frames] == ["TEXT", "PONG", "BINARY"]
    assert stream.needs == ""


def test_several_frames_per_chunk_5_2() -> None:
    """RFC 6455 §5.2: one chunk may carry several frames and the start of another."""
    stream = FrameStream("server")
    frames = stream.feed(UNMASKED_HELLO + PING_HELLO + UNMASKED_HELLO[:3])
    assert [f.opcode_name for f in frames] == ["TEXT", "PING"]
    assert [f.offset for f in frames] == [0, 7]
    assert stream.needs == "needs 4 more bytes" and stream.missing == 4
    assert [f.text for f in stream.feed(UNMASKED_HELLO[3:])] == ["Hello"]


def test_needs_counts_missing_payload_bytes_5_2() -> None:
    """RFC 6455 §5.2: a frame split mid-payload reports the bytes still missing."""
    stream = FrameStream("client")
    assert stream.feed(MASKED_HELLO[:8]) == []
    assert stream.needs == "needs 3 more bytes"
    with pytest.raises(Truncated, match="needs 3 more bytes"):
        explain_frames(MASKED_HELLO[:8])


def test_needs_in_header_is_a_lower_bound_5_2() -> None:
    """RFC 6455 §5.2: until the length is read, only a minimum is known."""
    stream = FrameStream()
    stream.feed(H("82 7E 01"))
    assert stream.needs == "needs at least 1 more byte (16-bit payload length)"


def test_unmask_is_its_own_inverse_5_3() -> None:
    """RFC 6455 §5.3: the same XOR masks and unmasks."""
    key = H("37fa213d")
    assert unmask(unmask(b"Hello, world", key), key) == b"Hello, world"


# --- against wsproto -------------------------------------------------------------------


def _wsproto_frames(wire: bytes, client_sent: bool) -> list[tuple[int, bytes, bool]]:
    decoder = FrameDecoder(client=not client_sent)
    decoder.receive_bytes(wire)
    out = []
    while (frame := decoder.process_buffer()) is not None:
        assert isinstance(frame.payload, bytes)
        out.append((int(frame.opcode), frame.payload, frame.message_finished))
    return out


def _ours(wire: bytes, client_sent: bool) -> list[tuple[int, bytes, bool]]:
    frames = explain_frames(wire, "client" if client_sent else "server")
    for f in frames:
        assert f.masked == client_sent
        assert f.violations == ()
    return [(f.opcode, f.payload, f.fin) for f in frames]


messages = st.one_of(
    st.text(max_size=300).map(lambda t: ("text", t)),
    st.binary(max_size=70_000).map(lambda b: ("binary", b)),
    st.binary(max_size=125).map(lambda b: ("ping", b)),
)
closes = st.sampled_from([1000, 1001, 1003, 1008, 1011, 3000, 4999]).map(lambda c: ("close", c))


@settings(max_examples=150, deadline=None)
@given(client=st.booleans(),
       items=st.tuples(st.lists(messages, min_size=1, max_size=4),
                       st.lists(closes, max_size=1)).map(lambda t: t[0] + t[1]),
       split=st.integers(min_value=1, max_value=64))
def test_frames_encoded_by_wsproto_decode_like_wsproto_5_2(
    client: bool, items: list[tuple[str, object]], split: int
) -> None:
    """RFC 6455 §5.2: our decoder and wsproto's agree on opcode, payload and FIN.

    (A Close, if any, comes last: §5.5.1 forbids data frames after it.)
    """
    proto = FrameProtocol(client=client, extensions=[])
    wire = b""
    for kind, value in items:
        if kind == "close":
            assert isinstance(value, int)
            wire += bytes(proto.close(value, "bye"))
        elif kind == "ping":
            assert isinstance(value, bytes)
            wire += bytes(proto.ping(value))
        else:
            assert isinstance(value, str | bytes)
            wire += bytes(proto.send_data(value))
    assert _ours(wire, client) == _wsproto_frames(wire, client)
    stream = FrameStream("client" if client else "server")
    chunked = []
    for i in range(0, len(wire), split):
        chunked += stream.feed(wire[i : i + split])
    assert [(f.opcode, f.payload, f.fin) for f in chunked] == _ours(wire, client)


@settings(max_examples=100, deadline=None)
@given(client=st.booleans(), text=st.text(min_size=2, max_size=50),
       cut=st.integers(min_value=1, max_value=49))
def test_fragmented_messages_match_wsproto_5_4(client: bool, text: str, cut: int) -> None:
    """RFC 6455 §5.4: a message sent as two fragments decodes to the same frames."""
    proto = FrameProtocol(client=client, extensions=[])
    cut = min(cut, len(text) - 1)
    wire = bytes(proto.send_data(text[:cut], fin=False)) + bytes(proto.send_data(text[cut:]))
    assert _ours(wire, client) == _wsproto_frames(wire, client)
    assert [f.opcode for f in explain_frames(wire)] == [Opcode.TEXT, Opcode.CONTINUATION]


@pytest.mark.parametrize(
    "wire, client_sent",
    [
        (H("89 7E 007E") + bytes(126), False),  # §5.5 control > 125
        (H("09 00"), False),  # §5.5 fragmented control
        (H("83 00"), False),  # §5.2 reserved opcode
        (H("c1 00"), False),  # §5.2 RSV1 without extension
        (UNMASKED_HELLO, True),  # §5.1 unmasked client frame
        (MASKED_HELLO, False),  # §5.1 masked server frame
        (H("82 7E 0005") + b"hello", False),  # §5.2 non-minimal length
        (H("82 7F 0000000000000100") + bytes(256), False),  # §5.2 non-minimal length
        (H("88 01 03"), False),  # §5.5.1 1-byte close
        (H("88 02 03ed"), False),  # §7.4.1 1005 on the wire
        (H("88 02 0bb7"), False),  # §7.4.2 2999
        (H("81 02 c328"), False),  # §8.1 bad UTF-8
    ],
)
def test_frames_wsproto_rejects_have_a_violation(wire: bytes, client_sent: bool) -> None:
    """RFC 6455 §5-§8: whatever wsproto fails the connection for, we explain."""
    proto = FrameProtocol(client=not client_sent, extensions=[])
    proto.receive_bytes(wire)
    with pytest.raises(ParseFailed):
        list(proto.received_frames())
    assert explain_frame(wire, "client" if client_sent else "server").violations


def test_explainer_imports_no_io_or_protocol_library() -> None:
    """The explainer is an independent, pure decoder: stdlib only, no I/O."""
    import subprocess
    import sys

    code = (
        "import sys, rawproto.explain, rawproto.explain.views, rawproto.explain.cli\n"
        "bad = {'h11', 'wsproto', 'asyncio', 'socket', 'scapy'} & set(sys.modules)\n"
        "print(sorted(bad))"
    )
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(__file__))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True)
    assert out.stdout.strip() == "[]"
