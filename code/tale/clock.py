"""Clocks: where the kernel gets the time, and how it waits for it.

A clock has three methods, as in chapter 8.  ``now()`` is the time in
seconds (any origin, never going backwards).  ``sleep(seconds)`` waits when
no task waits for I/O.  ``select(selector, timeout)`` polls the selector for
at most `timeout` seconds by this clock (``None``: no limit) and returns its
events.
"""
import time


class MonotonicClock:
    """The real clock: `time.monotonic`, and real waiting."""

    __slots__ = ()

    # The functions of `time` themselves, not methods that call them: the
    # tick asks the time often, and this way no Python frame is made for it.
    now = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)

    def select(self, selector, timeout):
        """Poll `selector` for at most `timeout` seconds (None: no limit)."""
        return selector.select(timeout)
