#!/usr/bin/env python3
"""What chapter 16's server spends on a request, piece by piece, without sockets.

    python bench/run.py --tool http-costs [--runs 60] [--number 5000]

Every line times one piece of the work for the request wrk sends (``GET /``
with one ``Host`` header) in this process, with no socket and no other
process involved: the least time over many short runs, in microseconds per
request.  The pieces:

* the parse of the head, by the whole-head pattern, and by the line-by-line
  path alone (the same parser with its whole-head path turned off): ``feed``
  and the three events, ``Request``, ``EndOfMessage``, ``NEED_DATA``;
* the response: ``format_response``, with its checked header lines
  remembered, and checking them afresh every time;
* a whole request through the server's handler, fed by a stream without a
  socket (its reads return the request at once, its sends take everything),
  and the same for the minimal handler of ``bench/http_servers.py``;
* two costs the server avoids: a timeout scope entered and left around a
  wait (``move_on_after``, less the same loop without it), and a ``recv``
  that fails with ``EAGAIN``.
"""
from __future__ import annotations

import argparse
import socket
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "code"))
sys.path.insert(0, str(HERE))

import tale  # noqa: E402
import tale.http  # noqa: E402
from http_servers import heads, response  # noqa: E402
from tale.examples.http_server import HELLO, TEXT, HTTPServer  # noqa: E402
from tale.http import RequestParser, format_response  # noqa: E402

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"


def best(function, runs, number):
    """The least time of `runs` runs of ``function(number)``, per call, in µs."""
    least = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        function(number)
        least = min(least, time.perf_counter() - start)
    return least / number * 1e6


def parse(whole):
    parser = RequestParser()
    if not whole:
        parser._whole = 0               # no head is short enough: lines only

    def run(number):
        for _ in range(number):
            parser.feed(REQUEST)
            parser.next_event()
            parser.next_event()
            parser.next_event()
    return run


def respond(remembered):
    parser = RequestParser()
    parser.feed(REQUEST)
    request = parser.next_event()
    forget = tale.http._field_lines.clear

    def run(number):
        for _ in range(number):
            if not remembered:
                forget()
            format_response(200, HELLO, TEXT, request=request)
    return run


class _Socket:
    def send(self, data):
        return len(data)

    def shutdown(self, how):
        pass


class _Stream:
    """What a handler needs of a stream: reads give the request, sends take all."""

    def __init__(self, number):
        self.left, self.socket = number, _Socket()

    async def receive_some(self, max_bytes=65536):
        self.left -= 1
        return REQUEST if self.left >= 0 else b""

    async def send_all(self, data):
        pass

    async def send_eof(self):
        pass


async def _minimal(stream):
    buffer, answer = b"", response()
    while data := await stream.receive_some(65536):
        count, buffer = heads(buffer + data)
        if count:
            await stream.send_all(answer * count)


def handler(which):
    def run(number):
        tale.run(which, _Stream(number), debug=False)
    return run


def scope(scoped):
    async def main(number):
        for _ in range(number):
            if scoped:
                async with tale.move_on_after(10):
                    await tale.sleep(0)
            else:
                await tale.sleep(0)

    def run(number):
        tale.run(main, number, debug=False)
    return run


def failed_recv(number):
    near, far = socket.socketpair()
    with near, far:
        near.setblocking(False)
        for _ in range(number):
            try:
                near.recv(65536)
            except BlockingIOError:
                pass


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60, help="runs of each piece")
    parser.add_argument("--number", type=int, default=5000, help="requests per run")
    args = parser.parse_args(argv)
    runs, number = args.runs, args.number
    time_of = {}
    for name, function in [
            ("parse: the whole head at once", parse(True)),
            ("parse: line by line", parse(False)),
            ("response: header lines remembered", respond(True)),
            ("response: header lines checked each time", respond(False)),
            ("the server's handler, a whole request", handler(HTTPServer())),
            ("the minimal handler, a whole request", handler(_minimal)),
            ("a loop step with a timeout scope", scope(True)),
            ("a loop step without", scope(False)),
            ("a recv that fails (EAGAIN)", failed_recv)]:
        time_of[name] = best(function, runs, number)
    scoped = time_of.pop("a loop step with a timeout scope")
    time_of["a timeout scope, entered and left"] = scoped - time_of.pop("a loop step without")
    print(f"GET / with one header, no sockets: the least of {runs} runs of "
          f"{number}, in µs per request")
    width = max(map(len, time_of))
    for name, us in time_of.items():
        print(f"{name:{width}}  {us:5.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
