"""Chapter 5, exercise 1: a periodic task that does not drift."""
from stages.ch05_time import now, sleep


async def every(period, count, action):
    """Await action() `count` times, at start + period, start + 2*period, ..."""
    start = await now()
    for beat in range(1, count + 1):
        await sleep(start + beat * period - await now())
        await action()
