"""Chapter 1, exercise 2: drive several coroutines, one step each per round."""


def round_robin(*coros):
    """Step each unfinished coroutine once per round; return their results."""
    results = [None] * len(coros)
    running = list(enumerate(coros))
    while running:
        still_running = []
        for index, coro in running:
            try:
                coro.send(None)
            except StopIteration as stop:
                results[index] = stop.value
            else:
                still_running.append((index, coro))
        running = still_running
    return results
