"""Chapter 13, exercise 1: force an order on code in different tasks."""
import contextlib

import tale


class Sequencer:
    """``async with seq(n):`` waits until blocks 0 .. n-1 have finished."""

    def __init__(self):
        self._next = 0
        self._changed = tale.Condition()

    @contextlib.asynccontextmanager
    async def __call__(self, position):
        async with self._changed:
            await self._changed.wait_for(lambda: self._next == position)
        try:
            yield
        finally:
            async with self._changed:
                self._next += 1
                self._changed.notify_all()
