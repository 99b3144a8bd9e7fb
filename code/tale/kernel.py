"""The kernel: the loop that runs tale's tasks.

Principles
1. Tasks reach the kernel only through traps: `traps._trap` (or `sleep`,
   the busiest call, which is its own trap) yields a request,
   ``trap_<tag>`` answers it.  The one other door is `reschedule`.
2. The kernel is small: whatever can be async code over a few traps
   (timeouts, task groups, locks, queues) lives in its own module.
3. Every wait carries its undo: a blocked task's ``_undo`` takes it out of
   what it waits for (a function; for a sleep, the number of its timer);
   cancelling it is undo, then reschedule with the error.
4. One place runs tasks, `Kernel._loop`, a tick at a time, in four steps:
   poll timeout, poll, due timers, the batch that was ready when the tick
   began.  First in, first out, everywhere.
5. A task's fault never stops the kernel: a bad request raises at its await
   (`TypeError`, or its handler's error); a crash goes to a joiner or is reported.
6. Time comes from an injected clock, so tests can own it.
"""
import contextlib
import heapq
import selectors
import sys
import traceback
import types
from collections import deque

from .clock import MonotonicClock
from .errors import CancelledError
from .task import Task
from .traps import YIELD

#: The longest one poll may block, in seconds (asyncio caps it at a day too).
MAX_WAIT = 86400.0
#: Rebuild the timer heap when over this many of its entries, and over half, are dead.
COMPACT_AT = 100

_running = None      # the Kernel running in this thread, or None


def running_kernel():
    """The kernel that is running now; `RuntimeError` outside `run`."""
    if _running is None:
        raise RuntimeError('no tale loop is running')
    return _running


def clock():
    """The running loop's clock: monotonic time in seconds."""
    return running_kernel().clock.now()


def reschedule(task, value=None):
    """Wake `task`, parked by the ``park`` trap, with `value` as its answer."""
    running_kernel()._wake(task, value)


def run(corofunc, *args, clock=None):
    """Run ``corofunc(*args)`` (or a coroutine object) as the main task.

    Returns its result; its exception escapes as itself.  `clock` replaces
    the real clock, for example with `tale.testing.VirtualClock`.
    """
    return Kernel(clock).run(corofunc, *args)


