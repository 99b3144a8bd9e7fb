"""Chapter 11, exercise 1: race, the first to finish wins."""
import tale


async def race(*corofuncs):
    """Run every ``corofunc()`` at once; return the first result.

    The others are cancelled.
    """
    winner = []
    tasks = []

    async def contestant(corofunc):
        result = await corofunc()
        if not winner:
            winner.append(result)
            me = await tale.current_task()
            for task in tasks:
                if task is not me:
                    await task.cancel()

    async with tale.TaskGroup() as g:
        for corofunc in corofuncs:
            tasks.append(await g.spawn(contestant, corofunc))
    return winner[0]
