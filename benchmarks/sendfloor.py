"""The kernel's floor under the broadcast schedule: one send() per client per tick.

    python benchmarks/sendfloor.py                   # 1,000 sockets, 500 ticks, back to back
    python benchmarks/sendfloor.py --clients 500 --ticks 200

Whatever a server is written in, one broadcast tick to 1,000 WebSockets is
1,000 ``send()`` system calls: TCP has no call that writes to many sockets at
once. On loopback each ``send()`` also runs the receiving side's TCP work and
wakes the reader, inside the sender's system call. This script measures that
floor and nothing else: plain blocking sockets, no event loop, no protocol
engine, the same 22-byte text frame the benchmark's ticker sends, and a
reader in another process, pinned to the other core, draining every socket
with epoll as the load generator does.

It sends the ticks back to back, so a tick's time here is the least any
server can spend on it. If 1,000 sends take close to 10 ms on a machine, no
server there keeps `run.py`'s 10 ms broadcast schedule, and the broadcast
target's "schedule kept" is a property of the machine, not of the server.
Needs 2 CPUs (it pins itself to CPU 0 and the reader to CPU 1, as `run.py`
pins the server and the load generator).
"""

from __future__ import annotations

import argparse
import os
import selectors
import socket
import statistics
import subprocess
import sys
import time

from servers import raise_fd_limit  # this folder's

#: What servers.py's ticker sends per tick: "i <monotonic seconds>", 20 bytes
#: of text in an unmasked server frame (RFC 6455 §5.2: FIN + opcode 1, length).
PAYLOAD = b"123 1234567.123456\x20\x20"
FRAME = bytes([0x81, len(PAYLOAD)]) + PAYLOAD
READER_DEADLINE = 120.0  #: seconds the reader waits for all its bytes at most


def reader(port: int, clients: int, expect: int) -> None:
    """Connect ``clients`` sockets, then read until each got ``expect`` bytes."""
    sel = selectors.DefaultSelector()
    left: dict[socket.socket, int] = {}
    for _ in range(clients):
        s = socket.create_connection(("127.0.0.1", port))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, s)
        left[s] = expect
    print("ready", flush=True)
    deadline = time.monotonic() + READER_DEADLINE
    while left and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1.0):
            s = key.data
            data = s.recv(65536)
            left[s] -= len(data)
            if not data or left[s] <= 0:
                sel.unregister(s)
                del left[s]
                s.close()
    sys.exit(0 if not left else 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--ticks", type=int, default=500)
    parser.add_argument("--reader", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.clients < 1 or args.ticks < 1:
        parser.error("--clients and --ticks must be at least 1")
    raise_fd_limit()  # each side holds one descriptor per client
    if args.reader:
        os.sched_setaffinity(0, {1})
        try:
            reader(args.reader, args.clients, args.ticks * len(FRAME))
        except OSError as exc:
            parser.exit(1, f"sendfloor reader: {exc}\n")
        return
    if (os.cpu_count() or 1) < 2:
        parser.exit(1, "sendfloor: needs 2 CPUs (server and reader on different cores)\n")
    os.sched_setaffinity(0, {0})
    listener = socket.create_server(("127.0.0.1", 0), backlog=args.clients)
    port = listener.getsockname()[1]
    child = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--reader",
            str(port),
            "--clients",
            str(args.clients),
            "--ticks",
            str(args.ticks),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        socks = []
        listener.settimeout(30)
        for _ in range(args.clients):
            s, _addr = listener.accept()
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as asyncio sets it
            s.settimeout(30)
            socks.append(s)
        assert child.stdout is not None
        child.stdout.readline()  # "ready": the reader is in its loop
        ticks = []
        for _ in range(args.ticks):
            t = time.perf_counter()
            for s in socks:
                s.send(FRAME)
            ticks.append(time.perf_counter() - t)
        status = child.wait(timeout=READER_DEADLINE + 10)
    except (OSError, subprocess.TimeoutExpired) as exc:  # TimeoutError is an OSError
        parser.exit(1, f"sendfloor: {exc or type(exc).__name__}\n")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    for s in socks:
        s.close()
    total = sum(ticks)
    ticks.sort()
    print(
        f"{args.clients:,} clients x {args.ticks} ticks, back to back, reader on CPU 1"
        f"{'' if status == 0 else ' (the reader did not receive everything)'}"
    )
    print(f"  per send():          {total / (args.clients * args.ticks) * 1e6:.2f} µs")
    print(f"  per tick, median:    {statistics.median(ticks) * 1e3:.2f} ms")
    print(f"  per tick, p99:       {ticks[int(len(ticks) * 0.99) - 1] * 1e3:.2f} ms")
    print(f"  all ticks:           {total:.2f} s (the schedule allows {args.ticks * 0.010:.2f} s)")


if __name__ == "__main__":
    main()
