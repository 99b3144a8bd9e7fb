"""Chapter 1, exercise 3: a coroutine that refuses to close."""
import inspect


class Pause:
    """Awaiting a Pause suspends the coroutine exactly once."""

    def __await__(self):
        answer = yield "pause"
        return answer


async def stubborn(log):
    try:
        await Pause()
    except GeneratorExit:
        log.append("GeneratorExit caught")
    await Pause()
    log.append("finished anyway")


def close_stubborn():
    """Close a stubborn coroutine; return (log, error message, final state)."""
    log = []
    coro = stubborn(log)
    coro.send(None)
    try:
        coro.close()
    except RuntimeError as error:
        message = str(error)
    else:
        message = None
    try:
        coro.send(None)
    except StopIteration:
        pass
    return log, message, inspect.getcoroutinestate(coro)
