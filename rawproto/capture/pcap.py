"""Write and read pcapng files, deterministically.

scapy's :class:`~scapy.utils.PcapNgWriter` writes one Enhanced Packet Block
per packet, with the packet's ``comments`` as ``opt_comment`` options, but its
Section Header Block carries no options. :class:`_Writer` adds the file-level
comment and the writing application there
(https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcapng/, section 4.1).

Nothing in the output depends on the clock, the host or the file name: the
same packets (with their ``time`` and ``comments``) give the same bytes.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable

from scapy.packet import Packet
from scapy.utils import PcapNgReader, PcapNgWriter

_SHB = b"\x0a\x0d\x0d\x0a"
_BYTE_ORDER_MAGIC = b"\x4d\x3c\x2b\x1a"  # 0x1A2B3C4D, little-endian
_OPT_END, _OPT_COMMENT, _SHB_USERAPPL = 0, 1, 4
_USERAPPL = b"rawproto"


class _Writer(PcapNgWriter):
    """A PcapNgWriter whose Section Header Block has a comment option."""

    def __init__(self, filename: str, section_comment: str | None) -> None:
        super().__init__(filename)
        self._section_comment = section_comment

    def _option(self, code: int, value: bytes) -> bytes:
        return struct.pack("<HH", code, len(value)) + self._add_padding(value)

    def _write_block_shb(self) -> None:
        body = _BYTE_ORDER_MAGIC + struct.pack("<HHq", 1, 0, -1)
        opts = b""
        if self._section_comment:
            opts += self._option(_OPT_COMMENT, self._section_comment.encode("utf-8"))
        opts += self._option(_SHB_USERAPPL, _USERAPPL)
        opts += struct.pack("<HH", _OPT_END, 0)
        self.f.write(self.build_block(_SHB, body, options=opts))


def write_pcapng(
    path: str | os.PathLike[str],
    packets: Iterable[Packet],
    *,
    comment: str | None = None,
) -> None:
    """Write ``packets`` to ``path`` as pcapng, with ``comment`` on the file.

    Each packet's ``comments`` become its packet comments and its ``time`` its
    timestamp (microsecond resolution). Set ``time`` yourself (as
    :func:`rawproto.capture.tcpflow.synthesize` does): scapy stamps a packet
    with the wall clock when it is created.
    """
    writer = _Writer(os.fspath(path), comment)
    try:
        for pkt in packets:
            writer.write(pkt)
        if not writer.header_present:
            # No packets: still a valid file (SHB + an Ethernet IDB).
            writer.linktype = 1
            writer.write_header(None)
    finally:
        writer.f.close()


def read_comments(path: str | os.PathLike[str]) -> list[str]:
    """The comment of every packet in ``path``, in order ("" when none).

    A packet with several comments gives them joined by newlines.
    """
    out: list[str] = []
    with PcapNgReader(os.fspath(path)) as reader:
        for pkt in reader:
            comments = pkt.comments or []
            out.append("\n".join(bytes(c).decode("utf-8", "replace") for c in comments))
    return out


def read_file_comment(path: str | os.PathLike[str]) -> str | None:
    """The comment of the first Section Header Block, or None.

    scapy's reader skips the section's options, so this reads them itself.
    """
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != _SHB:
            raise ValueError(f"{path}: not a pcapng file")
        endian = "<" if head[8:12] == _BYTE_ORDER_MAGIC else ">"
        (total,) = struct.unpack(endian + "I", head[4:8])
        block = head + f.read(total - 12)
    opts = block[24 : total - 4]  # after type, length, magic, version, section length
    while len(opts) >= 4:
        code, length = struct.unpack(endian + "HH", opts[:4])
        if code == _OPT_END:
            break
        if code == _OPT_COMMENT:
            return opts[4 : 4 + length].decode("utf-8", "replace")
        opts = opts[4 + length + (-length % 4) :]
    return None
