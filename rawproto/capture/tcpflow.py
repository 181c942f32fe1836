"""One connection's WireRecords as the TCP/IP packets a loopback capture would show.

The records hold only what the application wrote and read. A capture also
shows what TCP added around those bytes, and this module puts it back:

* the three-way handshake, SYN / SYN-ACK / ACK, with the MSS option
  (https://www.rfc-editor.org/rfc/rfc9293#section-3.5);
* data cut into segments of at most ``mss`` bytes
  (https://www.rfc-editor.org/rfc/rfc9293#section-3.7.1), each with a sequence
  number that counts bytes, not packets
  (https://www.rfc-editor.org/rfc/rfc9293#section-3.4);
* an ACK from the receiver after each chunk, unless its next packet (data or
  FIN) goes out at once and carries that ACK anyway;
* the FIN teardown in the order the records give: an ``eof`` record says which
  side sent FIN first (https://www.rfc-editor.org/rfc/rfc9293#section-3.6).
  A side that closed without an ``eof`` record sends its FIN at its ``close``
  record, and any side still open sends one when the records end, so that
  every synthesized connection closes cleanly.

Each byte must appear once, so only the records of one point of view are used
(``view``; by default the role of the first record): its ``send`` records are
the bytes it sent, its ``recv`` records the bytes the peer sent.

The result is deterministic: timestamps come from the records' ``time``
relative to the first record, plus ``start_time``, in whole microseconds, at
least 1 µs apart. Same records in, same packets (and same pcapng) out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from scapy.utils import EDecimal

from rawproto.core.trace import Address, Role, WireRecord

#: ``annotate(record, segment_index, segment_count) -> comment`` for data segments.
Annotate = Callable[[WireRecord, int, int], str]

#: pcapng comments are kept under this many bytes of UTF-8.
MAX_COMMENT_BYTES = 240

_ZERO_MAC = "00:00:00:00:00:00"  # Linux loopback captures show all-zero MACs.
_WINDOW = 65535
_TTL = 64
_MOD = 1 << 32

RFC_HANDSHAKE = "RFC 9293 §3.5"
RFC_SEQUENCE = "RFC 9293 §3.4"
RFC_CLOSE = "RFC 9293 §3.6"


def clip_comment(text: str, limit: int = MAX_COMMENT_BYTES) -> bytes:
    """``text`` as UTF-8 shorter than ``limit`` bytes, cut with "…" if needed."""
    raw = text.encode("utf-8")
    if len(raw) < limit:
        return raw
    ellipsis = "…".encode()
    cut = raw[: limit - 1 - len(ellipsis)].decode("utf-8", "ignore")
    return cut.encode("utf-8") + ellipsis


def _ep(addr: Address) -> str:
    return f"{addr[0]}:{addr[1]}"


@dataclass
class _Side:
    role: Role
    addr: Address
    isn: int
    snd_nxt: int = 0
    ip_id: int = 1
    fin: bool = False

    def __post_init__(self) -> None:
        self.snd_nxt = self.isn


@dataclass(frozen=True)
class _Action:
    kind: str  # "open" | "data" | "fin"
    sender: Role
    record: WireRecord | None


def _sender(record: WireRecord) -> Role:
    return "client" if record.from_client else "server"


def _other(role: Role) -> Role:
    return "server" if role == "client" else "client"


def _plan(records: Sequence[WireRecord], view: Role) -> list[_Action]:
    """What TCP does, in order: handshake, data chunks, FINs."""
    actions: list[_Action] = []
    finned: set[Role] = set()
    first = records[0] if records else None
    opened = next((r for r in records if r.kind == "open"), first)
    actions.append(_Action("open", "client", opened))
    for r in records:
        if r.kind == "data" and r.data:
            who = _sender(r)
            if who in finned:
                raise ValueError(f"{who} sends data after its FIN: {r!r}")
            actions.append(_Action("data", who, r))
        elif r.kind == "eof":
            who = _sender(r)
            if who not in finned:
                finned.add(who)
                actions.append(_Action("fin", who, r))
        elif r.kind == "close" and view not in finned:
            # Closing a socket that has not shut down its writing side sends FIN.
            finned.add(view)
            actions.append(_Action("fin", view, r))
    for who in (view, _other(view)):
        if who not in finned:
            finned.add(who)
            actions.append(_Action("fin", who, None))
    return actions


class _Builder:
    def __init__(
        self,
        client: _Side,
        server: _Side,
        *,
        mss: int,
        start_us: int,
        t0: float,
        annotate: Annotate | None,
    ) -> None:
        self.sides = {"client": client, "server": server}
        self.mss = mss
        self.start_us = start_us
        self.t0 = t0
        self.annotate = annotate
        self.last_us: int | None = None
        self.packets: list[Packet] = []

    def _stamp(self, record: WireRecord | None) -> int:
        want = self.start_us if self.last_us is None else self.last_us + 1
        if record is not None:
            want = max(want, self.start_us + round((record.time - self.t0) * 1_000_000))
        if self.last_us is not None:
            want = max(want, self.last_us + 1)
        self.last_us = want
        return want

    def emit(
        self,
        sender: Role,
        flags: str,
        comment: str,
        *,
        payload: bytes = b"",
        record: WireRecord | None = None,
        options: list[tuple[str, int]] | None = None,
    ) -> Packet:
        src = self.sides[sender]
        dst = self.sides[_other(sender)]
        tcp = TCP(
            sport=src.addr[1],
            dport=dst.addr[1],
            seq=src.snd_nxt % _MOD,
            ack=dst.snd_nxt % _MOD if "A" in flags else 0,
            flags=flags,
            window=_WINDOW,
            options=options or [],
        )
        ip = IP(src=src.addr[0], dst=dst.addr[0], id=src.ip_id & 0xFFFF, flags="DF", ttl=_TTL)
        layers = Ether(src=_ZERO_MAC, dst=_ZERO_MAC) / ip / tcp
        if payload:
            layers = layers / Raw(load=payload)
        # Building computes lengths and the IP and TCP checksums; re-parsing
        # pins them as field values, so the packet shows what the file holds.
        pkt = Ether(bytes(layers))
        pkt.time = EDecimal(self._stamp(record)) / 1_000_000
        pkt.comments = [clip_comment(comment)]
        src.ip_id += 1
        src.snd_nxt += len(payload) + (1 if "S" in flags or "F" in flags else 0)
        self.packets.append(pkt)
        return pkt

    def data_comment(self, record: WireRecord, sender: Role, index: int, count: int) -> str:
        if self.annotate is not None:
            return self.annotate(record, index, count)
        arrow = "client → server" if sender == "client" else "server → client"
        text = record.note or f"{arrow}: {len(record.data)} bytes"
        if count > 1:
            text += f" (segment {index + 1} of {count}, MSS {self.mss})"
        return text


def synthesize(
    records: Sequence[WireRecord],
    *,
    client: Address = ("127.0.0.1", 50000),
    server: Address = ("127.0.0.1", 8080),
    mss: int = 1460,
    start_time: float = 1_700_000_000.0,
    isn: tuple[int, int] = (1000, 5000),
    view: Role | None = None,
    annotate: Annotate | None = None,
) -> list[Packet]:
    """The Ethernet/IPv4/TCP packets of one connection, each with a comment.

    ``records`` are one connection's records; only those recorded by ``view``
    (default: the role of the first record) are used, so each byte appears
    once. ``isn`` is the (client, server) initial sequence number. ``annotate``
    replaces the default comment of data segments (the record's ``note``, else
    "client → server: N bytes"). Comments are cut below 240 bytes.

    The packets carry ``time`` (an exact decimal) and ``comments`` for
    :func:`rawproto.capture.pcap.write_pcapng`.
    """
    if mss < 1:
        raise ValueError(f"mss must be positive, not {mss}")
    if not records:
        return []
    role: Role = view if view is not None else records[0].role
    mine = [r for r in records if r.role == role]
    if not mine:
        raise ValueError(f"no records from the {role}'s point of view")
    conns = {r.conn for r in mine}
    if len(conns) > 1:
        raise ValueError(f"records of several connections: {sorted(conns)}")

    c = _Side("client", client, isn[0] % _MOD)
    s = _Side("server", server, isn[1] % _MOD)
    b = _Builder(
        c,
        s,
        mss=mss,
        start_us=round(start_time * 1_000_000),
        t0=mine[0].time,
        annotate=annotate,
    )
    actions = _plan(mine, role)
    for i, act in enumerate(actions):
        nxt = actions[i + 1] if i + 1 < len(actions) else None
        if act.kind == "open":
            _handshake(b, act.record, mss)
        elif act.kind == "data":
            assert act.record is not None
            _data(b, act, nxt)
        else:
            _fin(b, act, nxt)
    return b.packets


def _handshake(b: _Builder, record: WireRecord | None, mss: int) -> None:
    c, s = b.sides["client"], b.sides["server"]
    b.emit(
        "client",
        "S",
        f"TCP SYN: client {_ep(c.addr)} opens a connection to the server {_ep(s.addr)};"
        f" ISN {c.isn}, MSS {mss} ({RFC_HANDSHAKE})",
        record=record,
        options=[("MSS", mss)],
    )
    b.emit(
        "server",
        "SA",
        f"TCP SYN-ACK: server {_ep(s.addr)} accepts; ISN {s.isn},"
        f" ack {(c.isn + 1) % _MOD} = client ISN + 1, MSS {mss} ({RFC_HANDSHAKE})",
        options=[("MSS", mss)],
    )
    b.emit(
        "client",
        "A",
        f"TCP ACK: client acknowledges the server's SYN (ack {(s.isn + 1) % _MOD});"
        f" the connection is ESTABLISHED ({RFC_HANDSHAKE})",
    )


def _peer_answers_at_once(sender: Role, nxt: _Action | None) -> bool:
    """Does the receiver's next packet carry the ACK anyway (data or FIN)?"""
    return nxt is not None and nxt.kind in ("data", "fin") and nxt.sender != sender


