"""The benchmarks, each written once against an adapter ``B`` (see adapters.py).

Every function here is a whole benchmark: it takes the adapter and its sizes,
runs one sample inside ``B.run`` and returns a dict of measurements.  Times
come from ``B.now()`` (``time.perf_counter``) and are taken inside the loop,
so interpreter start-up and imports are never counted.  Each window is timed
twice: on the wall clock, and in CPU time of the process (``cpu_*`` keys), which
other programs running on the same machine disturb much less.
"""
from __future__ import annotations

import gc
import random
import socket
import time
import tracemalloc

cpu = time.process_time   # CPU time of this process: what the loop itself spent


class _Countdown:
    """Shared by the tasks of one benchmark: how many are still running."""

    __slots__ = ("left", "t_end", "c_end")

    def __init__(self, left):
        self.left = left
        self.t_end = self.c_end = None


# -- 1. switches ----------------------------------------------------------------------

async def _switcher(B, rounds, done):
    sleep = B.sleep
    for _ in range(rounds):
        await sleep(0)
    done.left -= 1
    if done.left == 0:
        done.t_end, done.c_end = B.now(), cpu()


def switches(B, tasks=100, rounds=10_000):
    """``tasks`` tasks each ``await sleep(0)`` ``rounds`` times.

    The clock starts when every task has been spawned and stops when the last
    one finishes its rounds, so spawning and joining are not counted.
    """
    async def main():
        done = _Countdown(tasks)
        handles = [await B.spawn(_switcher, B, rounds, done)
                   for _ in range(tasks)]
        t0, c0 = B.now(), cpu()
        for h in handles:
            await B.join(h)
        return done.t_end - t0, done.c_end - c0

    seconds, cpu_s = B.run(main)
    n = tasks * rounds
    return {"seconds": seconds, "switches": n,
            "ns_per_switch": seconds / n * 1e9,
            "cpu_seconds": cpu_s, "cpu_ns_per_switch": cpu_s / n * 1e9}


# -- 2. spawn + join -------------------------------------------------------------------

async def _trivial():
    return 1


def spawn_join(B, tasks=100_000):
    """Spawn ``tasks`` tasks that return at once, then join them all."""
    async def main():
        t0, c0 = B.now(), cpu()
        handles = [await B.spawn(_trivial) for _ in range(tasks)]
        t1 = B.now()
        total = 0
        for h in handles:
            total += await B.join(h)
        t2, c2 = B.now(), cpu()
        assert total == tasks, total
        return t1 - t0, t2 - t1, c2 - c0

    spawn_s, join_s, cpu_s = B.run(main)
    seconds = spawn_s + join_s
    return {"seconds": seconds, "spawn_seconds": spawn_s,
            "join_seconds": join_s, "us_per_task": seconds / tasks * 1e6,
            "cpu_seconds": cpu_s, "cpu_us_per_task": cpu_s / tasks * 1e6}


# -- 3. timers -------------------------------------------------------------------------

async def _sleeper(B, delay):
    await B.sleep(delay)


def timers(B, tasks=100_000, max_ms=10.0, seed=1):
    """``tasks`` tasks each sleep once for a random 0..max_ms (fixed seed).

    Overhead is the wall time from the first spawn to the last join, minus the
    longest sleep: what the loop spent on top of waiting.
    """
    rng = random.Random(seed)
    delays = [rng.uniform(0, max_ms / 1000) for _ in range(tasks)]
    longest = max(delays)

    async def main():
        t0, c0 = B.now(), cpu()
        handles = [await B.spawn(_sleeper, B, d) for d in delays]
        for h in handles:
            await B.join(h)
        return B.now() - t0, cpu() - c0

    wall, cpu_s = B.run(main)
    overhead = wall - longest
    return {"seconds": wall, "longest_sleep": longest,
            "overhead_seconds": overhead,
            "us_per_timer": overhead / tasks * 1e6,
            "cpu_seconds": cpu_s, "cpu_us_per_timer": cpu_s / tasks * 1e6}


# -- 4. echo over TCP ------------------------------------------------------------------

