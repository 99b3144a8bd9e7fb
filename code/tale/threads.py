"""Threads: blocking work off the loop, calls back into it, and a queue between."""
import contextlib
import contextvars
import queue
import threading
from collections import deque

from .errors import CancelledError
from .kernel import _running, reschedule, running_kernel
from .sync import WaitQueue
from .traps import _park

#: How many threads the default pool runs at once.
MAX_THREADS = 8
#: A worker thread idle for this long, in seconds, ends.
IDLE_SECONDS = 10.0

# In a worker thread, .wakeup is the wake-up socket of the loop whose job runs.
_worker = threading.local()


class ThreadPool:
    """Worker threads that run blocking functions, at most `max_threads` at once."""

    def __init__(self, max_threads=MAX_THREADS, idle_seconds=IDLE_SECONDS):
        if max_threads < 1:
            raise ValueError(f'a pool needs at least one thread, not {max_threads!r}')
        self.max_threads = max_threads
        self.idle_seconds = idle_seconds
        self._jobs = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)     # one permit per idle worker
        self._lock = threading.Lock()           # guards _threads
        self._threads = 0

    def submit(self, job):
        """Run ``job()`` in a worker thread, as soon as one is free."""
        self._jobs.put(job)
        if self._idle.acquire(blocking=False):
            return                              # an idle worker will take it
        with self._lock:
            if self._threads < self.max_threads:
                self._threads += 1
                threading.Thread(target=self._work, name='tale worker',
                                 daemon=True).start()

    def _work(self):
        while True:
            try:
                job = self._jobs.get(timeout=self.idle_seconds)
            except queue.Empty:
                with self._lock:    # leave, unless a job came meanwhile
                    if self._idle.acquire(blocking=False):
                        if self._jobs.empty():
                            self._threads -= 1
                            return
                        self._idle.release()
                continue
            job()
            self._idle.release()


#: The pool `run_in_thread` uses unless told otherwise.
default_pool = ThreadPool()


class _Job:
    """One blocking call: from the task that waits to the thread that runs it."""

    __slots__ = ('fn', 'args', 'context', 'wakeup', 'waiters', 'outcome',
                 'done', 'abandoned')

    def __init__(self, fn, args, wakeup):
        self.fn, self.args, self.wakeup = fn, args, wakeup
        self.context = contextvars.copy_context()   # the calling task's
        self.waiters = deque()      # the waiting task's cell (the park trap)
        self.outcome = None         # (True, result) or (False, exception)
        self.done = False           # set in the loop, once the outcome is in
        self.abandoned = False      # its task stopped waiting for it

    def describe_wait(self, task):
        return f'a thread running {getattr(self.fn, "__qualname__", self.fn)}'

    def run(self):
        """In a worker thread: call the function, then hand the loop `deliver`."""
        _worker.wakeup = self.wakeup
        try:
            self.outcome = (True, self.context.run(self.fn, *self.args))
        except BaseException as error:
            self.outcome = (False, error)
        finally:
            _worker.wakeup = None
        with contextlib.suppress(RuntimeError):     # the loop has finished
            self.wakeup.call_soon(self.deliver)

    def deliver(self):
        """In the loop: the outcome is in; wake the task, if it still waits."""
        self.done = True
        if not self.abandoned:
            running_kernel()._expect(-1)
            while self.waiters:
                cell = self.waiters.popleft()
                if cell:
                    reschedule(cell[0])


