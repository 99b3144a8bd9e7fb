"""Instruments: watch a run from inside.  Nothing is paid when nobody watches.

``tale.run(main, instruments=[Trace()])`` runs `main` on a `WatchedKernel`,
which reports every event of the run to each instrument that defines a
method of that name (see `Instrument`).  Without instruments, `run` uses the
plain `Kernel`, which has none of this code in its path.
"""
import os
import sys
import time
import warnings
import weakref
from collections import deque, namedtuple

from .kernel import Kernel, _running
from .tasktree import doing

#: What a tick did before its batch ran: its number, the clock's time, how
#: long the poll could block (None: no limit), how many tasks the poll woke,
#: how many the due timers woke, and how many tasks the batch will run.
Tick = namedtuple('Tick', 'number time timeout io timers batch')


class Instrument:
    """The events of a run.  Subclass it and define the ones you want.

    An instrument need not subclass this: the kernel calls whichever of these
    methods an object defines.  Events come in the order things happen; an
    instrument that raises is removed from the run, with a warning.
    """

    def before_run(self):
        """The run begins (its first tick is about to start)."""

    def after_run(self):
        """The run is over: every task has finished."""

    def task_spawned(self, task):
        """`task` was created, by the task running (``task.parent``) or by `run`."""

    def task_scheduled(self, task):
        """`task` is ready: spawned, woken, cancelled while it waited, or yielding."""

    def before_task_step(self, task):
        """`task` is resumed: a step, until its next ``yield`` to the kernel."""

    def after_task_step(self, task):
        """`task` has yielded to the kernel, or has ended."""

    def task_suspended(self, task, waiting):
        """`task` waits; `waiting` says on what, in words (as `dump_tasks` does)."""

    def task_cancelled(self, task, exc):
        """`exc`, a `CancelledError`, will be thrown into `task` at its next step."""

    def task_finished(self, task):
        """`task` has ended: see ``task.state``, ``task.exception()``."""

    def tick(self, tick):
        """A tick has polled and fired its timers; `tick` is a `Tick`."""


EVENTS = tuple(name for name in vars(Instrument) if not name.startswith('_'))


