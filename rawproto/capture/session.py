"""Records of several connections → one annotated pcapng.

:func:`write_session` is what ``rawproto tour --capture FILE`` and the
committed captures use. Per connection it

1. picks the bytes: each direction is cut where its *sender* wrote, because
   that is what a capture shows (one segment per ``send()`` with TCP_NODELAY,
   up to the MSS). The server's records give the order of events (the server
   is where a capture on port 8080 would sit); the client's records, when the
   same process recorded them, give the client's write boundaries and the
   bytes the server never read (a Close echo that arrives after the server
   dropped the connection);
2. spaces the records at least :data:`STEP` apart on the virtual clock;
3. explains the bytes with :mod:`rawproto.explain` (no third decoder), one
   comment per record, naming the step, the fields that matter and the RFC
   section, e.g. ``§5.3 client TEXT 'Hello', masked with key 37fa213d``;
4. builds the TCP packets with :func:`~rawproto.capture.tcpflow.synthesize`,
   each connection its own stream from client port 50000, 50001, ...

Same records in, same bytes out.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from scapy.packet import Packet

from rawproto.capture.pcap import write_pcapng
from rawproto.capture.tcpflow import synthesize
from rawproto.core.trace import Role, WireRecord
from rawproto.explain.conn import ConnectionExplainer, Note
from rawproto.explain.frames import ExplainedFrame
from rawproto.explain.http import BodyPart, ExplainedBody, ExplainedHead, Unparsed

#: Records that happen "at the same time" on the virtual clock are spaced this far apart.
STEP = 0.0001
#: The first packet of every capture: 2023-11-14 22:13:20 UTC, like tcpflow's default.
START_TIME = 1_700_000_000.0
SERVER_PORT = 8080
FIRST_CLIENT_PORT = 50000

RFC6455 = "https://www.rfc-editor.org/rfc/rfc6455"


@dataclass
class Connection:
    """One TCP connection: its records in wire order, as one point of view."""

    records: list[WireRecord]
    client_port: int = FIRST_CLIENT_PORT
    comments: dict[int, str] = field(default_factory=dict)  # id(record) -> comment


# --- 1. which bytes, in which order ------------------------------------------------


def _key(r: WireRecord) -> tuple[int, Role]:
    return (r.conn, r.role)


def _pair_views(records: Sequence[WireRecord]) -> list[tuple[list[WireRecord], list[WireRecord]]]:
    """Group records into connections: (server view, client view), in order of opening.

    The two views of one connection are matched by their addresses: the
    server's ``remote`` is the client's ``local``.
    """
    views: dict[tuple[int, Role], list[WireRecord]] = {}
    for r in records:
        views.setdefault(_key(r), []).append(r)
    opens = {k: next((r for r in v if r.kind == "open"), None) for k, v in views.items()}
    pairs: list[tuple[list[WireRecord], list[WireRecord]]] = []
    used: set[tuple[int, Role]] = set()
    for k, view in views.items():
        if k in used:
            continue
        used.add(k)
        me = opens[k]
        partner: list[WireRecord] = []
        if me is not None and me.local is not None:
            for k2, o in opens.items():
                if (
                    k2 not in used
                    and k2[1] != k[1]
                    and o is not None
                    and o.local == me.remote
                    and o.remote == me.local
                ):
                    partner = views[k2]
                    used.add(k2)
                    break
        server, client = (view, partner) if k[1] == "server" else (partner, view)
        pairs.append((server, client))
    return pairs


def _as_server(r: WireRecord, direction: str, **changes: object) -> WireRecord:
    return replace(r, role="server", direction=direction, **changes)  # type: ignore[arg-type]


def connection_records(
    server: Sequence[WireRecord], client: Sequence[WireRecord] = ()
) -> list[WireRecord]:
    """One connection as server-view records, each client write its own record.

    With only one view, consecutive reads are merged (the kernel's read
    boundaries are not the sender's write boundaries and vary from run to
    run); with both, the client's writes are placed where the server finished
    reading them, and writes it never read come after its last record.
    """
    if not server:
        return _merge_reads([_as_server(r, _flip(r.direction)) for r in client])
    if not client:
        return _merge_reads(list(server))
    writes = [r for r in client if r.kind == "data" and r.direction == "send" and r.data]
    client_eof = next((r for r in client if r.kind == "eof" and r.direction == "send"), None)
    out: list[WireRecord] = []
    got = 0  # client bytes the server has read
    placed = 0  # client writes placed so far
    done = 0  # client bytes placed so far
    saw_eof = False
    for r in server:
        if r.kind == "data" and r.direction == "recv":
            got += len(r.data)
            while placed < len(writes) and done + len(writes[placed].data) <= got:
                w = writes[placed]
                out.append(_as_server(w, "recv", time=r.time))
                done += len(w.data)
                placed += 1
            continue
        if r.kind == "eof" and r.direction == "recv":
            saw_eof = True
            for w in writes[placed:]:
                out.append(_as_server(w, "recv", time=r.time))
            placed = len(writes)
            if client_eof is not None and client_eof.note:
                r = replace(r, note=client_eof.note)  # the client's word on its own FIN
        out.append(r)
    last = out[-1].time if out else 0.0
    for w in writes[placed:]:
        out.append(_as_server(w, "recv", time=last))
    if client_eof is not None and not saw_eof:
        out.append(_as_server(client_eof, "recv", time=last))
    return out


def _flip(direction: str) -> str:
    return "recv" if direction == "send" else "send"


def _merge_reads(records: list[WireRecord]) -> list[WireRecord]:
    out: list[WireRecord] = []
    for r in records:
        prev = out[-1] if out else None
        if (
            prev is not None
            and r.kind == "data"
            and prev.kind == "data"
            and r.direction == prev.direction == "recv"
        ):
            out[-1] = replace(prev, data=prev.data + r.data, events=prev.events + r.events)
        else:
            out.append(r)
    return out


def _retime(records: list[WireRecord]) -> list[WireRecord]:
    """At least :data:`STEP` between records that carry something."""
    out: list[WireRecord] = []
    last: float | None = None
    for r in records:
        t = r.time if last is None else max(r.time, last + STEP)
        if r.kind in ("state", "error"):
            out.append(replace(r, time=t if last is None else max(r.time, last)))
            continue
        last = t
        out.append(replace(r, time=t))
    return out


# --- 2. what each record says --------------------------------------------------------


def _short(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _hexs(data: bytes, limit: int = 8) -> str:
    return data[:limit].hex() + ("…" if len(data) > limit else "")


def describe_head(h: ExplainedHead) -> str:
    """One line for an HTTP head: the start line and the headers that matter."""
    if h.kind == "request":
        if h.asks_upgrade:
            key = h.get("Sec-WebSocket-Key") or "none"
            ver = h.get("Sec-WebSocket-Version") or "none"
            origin = f", Origin {h.get('Origin')}" if h.get("Origin") else ""
            return (
                f"§4.1 opening handshake: {h.start_line}, Upgrade: {h.get('Upgrade')},"
                f" Sec-WebSocket-Key {key}, Version {ver}{origin}"
            )
        return f"RFC 9112 §3 request: {h.start_line}, Host {h.get('Host')}"
    status = h.status or 0
    if status == 101:
        return (
            f"§4.2.2 server accepts: {h.start_line}; Sec-WebSocket-Accept"
            f" {h.get('Sec-WebSocket-Accept')} = base64(SHA-1(key + GUID)); frames follow"
        )
    extras = []
    for name in ("Upgrade", "Sec-WebSocket-Version", "Retry-After", "Connection"):
        if h.get(name):
            extras.append(f"{name}: {h.get(name)}")
    length = h.get("Content-Length")
    framing = f"Content-Length {length}" if length is not None else h.framing.kind
    more = ", " + ", ".join(extras) if extras else ""
    return f"RFC 9112 §4 status line: {h.start_line}; {framing}{more}"


def describe_frame(f: ExplainedFrame) -> str:
    """One line for a frame: section, sender, opcode, payload, mask."""
    who = f.sender or "?"
    name = f.opcode_name
    if f.opcode in (0x0, 0x1, 0x2) and not (f.fin and f.opcode != 0x0):
        name += " fragment" if not f.fin else " final fragment"
        section = "§5.4"
    elif f.opcode == 0x9:
        section = "§5.5.2"
    elif f.opcode == 0xA:
        section = "§5.5.3"
    elif f.opcode == 0x8:
        section = "§5.5.1"
    elif f.masked:
        section = "§5.3"
    else:
        section = "§5.2"
    if f.opcode == 0x8:
        if f.close_code is not None:
            what = f"{f.close_code} ({f.close_name})"
            if f.close_reason:
                what += f" {_short(f.close_reason, 30)}"
        else:
            what = "no code"
    elif f.text is not None:
        what = _short(f.text)
    elif f.opcode in (0x9, 0xA):
        what = f"payload {_hexs(f.payload)}" if f.payload else "no payload"
    else:
        what = f"{_hexs(f.payload)}"
    if f.payload_length > 125 or (f.opcode in (0x1, 0x2) and f.payload_length >= 100):
        what += f" [{f.payload_length} bytes, {f.length_encoding} length]"
    if f.masked and f.masking_key is not None:
        mask = f", masked with key {f.masking_key.hex()}"
    else:
        mask = ", unmasked"
    text = f"{section} {who} {name} {what}{mask}"
    if f.violations:
        v = f.violations[0]
        text += f"; breaks RFC {v.rfc} §{v.section}: {v.found}"
    return text


def describe_items(items: Iterable[object]) -> list[str]:
    parts: list[str] = []
    for item in items:
        if isinstance(item, ExplainedHead):
            parts.append(describe_head(item))
        elif isinstance(item, ExplainedFrame):
            parts.append(describe_frame(item))
        elif isinstance(item, ExplainedBody):
            body = item.data.decode("utf-8", "replace")
            parts.append(f"body {len(item.data)} bytes: {_short(body, 60)}")
        elif isinstance(item, BodyPart):
            continue  # the ExplainedBody that completes it says it
        elif isinstance(item, Unparsed):
            parts.append(f"not HTTP: {item.reason}")
        elif isinstance(item, Note) and item.kind == "error":
            parts.append(item.text)
    return parts


def explain_connection(
    records: Sequence[WireRecord], notes: Sequence[tuple[bytes, str]] = ()
) -> dict[int, str]:
    """A comment for every data record (keyed by ``id(record)``).

    ``notes`` are (marker, text) pairs, matched in order: each text is put
    before the comment of the next data record, after the previous match,
    whose bytes contain the marker.
    """
    explainer = ConnectionExplainer()
    pending = list(notes)
    out: dict[int, str] = {}
    for r in records:
        explained = explainer.feed(r)
        if r.kind != "data":
            continue
        parts = describe_items(explained.items)
        if explained.needs:
            parts.append(f"the receiver still {explained.needs}")
        text = " + ".join(parts) if parts else f"{len(r.data)} bytes"
        if pending and pending[0][0] in r.data:
            text = f"{pending.pop(0)[1]}: {text}"
        out[id(r)] = text
    if pending:
        raise ValueError(f"note markers never matched: {[m for m, _ in pending]}")
    return out


# --- 3. packets and the file -------------------------------------------------------------


def connections(
    records: Sequence[WireRecord],
    *,
    notes: Sequence[tuple[bytes, str]] = (),
    first_port: int = FIRST_CLIENT_PORT,
) -> list[Connection]:
    """Split ``records`` into connections, each in server view, with comments."""
    conns: list[Connection] = []
    pending = list(notes)
    for server, client in _pair_views(records):
        recs = connection_records(server, client)
        if not any(r.kind in ("data", "open") for r in recs):
            continue
        number = first_port + len(conns)
        conn = Connection([replace(r, conn=number) for r in _retime(recs)], number)
        conn.comments = explain_connection(conn.records, _match_in_order(conn.records, pending))
        conns.append(conn)
    if pending:
        raise ValueError(f"note markers never matched: {[m for m, _ in pending]}")
    return conns


def _match_in_order(
    records: Sequence[WireRecord], pending: list[tuple[bytes, str]]
) -> list[tuple[bytes, str]]:
    """Take from ``pending`` the leading notes that match this connection, in order."""
    taken: list[tuple[bytes, str]] = []
    data = [r.data for r in records if r.kind == "data"]
    at = 0
    while pending:
        marker = pending[0][0]
        hit = next((j for j in range(at, len(data)) if marker in data[j]), None)
        if hit is None:
            break
        taken.append(pending.pop(0))
        at = hit + 1
    return taken


def session_packets(
    records: Sequence[WireRecord],
    *,
    mss: int = 1460,
    notes: Sequence[tuple[bytes, str]] = (),
    start_time: float = START_TIME,
) -> list[Packet]:
    """Every connection's packets, merged in time order."""
    conns = connections(records, notes=notes)
    if not conns:
        return []
    t0 = min(c.records[0].time for c in conns)
    tagged: list[tuple[int, int, int, Packet]] = []
    for n, conn in enumerate(conns):
        comments = conn.comments

        def annotate(
            record: WireRecord, index: int, count: int, comments: dict[int, str] = comments
        ) -> str:
            text = comments.get(id(record), f"{len(record.data)} bytes")
            if count == 1:
                return text
            if index == 0:
                return f"segment 1 of {count} (MSS {mss}): {text}"
            return (
                f"segment {index + 1} of {count} (MSS {mss}), continued: {text}"
                if index == count - 1
                else f"segment {index + 1} of {count} (MSS {mss}), continued;"
                f" TCP reassembles ({'RFC 9293 §3.4'}): {text}"
            )

        packets = synthesize(
            conn.records,
            client=("127.0.0.1", conn.client_port),
            server=("127.0.0.1", SERVER_PORT),
            mss=mss,
            start_time=start_time + (conn.records[0].time - t0),
            view="server",
            annotate=annotate,
        )
        for i, p in enumerate(packets):
            tagged.append((int(p.time * 1_000_000), n, i, p))
    tagged.sort(key=lambda t: t[:3])
    return [t[3] for t in tagged]


def write_session(
    records: Sequence[WireRecord],
    path: str | os.PathLike[str],
    *,
    comment: str,
    mss: int = 1460,
    notes: Sequence[tuple[bytes, str]] = (),
) -> None:
    """Write the records of one or more connections as ONE annotated pcapng.

    Each connection becomes its own TCP stream, client port 50000, 50001, …
    in the order the connections opened, all to 127.0.0.1:8080 (where
    Wireshark dissects HTTP, and WebSocket after the 101). ``comment`` is the
    file-level comment. Records of both endpoints may be mixed (a Recorder
    tapping server and client): the server's view is used, with the client's
    writes when they are there.
    """
    write_pcapng(path, session_packets(records, mss=mss, notes=notes), comment=comment)
