"""The essay's dashboard: one live feed over short polling, long polling and
WebSocket, measured at the server's socket, with a fault lab (``rawproto
dashboard``) and the same comparison without a browser (``rawproto compare``).

Protocol logic stays in :mod:`rawproto.aio` / :mod:`rawproto.core`; this
package is plain asyncio around them: a feed, a byte meter (a tap), a fault
proxy, and a runner.
"""
