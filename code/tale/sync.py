"""Synchronisation: one waiting queue, and each primitive as a few lines on it."""
from collections import deque

from .errors import CancelledError
from .kernel import reschedule
from .traps import _current, _park


class WaitQueue:
    """Tasks parked until someone wakes them, first come, first woken.

    `wait` parks the calling task; `wake` picks waiters from the front and
    hands each one a value, which its `wait` returns.  A waiter cancelled
    while parked is simply out of the line (its undo empties its cell).  A
    waiter cancelled *after* `wake` picked it, before it could run, would
    lose what it was handed, so `wait` passes it to ``relay(value)``
    instead: each primitive says there what such a wake-up means (by
    default: wake the next waiter).  `owner` and `verb` say, for people,
    what a parked task waits for (``'acquire'``, a `Lock`).
    """

    __slots__ = ('_waiters', '_parked', '_picked', '_relay', '_owner', '_verb')

    def __init__(self, relay=None, owner=None, verb='wait on'):
        self._waiters = deque()   # a cell [task] per wait, oldest first; [] if cancelled
        self._parked = 0          # Invariant: the number of full cells in _waiters
        self._picked = {}         # task -> value: woken, not yet resumed
        self._relay = relay if relay is not None else self._pass_on
        self._owner = owner
        self._verb = verb

    def __len__(self):
        return self._parked

    def describe_wait(self, task):
        return f'{self._verb} {self._owner!r}'

    async def wait(self):
        """Park the calling task until `wake` picks it; return the value handed."""
        task = await _current()
        self._parked += 1
        try:
            await _park(self._waiters, self)
        except BaseException:
            if task in self._picked:            # woken, then cancelled: pass it on
                self._relay(self._picked.pop(task))
            else:                               # cancelled in line: its cell is empty
                self._parked -= 1
                if len(self._waiters) > 2 * self._parked + 32:
                    self._waiters = deque(cell for cell in self._waiters if cell)
            raise
        return self._picked.pop(task)

    def wake(self, n=1, value=None):
        """Wake up to `n` waiters, oldest first, handing each `value`; return how many."""
        woken = 0
        waiters = self._waiters
        while woken < n and waiters:
            cell = waiters.popleft()
            if cell:                            # (an empty cell was cancelled)
                task = cell[0]
                self._parked -= 1
                self._picked[task] = value
                reschedule(task, value)
                woken += 1
        return woken

    def wake_all(self, value=None):
        """Wake every waiter; return how many."""
        return self.wake(self._parked, value)

    def _pass_on(self, value):
        self.wake(1, value)


class Event:
    """A flag that tasks can wait for; `set` wakes them all."""

    def __init__(self):
        self._flag = False
        self._waiters = WaitQueue(relay=lambda value: None, owner=self)

    def is_set(self):
        """True if the event is set."""
        return self._flag

    def set(self):
        """Set the flag and wake every waiting task."""
        self._flag = True
        self._waiters.wake_all()

    def clear(self):
        """Reset the flag; later `wait` calls block again."""
        self._flag = False

    async def wait(self):
        """Wait until the flag is set (at once if it is)."""
        if not self._flag:
            await self._waiters.wait()


class _ContextManagerMixin:
    async def __aenter__(self):
        await self.acquire()
        return self

    async def __aexit__(self, *exc_info):
        self.release()


class Lock(_ContextManagerMixin):
    """A mutual-exclusion lock, handed to waiters in the order they came.

    ``async with lock:`` acquires and releases it.  `release` passes the lock
    directly to the oldest waiter, so no task can barge in ahead of it.
    """

    def __init__(self):
        self._locked = False
        self._waiters = WaitQueue(relay=lambda value: self.release(),
                                  owner=self, verb='acquire')

    def locked(self):
        """True if some task holds the lock."""
        return self._locked

    async def acquire(self):
        """Wait until the lock is ours."""
        if not self._locked:
            self._locked = True
            return True
        await self._waiters.wait()      # release() handed it to us
        return True

    def release(self):
        """Release the lock: hand it to the oldest waiter, or unlock it."""
        if not self._locked:
            raise RuntimeError('release of an unlocked Lock')
        if not self._waiters.wake(1):
            self._locked = False


class Semaphore(_ContextManagerMixin):
    """A counter of permits: `acquire` takes one, waiting if none is left;
    `release` gives one back."""

    def __init__(self, value=1):
        if value < 0:
            raise ValueError('a Semaphore starts with a value >= 0')
        self._value = value
        self._waiters = WaitQueue(relay=lambda value: self.release(),
                                  owner=self, verb='acquire')

    @property
    def value(self):
        """The number of free permits."""
        return self._value

    def locked(self):
        """True if `acquire` would wait."""
        return self._value == 0

    async def acquire(self):
        """Take a permit, waiting for one if none is free."""
        if self._value > 0:
            self._value -= 1
            return True
        await self._waiters.wait()      # release() handed us its permit
        return True

    def release(self):
        """Give a permit back: to the oldest waiter, or to the counter."""
        if not self._waiters.wake(1):
            self._value += 1


class BoundedSemaphore(Semaphore):
    """A `Semaphore` that raises `ValueError` when released more than acquired."""

    def __init__(self, value=1):
        super().__init__(value)
        self._bound = value

    def release(self):
        """Give a permit back; `ValueError` if that would exceed the initial value."""
        if self._value >= self._bound:
            raise ValueError('BoundedSemaphore released too many times')
        super().release()


class Condition(_ContextManagerMixin):
    """Wait for a change announced by another task, under a `Lock`.

    Hold the lock (``async with cond:``) to call `wait`, `wait_for`,
    `notify` or `notify_all`.
    """

    def __init__(self, lock=None):
        self._lock = Lock() if lock is None else lock
        self._waiters = WaitQueue(owner=self)  # a notified, cancelled waiter passes it on

    def locked(self):
        """True if the underlying lock is held."""
        return self._lock.locked()

    async def acquire(self):
        """Acquire the underlying lock."""
        return await self._lock.acquire()

    def release(self):
        """Release the underlying lock."""
        self._lock.release()

    async def wait(self):
        """Release the lock, wait for a notification, take the lock back.

        The lock is held again when this returns or raises, even when the
        task is cancelled while waiting.
        """
        if not self._lock.locked():
            raise RuntimeError('Condition.wait() without holding its lock')
        self._lock.release()
        cancelled = None
        try:
            await self._waiters.wait()
        except CancelledError as error:
            cancelled = error
        while True:                             # re-acquire, even if cancelled
            try:
                await self._lock.acquire()
                break
            except CancelledError as error:     # keep the stronger one
                if cancelled is None or error._rank < cancelled._rank:
                    cancelled = error
        if cancelled is not None:
            raise cancelled
        return True

    async def wait_for(self, predicate):
        """Wait until ``predicate()`` is true; return its last value."""
        result = predicate()
        while not result:
            await self.wait()
            result = predicate()
        return result

    def notify(self, n=1):
        """Wake up to `n` tasks waiting on this condition."""
        if not self._lock.locked():
            raise RuntimeError('Condition.notify() without holding its lock')
        self._waiters.wake(n)

    def notify_all(self):
        """Wake every task waiting on this condition."""
        self.notify(len(self._waiters))
