"""Synthesized packet captures: one connection's WireRecords as a pcapng file.

The records say which bytes crossed a socket and when; this package dresses
them in the Ethernet/IPv4/TCP headers a capture on the loopback interface
would show (handshake, segments, ACKs, FIN teardown), puts a comment on every
packet, and writes a pcapng that Wireshark and tshark open cleanly.

scapy is imported only here.
"""

from rawproto.capture.pcap import read_comments, read_file_comment, write_pcapng
from rawproto.capture.tcpflow import Annotate, synthesize

__all__ = ["Annotate", "read_comments", "read_file_comment", "synthesize", "write_pcapng"]
