"""Chapter 14, exercise 2: a task that keeps its coroutine's bound send."""
import time
import types
from collections import deque


@types.coroutine
def _trap(request):
    return (yield request)


async def sleep(seconds):
    return await _trap(("sleep", seconds))


async def sleeper(rounds):
    for _ in range(rounds):
        await sleep(0)


class Task:
    __slots__ = ("send", "value")

    def __init__(self, coro):
        self.send = coro.send           # looked up once, not at every step
        self.value = None


def cached_send(tasks=100, rounds=10_000, body=sleeper):
    """Run `tasks` tasks of `body(rounds)` to the end; time the switches."""
    ready = deque(Task(body(rounds)) for _ in range(tasks))
    popleft, append = ready.popleft, ready.append

    def trap_sleep(task, request):
        task.value = None
        append(task)

    traps = {"sleep": trap_sleep}
    start = time.perf_counter()
    while ready:
        task = popleft()
        try:
            request = task.send(task.value)
        except StopIteration:
            continue
        traps[request[0]](task, request)
    seconds = time.perf_counter() - start
    n = tasks * rounds
    return {"seconds": seconds, "switches": n, "ns_per_switch": seconds / n * 1e9}
