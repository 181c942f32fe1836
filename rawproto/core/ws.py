"""The WebSocket session after the handshake, on ``wsproto.connection.Connection``.

wsproto encodes and decodes frames (RFC 6455 §5). This module adds what a
real endpoint must do on top, each duty visible and quoted:

* **frames vs messages** — every complete frame is reported as a
  :class:`Frame` (what is on the wire); fragments are assembled into one
  :class:`Message` (what the application gets);
* **obligations** — a Ping must be answered by a Pong, a Close by a Close, a
  protocol error by a Close with the right code. :meth:`WsSession.obligations`
  returns those bytes; the I/O layer sends them, visibly;
* **limits** — a message larger than ``max_message_size`` fails with 1009
  (wsproto has no such limit);
* **one EOF verb** — :meth:`WsSession.receive_eof`: TCP closed without a
  Close frame is 1006, a code that never appears on the wire (§7.1.5).

Nothing here touches a socket: bytes in, events and bytes out.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

import wsproto.frame_protocol
from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import (
    BytesMessage,
    CloseConnection,
)
from wsproto.events import (
    Message as WsprotoMessage,
)
from wsproto.events import (
    Ping as WsprotoPing,
)
from wsproto.events import (
    Pong as WsprotoPong,
)
from wsproto.events import (
    TextMessage as WsprotoText,
)

from rawproto.core.errors import close_code_name
from rawproto.core.limits import MAX_MESSAGE_SIZE
from rawproto.core.trace import Role

RFC6455 = "https://www.rfc-editor.org/rfc/rfc6455"

Opcode = Literal["TEXT", "BINARY", "CONT", "PING", "PONG", "CLOSE"]


# --- Events ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame as it crossed the wire (unmasked payload). For traces."""

    opcode: Opcode
    payload: bytes
    fin: bool = True
    text: bool = False  #: for CONT frames: part of a text message?


@dataclass(frozen=True, slots=True)
class Message:
    """A complete message: ``str`` for text, ``bytes`` for binary."""

    data: str | bytes
    frames: int = 1  #: how many frames carried it


@dataclass(frozen=True, slots=True)
class Ping:
    payload: bytes


@dataclass(frozen=True, slots=True)
class Pong:
    payload: bytes


@dataclass(frozen=True, slots=True)
class CloseReceived:
    """The peer sent a Close frame (code 1005 when it carried none)."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Failed:
    """We must *Fail the WebSocket Connection* (§7.1.7) with this code."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Closed:
    """The connection is over. ``code`` 1006 means no Close frame was received."""

    code: int
    reason: str

    @property
    def clean(self) -> bool:
        return self.code != 1006


Event = Frame | Message | Ping | Pong | CloseReceived | Failed | Closed


# --- State, as data ----------------------------------------------------------


class State(Enum):
    """The life of a WebSocket after the handshake (RFC 6455 §4-§7)."""

    #: Frames flow both ways. (§4.1: "_The WebSocket Connection is Established_")
    OPEN = "OPEN"
    #: We sent a Close frame and wait for the peer's. (§7.1.2)
    CLOSING = "CLOSING"
    #: The peer sent a Close and we have not yet answered. (§5.5.1)
    CLOSE_RECEIVED = "CLOSE_RECEIVED"
    #: Both Close frames crossed, or TCP is gone. (§7.1.4)
    CLOSED = "CLOSED"


#: (state, what happens) → (next state, RFC 6455 section). The docs draw the
#: state diagram from this table, so it cannot drift from the code.
TRANSITIONS: dict[tuple[State, str], tuple[State, str]] = {
    (State.OPEN, "send Close"): (State.CLOSING, "7.1.2"),
    (State.OPEN, "receive Close"): (State.CLOSE_RECEIVED, "5.5.1"),
    (State.OPEN, "protocol error: send Close"): (State.CLOSING, "7.1.7"),
    (State.OPEN, "TCP closed"): (State.CLOSED, "7.1.5"),
    (State.CLOSE_RECEIVED, "send Close"): (State.CLOSED, "5.5.1"),
    (State.CLOSE_RECEIVED, "TCP closed"): (State.CLOSED, "7.1.5"),
    (State.CLOSING, "receive Close"): (State.CLOSED, "7.1.4"),
    (State.CLOSING, "TCP closed"): (State.CLOSED, "7.1.5"),
}