class Kernel:
    """The event loop.  Use `run`; tests may build one to look inside."""

    def __init__(self, clock=None):
        self.clock = MonotonicClock() if clock is None else clock
        # Tasks to resume, oldest first, each with its answer in _value/_exc.
        # Invariant: a task in _ready is not done and has no _undo
        self._ready = deque()
        # Timers: a heap of (deadline, number, exc), no task inside.  When
        # its deadline comes, a timer whose number is still in _armed wakes
        # its task (exc None: a sleep ends) or cancels it with exc (a
        # timeout); a number missing from _armed is a dead entry, skipped.
        # Invariant: a live sleep timer's number is its task's _undo
        self._timers = []
        self._armed = {}             # Invariant: its keys are numbers in _timers
        self._timers_set = 0         # the number of the last timer set
        self._selector = None        # made at the first I/O wait
        self._files = {}             # fd -> [reader, writer, events, fileobj]
        # Invariant: a file's events are the selector's, and cover its waits
        self._stale_files = []       # fds whose waiters changed since the last poll
        self._io_waits = 0           # Invariant: == number of tasks in read/write_wait
        self._live = 0               # unfinished tasks that are not daemons
        self._daemons = set()        # unfinished daemon tasks
        self._stopping = False       # True once the daemons have been cancelled
        self._failed = []            # tasks that ended with an error (not cancelled)
        # The explicit table of requests: tag -> handler.
        self._traps = {
            'spawn': self.trap_spawn, 'join': self.trap_join,
            'sleep': self.trap_sleep, 'cancel': self.trap_cancel,
            'current': self.trap_current,
            'read_wait': self.trap_read_wait, 'write_wait': self.trap_write_wait,
            'timeout': self.trap_timeout, 'untimeout': self.trap_untimeout,
            'park': self.trap_park,
        }

    def run(self, corofunc, *args):
        """Run the main task and every non-daemon task to the end."""
        global _running
        if _running is not None:
            raise RuntimeError('tale.run() cannot be called inside a running loop')
        coro = corofunc if isinstance(corofunc, types.CoroutineType) else corofunc(*args)
        if type(coro) is not types.CoroutineType and not hasattr(coro, 'send'):
            raise TypeError(f'tale.run() runs async functions, but {corofunc!r} '
                            f'returned {coro!r}')
        main = self._new_task(coro, False)
        _running = self
        try:
            self._loop()
        finally:
            _running = None
            if self._selector is not None:
                self._selector.close()
        main._retrieved = True              # run() itself delivers main's outcome
        self._report_unretrieved()
        return main.result()

    def _loop(self):
        ready = self._ready
        popleft, append = ready.popleft, ready.append
        timers, armed = self._timers, self._armed
        traps = self._traps
        clock = self.clock
        heappop = heapq.heappop
        while True:
            if not self._live:
                if not self._daemons:
                    return
                if not self._stopping:          # the last real task is done
                    self._stopping = True
                    for task in list(self._daemons):
                        self._cancel(task, CancelledError())

            # Step 1: how long may the poll block?  Not at all if tasks are
            # ready; else until the first live timer; else without limit.
            dead = len(timers) - len(armed)
            if dead > COMPACT_AT and 2 * dead > len(timers):
                self._compact_timers()
            if ready:
                timeout = 0
            elif timers:
                while timers and timers[0][1] not in armed:     # dead: drop it
                    heappop(timers)
                timeout = (min(max(0.0, timers[0][0] - clock.now()), MAX_WAIT)
                           if timers else None)
            else:
                timeout = None

            # Step 2: poll for I/O, or wait for the first timer.
            if self._stale_files:
                self._tidy_files()
            if self._io_waits:
                for key, mask in clock.select(self._selector, timeout):
                    self._file_ready(key, mask)
            elif timeout:
                clock.sleep(timeout)
            elif timeout is None and not ready:
                raise RuntimeError('deadlock: every task waits for something '
                                   'that no task can do any more')

            # Step 3: move the tasks whose timers are due to the ready queue.
            if timers:
                now = clock.now()
                while timers and timers[0][0] <= now:
                    _, number, exc = heappop(timers)
                    task = armed.pop(number, None)
                    if task is None:          # a dead entry
                        continue
                    if exc is None:           # a sleep is over
                        task._undo = None
                        task._value = None
                        append(task)
                    else:
                        self._cancel(task, exc)

            # Step 4: run the batch ready when the tick began; a task woken now waits.
            for _ in range(len(ready)):
                task = popleft()
                while True:             # one step; repeats only for instant answers
                    try:
                        exc = task._exc
                        if exc is None:
                            request = task.coro.send(task._value)
                        else:
                            task._exc = None
                            request = task.coro.throw(exc)
                    except StopIteration as stop:
                        self._finish(task, stop.value, None)
                        break
                    except (KeyboardInterrupt, SystemExit):
                        raise           # Ctrl-C and exit() end the loop itself
                    except BaseException as error:
                        self._finish(task, None, error)
                        break
                    if request is YIELD:            # fast path: sleep(0)
                        task._value = None          # its answer, not the last one
                        append(task)
                        break
                    try:
                        handler = traps[request[0]] if type(request) is tuple else None
                    except (KeyError, IndexError, TypeError):
                        handler = None
                    if handler is None:
                        task._exc = TypeError(
                            f'{task.name} yielded {request!r}, which is not a tale '
                            'request; is it awaiting something made for another loop?')
                        continue
                    try:
                        if not handler(task, request):
                            break           # the task waits, or is queued
                    except Exception as error:  # a bad request: its task hears of it
                        task._exc = error

    # Tasks begin, end, wake and are cancelled.
    def _new_task(self, coro, daemon):
        task = Task(coro, daemon)
        if daemon:
            self._daemons.add(task)
            if self._stopping:          # too late to start: cancelled before it runs
                self._cancel(task, CancelledError())
        else:
            self._live += 1
        self._ready.append(task)
        return task

    def _finish(self, task, result, error):
        task._done = True
        task._result = result
        task._exception = error
        if error is not None and not isinstance(error, CancelledError):
            self._failed.append(task)
        if task.daemon:
            self._daemons.discard(task)
        else:
            self._live -= 1
        joiners = task._joiners
        if joiners:
            task._joiners = None
            for joiner in joiners:
                self._wake(joiner, None)

    def _wake(self, task, value):
        # Invariant: task._undo is not None (it was waiting)
        task._undo = None
        task._value = value
        self._ready.append(task)

    def _cancel(self, task, exc):
        """Arrange for `exc` to be thrown into `task`; True if it will be."""
        if task._done:
            return False
        pending = task._exc
        if isinstance(pending, CancelledError) and pending._rank <= exc._rank:
            return False            # an equal or stronger cancellation is on its way
        task._exc = exc
        undo = task._undo
        if undo is not None:        # it waits: take it out, and queue it
            task._undo = None
            if type(undo) is int:   # a sleep: its undo is its timer's number
                self._kill_timer(undo)
            else:
                undo()
            self._ready.append(task)
        return True                 # (else it is already queued: it will see exc)

    def _report_unretrieved(self):
        for task in self._failed:
            if not task._retrieved:
                print(f'tale: {task!r} failed and nobody joined it:', file=sys.stderr)
                traceback.print_exception(task._exception, file=sys.stderr)

    # Traps.  Each takes the task and its whole request (cheaper than a
    # star-call), and answers at once (sets task._value, returns True) or
    # leaves the task waiting with an _undo, or queued (returns None).
    def trap_spawn(self, task, request):
        _, coro, daemon = request
        task._value = self._new_task(coro, daemon)
        return True

    def trap_join(self, task, request):
        target = request[1]
        if target is task:
            task._exc = RuntimeError(f'{task!r} cannot join itself')
            return True
        if target._done:
            task._value = None
            return True
        joiners = target._joiners
        if joiners is None:
            joiners = target._joiners = []
        joiners.append(task)
        task._waiting = 'join'
        task._undo = lambda: joiners.remove(task)

    def trap_sleep(self, task, request):
        seconds = request[1]
        if seconds <= 0:
            task._value = None
            self._ready.append(task)
            return
        task._waiting = 'sleep'
        task._undo = self._set_timer(seconds, task, None)   # the timer's number

    def trap_cancel(self, task, request):
        _, target, exc = request
        if target is task:
            task._exc = RuntimeError(f'{task!r} cannot cancel itself; raise instead')
            return True
        task._value = self._cancel(target, CancelledError() if exc is None else exc)
        return True

    def trap_current(self, task, request):
        task._value = task
        return True

    def trap_timeout(self, task, request):
        _, seconds, exc = request
        task._value = self._set_timer(seconds, task, exc)
        return True

    def trap_untimeout(self, task, request):
        self._kill_timer(request[1])
        task._value = None
        return True

    def trap_park(self, task, request):
        waiters = request[1]
        waiters.append(task)
        task._waiting = 'park'
        task._undo = lambda: waiters.remove(task)

    def trap_read_wait(self, task, request):
        self._wait_file(task, request[1], selectors.EVENT_READ, 0, 'read_wait')

    def trap_write_wait(self, task, request):
        self._wait_file(task, request[1], selectors.EVENT_WRITE, 1, 'write_wait')

    # Timers and I/O: the kernel's own bookkeeping.
    def _set_timer(self, seconds, task, exc):
        """Arm a timer for `task`; answer its number, which kills it."""
        if seconds != seconds:          # nan: it would never fire, and break the heap
            raise ValueError(f'cannot wait {seconds!r} seconds')
        number = self._timers_set = self._timers_set + 1
        heapq.heappush(self._timers, (self.clock.now() + seconds, number, exc))
        self._armed[number] = task
        return number

    def _kill_timer(self, number):
        self._armed.pop(number, None)       # (its entry stays in the heap, dead)

    def _compact_timers(self):
        armed = self._armed
        self._timers[:] = [entry for entry in self._timers if entry[1] in armed]
        heapq.heapify(self._timers)

    def _wait_file(self, task, fileobj, event, slot, name):
        # One entry per file: [reader, writer, registered events, fileobj],
        # also the selector's data.  A reader and a writer may share a file.
        if self._selector is None:
            self._selector = selectors.DefaultSelector()
        fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
        entry = self._files.get(fd)
        if entry is not None and entry[3] is not fileobj:  # fd reused: start over
            self._forget_file(fd)
            entry = None
        if entry is None:
            entry = self._files[fd] = [None, None, 0, fileobj]
        elif entry[slot] is not None:
            raise RuntimeError(f'{entry[slot]!r} already waits in {name} on {fileobj!r}')
        if not entry[2] & event:        # not registered for it yet: tell the OS
            if entry[2]:
                self._selector.modify(fd, entry[2] | event, entry)
            else:
                self._selector.register(fd, event, entry)
            entry[2] |= event
        entry[slot] = task
        self._io_waits += 1
        task._waiting = name
        task._undo = lambda: self._file_done(fd, entry, slot)

    def _file_done(self, fd, entry, slot):
        # Deferred: a task that reads, then waits to read again, keeps its
        # registration, and the OS hears nothing.  _tidy_files settles the
        # rest just before the next poll.
        entry[slot] = None
        self._io_waits -= 1
        self._stale_files.append(fd)

    def _file_ready(self, key, mask):
        entry = key.data
        for slot, event in ((0, selectors.EVENT_READ), (1, selectors.EVENT_WRITE)):
            task = entry[slot]
            if mask & event and task is not None:
                self._file_done(key.fd, entry, slot)
                self._wake(task, None)

    def _tidy_files(self):
        for fd in self._stale_files:
            entry = self._files.get(fd)
            if entry is None:
                continue
            wanted = ((entry[0] is not None and selectors.EVENT_READ)
                      | (entry[1] is not None and selectors.EVENT_WRITE))
            if not wanted:
                self._forget_file(fd)
            elif wanted != entry[2]:
                self._selector.modify(fd, wanted, entry)
                entry[2] = wanted
        self._stale_files.clear()

    def _forget_file(self, fd):
        del self._files[fd]
        with contextlib.suppress(KeyError, ValueError, OSError):   # closed meanwhile
            self._selector.unregister(fd)

    def check_invariants(self):
        """Assert the rules written next to the kernel's data (for tests)."""
        assert set(self._armed) <= {number for _, number, _ in self._timers}
        assert all(self._armed[number]._undo == number for _, number, exc in self._timers
                   if exc is None and number in self._armed)    # the sleeps
        assert all(t._undo is None and not t._done for t in self._ready)
        waiting = [t for entry in self._files.values() for t in entry[:2] if t]
        assert self._io_waits == len(waiting)
        assert all(t._undo is not None for t in waiting)
        for fd, (reader, writer, events, _) in self._files.items():
            assert self._selector.get_key(fd).events == events   # at least the waits
            assert reader is None or events & selectors.EVENT_READ
            assert writer is None or events & selectors.EVENT_WRITE
