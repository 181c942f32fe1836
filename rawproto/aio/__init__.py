"""asyncio at the edge: moves bytes and owns timers; every rule is in rawproto.core."""

from rawproto.aio.client import HttpConnection, HttpResult, UsageError, connect, request
from rawproto.aio.server import Request, Response, Router, Server, ServerOptions, serve
from rawproto.aio.websocket import ConnectionClosed, WebSocket

__all__ = [
    "ConnectionClosed",
    "HttpConnection",
    "HttpResult",
    "Request",
    "Response",
    "Router",
    "Server",
    "ServerOptions",
    "UsageError",
    "WebSocket",
    "connect",
    "request",
    "serve",
]
