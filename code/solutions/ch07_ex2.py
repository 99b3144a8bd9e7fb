"""Chapter 7, exercise 2: the first result wins, the others are cancelled."""
from stages.ch07_cancel import CancelledError, cancel, current, join, spawn


async def race(*coros):
    """The result of whichever coroutine finishes first."""
    winners = []
    contestants = []

    async def contestant(coro):
        result = await coro
        if not winners:
            winners.append(result)
            me = await current()
            for other in contestants:
                if other is not me:
                    await cancel(other)
        return result

    for coro in coros:
        contestants.append(await spawn(contestant(coro)))
    for task in contestants:
        try:
            await join(task)
        except CancelledError:
            if task.state != "done":    # the race itself was cancelled
                for other in contestants:
                    await cancel(other)
                raise
    return winners[0]
