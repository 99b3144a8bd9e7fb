"""Testing: a virtual clock, so that timers run in no real time."""
class VirtualClock:
    """A clock that stands still and jumps: tests own the time.

    Time starts at `start` and moves only when the loop would wait: if no
    task waits for I/O, the clock jumps straight to the next deadline.  If
    some task does wait for I/O, the loop polls for real, up to
    `io_patience` real seconds, and jumps only if nothing arrived.  So a test
    that sleeps for hours runs in milliseconds, and its times are exact.
    """

    def __init__(self, start=0.0, io_patience=0.05):
        self._now = float(start)
        self.io_patience = io_patience
        #: Every jump the clock made, as (from, to): a log for tests.
        self.jumps = []

    def now(self):
        """The virtual time, in seconds."""
        return self._now

    def sleep(self, seconds):
        """Jump `seconds` ahead, at once."""
        if seconds < 0:
            raise ValueError('time does not go backwards')
        self.jumps.append((self._now, self._now + seconds))
        self._now += seconds

    advance = sleep     # for a test that moves time by hand

    def select(self, selector, timeout):
        """Poll for real, briefly; if nothing is ready, jump `timeout` ahead."""
        if timeout is None:                 # no timer: only I/O can wake the loop
            return selector.select(None)
        events = selector.select(min(timeout, self.io_patience))
        if not events and timeout:
            self.sleep(timeout)
        return events
