"""Stage 3: the smallest loop.

One coroutine, driven from start to finish.  It asks the loop for things
by awaiting requests such as ('pause',); the loop answers each one
through a table of handlers.
"""
import time
import types


@types.coroutine
def _request(*request):
    """Hand one request to the loop; return the loop's answer.

    This is the only place where a task yields.  If the loop answers
    with an exception, it throws it in here, so it is raised at the
    `await` in the task that asked.
    """
    return (yield request)


async def pause():
    """Let the loop take over for one step, then carry on."""
    return await _request("pause")


async def now():
    """The loop's idea of the current time, in seconds."""
    return await _request("now")


def trap_pause():
    return None                     # nothing to do: resume at once


def trap_now():
    return time.monotonic()


TRAPS = {                           # tag -> handler; a test checks each has a wrapper
    "pause": trap_pause,
    "now": trap_now,
}


def find_handler(request, traps):
    """The handler for `request`, or a TypeError that says what went wrong."""
    if not (isinstance(request, tuple) and request and isinstance(request[0], str)):
        raise TypeError(f"a task yielded {request!r}, which is not a request "
                        "(a tuple starting with a tag such as 'pause'); "
                        "is it awaiting something made for another event loop?")
    if request[0] not in traps:
        raise TypeError(f"unknown request {request[0]!r} in {request!r}")
    return traps[request[0]]


def run(coro):
    """Run the coroutine `coro` to its end and return what it returns.

    An exception that escapes the coroutine escapes `run` as itself.
    """
    value, error = None, None       # what to send or throw at the next step
    while True:
        try:
            if error is None:
                request = coro.send(value)
            else:
                request = coro.throw(error)
        except StopIteration as stop:
            return stop.value
        value, error = answer(request)


def answer(request):
    """Answer one request: (value, None), or (None, exception) to throw."""
    try:
        handler = find_handler(request, TRAPS)
        return handler(*request[1:]), None
    except Exception as exc:        # a bad request, or a handler that refused it
        return None, exc


if __name__ == "__main__":
    async def countdown(n):
        while n:
            print("counting", n)
            await pause()
            n -= 1
        return "lift-off"

    print(run(countdown(3)))
