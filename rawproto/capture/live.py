"""Sniff real 127.0.0.1 traffic with scapy, for comparison with the synthesized captures.

Pitfalls on Linux's loopback interface, and what this module does about them:

* scapy's default sniffing socket (``L2ListenSocket``) also returns the
  packets going *out*, and on ``lo`` every packet goes out and comes back in:
  each would appear twice. :class:`scapy.arch.linux.L2Socket`
  (``conf.L2socket``) drops ``PACKET_OUTGOING`` copies, so each is seen once.
* The kernel leaves loopback checksums to "offload" that never happens: with
  checksum validation on, Wireshark marks them incorrect. That is expected.
* Other programs talk over ``lo`` too, often a lot: a BPF filter in the
  kernel keeps only our port, so the Python reader is not outrun.
* ``lo``'s MTU is 64 KiB, so there is no segmentation at 1460 bytes; one
  ``send()`` is one segment. That is why the committed captures are synthesized.

Capturing needs root or CAP_NET_RAW.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable

from scapy.config import conf
from scapy.layers.inet import TCP
from scapy.packet import Packet
from scapy.sendrecv import AsyncSniffer

from rawproto.capture.pcap import write_pcapng

IFACE = "lo"


class NoPermission(Exception):
    """Raw sockets need root or CAP_NET_RAW."""


def can_capture() -> bool:
    """Can this process open a raw packet socket (root or CAP_NET_RAW)?"""
    try:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    except (PermissionError, OSError, AttributeError):
        return False
    s.close()
    return True


def _on_port(port: int) -> Callable[[Packet], bool]:
    def match(p: Packet) -> bool:
        return TCP in p and port in (int(p[TCP].sport), int(p[TCP].dport))

    return match


class LiveCapture:
    """``start()``, run traffic, ``stop()`` → the packets on ``port`` over ``lo``, each once."""

    def __init__(self, port: int, iface: str = IFACE) -> None:
        if not can_capture():
            raise NoPermission(
                "live capture needs root or CAP_NET_RAW "
                "(try: sudo, or setcap cap_net_raw+ep on the Python binary)"
            )
        self.port = port
        self._started = threading.Event()
        self._sniffer = AsyncSniffer(
            iface=iface,
            L2socket=conf.L2socket,  # not L2ListenSocket: no duplicate outgoing copies
            # A kernel (BPF) filter: a busy lo outruns a Python reader, and the
            # kernel would drop packets from the socket's buffer. lfilter again,
            # in Python, in case the filter could not be compiled.
            filter=f"tcp port {port}",
            lfilter=_on_port(port),
            store=True,
            started_callback=self._started.set,
        )

    def start(self) -> None:
        self._sniffer.start()
        self._started.wait(5)

    def stop(self) -> list[Packet]:
        if self._sniffer.running:
            self._sniffer.stop()
        return list(self._sniffer.results or [])


def write_live(path: str | os.PathLike[str], packets: list[Packet], port: int) -> None:
    comment = (
        f"rawproto live capture on {IFACE}, TCP port {port}: real packets, one per send()"
        " (64 KiB MTU, no segmentation); checksums are left to offload and look wrong"
        " with validation on"
    )
    write_pcapng(path, packets, comment=comment)
