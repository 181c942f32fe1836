"""Three ways to look at the same records: compact, explained, JSON lines.

A learner finds here how rawproto prints the wire:

* :func:`compact` — one line per frame or head, in the trace grammar of
  :mod:`rawproto.core.trace` (``> TEXT 'Hello' [5 bytes]``,
  ``< HTTP/1.1 101 Switching Protocols [129 bytes]``);
* :func:`explained` — for every frame a table of its fields (offset, bits,
  name, value, meaning), the unmasking worked through, every broken rule
  with its RFC link, and a hexdump where each field's bytes have the colour
  of its row; for every HTTP head its start line, each header's meaning and
  the body framing;
* :func:`json_lines` — one JSON object per chunk and per frame/head/body,
  with stable keys, for tools.

Everything fits in 80 columns. Colour is ANSI and only when asked for:
:func:`use_color` says no when ``NO_COLOR`` is set (https://no-color.org) or
the stream is not a terminal.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from rawproto.core.trace import WireRecord
from rawproto.explain.conn import ConnectionExplainer, Explained, ExplainedRecord, Note
from rawproto.explain.frames import ExplainedFrame
from rawproto.explain.http import BodyPart, ExplainedBody, ExplainedHead, Unparsed
from rawproto.explain.rules import Field, Violation

__all__ = [
    "WIDTH",
    "compact",
    "explain_records",
    "explained",
    "frame_lines",
    "head_lines",
    "hexdump",
    "item_json",
    "item_lines",
    "json_lines",
    "use_color",
]

WIDTH = 80
#: Hexdump lines shown per item before "… N more bytes".
MAX_DUMP_LINES = 8

_RESET = "\x1b[0m"
_PALETTE = ("\x1b[36m", "\x1b[33m", "\x1b[35m", "\x1b[32m", "\x1b[34m", "\x1b[31m")
_BAD = "\x1b[1;31m"
_DIM = "\x1b[2m"


def use_color(stream: TextIO) -> bool:
    """Colour only for a terminal, and never when ``NO_COLOR`` is set."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _paint(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{_RESET}" if color and code else text


def explain_records(records: Iterable[WireRecord]) -> list[ExplainedRecord]:
    """Explain records of any number of connections (one explainer each)."""
    explainers: dict[int, ConnectionExplainer] = {}
    out = []
    for r in records:
        explainer = explainers.setdefault(r.conn, ConnectionExplainer())
        out.append(explainer.feed(r))
    return out


# --- compact ---------------------------------------------------------------------


def compact(records: Iterable[WireRecord] | Sequence[ExplainedRecord]) -> list[str]:
    """One trace line per frame, head, body and event."""
    explained_ = _explained(records)
    several = len({e.record.conn for e in explained_}) > 1
    lines = []
    for e in explained_:
        r = e.record
        tag = f"[{r.conn}] " if several else ""
        if r.kind == "data" or r.kind == "eof":
            lines += [tag + item.trace_line(r.direction) for item in e.items]
        elif r.kind in ("state", "error") and r.note:
            prefix = "=" if r.kind == "state" else "!"
            text = r.note if r.note[:1] == prefix else f"{prefix} {r.note}"
            lines.append(tag + text)
        elif r.kind == "close":
            lines.append(tag + "x closed" + (f" {r.note}" if r.note else ""))
    return lines


def _explained(
    records: Iterable[WireRecord] | Sequence[ExplainedRecord],
) -> list[ExplainedRecord]:
    items = list(records)
    if all(isinstance(i, ExplainedRecord) for i in items):
        return [i for i in items if isinstance(i, ExplainedRecord)]
    return explain_records(i for i in items if isinstance(i, WireRecord))


# --- explained -------------------------------------------------------------------


