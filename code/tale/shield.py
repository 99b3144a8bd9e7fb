"""Shields: a block that cancellations from outside it cannot enter."""
from .traps import _current


class Shield:
    """What `shield` returns; ``held`` is the cancellation it holds back, if any."""

    def __init__(self):
        self.held = None        # the strongest cancellation held back
        self.depth = None       # the task's timeout depth when the shield opened
        self._task = None
        self._outer = None      # the shield around this one, in the same task

    def hold(self, exc):
        """Called by the kernel's `_cancel`: keep `exc` for later (the strongest)."""
        if self.held is None or exc._rank < self.held._rank:
            self.held = exc
        return True

    async def __aenter__(self):
        task = self._task = await _current()
        self.depth = task._scope_depth
        self._outer = task._shield
        task._shield = self
        return self

    async def __aexit__(self, exc_type, exc, tb):
        task = self._task
        task._shield = outer = self._outer
        held, self.held = self.held, None
        if held is None or isinstance(exc, GeneratorExit):
            return False
        if outer is not None and held._rank <= outer.depth:
            outer.hold(held)                # still held back, by the next shield out
            return False
        strongest = task._cancelled_by      # as the kernel's _cancel records it
        if strongest is None or held._rank <= strongest._rank:
            task._cancelled_by = held
        raise held                          # delivered, now that the shield is gone


def shield():
    """A block that cancellation cannot enter: ``async with tale.shield():``.

    A cancellation from outside the block (another task, the loop's
    shutdown, a deadline set outside) is held back and raised when the
    block ends; a deadline set inside the block still applies.
    """
    return Shield()