async def run_in_thread(fn, *args, cancellable=False, pool=None):
    """Run ``fn(*args)`` in a worker thread; return its result or raise its error.

    Every other task runs meanwhile.  A thread cannot be stopped, so a
    cancelled call waits for the thread to finish, then raises the
    cancellation; with ``cancellable=True`` it raises at once and the
    thread's result is thrown away.  `pool` is a `ThreadPool` (the
    default: `default_pool`, eight threads).
    """
    kernel = running_kernel()
    job = _Job(fn, args, kernel.wakeup())
    kernel._expect(1)               # the loop polls, and is not deadlocked
    (default_pool if pool is None else pool).submit(job.run)
    cancelled = None
    while not job.done:
        try:
            await _park(job.waiters, job)
        except CancelledError as error:
            if cancellable:
                if not job.done:
                    job.abandoned = True
                    kernel._expect(-1)
                raise
            if cancelled is None or error._rank < cancelled._rank:
                cancelled = error   # keep the strongest; wait for the thread
    if cancelled is not None:
        raise cancelled
    ok, value = job.outcome
    job.outcome = None              # no cycle through a traceback
    if ok:
        return value
    raise value


class ThreadQueue:
    """A first-in, first-out queue between threads and the tasks of one loop.

    Tasks ``await put(item)`` and ``await get()``; other threads call
    `put_from_thread` and `get_from_thread`, which block the thread.  With
    ``maxsize > 0``, a full queue makes putters wait, on either side.
    """

    def __init__(self, maxsize=0):
        self.maxsize = maxsize
        self._items = deque()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)     # threads wait on it
        self._tasks = WaitQueue(relay=lambda value: None, owner=self)
        self._waiting = 0           # tasks that found it empty or full (under _lock)
        self._waking = False        # a _wake_tasks is on its way (under _lock)
        self._wakeup = None         # the loop of its tasks

    def qsize(self):
        """The number of items in the queue."""
        return len(self._items)

    def _full(self):
        return 0 < self.maxsize <= len(self._items)

    # The tasks' side.
    async def put(self, item):
        """Put `item` in the queue, waiting while it is full."""
        while not self._try(lambda: None if self._full() else self._items.append(item)):
            await self._wait()

    async def get(self):
        """Remove and return the next item, waiting for one."""
        box = []
        while not self._try(lambda: None if not self._items
                            else box.append(self._items.popleft())):
            await self._wait()
        return box[0]

    def _try(self, change):
        """Apply `change` under the lock; False (and count us waiting) if it could not."""
        wakeup = running_kernel().wakeup()
        if self._wakeup is None:
            self._wakeup = wakeup
        elif self._wakeup is not wakeup:
            raise RuntimeError('a ThreadQueue serves the tasks of one loop only')
        with self._lock:
            size = len(self._items)
            change()
            if len(self._items) == size:
                self._waiting += 1
                return False
            self._changed.notify_all()
        if len(self._tasks):
            self._tasks.wake_all()      # tasks waiting for the other side
        return True

    async def _wait(self):
        kernel = running_kernel()
        kernel._expect(1)               # a thread will wake us: not a deadlock
        try:
            await self._tasks.wait()
        finally:
            kernel._expect(-1)
            with self._lock:
                self._waiting -= 1

    def _wake_tasks(self):
        with self._lock:
            self._waking = False
        self._tasks.wake_all()

    # The threads' side.
    def put_from_thread(self, item, timeout=None):
        """Put `item`, blocking this thread while the queue is full."""
        self._from_thread(lambda: not self._full(),
                          lambda: self._items.append(item), timeout)

    def get_from_thread(self, timeout=None):
        """Remove and return the next item, blocking this thread until there is one."""
        return self._from_thread(lambda: self._items, self._items.popleft, timeout)

    def _from_thread(self, ready, change, timeout):
        if _running.kernel is not None:
            raise RuntimeError('this thread runs a loop, which would block; '
                               'use await put() or await get()')
        with self._changed:
            if not self._changed.wait_for(ready, timeout):
                raise TimeoutError(f'gave up after {timeout} s')
            value = change()
            self._changed.notify_all()
            wake = self._waiting > 0 and not self._waking
            if wake:
                self._waking = True
        if wake:
            with contextlib.suppress(RuntimeError):     # its loop has finished
                self._wakeup.call_soon(self._wake_tasks)
        return value
