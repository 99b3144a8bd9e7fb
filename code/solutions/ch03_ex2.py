"""Chapter 3, exercise 2: refuse what is not a coroutine, clearly."""
import inspect

from stages.ch03_loop import run


def run_checked(coro):
    """Like run(), but first check that `coro` is a coroutine object."""
    if not inspect.iscoroutine(coro):
        hint = ""
        if inspect.iscoroutinefunction(coro):
            hint = f"; did you mean run({coro.__name__}())?"
        raise TypeError(f"run() needs a coroutine object, got {coro!r}{hint}")
    return run(coro)
