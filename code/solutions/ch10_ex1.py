"""Chapter 10, exercise 1: retry a call, each attempt with its own timeout."""
import tale


async def retry(attempts, seconds, corofunc, *args):
    """Call ``corofunc(*args)`` up to `attempts` times, `seconds` each.

    Return the first result that arrives in time; if every attempt times
    out, raise the last `TimeoutError`.
    """
    for attempt in range(1, attempts + 1):
        try:
            return await tale.timeout_after(seconds, corofunc, *args)
        except TimeoutError:
            if attempt == attempts:
                raise
