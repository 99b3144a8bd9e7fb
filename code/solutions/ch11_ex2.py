"""Chapter 11, exercise 2: map a function over items, concurrently, in a group."""
import tale


async def map_concurrently(corofunc, items):
    """Return ``[await corofunc(item) for item in items]``, all run at once."""
    async with tale.TaskGroup() as g:
        tasks = [await g.spawn(corofunc, item) for item in items]
    return [task.result() for task in tasks]
