"""Chapter 9, exercise 1: gather, with nothing but tale's public API."""
import tale


async def gather(*corofuncs):
    """Run every ``corofunc()`` as a task; return their results, in order.

    If one fails, cancel the others and raise its exception (the first
    failure in argument order).
    """
    tasks = [await tale.spawn(corofunc) for corofunc in corofuncs]
    try:
        return [await task.join() for task in tasks]
    except BaseException:
        for task in tasks:
            await task.cancel()
        raise
