"""The least trap loop that runs the spawn + join and timers benchmarks.

A yardstick, not a library: tasks, a ready queue, a timer heap, and three
requests (``spawn``, ``join``, ``sleep``), written the way ``tale`` is written
(a ``@types.coroutine`` trap, a task object with ``__slots__``, timer entries
of numbers only with the task in a dictionary, instant answers for ``spawn``
and a finished ``join``), and nothing else: no cancellation, no timeouts, no
I/O, no errors reported, no checks.  A crash in a task ends the loop.

Each sleeping task gives the garbage collector the same three objects to
watch as in ``tale`` (the task, its coroutine, the trap generator), so the
difference between the two on the timers benchmark is the price of what
``tale`` has and this loop has not.
"""
from __future__ import annotations

import heapq
import time
import types
from collections import deque


class Task:
    __slots__ = ("coro", "value", "done", "result", "joiners")

    def __init__(self, coro):
        self.coro = coro
        self.value = None
        self.done = False
        self.result = None
        self.joiners = None


@types.coroutine
def _trap(request):
    return (yield request)


def spawn(corofunc, *args):
    return _trap(("spawn", corofunc(*args)))


@types.coroutine
def sleep(seconds):
    yield ("sleep", seconds)


async def join(task):
    if not task.done:
        await _trap(("join", task))
    return task.result


def run(corofunc):
    now = time.monotonic
    ready = deque()
    timers = []          # heap of (deadline, number)
    armed = {}           # number -> sleeping task
    number = 0
    main = Task(corofunc())
    ready.append(main)
    while ready or timers:
        if not ready:
            delay = timers[0][0] - now()
            if delay > 0:
                time.sleep(delay)
        if timers:
            t = now()
            while timers and timers[0][0] <= t:
                ready.append(armed.pop(heapq.heappop(timers)[1]))
        for _ in range(len(ready)):
            task = ready.popleft()
            while True:
                try:
                    request = task.coro.send(task.value)
                except StopIteration as stop:
                    task.done, task.result = True, stop.value
                    if task.joiners:
                        for joiner in task.joiners:
                            joiner.value = None
                            ready.append(joiner)
                    break
                tag = request[0]
                if tag == "sleep":
                    number += 1
                    heapq.heappush(timers, (now() + request[1], number))
                    armed[number] = task
                    task.value = None
                    break
                if tag == "spawn":
                    child = Task(request[1])
                    ready.append(child)
                    task.value = child
                    continue                     # answered at once
                if tag == "join":
                    target = request[1]
                    if target.done:
                        task.value = None
                        continue
                    if target.joiners is None:
                        target.joiners = []
                    target.joiners.append(task)
                    break
                raise TypeError(f"not a request: {request!r}")
    return main.result