def _data(b: _Builder, act: _Action, nxt: _Action | None) -> None:
    record = act.record
    assert record is not None
    data = record.data
    chunks = [data[i : i + b.mss] for i in range(0, len(data), b.mss)]
    for i, chunk in enumerate(chunks):
        last = i == len(chunks) - 1
        b.emit(
            act.sender,
            "PA" if last else "A",
            b.data_comment(record, act.sender, i, len(chunks)),
            payload=chunk,
            record=record if i == 0 else None,
        )
    if not _peer_answers_at_once(act.sender, nxt):
        peer = _other(act.sender)
        ack = b.sides[act.sender].snd_nxt % _MOD
        b.emit(
            peer,
            "A",
            f"TCP ACK: {peer} acknowledges {len(data)} bytes from the {act.sender}"
            f" (ack {ack}, the next byte it expects) ({RFC_SEQUENCE})",
        )


def _fin(b: _Builder, act: _Action, nxt: _Action | None) -> None:
    who = act.sender
    peer = _other(who)
    me = b.sides[who]
    first = not b.sides[peer].fin
    me.fin = True
    if first:
        text = (
            f"TCP FIN: {who} {_ep(me.addr)} closes its sending side first;"
            f" it will send no more bytes ({RFC_CLOSE})"
        )
    else:
        text = f"TCP FIN: {who} {_ep(me.addr)} closes its side too ({RFC_CLOSE})"
    if act.record is not None and act.record.note and act.record.note != "abort":
        # A scenario's own word on this FIN goes first: it says why.
        text = f"{act.record.note}: {text}"
    b.emit(who, "FA", text, record=act.record)
    if first and _peer_answers_at_once(who, nxt):
        return
    ack = me.snd_nxt % _MOD
    if first:
        text = (
            f"TCP ACK: {peer} acknowledges the {who}'s FIN (ack {ack} = FIN seq + 1);"
            f" the {who} → {peer} direction is closed ({RFC_CLOSE})"
        )
    else:
        text = (
            f"TCP ACK: {peer} acknowledges the {who}'s FIN (ack {ack});"
            f" both directions are closed, the connection is over ({RFC_CLOSE})"
        )
    b.emit(peer, "A", text)