async def _sendall(B, sock, data):
    view = memoryview(data)
    while view:
        try:
            sent = sock.send(view)
        except BlockingIOError:
            await B.wait_writable(sock)
            continue
        view = view[sent:]


async def _recv(B, sock, size):
    while True:
        try:
            return sock.recv(size)
        except BlockingIOError:
            await B.wait_readable(sock)


async def _echo_server(B, sock):
    while True:
        data = await _recv(B, sock, 65536)
        if not data:
            return
        await _sendall(B, sock, data)


async def _echo_client(B, sock, trips, message):
    size = len(message)
    for _ in range(trips):
        await _sendall(B, sock, message)
        got = 0
        while got < size:
            data = await _recv(B, sock, 65536)
            if not data:
                raise ConnectionError("server closed early")
            got += len(data)
    return trips


async def _connect_pair(B, listener):
    """One TCP connection over 127.0.0.1, both ends non-blocking."""
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.setblocking(False)
    client.connect_ex(listener.getsockname())
    while True:
        try:
            server, _ = listener.accept()
            break
        except BlockingIOError:
            await B.wait_readable(listener)
    await B.wait_writable(client)
    err = client.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if err:
        raise OSError(err, "connect failed")
    server.setblocking(False)
    for s in (client, server):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return client, server


def echo(B, connections=50, trips=2_000, size=64):
    """``connections`` clients each do ``trips`` round trips of ``size`` bytes.

    Clients and servers run in the same loop.  Connections are made first
    (not timed); the clock runs from the first client's start to the last
    client's end.
    """
    message = b"x" * size

    async def main():
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(connections)
        listener.setblocking(False)
        pairs = [await _connect_pair(B, listener) for _ in range(connections)]
        listener.close()
        servers = [await B.spawn(_echo_server, B, s) for _, s in pairs]
        t0, c0 = B.now(), cpu()
        clients = [await B.spawn(_echo_client, B, c, trips, message)
                   for c, _ in pairs]
        done = 0
        for h in clients:
            done += await B.join(h)
        t1, c1 = B.now(), cpu()
        for c, _ in pairs:
            c.close()
        for h in servers:
            await B.join(h)
        for _, s in pairs:
            s.close()
        return done, t1 - t0, c1 - c0

    done, seconds, cpu_s = B.run(main)
    assert done == connections * trips, done
    return {"seconds": seconds, "round_trips": done,
            "round_trips_per_s": done / seconds, "cpu_seconds": cpu_s,
            "cpu_round_trips_per_s": done / cpu_s}


# -- scaling: CPU while idle, memory per sleeping task ---------------------------------

def idle_cpu(B, tasks=10_000, seconds=1.0):
    """CPU time used while ``tasks`` tasks sleep for ``seconds``.

    Counts everything from the first spawn to the last join (so also spawning
    and joining); a loop that polls instead of blocking shows up here.
    """
    async def main():
        c0, t0 = cpu(), B.now()
        handles = [await B.spawn(_sleeper, B, seconds) for _ in range(tasks)]
        for h in handles:
            await B.join(h)
        return cpu() - c0, B.now() - t0

    cpu_s, wall = B.run(main)
    return {"cpu_seconds": cpu_s, "seconds": wall, "cpu_share": cpu_s / wall}


class _Parked:
    """How many tasks of the memory benchmark have started, and have woken."""

    __slots__ = ("started", "woken")

    def __init__(self):
        self.started = self.woken = 0


async def _parked_sleeper(B, seconds, state):
    state.started += 1
    await B.sleep(seconds)
    state.woken += 1


