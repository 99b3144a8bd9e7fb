"""An asyncio event loop on virtual time, for tests that compare loops.

`VirtualTimeLoop.time()` is a number that moves only when the loop would
wait: its selector polls without blocking, and if nothing is ready it jumps
the clock by the timeout asyncio asked for, instead of sleeping.  Timers
then fire at exactly the virtual time they were set for.  A loop that would
wait for ever (no timer, nothing ready) raises `VirtualDeadlock`.

    loop = VirtualTimeLoop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
"""
import asyncio
import math
import selectors


class VirtualDeadlock(RuntimeError):
    """The loop would wait for ever: no timer is set and no I/O is ready."""


class _VirtualSelector(selectors.DefaultSelector):
    clock = None            # the VirtualTimeLoop whose time this selector moves

    def select(self, timeout=None):
        events = super().select(0)          # real I/O: look, never block
        if events or timeout == 0:
            return events
        if timeout is None:
            raise VirtualDeadlock('the loop would wait for ever: no timer, no I/O ready')
        self.clock._now += timeout          # nothing to do until the first timer
        return events


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self, start=0.0):
        self._now = float(start)
        selector = _VirtualSelector()
        selector.clock = self
        super().__init__(selector)

    def time(self):
        return self._now

    # asyncio runs the timers due before time() + _clock_resolution, which
    # it takes to be the monotonic clock's (1e-9 s): two deadlines closer
    # than that would fire together.  A virtual clock is exact: the
    # smallest step above now (one unit in the last place) makes a timer
    # due when its deadline has come, and not before.
    @property
    def _clock_resolution(self):
        return math.ulp(self._now)

    @_clock_resolution.setter
    def _clock_resolution(self, value):
        pass                            # (asyncio's __init__ sets it)


def run(main, start=0.0):
    """Run the coroutine `main` to the end on a fresh virtual-time loop."""
    loop = VirtualTimeLoop(start)
    try:
        return loop.run_until_complete(main)
    except VirtualDeadlock:
        stuck = asyncio.all_tasks(loop)     # cancel them, and let them clean up
        for task in stuck:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*stuck, return_exceptions=True))
        raise
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
