"""Chapter 13, exercise 2: measure a block in virtual time."""
import contextlib

import tale


class Elapsed:
    """What `elapsed` measured: `seconds` of loop time."""
    seconds = None


@contextlib.contextmanager
def elapsed():
    """``with elapsed() as e: ...``, then ``e.seconds`` is the time it took.

    The time is the loop's clock, virtual or real.
    """
    result = Elapsed()
    start = tale.clock()
    try:
        yield result
    finally:
        result.seconds = tale.clock() - start
