"""The kernel: the loop that runs tale's tasks.

Principles
1. Tasks reach the kernel only through traps: `traps._trap` (or `sleep`,
   the busiest call, which is its own trap) yields a request,
   ``trap_<tag>`` answers it.  The other doors are `reschedule`, and the
   wake-up socket through which threads and signals reach the loop.
2. The kernel is small: whatever can be async code over a few traps
   (timeouts, task groups, locks, queues) lives in its own module.
3. Every wait carries its undo: a blocked task's ``_undo`` takes it out of
   what it waits for; cancelling it is undo, then reschedule with the error.
4. One place runs tasks, the tick, in four steps: poll timeout, poll, due
   timers, the batch that was ready when the tick began.  First in, first
   out, everywhere.
5. A task's fault never stops the kernel: a bad request raises at its await
   (`TypeError`, or its handler's error); a crash goes to a joiner or is
   reported; a descriptor closed under a waiter wakes it with an error.
6. Time comes from an injected clock, so tests can own it.
7. When `run` ends, however it ends, every task it started has ended.
"""
import contextlib
import contextvars
import errno
import inspect
import os
import selectors
import signal
import sys
import threading
import time
import types
import weakref
from collections import deque

from .clock import MonotonicClock
from .errors import CancelledError, ClosedResourceError, DeadlockError
from .task import Task
from .tasktree import task_tree
from .timers import TimerQueue
from .traps import _coroutine
from .wakeup import Wakeup

#: The longest one poll may block, in seconds (asyncio caps it at a day too).
MAX_WAIT = 86400.0
#: How often, in seconds, an idle loop looks for descriptors closed under their waiters.
CLOSED_CHECK_EVERY = 0.5
READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE


class _Running(threading.local):
    kernel = None        # the Kernel running in this thread, or None


_running = _Running()


def running_kernel():
    """The kernel running in this thread; `RuntimeError` outside `run`."""
    kernel = _running.kernel
    if kernel is None:
        raise RuntimeError('no tale loop is running in this thread')
    return kernel


def clock():
    """The running loop's clock: monotonic time in seconds."""
    return running_kernel().clock.now()


def reschedule(task, value=None):
    """Wake `task`, parked by the ``park`` trap, with `value` as its answer."""
    kernel = running_kernel()
    if task._undo is None:
        raise RuntimeError(f'{task!r} is not waiting: it cannot be woken')
    kernel._wake(task, value)


def notify_closing(fileobj):
    """Wake every task waiting on `fileobj` with `ClosedResourceError`.

    Call it just before closing a descriptor that other tasks may wait on.
    """
    running_kernel()._close_file(fileobj, 'was closed by another task')


def run(corofunc, *args, clock=None, debug=None, instruments=()):
    """Run ``corofunc(*args)`` (or a coroutine object) as the main task.

    Returns its result; its exception escapes as itself.  `clock` replaces
    the real clock, for example with `tale.testing.VirtualClock`.  With
    `debug`, the kernel checks its invariants after every tick (the default
    is on when the environment variable ``TALE_DEBUG`` is set, or in
    Python's development mode, ``python -X dev``).  `instruments` watch
    the run from inside (chapter 19).
    """
    if instruments:
        from .instruments import WatchedKernel
        return WatchedKernel(clock, debug, instruments).run(corofunc, *args)
    return Kernel(clock, debug).run(corofunc, *args)


