"""Chapter 10, exercise 2: a deadline given as a time on the loop's clock."""
import tale


def timeout_at(deadline, corofunc=None, *args):
    """Like `tale.timeout_after`, but until the clock reads `deadline`."""
    return tale.timeout_after(max(0.0, deadline - tale.clock()), corofunc, *args)