class WatchedKernel(Kernel):
    """The kernel, reporting every event of the run to its instruments."""

    #: Its tasks' coroutines are steppers, not native coroutines.
    step = staticmethod(lambda stepper, value: stepper.send(value))

    def __init__(self, clock, debug, instruments):
        super().__init__(clock, debug)
        self._calls = {event: [] for event in EVENTS}     # event -> bound methods
        for instrument in instruments:
            for event in EVENTS:
                method = getattr(instrument, event, None)
                if method is not None and getattr(type(instrument), event, None) \
                        is not getattr(Instrument, event):
                    self._calls[event].append(method)
        self._hooks = self          # the tick calls polled() and batch()
        self._ready = _ReadyQueue(self)
        self._traps = {tag: self._watched(trap) for tag, trap in self._traps.items()}
        self._held = None           # task_scheduled events held back, or None
        self._phase = None          # 'io' or 'timers': who is waking tasks now
        self._woken = {'io': 0, 'timers': 0}
        self._deferred = None       # events of the poll and timers, until the tick's
        self._trapping = None       # the task whose request is being handled
        self._ticks = 0
        self._timeout = None

    def _emit(self, event, *args):
        if self._deferred is not None:
            self._deferred.append((event, args))
            return
        for call in self._calls[event]:
            try:
                call(*args)
            except Exception as error:      # a broken instrument leaves the run
                self._remove(call.__self__, error)

    def _remove(self, instrument, error):
        for event, calls in self._calls.items():    # new lists: _emit may be in a loop
            self._calls[event] = [c for c in calls if c.__self__ is not instrument]
        warnings.warn(f'instrument {instrument!r} raised {error!r} and was removed',
                      RuntimeWarning, stacklevel=2)

    def run(self, corofunc, *args):
        try:
            return super().run(corofunc, *args)
        finally:
            deferred, self._deferred = self._deferred or [], None   # a poll interrupted
            for event, args in deferred:
                self._emit(event, *args)
            if self._ticks:
                self._emit('after_run')

    # The tick's two hooks (see Kernel._loop).
    def polled(self, timeout):
        if not self._ticks:             # the first tick: announce the run and main
            self._emit('before_run')
            for task in self._tasks:
                self._emit('task_spawned', task)
                self._emit('task_scheduled', task)
        self._timeout = timeout
        self._phase = 'timers'
        if self._deferred is None:
            self._deferred = []

    def batch(self, size):
        # The tick's event comes first, then what its poll and timers did.
        self._ticks += 1
        self._phase = None
        woken, deferred, self._deferred = self._woken, self._deferred, None
        self._emit('tick', Tick(self._ticks, self.clock.now(), self._timeout,
                                woken['io'], woken['timers'], size))
        woken['io'] = woken['timers'] = 0
        for event, args in deferred:
            self._emit(event, *args)

    def _poll(self, timeout):
        self._phase = 'io'
        self._deferred = []
        super()._poll(timeout)

    # Where tasks begin, become ready, wait, are cancelled, end.
    def _new_task(self, coro, daemon, context):
        stepper = _Stepper(self, coro)
        with self._holding(report=self._ticks > 0):     # main: see polled()
            task = stepper.task = super()._new_task(stepper, daemon, context)
            if self._trapping is not None:      # (trap_spawn sets it too, too late)
                task._parent = weakref.ref(self._trapping)
            if self._ticks:
                self._emit('task_spawned', task)
        return task

    def _scheduled(self, task):
        if self._held is not None:
            self._held.append(task)
            return
        if self._phase is not None:
            self._woken[self._phase] += 1
        self._emit('task_scheduled', task)

    def _cancel(self, task, exc):
        with self._holding():
            sent = super()._cancel(task, exc)
            if sent:
                self._emit('task_cancelled', task, exc)
        return sent

    def _finish(self, task, result, error):
        with self._holding():
            super()._finish(task, result, error)
            task.coro.task = None           # no cycle: a released task goes at once
            self._emit('task_finished', task)

    def _holding(self, report=True):
        return _Holding(self, report)

    def _watched(self, handler):
        def trap(task, request):
            self._trapping = task
            try:
                answered = handler(task, request)
            finally:
                self._trapping = None
            if not answered and task._undo is not None:
                deadlines = None
                if request[0] == 'sleep':
                    deadlines = {task: self.clock.now() + request[1]}
                self._emit('task_suspended', task, doing(task, deadlines))
            return answered
        return trap


class _Holding:
    """Hold back task_scheduled events until the event that caused them is out."""

    def __init__(self, kernel, report):
        self.kernel, self.report = kernel, report

    def __enter__(self):
        self.outer, self.kernel._held = self.kernel._held, []

    def __exit__(self, *exc_info):
        kernel = self.kernel
        held, kernel._held = kernel._held, self.outer
        for task in held if self.report else ():
            kernel._scheduled(task)


class _ReadyQueue(deque):
    """The ready queue of a watched kernel: it reports every task put in it."""

    def __init__(self, kernel):
        super().__init__()
        self.kernel = kernel

    def append(self, task):
        super().append(task)
        self.kernel._scheduled(task)


class _Stepper:
    """A task's coroutine as a watched kernel drives it: each resumption is a step."""

    __slots__ = ('coro', 'task', 'kernel')

    def __init__(self, kernel, coro):
        self.kernel = kernel
        self.coro = coro
        self.task = None

    def send(self, value):
        return self._step(self.coro.send, value)

    def throw(self, exc):
        return self._step(self.coro.throw, exc)

    def close(self):
        return self.coro.close()

    def _step(self, resume, arg):
        # (No local holds the task: a failure's traceback keeps this frame.)
        self.kernel._emit('before_task_step', self.task)
        try:
            return resume(arg)
        finally:
            self.kernel._emit('after_task_step', self.task)

    def __getattr__(self, name):        # cr_frame, cr_code, __qualname__...
        return getattr(self.coro, name)


