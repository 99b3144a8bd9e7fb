"""The ``minimal`` loop with one change: a task waits on its own task object.

In ``minimal`` (and in ``tale``), ``await sleep(d)`` makes a generator, the
trap, which yields the request and stays alive, suspended, for as long as the
task sleeps: with the task and its coroutine, three objects for the cyclic
collector to watch.  Here ``sleep`` puts the request on the running task and
returns the task itself; the task is the iterator that ``await`` drives, so it
hands the request out on the first step and finishes the ``await`` on the
next.  A sleeping task is then two objects, and a sleep keeps nothing alive
but its timer's entry.
The price is that every step of an ``await`` is a call of a Python method
(``__await__``, ``__next__``, ``send``) instead of the resumption of a
generator, and that ``sleep`` must know the running task.
"""
from __future__ import annotations

import heapq
import time
from collections import deque

from minimal import _trap

_running = None      # the task being stepped: what sleep() puts its request on


class Task:
    __slots__ = ("coro", "value", "done", "result", "joiners", "request")

    def __init__(self, coro):
        self.coro = coro
        self.value = None
        self.done = False
        self.result = None
        self.joiners = None
        self.request = None

    def __await__(self):
        return self

    def __next__(self):
        request = self.request
        if request is not None:          # first step: hand the request out
            self.request = None
            return request
        raise StopIteration(self.value)  # next step: the await is over

    def send(self, value):
        return self.__next__()


def spawn(corofunc, *args):
    return _trap(("spawn", corofunc(*args)))


def sleep(seconds):
    _running.request = ("sleep", seconds)
    return _running


async def join(task):
    if not task.done:
        await _trap(("join", task))
    return task.result


def run(corofunc):
    global _running
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
            task = _running = ready.popleft()
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
                    continue
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
    _running = None
    return main.result
