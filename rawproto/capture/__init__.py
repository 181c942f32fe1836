"""Synthesized packet captures: WireRecords as annotated pcapng files.

The records say which bytes crossed a socket and when; this package dresses
them in the Ethernet/IPv4/TCP headers a capture on the loopback interface
would show (handshake, segments, ACKs, FIN teardown), puts a comment on every
packet, and writes a pcapng that Wireshark and tshark open cleanly.

* :func:`synthesize` — one connection's records → packets (:mod:`.tcpflow`);
* :func:`write_session` — several connections' records → ONE pcapng, each
  connection its own TCP stream from client port 50000, 50001, … (:mod:`.session`);
* :mod:`.scenarios` and :mod:`.committed` — the captures in ``captures/``;
* :mod:`.live` — real packets sniffed on ``lo``.

scapy is imported only here.
"""

from rawproto.capture.pcap import read_comments, read_file_comment, write_pcapng
from rawproto.capture.session import write_session
from rawproto.capture.tcpflow import Annotate, synthesize

__all__ = [
    "Annotate",
    "read_comments",
    "read_file_comment",
    "synthesize",
    "write_pcapng",
    "write_session",
]