_FROM_WSPROTO = {
    ConnectionState.OPEN: State.OPEN,
    ConnectionState.LOCAL_CLOSING: State.CLOSING,
    ConnectionState.REMOTE_CLOSING: State.CLOSE_RECEIVED,
    ConnectionState.CLOSED: State.CLOSED,
}


# --- Deterministic masks -----------------------------------------------------

MaskSource = Callable[[int], bytes]


@contextlib.contextmanager
def _masks_from(source: MaskSource | None) -> Iterator[None]:
    """Let wsproto draw its masking keys from ``source`` for one send.

    wsproto calls ``os.urandom(4)`` for each client frame (RFC 6455 §5.3
    requires a fresh, unpredictable key). For reproducible captures and
    docs we swap the ``os`` name *inside wsproto.frame_protocol* for the
    duration of one synchronous ``send``; nothing else in the process sees it.
    """
    if source is None:
        yield
        return
    module = wsproto.frame_protocol
    real_os = module.os  # type: ignore[attr-defined]
    module.os = types.SimpleNamespace(urandom=source)  # type: ignore[attr-defined,assignment]
    try:
        yield
    finally:
        module.os = real_os  # type: ignore[attr-defined]


def repeating_mask(key: bytes) -> MaskSource:
    """A mask source that always returns ``key`` (4 bytes), e.g. RFC 6455 §5.7's 37fa213d."""
    return lambda n: (key * (n // len(key) + 1))[:n]


# --- The session -------------------------------------------------------------


class WsSession:
    """One endpoint of an established WebSocket: bytes in, events and bytes out."""

    def __init__(
        self,
        role: Role,
        *,
        trailing_data: bytes = b"",
        max_message_size: int = MAX_MESSAGE_SIZE,
        masks: MaskSource | None = None,
        frames: bool = True,
    ) -> None:
        self.role: Role = role
        self.max_message_size = max_message_size
        #: Report each frame received as a :class:`Frame` event, besides what
        #: it means? Traces and taps show them; an endpoint nobody watches
        #: turns this off and saves an object per message.
        self.frames = frames
        #: ``state is State.OPEN``, kept as a plain attribute: it is asked
        #: before every message sent, and per client in a broadcast. Set to
        #: False, once and for good, wherever the state leaves OPEN (a Close
        #: sent or received, a failure, the end) — it never comes back.
        self.open = True
        self._masks = masks
        self._conn = Connection(
            ConnectionType.CLIENT if role == "client" else ConnectionType.SERVER
        )
        # The frame being received (wsproto hands over payload as it arrives).
        self._frame_parts: list[bytes] = []
        self._frame_is_first = True
        # The message being assembled from fragments.
        self._message_parts: list[str | bytes] = []
        self._message_size = 0
        self._message_frames = 0
        # The message being sent in fragments: True text, False binary.
        self._sending: bool | None = None
        self._failed: Failed | None = None
        self._close_sent = False
        self._close_received: CloseReceived | None = None
        self._closed: Closed | None = None
        self._pending = trailing_data

    # -- state --

    @property
    def state(self) -> State:
        if self._closed is not None:
            return State.CLOSED
        if self._failed is not None:
            return State.CLOSING
        state = self._conn.state
        # Asked before every message sent: test the usual answer by identity
        # (an Enum's hash is a Python-level call) before the table.
        return State.OPEN if state is ConnectionState.OPEN else _FROM_WSPROTO[state]

    @property
    def has_pending(self) -> bool:
        """Bytes from the handshake not yet processed? (Call ``receive_data(b"")``.)"""
        return bool(self._pending)

    @property
    def failure(self) -> Failed | None:
        """Set once this side has decided to fail the connection (§7.1.7)."""
        return self._failed

    @property
    def close_code(self) -> int | None:
        """The connection's close code once known (§7.1.5), else ``None``."""
        return self._closed.code if self._closed else None

    # -- bytes in --

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed bytes from the socket; return what they meant, in order.

        Bytes handed over by the handshake (``trailing_data``) are processed
        first, so a frame that arrived with the Upgrade is not lost.
        """
        if self._pending:
            data, self._pending = self._pending + data, b""
        if not self.open:  # (while OPEN, none of these can be true)
            if self._failed is not None or self._closed is not None:
                # §7.1.7: "An endpoint MUST NOT continue to attempt to process data
                # (including a responding Close frame) from the remote endpoint
                # after being instructed to _Fail the WebSocket Connection_."
                return []
            if self._conn.state in (ConnectionState.CLOSED, ConnectionState.REMOTE_CLOSING):
                return []  # nothing may follow a Close frame (§5.5.1)
        self._conn.receive_data(data)
        events: list[Event] = []
        self._translate(events)
        return events

    def receive_eof(self) -> list[Event]:
        """The peer closed TCP. Without a Close frame first, that is 1006.

        Spec: RFC 6455 §7.1.5 — "If _The WebSocket Connection is Closed_ and no
        Close control frame was received by the endpoint ... _The WebSocket
        Connection Close Code_ is considered to be 1006." 1006 is never sent.
        """
        if self._closed is not None:
            return []
        if self._failed is not None:
            return [self._finish(self._failed.code, self._failed.reason)]
        if self._close_received is not None and self._close_sent:
            return [self._finish(self._close_received.code, self._close_received.reason)]
        return [self._finish(1006, "connection closed without a Close frame")]

    def _translate(self, out: list[Event]) -> None:
        """wsproto's events → ours, appended to ``out``. (A loop filling a list
        rather than nested generators: this runs for every frame received.)"""
        before = self._conn.state
        for event in self._conn.events():
            # Dispatch on the exact type: wsproto's events derive from abc.ABC,
            # and isinstance() against an ABC that does not match outright
            # takes the slow, ABCMeta.__instancecheck__ road. Per frame, that counts.
            if type(event) is WsprotoText or type(event) is BytesMessage:
                self._data(event, out)
            elif type(event) is WsprotoPing:
                payload = bytes(event.payload)
                if self.frames:
                    out.append(Frame("PING", payload))
                out.append(Ping(payload))
            elif type(event) is WsprotoPong:
                payload = bytes(event.payload)
                if self.frames:
                    out.append(Frame("PONG", payload))
                out.append(Pong(payload))
            elif type(event) is CloseConnection:
                if self._conn.state is before:
                    # wsproto reports a parse failure as a CloseConnection
                    # event but leaves its state unchanged (a real Close frame
                    # moves it on): we must send the Close ourselves.
                    out.append(
                        self._fail(int(event.code), event.reason or close_code_name(event.code))
                    )
                    return
                self._peer_close(int(event.code), event.reason or "", out)
            if self._failed is not None:
                return
            before = self._conn.state

    def _data(self, event: WsprotoMessage[Any], out: list[Event]) -> None:
        is_text = type(event) is WsprotoText
        chunk: str | bytes = event.data
        raw = chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)
        self._message_size += len(raw)
        if self._message_size > self.max_message_size:
            # Not an RFC MUST: a policy every server needs (wsproto has none).
            # §7.4.1: "1009 indicates that an endpoint is terminating the
            # connection because it has received a message that is too big
            # for it to process."
            out.append(self._fail(1009, f"message too big: over {self.max_message_size} bytes"))
            return
        if event.frame_finished and event.message_finished and not self._message_parts:
            # The common case: a whole message in one frame, in one read. No copy.
            if self.frames:
                out.append(Frame("TEXT" if is_text else "BINARY", raw, True, is_text))
            out.append(Message(chunk if is_text else raw, 1))
            self._message_size = 0
            return
        self._message_parts.append(chunk)
        self._frame_parts.append(raw)
        if event.frame_finished:
            opcode: Opcode = ("TEXT" if is_text else "BINARY") if self._frame_is_first else "CONT"
            pieces = self._frame_parts
            if self.frames:
                payload = pieces[0] if len(pieces) == 1 else b"".join(pieces)  # no copy if whole
                out.append(Frame(opcode, payload, event.message_finished, is_text))
            self._frame_parts = []
            self._frame_is_first = event.message_finished
            self._message_frames += 1
        if event.message_finished:
            parts = self._message_parts
            data: str | bytes
            if len(parts) == 1:
                data = parts[0] if is_text else raw
            elif is_text:
                data = "".join(p for p in parts if isinstance(p, str))
            else:
                data = b"".join(p for p in parts if isinstance(p, bytes))
            out.append(Message(data, self._message_frames))
            self._message_parts, self._message_size, self._message_frames = [], 0, 0

    def _peer_close(self, code: int, reason: str, out: list[Event]) -> None:
        self.open = False
        if self.frames:
            payload = b"" if code == 1005 else code.to_bytes(2, "big") + reason.encode("utf-8")
            out.append(Frame("CLOSE", payload))
        self._close_received = CloseReceived(code, reason)
        out.append(self._close_received)
        if self._close_sent:
            # §7.1.4: both Close frames have crossed: the WebSocket is closed.
            out.append(self._finish(code, reason))

    def _fail(self, code: int, reason: str) -> Failed:
        self.open = False
        self._failed = Failed(code, reason)
        return self._failed

    def _finish(self, code: int, reason: str) -> Closed:
        self.open = False
        self._closed = Closed(code, reason)
        return self._closed

    # -- bytes out --

    def send(self, frame: Frame) -> bytes:
        """Encode one frame. ``Frame("TEXT", b"Hel", fin=False)`` then
        ``Frame("CONT", b"lo")`` sends a fragmented message (§5.4)."""
        event: WsprotoMessage[Any] | WsprotoPing | WsprotoPong | CloseConnection
        if frame.opcode in ("TEXT", "BINARY", "CONT"):
            if frame.opcode == "CONT":
                if self._sending is None:
                    raise ValueError("a continuation frame needs a message in progress (§5.4)")
                is_text = self._sending
            else:
                if self._sending is not None:
                    raise ValueError("a new message cannot start inside a fragmented one (§5.4)")
                is_text = frame.opcode == "TEXT"
            self._sending = None if frame.fin else is_text
            if is_text:
                event = WsprotoText(frame.payload.decode("utf-8"), message_finished=frame.fin)
            else:
                event = BytesMessage(frame.payload, message_finished=frame.fin)
        elif frame.opcode == "PING":
            event = WsprotoPing(frame.payload)
        elif frame.opcode == "PONG":
            event = WsprotoPong(frame.payload)
        else:
            code = int.from_bytes(frame.payload[:2], "big") if len(frame.payload) >= 2 else None
            event = CloseConnection(code or 1005, frame.payload[2:].decode("utf-8"))
        return self._send(event)

    def _send(
        self, event: WsprotoMessage[Any] | WsprotoPing | WsprotoPong | CloseConnection
    ) -> bytes:
        if self._masks is None:  # the usual case: wsproto draws its own masks
            data = self._conn.send(event)
        else:
            with _masks_from(self._masks):
                data = self._conn.send(event)
        if type(event) is CloseConnection:  # (not isinstance: see _translate)
            self.open = False
            self._close_sent = True
            if self._close_received is not None:
                self._finish(self._close_received.code, self._close_received.reason)
        return data

    def send_message(self, message: str | bytes) -> bytes:
        """Encode one complete message in one frame: ``str`` TEXT, ``bytes`` BINARY.

        The same bytes as ``send(Frame("TEXT", text.encode()))``, without the
        :class:`Frame` (built only when someone watches) or the round trip
        through UTF-8 that wsproto's ``TextMessage`` would undo.
        """
        if self._sending is not None:
            raise ValueError("a new message cannot start inside a fragmented one (§5.4)")
        if isinstance(message, str):
            return self._send(WsprotoText(message))
        return self._send(BytesMessage(message))

    def send_text(self, text: str, *, fin: bool = True) -> bytes:
        return self.send(Frame("TEXT", text.encode("utf-8"), fin))

    def send_binary(self, data: bytes, *, fin: bool = True) -> bytes:
        return self.send(Frame("BINARY", data, fin))

    def send_close(self, code: int = 1000, reason: str = "") -> bytes:
        """Start the closing handshake (§7.1.2), or answer the peer's (§5.5.1)."""
        if self._close_sent:
            return b""
        return self._send(CloseConnection(code, reason))

    def frame_for_close(self, code: int = 1000, reason: str = "") -> Frame:
        """The :class:`Frame` :meth:`send_close` puts on the wire (for traces)."""
        return Frame("CLOSE", code.to_bytes(2, "big") + reason.encode("utf-8"))

    # -- duties --

    def obligations(self, event: Event) -> bytes:
        """The bytes RFC 6455 obliges us to send in answer to ``event``.

        The I/O layer calls this for every event and writes what it returns:
        the duty is visible in the code, not hidden in a library.
        """
        if isinstance(event, Ping) and self.state is State.OPEN:
            # RFC 6455 §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST
            # send a Pong frame in response, unless it already received a Close
            # frame." and §5.5.3: "A Pong frame sent in response to a Ping frame
            # must have identical 'Application data'"
            # https://www.rfc-editor.org/rfc/rfc6455#section-5.5.2
            return self._send(WsprotoPong(event.payload))
        if isinstance(event, CloseReceived) and not self._close_sent:
            # RFC 6455 §5.5.1: "If an endpoint receives a Close frame and did not
            # previously send a Close frame, the endpoint MUST send a Close frame
            # in response. (When sending a Close frame in response, the endpoint
            # typically echos the status code it received.)"
            # https://www.rfc-editor.org/rfc/rfc6455#section-5.5.1
            code = 1000 if event.code == 1005 else event.code
            return self._send(CloseConnection(code, event.reason))
        if isinstance(event, Failed) and not self._close_sent:
            # RFC 6455 §7.1.7: "_Fail the WebSocket Connection_ ... the endpoint
            # MAY send a Close frame with an appropriate status code"; then close
            # TCP without waiting. wsproto is still OPEN here, so send works.
            # https://www.rfc-editor.org/rfc/rfc6455#section-7.1.7
            return self._send(CloseConnection(event.code, event.reason))
        return b""

    def fail(self, code: int, reason: str) -> Failed:
        """Fail the connection from our side (e.g. heartbeat timeout, 1011)."""
        return self._fail(code, reason)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A complete server message, encoded once, ready for many connections."""

    data: bytes
    frame: Frame


def prepare_server_message(message: str | bytes) -> Prepared:
    """Encode one unfragmented, unmasked message (RFC 6455 §5.1: servers never mask).

    Every OPEN server-side session would produce exactly these bytes for it,
    so a broadcast can encode once instead of once per client.
    """
    session = WsSession("server")
    if isinstance(message, str):
        frame = Frame("TEXT", message.encode("utf-8"), text=True)
    else:
        frame = Frame("BINARY", bytes(message))
    return Prepared(session.send(frame), frame)
