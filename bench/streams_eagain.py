#!/usr/bin/env python3
"""Try first, or wait first?  Echo round trips over 127.0.0.1 with tale's streams.

A client task and an echo task share one tale loop and one TCP connection on
127.0.0.1; the client sends a small message and reads the echo back, again
and again.  Two ways of reading and writing are compared, in alternating
runs:

* ``try-first``, `tale.Stream` as it is: call ``recv``/``send`` at once, and
  wait for the loop only when the kernel answers ``EAGAIN``;
* ``always-try``, the same class with its receiving helper replaced by one
  that tries ``recv`` even right after a send (where `tale.Stream` waits
  first, since the answer to what it sent cannot be there yet);
* ``wait-first``, the same class with its two system-call helpers replaced:
  wait until the selector says the socket is ready, then call.

For each it prints the median time per round trip and how many times the
loop polled its selector per round trip (counted by wrapping the kernel's
poll).  Run it standalone; it is not part of ``make test``::

    python bench/run.py --tool streams [--trips 20000] [--repeats 5] [--size 64]
"""
from __future__ import annotations

import argparse
import socket
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "code"))

import tale  # noqa: E402
import tale.kernel  # noqa: E402
from tale.streams import Stream  # noqa: E402


class WaitFirst(Stream):
    """A stream that asks the selector before every system call."""

    __slots__ = ()

    async def _recv(self, max_bytes):
        await tale.wait_readable(self.socket)
        return self.socket.recv(max_bytes)

    async def send_all(self, data):
        view = memoryview(data).cast("B")
        while view:
            await tale.wait_writable(self.socket)
            view = view[self.socket.send(view):]


class AlwaysTry(Stream):
    """A stream that tries recv first even right after a send."""

    __slots__ = ()

    async def _recv(self, max_bytes):
        while True:
            try:
                return self.socket.recv(max_bytes)
            except BlockingIOError:
                self._turns = 0
                await tale.wait_readable(self.socket)


class PollCounter:
    """Counts the polls of the running kernel's selector, timed or not.

    The kernel polls through ``clock.select`` only when it has a timeout; with
    none it polls the selector itself, in slices.  So the count wraps the
    kernel's ``_poll``, which every poll goes through.
    """

    def __init__(self):
        self.polls = 0

    def install(self):
        kernel = tale.kernel._running.kernel
        poll = kernel._poll

        def counted(timeout):
            self.polls += 1
            return poll(timeout)

        kernel._poll = counted


def connected_pair():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    return client, server


async def echo(stream):
    while data := await stream.receive_some():
        await stream.send_all(data)


async def client(stream, trips, message):
    for _ in range(trips):
        await stream.send_all(message)
        await stream.read_exactly(len(message))
    await stream.send_eof()


async def session(kind, trips, message, counter):
    counter.install()
    a, b = connected_pair()
    async with kind(a) as near, kind(b) as far:
        server = await tale.spawn(echo, far)
        await client(near, trips, message)
        await server.join()


def one_run(kind, trips, size):
    counter = PollCounter()
    start = time.perf_counter()
    tale.run(session, kind, trips, b"x" * size, counter, debug=False)
    seconds = time.perf_counter() - start
    return seconds / trips * 1e6, counter.polls / trips


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trips", type=int, default=20000, help="round trips per run")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each variant")
    parser.add_argument("--size", type=int, default=64, help="bytes per message")
    args = parser.parse_args(argv)
    kinds = {"try-first": Stream, "always-try": AlwaysTry, "wait-first": WaitFirst}
    samples = {name: [] for name in kinds}
    for _ in range(args.repeats):
        for name, kind in kinds.items():         # alternate, so drift hits both
            samples[name].append(one_run(kind, args.trips, args.size))
    print(f"{args.trips} echo round trips of {args.size} bytes on 127.0.0.1, "
          f"one tale loop, median of {args.repeats} runs")
    print(f"{'':12}{'us/trip':>10}{'polls/trip':>12}")
    medians = {}
    for name, runs in samples.items():
        medians[name] = statistics.median(us for us, _ in runs)
        polls = statistics.median(p for _, p in runs)
        print(f"{name:12}{medians[name]:10.1f}{polls:12.2f}")
    for name in ("always-try", "wait-first"):
        ratio = medians[name] / medians["try-first"]
        print(f"{name} takes {ratio:.2f} times as long as try-first")
