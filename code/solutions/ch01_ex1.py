"""Chapter 1, exercise 1: drive a coroutine to its end, counting pauses."""


def run_to_end(coro):
    """Send None until `coro` returns; give back (result, suspensions)."""
    suspensions = 0
    while True:
        try:
            coro.send(None)
        except StopIteration as stop:
            return stop.value, suspensions
        suspensions += 1
