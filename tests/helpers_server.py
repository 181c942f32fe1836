"""Servers in a background thread, for synchronous tests.

Each context manager starts an asyncio loop in a thread of its own, runs a
server on 127.0.0.1 with port 0 (the OS picks a free port), yields that port,
and on exit shuts the server down and joins the thread. Every wait is bounded,
so a broken server fails the test instead of hanging it.

* :func:`rawproto_server` — rawproto's own server (the demo routes by default).
* :func:`websockets_server` — the ``websockets`` library's asyncio server, as
  an independent peer for rawproto's client:

  ========================  ===============================================
  ``/echo``                 echoes every message, same type
  ``/close/CODE/REASON``    closes at once with CODE and REASON
  ``/reject``               refuses the handshake: ``403 Forbidden``
  ``/frames``               answers each message with how it arrived
  ========================  ===============================================
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine, Iterator
from http import HTTPStatus
from typing import Any

import rawproto.aio
from rawproto.aio.server import Router, ServerOptions
from rawproto.app import demo_router

#: Seconds to wait for a server to start, and for it to stop.
START_TIMEOUT = 10.0
STOP_TIMEOUT = 15.0


@contextlib.contextmanager
def _in_thread(
    start: Callable[[], Coroutine[Any, Any, tuple[int, Callable[[], Coroutine[Any, Any, None]]]]],
    name: str,
) -> Iterator[int]:
    """Run ``start()`` in a new loop in a thread; it returns (port, async stop)."""
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def main() -> None:
        stop_requested = asyncio.Event()
        state["loop"] = asyncio.get_running_loop()
        state["stop"] = stop_requested
        try:
            port, stop = await start()
        except BaseException as exc:
            state["error"] = exc
            ready.set()
            return
        state["port"] = port
        ready.set()
        await stop_requested.wait()
        await asyncio.wait_for(stop(), STOP_TIMEOUT - 1)

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # reported to the test thread on exit
            state.setdefault("error", exc)
            ready.set()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    if not ready.wait(START_TIMEOUT):
        raise RuntimeError(f"{name} did not start within {START_TIMEOUT} s")
    if "error" in state:
        thread.join(STOP_TIMEOUT)
        raise RuntimeError(f"{name} failed to start") from state["error"]
    try:
        yield int(state["port"])
    finally:
        state["loop"].call_soon_threadsafe(state["stop"].set)
        thread.join(STOP_TIMEOUT)
        if thread.is_alive():
            raise RuntimeError(f"{name} did not stop within {STOP_TIMEOUT} s")
        if "error" in state:
            raise RuntimeError(f"{name} failed while stopping") from state["error"]


@contextlib.contextmanager
def rawproto_server(
    router: Router | None = None, options: ServerOptions | None = None
) -> Iterator[int]:
    """Run rawproto's server (``demo_router()`` unless told) and yield its port."""

    async def start() -> tuple[int, Callable[[], Coroutine[Any, Any, None]]]:
        server = await rawproto.aio.serve(
            router if router is not None else demo_router(), "127.0.0.1", 0, options
        )
        return server.port, lambda: server.shutdown(timeout=5.0)

    with _in_thread(start, "rawproto-server") as port:
        yield port


# --- the websockets library as the peer ---------------------------------------


async def _ws_handler(connection: Any) -> None:
    from websockets.exceptions import ConnectionClosed

    path = connection.request.path
    try:
        if path.startswith("/close/"):
            _, _, code, reason = path.split("/", 3)
            await connection.close(int(code), reason)
        elif path == "/frames":
            # Report how each message arrived: its type and length, whole.
            async for message in connection:
                kind = "text" if isinstance(message, str) else "binary"
                await connection.send(f"{kind} {len(message)}")
        else:
            async for message in connection:
                await connection.send(message)
    except ConnectionClosed:
        pass


def _process_request(connection: Any, request: Any) -> Any:
    if request.path == "/reject":
        return connection.respond(HTTPStatus.FORBIDDEN, "go away\n")
    return None


@contextlib.contextmanager
def websockets_server(**kwargs: Any) -> Iterator[int]:
    """Run a ``websockets`` asyncio server (routes above) and yield its port.

    ``kwargs`` go to ``websockets.asyncio.server.serve`` (e.g. ``max_size``).
    """
    from websockets.asyncio.server import serve

    async def start() -> tuple[int, Callable[[], Coroutine[Any, Any, None]]]:
        kwargs.setdefault("compression", None)
        server = await serve(
            _ws_handler, "127.0.0.1", 0, process_request=_process_request, **kwargs
        )
        port = int(next(iter(server.sockets)).getsockname()[1])

        async def stop() -> None:
            server.close()
            await server.wait_closed()

        return port, stop

    with _in_thread(start, "websockets-server") as port:
        yield port
