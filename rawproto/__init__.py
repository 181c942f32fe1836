"""rawproto: see HTTP/1.1 and WebSocket on the wire, byte by byte."""

__version__ = "0.1.0"
