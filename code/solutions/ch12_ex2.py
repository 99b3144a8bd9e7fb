"""Chapter 12, exercise 2: a pool of workers fed by a bounded queue."""
import tale


async def pool_map(corofunc, items, workers):
    """Return ``[await corofunc(item) for item in items]`` with at most
    `workers` calls running at a time, in the order of `items`."""
    queue = tale.Queue(maxsize=workers)
    results = {}

    async def worker():
        while True:
            index, item = await queue.get()
            if index is None:
                return
            results[index] = await corofunc(item)

    async with tale.TaskGroup() as g:
        for _ in range(workers):
            await g.spawn(worker)
        for index, item in enumerate(items):
            await queue.put((index, item))     # waits while every worker is busy
        for _ in range(workers):
            await queue.put((None, None))      # one "stop" per worker
    return [results[index] for index in range(len(results))]
