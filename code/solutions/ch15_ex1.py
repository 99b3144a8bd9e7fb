"""Chapter 15, exercise 1: a handler that serves at most n clients at once."""


def at_most(n, handler):
    """A handler for `serve_tcp`: `handler` for up to `n` connections at
    once; any other client gets ``b'busy\\n'`` and is closed."""
    serving = 0

    async def limited(stream):
        nonlocal serving
        if serving >= n:
            await stream.send_all(b'busy\n')
            return                      # serve_tcp closes the stream
        serving += 1
        try:
            await handler(stream)
        finally:
            serving -= 1

    return limited