def memory(B, tasks=10_000, seconds=3.0):
    """Bytes allocated per sleeping task, as tracemalloc sees them.

    The measurement is taken once every task has started and is parked in
    its sleep, and is refused if any task woke before it (``seconds`` must be
    longer than it takes to start them all, which tracemalloc slows down).
    ``tracemalloc`` counts Python allocations (and C extensions' that go
    through Python's allocators), not the interpreter's own start-up.
    """
    async def main():
        state = _Parked()
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        t0 = B.now()
        handles = [await B.spawn(_parked_sleeper, B, seconds, state)
                   for _ in range(tasks)]
        while state.started < tasks:
            await B.sleep(0.001)
        await B.sleep(0)               # the last one to start is parked too
        gc.collect()
        used = tracemalloc.get_traced_memory()[0] - base
        early = state.woken
        parked_after = B.now() - t0
        for h in handles:
            await B.join(h)
        if early:
            raise RuntimeError(f"{early} tasks woke before the measurement "
                               f"({parked_after:.2f} s to park them all)")
        return used, parked_after

    tracemalloc.start()
    try:
        used, parked_after = B.run(main)
    finally:
        tracemalloc.stop()
    return {"bytes": used, "bytes_per_task": used / tasks,
            "seconds_to_park": parked_after}


# -- what the cyclic garbage collector costs the timers benchmark ------------------------

def timers_gc(B, tasks=100_000, max_ms=10.0, seed=1):
    """The timers benchmark, with ``gc.callbacks`` noting every collection.

    Returns the run's CPU time, and the number and CPU time of the
    collections of each generation (2 is a full collection, which visits
    every container object alive).
    """
    counts, spent = [0, 0, 0], [0.0, 0.0, 0.0]
    began = []

    def note(phase, info):
        if phase == "start":
            began.append(cpu())
        else:
            g = info["generation"]
            counts[g] += 1
            spent[g] += cpu() - began.pop()

    gc.callbacks.append(note)
    try:
        result = timers(B, tasks=tasks, max_ms=max_ms, seed=seed)
    finally:
        gc.callbacks.remove(note)
    result.update({f"gen{g}_collections": counts[g] for g in range(3)})
    result.update({f"gen{g}_cpu_seconds": spent[g] for g in range(3)})
    result["gc_cpu_seconds"] = sum(spent)
    return result


def full_collections(B, tasks=100_000, max_ms=10.0, seed=1):
    """The timers benchmark, noting each full collection: how many objects the
    collector tracked when it ended, and the CPU time it took.

    The count (``len(gc.get_objects())``) is taken after the collection's
    time is read, so it is not part of that time; it is part of the run's,
    which is why this benchmark reports no total: `timers_gc` has it.
    """
    full = []
    began = []

    def note(phase, info):
        if info["generation"] != 2:
            return
        if phase == "start":
            began.append(cpu())
        else:
            spent = cpu() - began.pop()
            full.append([len(gc.get_objects()), spent])

    gc.callbacks.append(note)
    try:
        timers(B, tasks=tasks, max_ms=max_ms, seed=seed)
    finally:
        gc.callbacks.remove(note)
    return {"full": full}


def tracked(B, tasks=10_000, seconds=3.0):
    """Objects the collector tracks per sleeping task, and their types.

    Like ``memory``: counted once every task is parked in its sleep (refused
    if one woke first), as the new objects ``gc.get_objects()`` lists.
    """
    async def main():
        state = _Parked()
        gc.collect()
        before = {id(o) for o in gc.get_objects()}
        handles = [await B.spawn(_parked_sleeper, B, seconds, state)
                   for _ in range(tasks)]
        while state.started < tasks:
            await B.sleep(0.001)
        await B.sleep(0)
        gc.collect()
        kinds = {}
        for o in gc.get_objects():
            if id(o) not in before:
                name = type(o).__qualname__
                kinds[name] = kinds.get(name, 0) + 1
        early = state.woken
        for h in handles:
            await B.join(h)
        if early:
            raise RuntimeError(f"{early} tasks woke before the count")
        return kinds

    kinds = B.run(main)
    # Types with fewer than one object per ten tasks are the benchmark's own.
    per_task = {k: n / tasks for k, n in kinds.items() if n >= tasks // 10}
    return {"tracked_per_task": sum(per_task.values()), "kinds_per_task": per_task}


BENCHMARKS = {
    "switches": switches,
    "spawn_join": spawn_join,
    "timers": timers,
    "echo": echo,
    "idle_cpu": idle_cpu,
    "memory": memory,
    "timers_gc": timers_gc,
    "full_collections": full_collections,
    "tracked": tracked,
}
