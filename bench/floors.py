"""Floors: what one task switch costs before any event loop is involved.

Each rung adds one piece of what a real switch does, so the difference between
two rungs is the price of that piece.  All rungs do ``tasks * rounds`` switches
(one switch = one suspension and one resumption of a task), like the
``switches`` benchmark, and return the same measurements.

1. ``send``     a bare ``gen.send(None)`` on a generator that yields in a loop:
                resuming one Python frame, the least a switch can cost.
2. ``await``    a coroutine that awaits a ``@types.coroutine`` generator which
                yields once: ``send`` passes through two frames.
3. ``sched``    the minimal scheduler: a ready deque of ``tasks`` such
                coroutines, popped, sent, appended back.
4. ``trap``     the request is a tuple ``('sleep', 0)``, yielded by one trap
                generator that returns the loop's answer, behind an ``async def
                sleep`` wrapper: three frames per switch, as in a real library.
5. ``dispatch`` the loop keeps a task object, looks up a handler by the
                request's tag in a table and calls it; the handler reschedules
                the task: a complete, if tiny, kernel.
6. ``tuned``    the same kernel with the two cheapest fixes a profile of rung 5
                suggests: handlers take the request whole instead of
                ``*request[1:]`` (no slice, no star call), and the hot loop
                keeps ``ready.append`` and the table in local variables.
"""
from __future__ import annotations

import time
import types
from collections import deque


class _Timer:
    """Wall and CPU time of a ``with`` block."""

    def __enter__(self):
        self.t0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self.cpu_seconds = time.process_time() - self.c0


def _result(timer, n):
    return {"seconds": timer.seconds, "switches": n,
            "ns_per_switch": timer.seconds / n * 1e9,
            "cpu_seconds": timer.cpu_seconds,
            "cpu_ns_per_switch": timer.cpu_seconds / n * 1e9}


def send(tasks=100, rounds=10_000):
    def gen():
        while True:
            yield

    n = tasks * rounds
    step = gen().send
    step(None)
    with _Timer() as timer:
        for _ in range(n):
            step(None)
    return _result(timer, n)


@types.coroutine
def _pure_yield():
    yield


async def _awaiter(rounds):
    for _ in range(rounds):
        await _pure_yield()


def await_(tasks=100, rounds=10_000):
    n = tasks * rounds
    coro = _awaiter(n)
    step = coro.send
    with _Timer() as timer:
        try:
            while True:
                step(None)
        except StopIteration:
            pass
    return _result(timer, n)


def sched(tasks=100, rounds=10_000):
    ready = deque(_awaiter(rounds) for _ in range(tasks))
    popleft, append = ready.popleft, ready.append
    with _Timer() as timer:
        while ready:
            coro = popleft()
            try:
                coro.send(None)
            except StopIteration:
                continue
            append(coro)
    return _result(timer, tasks * rounds)


@types.coroutine
def _trap(request):
    return (yield request)


async def _sleep(seconds):
    return await _trap(("sleep", seconds))


async def _sleeper(rounds):
    for _ in range(rounds):
        await _sleep(0)


def trap(tasks=100, rounds=10_000):
    ready = deque(_sleeper(rounds) for _ in range(tasks))
    popleft, append = ready.popleft, ready.append
    with _Timer() as timer:
        while ready:
            coro = popleft()
            try:
                coro.send(None)
            except StopIteration:
                continue
            append(coro)
    return _result(timer, tasks * rounds)


class _Task:
    __slots__ = ("coro", "value")

    def __init__(self, coro):
        self.coro = coro
        self.value = None


class _Kernel:
    def __init__(self):
        self.ready = deque()
        self.traps = {"sleep": self.trap_sleep}

    def trap_sleep(self, task, seconds):
        task.value = None
        self.ready.append(task)

    def run(self):
        ready, traps = self.ready, self.traps
        while ready:
            task = ready.popleft()
            try:
                request = task.coro.send(task.value)
            except StopIteration:
                continue
            traps[request[0]](task, *request[1:])


def dispatch(tasks=100, rounds=10_000):
    kernel = _Kernel()
    kernel.ready.extend(_Task(_sleeper(rounds)) for _ in range(tasks))
    with _Timer() as timer:
        kernel.run()
    return _result(timer, tasks * rounds)


def tuned(tasks=100, rounds=10_000):
    ready = deque(_Task(_sleeper(rounds)) for _ in range(tasks))
    popleft, append = ready.popleft, ready.append

    def trap_sleep(task, request):
        task.value = None
        append(task)

    traps = {"sleep": trap_sleep}
    with _Timer() as timer:
        while ready:
            task = popleft()
            try:
                request = task.coro.send(task.value)
            except StopIteration:
                continue
            traps[request[0]](task, request)
    return _result(timer, tasks * rounds)


RUNGS = {"send": send, "await": await_, "sched": sched, "trap": trap,
         "dispatch": dispatch, "tuned": tuned}