def hexdump(
    data: bytes,
    spans: Sequence[tuple[int, int, str]] = (),
    *,
    color: bool = False,
    max_lines: int = MAX_DUMP_LINES,
) -> list[str]:
    """``0000  81 85 37 fa 21 3d 7f 9f  4d 51 58  |..7.!=..MQX|`` lines.

    ``spans`` are ``(start, end, ansi_code)``: those bytes are painted (the
    later span wins where they overlap).
    """
    paint = [""] * len(data)
    for start, end, code in spans:
        for i in range(max(start, 0), min(end, len(data))):
            paint[i] = code
    lines: list[str] = []
    for row in range(0, len(data), 16):
        if len(lines) == max_lines:
            lines.append(f"  …     {len(data) - row} more bytes")
            break
        cells, text = [], []
        for i in range(row, min(row + 16, len(data))):
            b = data[i]
            cells.append(_paint(f"{b:02x}", paint[i], color))
            text.append(_paint(chr(b) if 0x20 <= b < 0x7F else ".", paint[i], color))
        pad = 16 - len(cells)
        left = " ".join(cells[:8])
        right = " ".join(cells[8:])
        hexes = left + ("  " + right if right else "") + "   " * pad + (" " if pad >= 8 else "")
        lines.append(f"  {row:04x}  {hexes}  |{''.join(text)}|")
    return lines


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    words, line = text.split(" "), ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}" if line else w
    return [*lines, line] if line else lines


def _violation_lines(violations: Sequence[Violation], color: bool) -> list[str]:
    if not violations:
        return ["  rules    " + _paint("ok", _PALETTE[3], color) + ": no rule broken"]
    lines = []
    for v in violations:
        lines.append("  " + _paint("✗", _BAD, color) + f" {v.citation}: {v.found}")
        lines += [f"      {part}" for part in _wrap(f'"{v.rule}"', WIDTH - 6)]
        lines.append("      " + _paint(v.url, _DIM, color))
    return lines


def _field_rows(
    fields: Sequence[Field], color: bool, bits: bool = True
) -> tuple[list[str], list[tuple[int, int, str]]]:
    """The field table, and the coloured spans for the hexdump."""
    colors: dict[tuple[int, int], str] = {}
    for f in fields:
        colors.setdefault((f.start, f.end), _PALETTE[len(colors) % len(_PALETTE)])
    rows = []
    for f in fields:
        code = colors[(f.start, f.end)]
        where = str(f.start) if f.end - f.start == 1 else f"{f.start}-{f.end - 1}"
        value = f.value if len(f.value) <= 28 else f.value[:27] + "…"
        bit_col = f"{f.bits:<11}" if bits else ""
        head = f"  {where:<7}{bit_col}{_paint(f'{f.name:<16}', code, color)}{value}"
        indent = 2 + 7 + len(bit_col) + 16
        if indent + len(value) + 2 + len(f.meaning) <= WIDTH:
            rows.append(f"{head}  {_paint(f.meaning, _DIM, color)}")
        else:
            rows.append(head)
            rows += [" " * indent + _paint(m, _DIM, color)
                     for m in _wrap(f.meaning, WIDTH - indent)]
    spans = [(f.start, f.end, colors[(f.start, f.end)]) for f in fields]
    # Paint one-byte fields last so a shared byte takes the opcode's colour.
    spans.sort(key=lambda s: s[0] - s[1])
    return rows, spans


def frame_lines(
    frame: ExplainedFrame, *, color: bool = False, number: int | None = None
) -> list[str]:
    """The explained view of one frame: table, unmasking, rules, hexdump."""
    who = f" from the {frame.sender}" if frame.sender else ""
    label = f"frame {number}" if number is not None else "frame"
    summary = frame.trace_line("recv")[2:]
    lines = [_paint(_clip(f"{label}{who}: {summary}", WIDTH), "\x1b[1m", color)]
    lines.append(f"  {'bytes':<7}{'bits':<11}{'field':<16}value / meaning")
    rows, spans = _field_rows(frame.fields, color)
    lines += rows
    if frame.xor:
        lines.append("  unmask   payload[i] ^ key[i % 4]  (RFC 6455 §5.3)")
        lines += [f"           {step}" for step in frame.xor]
        if frame.payload_length > len(frame.xor):
            lines.append(f"           … {frame.payload_length - len(frame.xor)} more bytes")
    if frame.text is not None:
        lines.append(f"  text     {_clip(repr(frame.text), WIDTH - 11)}")
    elif frame.payload and frame.opcode != 0x8:
        lines.append(f"  hex      {_clip(frame.payload.hex(' '), WIDTH - 11)}")
    if frame.close_code is not None:
        lines.append(_clip(f"  close    {frame.close_code} ({frame.close_name})"
                           + (f" {frame.close_reason!r}" if frame.close_reason else ""), WIDTH))
    lines += _violation_lines(frame.violations, color)
    lines += hexdump(frame.raw, spans, color=color)
    return lines


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _show_line(raw: bytes) -> str:
    return raw.decode("latin-1").replace("\r", "\\r").replace("\n", "\\n")