class Kernel:
    """The event loop.  Use `run`; tests may build one to look inside."""

    #: Sends a task's coroutine its answer: the native coroutine's own
    #: `send`, unbound (every task's coroutine is native, see `_coroutine`).
    step = types.CoroutineType.send

    def __init__(self, clock=None, debug=None):
        self.clock = MonotonicClock() if clock is None else clock
        if debug is None:
            debug = bool(os.environ.get('TALE_DEBUG')) or sys.flags.dev_mode
        self.debug = debug           # check the invariants after every tick
        self._hooks = None           # what instruments see of the tick, or None (ch. 19)
        self.ticks = 0               # ticks so far, for tests and curiosity
        self._tasks = {}             # the task table: every unfinished task, in order
        # The empty context that tasks with _context None share (chapter 14).
        # Invariant: between steps it is empty
        self._blank = contextvars.Context()
        # Tasks to resume, oldest first, each with its answer in _value/_exc.
        # Invariant: a task in _ready is not done and has no _undo
        self._ready = deque()
        # Timers (timers.py): when one is due it wakes its task (exc None:
        # a sleep ends) or cancels it with exc (a deadline, chapter 10).
        # Invariant: the task of a live sleep timer is waiting, on 'sleep'
        self._timers = TimerQueue()
        self._selector = None        # made when run() starts
        self._files = {}             # fd -> _File, the descriptors watched
        self._stale_files = []       # _Files whose waiters changed since the last poll
        self._io_waits = 0           # Invariant: == tasks waiting on files + _outside
        self._outside = 0            # wake-ups expected from other threads (ch. 18)
        self._wakeup = None          # the wake-up socket, made at first use (ch. 18)
        self._swept = 0.0            # when we last looked for closed files
        self._idle = False           # True only while the loop waits (ch. 18)
        self._interrupted = False    # a Ctrl-C held back for the next wait (ch. 18)
        self._live = 0               # unfinished tasks that are not daemons
        self._daemons = set()        # unfinished daemon tasks
        self._stopping = False       # True once the daemons have been cancelled
        self._closing = False        # True once run() is cancelling everything
        self._unjoined = weakref.WeakSet()   # failed tasks, until released
        self._lost = deque(maxlen=20)        # the last failures reported unjoined
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
        if _running.kernel is not None:
            raise RuntimeError('tale.run() cannot be called inside a running loop')
        sigint = None
        try:
            # The loop takes its descriptor before any task runs, not at the
            # first wait: a program that uses up its descriptors must still
            # find its loop able to wait for the files it has.
            self._selector = selectors.DefaultSelector()
            _running.kernel = self
            sigint = self._take_sigint()    # Ctrl-C kept out of the kernel (ch. 18)
            main = self._new_task(_coroutine(corofunc, args, 'tale.run()'), False,
                                  contextvars.copy_context())
            try:
                self._loop()
            except BaseException:           # a deadlock, Ctrl-C, exit(), a kernel bug
                self._shutdown()
                raise
            finally:
                main._mark_retrieved()      # run() itself delivers main's outcome
                self._report_unretrieved()
        finally:
            _running.kernel = None
            if self._wakeup is not None:
                self._wakeup.close()
            if self._selector is not None:
                self._selector.close()
            if sigint is not None:
                signal.signal(signal.SIGINT, sigint)
                if self._interrupted:       # held back, and no tick left to raise it
                    self._raise_held_interrupt()
        return main.result()

    def _shutdown(self):
        # Cancel every task still alive, and let the loop run their cleanup.
        self._closing = True
        self._idle = self._interrupted = False
        queued = set(self._ready)
        for task in list(self._tasks):
            if task._undo is None and task not in queued:   # Ctrl-C caught it between
                if task.coro.cr_frame is None:  # a step and its bookkeeping (ch. 18)
                    self._finish(task, None, CancelledError('interrupted'))
                    continue
                self._ready.append(task)
            self._cancel(task, CancelledError('the loop is stopping'))
        try:
            self._loop()
        except BaseException:               # a second Ctrl-C, or a cleanup stuck for ever
            pass
        for task in list(self._tasks):      # what would not end is closed by force
            self._abandon(task)
        self._ready.clear()

    def _abandon(self, task):
        self._undo_wait(task)
        with contextlib.suppress(BaseException):    # an await in its finally fails
            task.coro.close()
        self._finish(task, None, CancelledError('abandoned when the loop stopped'))

    def _loop(self):
        """Tick until every task is done: first the others, then the daemons."""
        while self._live or self._daemons:
            if not self._live and not self._stopping:   # the last real task is done
                self._stopping = True
                for task in list(self._daemons):
                    self._cancel(task, CancelledError())
            self.tick()

    def tick(self):
        """One turn of the loop: timeout, poll, expire, run."""
        self.ticks += 1
        timeout = self.poll_timeout()
        self.poll(timeout)
        self.expire_timers()
        self.run_batch()
        if self.debug:                      # and, when debugging, check
            self.check_invariants()

    def poll_timeout(self):
        """Step 1: how long the poll may block (None: without limit)."""
        if self._ready:
            return 0
        deadline = self._timers.first()
        if deadline is None:
            return None
        return min(max(0.0, deadline - self.clock.now()), MAX_WAIT)

    def poll(self, timeout):
        """Step 2: wait for files, or for the first timer; nothing to wait for
        and nobody ready is a deadlock."""
        if self._interrupted:               # a Ctrl-C held back (chapter 18)
            self._raise_held_interrupt()
        if self._stale_files:
            self._tidy_files()
        if self._io_waits:
            self._poll(timeout)
        elif timeout:
            self._idle = True               # a Ctrl-C now is raised at once (ch. 18)
            if self._interrupted:
                self._raise_held_interrupt()
            self.clock.sleep(timeout)
            self._idle = False
        elif timeout is None and not self._ready:
            raise self._deadlock()
        if self._hooks is not None:
            self._hooks.polled(timeout)

    def expire_timers(self):
        """Step 3: every task whose timer is due becomes ready, earliest first."""
        for task, exc in self._timers.due(self.clock.now()):
            if exc is None:                 # a sleep is over
                self._wake(task, None)
            else:                           # a deadline has come (chapter 10)
                self._cancel(task, exc)

    def run_batch(self):
        """Step 4: resume each task that was ready when the tick began, once,
        oldest first; a task woken meanwhile waits for the next tick."""
        ready = self._ready
        if self._hooks is not None:
            self._hooks.batch(len(ready))
        for _ in range(len(ready)):
            self.resume(ready.popleft())

    def resume(self, task):
        """Resume `task` until its next request, and handle that request;
        an instant answer is sent in at once."""
        send = type(self).step          # how a task's coroutine is sent its answer
        while True:
            try:
                exc = task._exc
                if exc is None:
                    request = task._context.run(send, task.coro, task._value)
                else:
                    task._exc = None
                    request = task._context.run(task.coro.throw, exc)
            except StopIteration as stop:
                self._finish(task, stop.value, None)
                return
            except (KeyboardInterrupt, SystemExit) as error:
                if task.coro.cr_frame is None:  # it came out of the task
                    self._finish(task, None, error)
                    task._mark_retrieved()  # run() raises it: delivered
                # else Ctrl-C struck the loop around the step: the task
                # is still alive, and _shutdown cancels it like the rest
                raise           # Ctrl-C and exit() stop the loop (see run)
            except BaseException as error:  # the task failed; the loop goes on
                self._finish(task, None, error)
                task = None     # (the traceback keeps this frame)
                return
            if not self.dispatch(task, request):
                return                      # the task waits, or is queued

    def dispatch(self, task, request):
        """Hand `request` to its handler; True if the task has its answer now."""
        try:
            handler = self._traps[request[0]] if type(request) is tuple else None
        except (KeyError, IndexError, TypeError):
            handler = None
        if handler is None:
            task._exc = TypeError(
                f'{task.name} yielded {request!r}, which is not a tale '
                'request; is it awaiting something made for another loop?')
            return True
        try:
            return handler(task, request)
        except Exception as error:      # the kernel's fault, not the task's
            raise RuntimeError(f'tale: internal error answering '
                               f'{request[0]!r} for {task!r}') from error

    # Tasks begin, end, wake and are cancelled.
    def _new_task(self, coro, daemon, context):
        task = Task(coro, daemon, context)
        self._tasks[task] = None
        if daemon:
            self._daemons.add(task)
        else:
            self._live += 1
        self._ready.append(task)
        if self._closing or (daemon and self._stopping):
            self._cancel(task, CancelledError())    # too late: cancelled before it runs
        return task

    def _finish(self, task, result, error):
        task._done = True
        task._result = result
        task._exception = error
        del self._tasks[task]
        if error is not None and not isinstance(error, CancelledError):
            if (isinstance(error, BaseExceptionGroup)
                    and error.split(CancelledError)[1] is None):
                # nothing but cancellations (what an except* leaves): cancelled
                while isinstance(error, BaseExceptionGroup):
                    error = error.exceptions[0]
                task._exception = error
            else:
                self._unjoined.add(task)
                task._fail_unseen(self._lost)   # reported if nobody ever reads it
        if task.daemon:
            self._daemons.discard(task)
        else:
            self._live -= 1
        joiners = task._joiners
        if joiners:
            task._joiners = None
            for joiner in joiners:
                joiner._waiting = None      # else it would keep this finished task alive
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
        shield = task._shield
        if shield is not None and exc._rank <= shield.depth:
            return shield.hold(exc)     # chapter 18: thrown when the shield ends
        pending = task._exc
        if isinstance(pending, CancelledError) and pending._rank <= exc._rank:
            return False            # an equal or stronger cancellation is on its way
        task._exc = exc
        strongest = task._cancelled_by
        if strongest is None or exc._rank <= strongest._rank:
            task._cancelled_by = exc
        if task._undo is not None:  # it waits: take it out, and queue it
            self._undo_wait(task)
            self._ready.append(task)
        return True                 # (else it is already queued: it will see exc)

    def _undo_wait(self, task):
        undo = task._undo
        if undo is not None:
            task._undo = None
            undo()

    def _report_unretrieved(self):
        for task in list(self._unjoined):
            if task._report is not None:
                report, task._report = task._report, None
                report()                    # now, rather than when it is released

    def _deadlock(self):
        stuck = list(self._tasks)
        failed = [t for t in self._unjoined if t._report is not None]
        lines = ['deadlock: no task can ever run again.  Waiting:']
        lines += task_tree(self, indent='  ')      # as dump_tasks() draws it (ch. 19)
        if failed or self._lost:
            lines.append('Failed, and nobody joined them (the likely cause):')
            lines += [f'  {line}' for line in self._lost]           # already released
            lines += [f'  {t!r}: {t._exception!r}' for t in failed]
        return DeadlockError('\n'.join(lines), stuck, failed)

    # Handlers.  Each takes the task and its whole request (cheaper than a
    # star-call), and answers at once (sets task._value, returns True) or
    # leaves the task waiting with an _undo, or queued (returns None).
    def _refuse(self, task, error):
        """Refuse a bad request: `error` is raised at the task's await."""
        task._exc = error
        return True

    def trap_join(self, task, request):
        target = request[1]
        if target is task:
            return self._refuse(task, RuntimeError(f'{task!r} cannot join itself'))
        if target._done:
            task._value = None
            return True
        joiners = target._joiners
        if joiners is None:
            joiners = target._joiners = []
        joiners.append(task)
        task._waiting = target
        task._undo = lambda: joiners.remove(task)

    def trap_cancel(self, task, request):
        _, target, exc = request
        if target is task:
            return self._refuse(task, RuntimeError(f'{task!r} cannot cancel itself; '
                                                   'raise instead'))
        task._value = self._cancel(target, CancelledError() if exc is None else exc)
        return True

    def trap_current(self, task, request):
        task._value = task
        return True

    def trap_spawn(self, task, request):
        _, coro, daemon = request
        task._value = self._new_task(coro, daemon, task._context.copy())
        task._value._parent = weakref.ref(task)
        return True

    def trap_sleep(self, task, request):
        seconds = request[1]
        if seconds <= 0:                # sleep(0): behind every task ready now
            task._value = None
            self._ready.append(task)
            return
        if seconds != seconds:          # nan: it would never fire, and break the heap
            return self._refuse(task, ValueError(f'cannot sleep {seconds!r} seconds'))
        number = self._timers.add(self.clock.now() + seconds, task)
        task._waiting = 'sleep'
        task._undo = lambda: self._timers.kill(number)

    def trap_timeout(self, task, request):
        _, seconds, exc = request
        if seconds != seconds:
            return self._refuse(task, ValueError(f'a deadline {seconds!r} seconds away'))
        task._value = self._timers.add(self.clock.now() + seconds, task, exc)
        return True

    def trap_untimeout(self, task, request):
        self._timers.kill(request[1])
        task._value = None
        return True

    def trap_park(self, task, request):
        _, waiters, owner = request
        cell = [task]                   # emptied, not searched for, if it is cancelled
        waiters.append(cell)
        task._waiting = owner
        task._undo = cell.clear

    def trap_read_wait(self, task, request):
        return self._wait_file(task, request[1], READ)

    def trap_write_wait(self, task, request):
        return self._wait_file(task, request[1], WRITE)

    # Files: one _File per descriptor, registered lazily, tidied before each poll.
    def _wait_file(self, task, fileobj, event):
        try:
            fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
            file = self._files.get(fd)
            if file is None or file.fileobj is not fileobj:   # not the same object
                file = self._file(fileobj)                    # as last time: look closer
        except (AttributeError, TypeError, ValueError, OSError) as error:
            return self._refuse(task, error)    # not a file, or a closed one
        waiter = file.reader if event == READ else file.writer
        if waiter is not None:
            return self._refuse(task, RuntimeError(
                f'{waiter!r} already waits on {fileobj!r} for that'))
        if not file.events & event:         # not registered for it yet: tell the OS
            known = file.events
            refused = self._register(file, known | event)
            if refused is not None and known:
                file = self._file(fileobj)      # the OS had forgotten it: afresh
                refused = self._register(file, event)
            if refused is not None:         # closed, or not a file the OS can poll
                return self._refuse(task, refused)
        if event == READ:
            file.reader = task
        else:
            file.writer = task
        self._io_waits += 1
        task._waiting = file
        task._undo = lambda: self._file_done(file, event)

    def _file(self, fileobj):
        """The record of `fileobj`'s descriptor, made if there is none."""
        fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
        if fd < 0:
            raise ClosedResourceError(errno.EBADF, f'{fileobj!r} is closed')
        file = self._files.get(fd)
        if file is not None and file.fileobj is not fileobj and not file.owns_fd():
            self._drop_file(file, 'was closed, and its number reused')
            file = None
        if file is None:
            file = self._files[fd] = _File(fd, fileobj)
        return file

    def _register(self, file, events):
        """Tell the selector; if the OS refuses, drop `file` and answer its error."""
        try:
            if file.events:
                self._selector.modify(file.fd, events, file)
            else:
                self._selector.register(file.fd, events, file)
        except (OSError, ValueError, KeyError) as error:
            closed = getattr(error, 'errno', errno.EBADF) in (errno.EBADF, errno.ENOENT)
            why = 'was closed' if closed else f'cannot be watched ({error})'
            self._drop_file(file, why)
            return (ClosedResourceError(errno.EBADF, f'{file.fileobj!r} is closed')
                    if closed else error)
        file.events = events
        return None

    def _file_done(self, file, event):
        # Deferred: a task that reads, then waits to read again, keeps its
        # registration, and the OS hears nothing.  _tidy_files settles the
        # rest just before the next poll.
        if event == READ:
            file.reader = None
        else:
            file.writer = None
        self._io_waits -= 1
        self._stale_files.append(file)

    def _poll(self, timeout):
        self._idle = True       # a Ctrl-C now is raised at once (chapter 18)
        if self._interrupted:
            self._raise_held_interrupt()
        if timeout is None:     # only I/O can wake us: poll in slices, and look
            events = self._selector.select(CLOSED_CHECK_EVERY)    # for closed files
        else:
            events = self.clock.select(self._selector, timeout)
        self._idle = False
        for key, mask in events:
            file = key.data
            if file is None:        # the wake-up socket (chapter 18)
                self._wakeup.drain()
                continue
            if mask & READ and file.reader is not None:
                task, file.reader = file.reader, None
                self._io_waits -= 1
                self._stale_files.append(file)
                self._wake(task, None)
            if mask & WRITE and file.writer is not None:
                task, file.writer = file.writer, None
                self._io_waits -= 1
                self._stale_files.append(file)
                self._wake(task, None)
        if not events and time.monotonic() - self._swept >= CLOSED_CHECK_EVERY:
            self._swept = time.monotonic()
            for file in [f for f in self._files.values() if not f.owns_fd()]:
                self._drop_file(file, 'was closed')

    def _tidy_files(self):
        for file in self._stale_files:
            if self._files.get(file.fd) is not file:
                continue                    # dropped meanwhile
            wanted = ((file.reader is not None and READ)
                      | (file.writer is not None and WRITE))
            if not wanted:
                self._drop_file(file, '')
            elif wanted != file.events:
                self._register(file, wanted)    # if refused, its waiters hear why
        self._stale_files.clear()

    def _close_file(self, fileobj, why):
        fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
        file = self._files.get(fd)
        if file is not None:
            self._drop_file(file, why)

    def _drop_file(self, file, why):
        """Forget `file`; a task still waiting on it hears that it `why`."""
        if self._files.get(file.fd) is file:
            del self._files[file.fd]
            if file.events:
                with contextlib.suppress(KeyError, ValueError, OSError):
                    self._selector.unregister(file.fd)
        file.events = 0
        for task in (file.reader, file.writer):
            if task is not None:
                self._io_waits -= 1
                task._undo = None
                task._exc = ClosedResourceError(
                    errno.EBADF, f'{file.fileobj!r} {why} while {task.name} waited on it')
                self._ready.append(task)
        file.reader = file.writer = None

    # Threads and signals reach the loop through its wake-up socket (chapter 18).
    def wakeup(self):
        """The loop's `Wakeup`, made and registered with the selector at first use."""
        wakeup = self._wakeup
        if wakeup is None:
            wakeup = self._wakeup = Wakeup()
            self._selector.register(wakeup.fileno(), READ, None)
        return wakeup

    def _expect(self, n):
        """Expect `n` more (or fewer) wake-ups from outside; the loop polls for them."""
        self._outside += n
        self._io_waits += n

    # Ctrl-C: raised at once in a task's code or while the loop waits; held
    # back while the kernel keeps its books, and raised at its next wait.
    def _take_sigint(self):
        """Handle SIGINT for this run if Python's own handler has it; return that one."""
        if (threading.current_thread() is not threading.main_thread()
                or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
            return None             # not ours: another thread, or the program's handler
        return signal.signal(signal.SIGINT, self._on_sigint)

    def _on_sigint(self, signum, frame):
        if self._idle or not _holds_interrupt(frame):
            raise KeyboardInterrupt
        self._interrupted = True    # raised by the tick, at its next wait

    def _raise_held_interrupt(self):
        self._interrupted = False
        raise KeyboardInterrupt

    def check_invariants(self, from_task=False):
        """Assert the rules written next to the kernel's data, as they hold
        between ticks (debug mode checks them after every tick).  A test may
        call it `from_task`, during a step: the task running is then neither
        queued nor waiting."""
        assert from_task or not len(self._blank)                   # nobody's variables
        self._timers.check()
        assert all(task._waiting == 'sleep' and task._undo is not None  # a sleep's
                   for _, task, exc in self._timers.live() if exc is None)  # task sleeps
        ready = set(self._ready)
        assert len(ready) == len(self._ready)                   # queued once
        assert all(t._undo is None and not t._done for t in ready)
        loose = [t for t in self._tasks if (t in ready) == (t._undo is not None)]
        assert all(not t._done for t in self._tasks) and not ready & set(loose)
        assert len(loose) <= (1 if from_task else 0)        # else queued, or waiting
        assert self._live == sum(not t.daemon for t in self._tasks)
        assert self._daemons <= self._tasks.keys()
        waiting = [t for f in self._files.values() for t in (f.reader, f.writer) if t]
        assert self._io_waits == len(waiting) + self._outside
        assert all(t._undo is not None and t._waiting is f
                   for f in self._files.values() for t in (f.reader, f.writer) if t)
        for fd, file in self._files.items():
            assert file.fd == fd and self._selector.get_key(fd).events == file.events
            assert file.reader is None or file.events & READ
            assert file.writer is None or file.events & WRITE


class _File:
    """A descriptor the kernel watches, and the tasks waiting on it."""

    __slots__ = ('fd', 'fileobj', 'reader', 'writer', 'events')
    # Invariant: events is what the selector has registered for fd, and it
    #   covers the waits: reader => READ in events, writer => WRITE in events

    def __init__(self, fd, fileobj):
        self.fd = fd
        self.fileobj = fileobj      # what the first waiter passed
        self.reader = None          # the task waiting to read, or None
        self.writer = None          # the task waiting to write, or None
        self.events = 0

    def owns_fd(self):
        """False once the object we were given has closed its descriptor."""
        obj = self.fileobj
        if isinstance(obj, int):    # a bare number cannot tell: assume it is open
            return True
        try:
            return obj.fileno() == self.fd
        except (OSError, ValueError):
            return False

    def describe_wait(self, task):
        return f"{'read' if task is self.reader else 'write'} on {self.fileobj!r}"


_TASK_CODE = inspect.CO_COROUTINE | inspect.CO_ITERABLE_COROUTINE
_FINALIZE = weakref.finalize.__call__.__code__


def _holds_interrupt(frame):
    """Must a Ctrl-C that struck in `frame` wait for the kernel's next tick?"""
    while frame is not None:
        code = frame.f_code
        if code.co_flags & _TASK_CODE:
            return False        # a task's own code
        if code.co_filename == __file__ or code is _FINALIZE or code.co_name == '__del__':
            return True         # the kernel's books, or a finalizer
        frame = frame.f_back
    return False
