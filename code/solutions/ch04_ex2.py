"""Chapter 4, exercise 2: gather(), from spawn and join alone."""
from stages.ch04_spawn import join, spawn


async def gather(*coros):
    """Run `coros` concurrently; return their results in order."""
    tasks = [await spawn(coro) for coro in coros]
    return [await join(task) for task in tasks]