def head_lines(head: ExplainedHead, *, color: bool = False) -> list[str]:
    """The explained view of one HTTP head: start line, headers, framing."""
    lines = [_paint(f"{head.kind}: {head.start_line}  [{len(head.raw)} bytes]", "\x1b[1m", color)]
    rows, _spans = _field_rows(head.parts, color, bits=False)
    lines += rows
    if head.headers:
        lines.append("  headers")
    for i, h in enumerate(head.headers):
        code = _PALETTE[i % len(_PALETTE)]
        value = _clip(h.value, WIDTH - 6 - len(h.name))
        lines.append("    " + _paint(h.name, code, color) + ": " + value)
        cite = f" ({h.citation})" if h.citation else ""
        lines += ["        " + _paint(m, _DIM, color) for m in _wrap(h.meaning + cite, WIDTH - 8)]
    lines.append(f"  body     {head.framing.kind}"
                 + (f" {head.framing.length}" if head.framing.length is not None else ""))
    lines += ["           " + m for m in _wrap(head.framing.why, WIDTH - 11)]
    lines.append("           " + _paint(head.framing.url, _DIM, color))
    lines += _violation_lines(head.violations, color)
    lines.append("  on the wire")
    at = 0
    for raw_line in head.raw.split(b"\r\n")[:-1]:
        lines.append(f"  {at:04x}  " + _clip(_show_line(raw_line + b"\r\n"), WIDTH - 8))
        at += len(raw_line) + 2
    links = sorted({h.url for h in head.headers if h.url})
    if links:
        lines.append("  links")
        lines += ["    " + _paint(u, _DIM, color) for u in links]
    return lines


def item_lines(item: Explained, *, color: bool = False, number: int | None = None) -> list[str]:
    """The explained view of any item a :class:`ConnectionExplainer` returns."""
    if isinstance(item, ExplainedFrame):
        return frame_lines(item, color=color, number=number)
    if isinstance(item, ExplainedHead):
        return head_lines(item, color=color)
    if isinstance(item, BodyPart):
        if item.chunk is not None:
            c = item.chunk
            what = "last chunk" if c.last else f"chunk of 0x{c.size:x} = {c.size} bytes"
            lines = [f"{what}: size line {_show_line(c.size_line)!r}"
                     + (f", extension {c.extensions!r}" if c.extensions else "")
                     + "  (RFC 9112 §7.1)"]
        else:
            lines = [f"body bytes: {len(item.data)}"]
        return lines + hexdump(item.raw, color=color)
    if isinstance(item, ExplainedBody):
        lines = [f"body complete: {len(item.data)} bytes ({item.framing.kind})"]
        if item.chunks:
            sizes = " + ".join(str(c.size) for c in item.chunks)
            lines.append(f"  chunks   {sizes}")
        lines += [f"  trailer  {t.name}: {t.value}" for t in item.trailers]
        if item.violations:
            lines += _violation_lines(item.violations, color)
        return lines
    if isinstance(item, Unparsed):
        lines = [_paint(f"not HTTP: {item.reason}", _BAD, color)]
        if item.violation is not None:
            lines += _violation_lines([item.violation], color)
        return lines + hexdump(item.raw, color=color)
    return [item.trace_line()]


def explained(
    records: Iterable[WireRecord] | Sequence[ExplainedRecord], *, color: bool = False
) -> list[str]:
    """Every record as a heading, then each thing its bytes carried, explained."""
    lines: list[str] = []
    frames_seen = 0
    for e in _explained(records):
        r = e.record
        if r.kind != "data" and not e.items:
            continue
        arrow = "client → server" if r.from_client else "server → client"
        verb = "sent" if r.direction == "send" else "received"
        title = f"── {arrow}: {len(r.data)} bytes {verb} by the {r.role} (conn {r.conn}) "
        lines.append(title + "─" * max(0, WIDTH - len(title)))
        for item in e.items:
            if isinstance(item, ExplainedFrame):
                frames_seen += 1
            lines += item_lines(item, color=color,
                                number=frames_seen if isinstance(item, ExplainedFrame) else None)
        if e.needs:
            lines.append(f"  (waiting: {e.needs})")
        lines.append("")
    return lines