class Trace(Instrument):
    """Print one line per event: the time, the task (or the tick), what happened.

    Times are the loop's clock, as `tale.clock()` reads it (exact under a
    `VirtualClock`), like the deadlines of the sleeps; ``times=False`` leaves
    them out.  Tasks woken by the
    loop itself, by I/O or by timers, are printed under the tick that woke
    them.
    """

    def __init__(self, file=None, times=True):
        self.file = file
        self.times = times
        self._last = None           # the task that ran last in this tick
        self._waiting = set()       # tasks suspended, not yet woken

    def _say(self, who, what):
        when = f'{_running.kernel.clock.now():7.3f}  ' if self.times else ''
        file = self.file if self.file is not None else sys.stdout
        print(f'{when}{who:<9} {what}', file=file)

    def tick(self, tick):
        parts = []
        if tick.timeout is None:
            parts.append('polled without limit')
        elif tick.timeout:
            parts.append(f'waited up to {tick.timeout:.3f} s')
        if tick.timers:
            parts.append(f'{tick.timers} woken by timers')
        if tick.io:
            parts.append(f'{tick.io} woken by I/O')
        parts.append(f'{tick.batch} ready')
        self._say(f'tick {tick.number}', ', '.join(parts))
        self._last = None

    def task_spawned(self, task):
        parent = task.parent
        self._say(parent.name if parent else 'run()', f'spawns {task.name}')

    def task_scheduled(self, task):
        if task in self._waiting:
            self._waiting.discard(task)
            self._say(task.name, 'woken')
        elif task is self._last:
            self._say(task.name, 'yields')

    def before_task_step(self, task):
        if task is not self._last:
            self._say(task.name, 'runs')
        self._last = task

    def task_suspended(self, task, waiting):
        self._waiting.add(task)
        self._say(task.name, waiting)

    def task_cancelled(self, task, exc):
        self._waiting.discard(task)
        self._say(task.name, 'cancelled')

    def task_finished(self, task):
        self._waiting.discard(task)
        if task.cancelled():
            what = 'ends cancelled'
        elif task._exception is not None:
            what = f'fails: {task._exception!r}'
        else:
            what = f'returns {task._result!r}'
        self._say(task.name, what)


class SlowStepWarning(RuntimeWarning):
    """A task held the loop, in one step, for longer than the threshold."""


class SlowSteps(Instrument):
    """Warn when one step of a task runs for `threshold` seconds or more.

    A step is the code between two awaits that reach the kernel; while it
    runs, no other task can.  The warning names the task and the lines where
    the step began and ended (the innermost frame of the task's own code).
    """

    def __init__(self, threshold=0.1):
        self.threshold = threshold
        self._began = 0.0
        self._where = None

    def before_task_step(self, task):
        self._where = _where(task)
        self._began = time.perf_counter()

    def after_task_step(self, task):
        took = time.perf_counter() - self._began
        if took >= self.threshold:
            began = self._where
            ended = _where(task) or began
            warnings.warn_explicit(
                f'{task.name} held the loop for {took:.3f} s in one step, from '
                f'line {began[1]} to line {ended[1]} of {began[0]}',
                SlowStepWarning, *began)


_TALE = os.path.dirname(__file__)


def _where(task):
    """(file, line) of the innermost frame of `task`'s own code, or None."""
    where, awaited = None, task.coro
    while awaited is not None:
        frame = getattr(awaited, 'cr_frame', None) or getattr(awaited, 'gi_frame', None)
        if frame is None:
            break
        if os.path.dirname(frame.f_code.co_filename) != _TALE:
            where = frame.f_code.co_filename, frame.f_lineno
        awaited = (getattr(awaited, 'cr_await', None)
                   or getattr(awaited, 'gi_yieldfrom', None))
    return where
