"""What ``rawproto serve`` serves: a page, a JSON clock to poll, and an echo WebSocket."""

from __future__ import annotations

import json
import time

from rawproto.aio.server import Request, Response, Router
from rawproto.aio.websocket import WebSocket

PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>rawproto</title></head>
<body>
<h1>rawproto</h1>
<p>HTTP: <a href="/time">GET /time</a> answers a small JSON object (poll it).</p>
<p>WebSocket: <code>ws://HOST:PORT/echo</code> echoes every message.</p>
<pre id="log"></pre>
<script>
const ws = new WebSocket(`ws://${location.host}/echo`);
const log = (s) => document.getElementById("log").textContent += s + "\\n";
ws.onopen = () => { log("= OPEN"); ws.send("Hello"); };
ws.onmessage = (e) => log("< " + e.data);
ws.onclose = (e) => log("= CLOSED " + e.code);
</script>
</body></html>
"""


async def index(request: Request) -> Response:
    return Response(200, PAGE, content_type="text/html; charset=utf-8")


async def clock(request: Request) -> Response:
    """A tiny JSON document, the thing a polling client asks for again and again."""
    body = json.dumps({"time": round(time.time(), 3)}).encode()
    return Response(
        200, body, content_type="application/json", headers=[("Cache-Control", "no-store")]
    )


async def echo(websocket: WebSocket) -> None:
    """Send every message back, with the same type (text or binary)."""
    async for message in websocket:
        await websocket.send(message)


def demo_router() -> Router:
    router = Router()
    router.http("/", index)
    router.http("/time", clock)
    router.websocket("/", echo)
    router.websocket("/echo", echo)
    return router