# --- JSON lines ------------------------------------------------------------------


def _field_json(f: Field) -> dict[str, Any]:
    return {"name": f.name, "start": f.start, "end": f.end, "value": f.value,
            "meaning": f.meaning, "bits": f.bits}


def _violation_json(v: Violation) -> dict[str, Any]:
    return {"rule": v.rule, "rfc": v.rfc, "section": v.section, "url": v.url,
            "found": v.found, "start": v.start, "end": v.end}


def item_json(item: Explained) -> dict[str, Any]:
    """One explained item as a JSON-ready dict with stable keys."""
    if isinstance(item, ExplainedFrame):
        return {
            "type": "frame", "offset": item.offset, "length": len(item.raw),
            "sender": item.sender, "fin": item.fin,
            "rsv": [item.rsv1, item.rsv2, item.rsv3],
            "opcode": item.opcode, "opcode_name": item.opcode_name,
            "masked": item.masked, "payload_length": item.payload_length,
            "length_encoding": item.length_encoding,
            "masking_key": item.masking_key.hex() if item.masking_key is not None else None,
            "masked_payload": item.masked_payload.hex(), "payload": item.payload.hex(),
            "xor": list(item.xor), "text": item.text,
            "close_code": item.close_code, "close_name": item.close_name,
            "close_reason": item.close_reason,
            "fields": [_field_json(f) for f in item.fields],
            "violations": [_violation_json(v) for v in item.violations],
            "trace": item.trace_line("recv")[2:],
        }
    if isinstance(item, ExplainedHead):
        return {
            "type": "http-head", "offset": item.offset, "length": len(item.raw),
            "kind": item.kind, "start_line": item.start_line, "method": item.method,
            "target": item.target, "version": item.version, "status": item.status,
            "reason": item.reason, "parts": [_field_json(p) for p in item.parts],
            "headers": [{"name": h.name, "value": h.value, "start": h.start, "end": h.end,
                         "meaning": h.meaning, "rfc": h.rfc, "section": h.section,
                         "url": h.url} for h in item.headers],
            "framing": {"kind": item.framing.kind, "length": item.framing.length,
                        "why": item.framing.why, "url": item.framing.url},
            "violations": [_violation_json(v) for v in item.violations],
        }
    if isinstance(item, BodyPart):
        chunk = item.chunk
        return {
            "type": "http-body-part", "offset": item.offset, "length": len(item.raw),
            "data": item.data.hex(),
            "chunk_size": chunk.size if chunk else None,
            "chunk_extensions": chunk.extensions if chunk else None,
        }
    if isinstance(item, ExplainedBody):
        return {
            "type": "http-body", "offset": item.offset, "length": len(item.raw),
            "framing": item.framing.kind, "data": item.data.hex(),
            "chunks": [c.size for c in item.chunks],
            "trailers": [[t.name, t.value] for t in item.trailers],
            "violations": [_violation_json(v) for v in item.violations],
        }
    if isinstance(item, Unparsed):
        return {"type": "unparsed", "offset": item.offset, "length": len(item.raw),
                "reason": item.reason,
                "violation": _violation_json(item.violation) if item.violation else None}
    assert isinstance(item, Note)
    return {"type": "note", "kind": item.kind, "text": item.text}


def json_lines(records: Iterable[WireRecord] | Sequence[ExplainedRecord]) -> list[str]:
    """One JSON object per record ("chunk"), then one per item it carried."""
    lines = []
    for e in _explained(records):
        r = e.record
        chunk = {
            "type": "chunk", "conn": r.conn, "role": r.role, "direction": r.direction,
            "kind": r.kind, "from": "client" if r.from_client else "server",
            "length": len(r.data), "hex": r.data.hex(), "time": r.time, "note": r.note,
            "needs": e.needs,
        }
        lines.append(json.dumps(chunk, sort_keys=True))
        for item in e.items:
            obj = item_json(item)
            obj["conn"] = r.conn
            lines.append(json.dumps(obj, sort_keys=True, ensure_ascii=False))
    return lines
