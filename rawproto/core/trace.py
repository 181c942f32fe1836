"""The one record of the wire.

Every chunk of bytes that crosses a socket in rawproto becomes exactly one
:class:`WireRecord`: which connection, which side recorded it, which way it
went, the bytes themselves and when. The tour, the captures, the docs and the
dashboard counters all read these records; none of them re-derives the bytes.

A record may also carry the protocol ``events`` that produced the bytes (on
send) or that h11/wsproto parsed out of them (on receive). They are the
libraries' own objects, kept for the compact trace; the byte-by-byte
explanation comes from ``rawproto.explain``, which decodes ``data`` on its own.

Besides ``data`` records there are a few bookkeeping kinds, each with no bytes:

* ``open``  – a TCP connection exists; ``local``/``remote`` hold the addresses.
* ``eof``   – this side half-closed (send) or saw the peer's FIN (recv).
* ``state`` – a protocol state change worth showing (``= OPEN``), in ``note``.
* ``error`` – a protocol failure and its answer (``! 1009 message too big``).
* ``close`` – the socket is gone.

A tap is any callable taking a record. ``None`` means nobody listens, and the
I/O layer then builds no record at all, so tracing costs nothing when off.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from rawproto.core.errors import CLOSE_CODES, close_code_name

Role = Literal["client", "server"]
Direction = Literal["send", "recv"]
Kind = Literal["open", "data", "eof", "state", "error", "close"]
Address = tuple[str, int]

#: A clock returns seconds as a float. The default is monotonic; the
#: deterministic mode injects a counter (see :class:`FixedClock`).
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class WireRecord:
    """One chunk on the wire, as seen by one endpoint."""

    conn: int
    role: Role
    direction: Direction
    kind: Kind
    data: bytes = b""
    time: float = 0.0
    events: tuple[object, ...] = ()
    note: str = ""
    local: Address | None = None
    remote: Address | None = None

    @property
    def from_client(self) -> bool:
        """True when the bytes travelled client → server."""
        return (self.role == "client") == (self.direction == "send")


Tap = Callable[[WireRecord], None]


@dataclass
class Recorder:
    """A tap that keeps every record in a list (tests, tour, captures)."""

    records: list[WireRecord] = field(default_factory=list)

    def __call__(self, record: WireRecord) -> None:
        self.records.append(record)

    def data(self, conn: int | None = None, role: Role | None = None) -> list[WireRecord]:
        """The ``data`` records, optionally for one connection and one role."""
        return [
            r
            for r in self.records
            if r.kind == "data"
            and (conn is None or r.conn == conn)
            and (role is None or r.role == role)
        ]


_conn_ids = itertools.count(1)


def next_conn_id() -> int:
    """A process-wide connection number, used only to tell records apart."""
    return next(_conn_ids)


class FixedClock:
    """A deterministic clock: starts at ``start`` and advances ``step`` per call."""

    def __init__(self, start: float = 0.0, step: float = 0.001) -> None:
        self._now = start
        self._step = step

    def __call__(self) -> float:
        now = self._now
        self._now += self._step
        return now


default_clock: Clock = time.monotonic


# --- The compact trace grammar ------------------------------------------------
# One line per frame or state change, after the websockets library's debug log:
#   > sent   < received   = state change   ! protocol error   x transport closed
#   > TEXT 'Hello' [5 bytes]      < PONG [4 bytes]      = OPEN
#   < CLOSE 1000 (OK) bye [5 bytes]                     ! 1009 message too big

SENT, RECEIVED, STATE, ERROR, TRANSPORT = ">", "<", "=", "!", "x"

#: Close code → name, from the one table in :mod:`rawproto.core.errors`.
CLOSE_CODE_NAMES: dict[int, str] = {code: row.name for code, row in CLOSE_CODES.items()}

_PREVIEW = 40


def _preview(payload: bytes, text: bool) -> str:
    if text:
        s = payload.decode("utf-8", "replace")
        return repr(s if len(s) <= _PREVIEW else s[: _PREVIEW - 1] + "…")
    shown = payload[:8].hex(" ")
    return shown + (" …" if len(payload) > 8 else "")


def format_frame(
    direction: Direction,
    opcode: str,
    payload: bytes,
    *,
    fin: bool = True,
    text: bool | None = None,
) -> str:
    """One compact trace line for one frame.

    ``opcode`` is the frame's name (TEXT, BINARY, CONT, PING, PONG, CLOSE);
    ``payload`` the unmasked payload; ``text`` says how to preview a CONT frame.
    """
    arrow = SENT if direction == "send" else RECEIVED
    size = f"[{len(payload)} bytes{'' if fin else ', continued'}]"
    if opcode == "CLOSE":
        if len(payload) >= 2:
            code = int.from_bytes(payload[:2], "big")
            name = close_code_name(code)
            reason = payload[2:].decode("utf-8", "replace")
            body = f"{code} ({name})" + (f" {reason}" if reason else "")
            return f"{arrow} CLOSE {body} {size}"
        return f"{arrow} CLOSE {size}"
    is_text = opcode == "TEXT" or (opcode == "CONT" and bool(text))
    if payload and opcode in ("TEXT", "BINARY", "CONT", "PING", "PONG"):
        return f"{arrow} {opcode} {_preview(payload, is_text)} {size}"
    return f"{arrow} {opcode} {size}"


def format_state(state: str) -> str:
    """``= OPEN``: a state change line."""
    return f"{STATE} {state}"


def format_error(code: int | str, reason: str) -> str:
    """``! 1009 message too big``: a protocol failure and the answer given."""
    return f"{ERROR} {code} {reason}"
