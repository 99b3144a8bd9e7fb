"""Chapter 5, exercise 2: a new request, added from outside the stage."""
from stages.ch05_time import Loop, _request


async def sleep_until(deadline):
    """Sleep until the loop's clock reads `deadline`."""
    return await _request("sleep_until", deadline)


class UntilLoop(Loop):
    def __init__(self, clock=None):
        super().__init__(clock)
        self.traps["sleep_until"] = self.trap_sleep_until

    def trap_sleep_until(self, task, deadline):
        self.trap_sleep(task, deadline - self.clock.now())
