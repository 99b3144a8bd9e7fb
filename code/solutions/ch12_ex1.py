"""Chapter 12, exercise 1: a barrier, as a few lines on a WaitQueue."""
from tale.sync import WaitQueue


class Barrier:
    """Tasks wait at the barrier until `parties` of them have arrived."""

    def __init__(self, parties):
        self.parties = parties
        self._arrived = 0
        self._waiters = WaitQueue(relay=lambda value: None)   # nothing to pass on

    async def wait(self):
        """Wait for the others; return this task's arrival index (0 first)."""
        index = self._arrived
        self._arrived += 1
        if self._arrived == self.parties:
            self._arrived = 0                  # ready for the next round
            self._waiters.wake_all()
        else:
            await self._waiters.wait()
        return index
