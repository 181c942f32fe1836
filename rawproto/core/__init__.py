"""The sans-IO core: synchronous, no sockets, no asyncio, no scapy.

* :mod:`rawproto.core.http1`     — HTTP/1.1 over h11, both roles
* :mod:`rawproto.core.handshake` — the WebSocket Upgrade, rule by rule
* :mod:`rawproto.core.ws`        — the WebSocket session over wsproto
* :mod:`rawproto.core.errors`    — failures and the status / close code each gets
* :mod:`rawproto.core.limits`    — every limit and timeout, named
* :mod:`rawproto.core.trace`     — the one record of the wire
"""
