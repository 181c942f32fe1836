"""Every limit and timeout in rawproto, named, with its default and why.

The I/O layer (``rawproto.aio``) enforces the timeouts; the sans-IO core
enforces the sizes. The CLI exposes the ones a learner wants to turn.
"""

from __future__ import annotations

from dataclasses import dataclass

KiB = 1024
MiB = 1024 * KiB

#: Largest request or response head (start line + headers) we buffer before
#: answering 431. h11's own default; node.js uses 80 KiB, tomcat 8 KiB.
MAX_HEAD_BYTES = 16 * KiB

#: Largest HTTP request body a server handler receives before 413.
MAX_BODY_BYTES = 1 * MiB

#: Largest WebSocket message (all fragments together) before close 1009.
#: The websockets library uses the same 1 MiB default; wsproto has none.
MAX_MESSAGE_SIZE = 1 * MiB

#: Seconds a client may take to send a complete request head (slowloris).
HEADER_TIMEOUT = 10.0

#: Seconds an idle keep-alive connection is kept between requests.
KEEPALIVE_TIMEOUT = 15.0

#: Simultaneous connections a server accepts; more are answered 503 and closed.
MAX_CONNECTIONS = 1024

#: Seconds between heartbeat pings (websockets and Engine.IO: 20-25 s).
PING_INTERVAL = 20.0

#: Seconds to wait for the pong before failing the connection with 1011.
PING_TIMEOUT = 20.0

#: Seconds to wait for the peer's Close frame, then for its TCP FIN.
CLOSE_TIMEOUT = 10.0

#: Complete messages buffered for a slow application before reading stops
#: (TCP backpressure then reaches the sender).
MAX_QUEUE = 16

#: Bytes asked of the socket per read. Large reads mean fewer trips through
#: the parser for big messages (a 1 MiB message in 4 reads, not 16).
READ_SIZE = 256 * KiB


@dataclass(frozen=True)
class Limits:
    """The limits one server or connection runs with; defaults as above."""

    max_head_bytes: int = MAX_HEAD_BYTES
    max_body_bytes: int = MAX_BODY_BYTES
    max_message_size: int = MAX_MESSAGE_SIZE
    header_timeout: float = HEADER_TIMEOUT
    keepalive_timeout: float = KEEPALIVE_TIMEOUT
    max_connections: int = MAX_CONNECTIONS
    ping_interval: float | None = PING_INTERVAL
    ping_timeout: float | None = PING_TIMEOUT
    close_timeout: float = CLOSE_TIMEOUT
    max_queue: int = MAX_QUEUE
    read_size: int = READ_SIZE
