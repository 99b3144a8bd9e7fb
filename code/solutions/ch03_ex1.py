"""Chapter 3, exercise 1: a run() that records every request."""
from stages.ch03_loop import answer


def run_traced(coro):
    """Run `coro`; return (its result, the list of requests it made)."""
    trace = []
    value, error = None, None
    while True:
        try:
            request = coro.send(value) if error is None else coro.throw(error)
        except StopIteration as stop:
            return stop.value, trace
        trace.append(request)
        value, error = answer(request)
