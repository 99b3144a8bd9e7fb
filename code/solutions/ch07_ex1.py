"""Chapter 7, exercise 1: a deadline for any coroutine."""
from stages.ch07_cancel import CancelledError, cancel, join, sleep, spawn


async def wait_for(coro, seconds):
    """The result of `coro`, or TimeoutError after `seconds`."""
    work = await spawn(coro)

    async def watchdog():
        await sleep(seconds)
        await cancel(work)

    dog = await spawn(watchdog())
    try:
        return await join(work)
    except CancelledError:
        if work.state == "done":        # the watchdog cancelled the work
            raise TimeoutError(f"no result after {seconds} s") from None
        await cancel(work)              # we were cancelled: stop the work
        raise
    finally:
        await cancel(dog)
