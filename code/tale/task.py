"""Tasks: a coroutine driven by the kernel, and what became of it."""
import traceback
import warnings
import weakref

from .errors import CancelledError, TaskFailureWarning
from .traps import _cancel, _join, _trap


class _Rare:
    """The fields a task seldom uses, made the first time one of them is set."""

    __slots__ = ('name', 'report', 'cancelled_by', 'scope_depth', 'shield')

    def __init__(self):
        self.name = None            # for people: None means the coroutine's name
        self.report = None          # kernel: reports an unretrieved failure
        self.cancelled_by = None    # kernel: the strongest cancellation it was sent
        self.scope_depth = 0        # timeouts: how many timeout scopes are open in it
        self.shield = None          # the innermost open shield (chapter 18)


def _rare(field, default):
    """A field of the task's _Rare, read and written as if it were the task's."""
    def get(task):
        rare = task._rare
        return default if rare is None else getattr(rare, field)

    def set(task, value):
        rare = task._rare
        if rare is None:
            rare = task._rare = _Rare()
        setattr(rare, field, value)
    return property(get, set)


class Task:
    """A coroutine run by the loop; what `spawn` returns.

    A task is *ready* (in the kernel's ready queue, or running), *waiting*
    (blocked in a trap, with a way to undo that wait), or *finished* (with a
    result or an exception).
    """

    __slots__ = (
        'coro',          # the coroutine this task drives
        'daemon',        # True: not waited for when the loop ends
        '_value',        # kernel: what to send at the next resumption
        '_exc',          # kernel: what to throw instead (wins over _value)
        '_undo',         # kernel: undoes its wait: a callable, or a timer's number
        '_waiting',      # kernel: what it waits on, set with _undo: 'sleep', the
                         #   task it joins, the file it watches, what it is parked in
        '_done',         # kernel: True once the coroutine has ended
        '_result',       # kernel: its return value
        '_exception',    # kernel: the exception that ended it, or None
        '_joiners',      # kernel: list of tasks blocked in join() on it, or None
        '_rare',         # the seldom used fields (properties below), or None
        '_parent',       # kernel: a weak reference to the task that spawned it, or None
        '_context',      # the contextvars.Context its steps run in; None: the
                         #   kernel's blank one, shared until it sets a variable
        '__weakref__',
    )
    # Invariant: self._undo is None or not self._done
    # Invariant: self._undo is not None  <=>  the task waits in a trap
    # Invariant: self._exception is None or self._result is None

    def __init__(self, coro, daemon=False, context=None):
        self.coro = coro
        self.daemon = daemon
        self._value = None
        self._exc = None
        self._undo = None
        self._done = False
        self._result = None
        self._exception = None
        self._joiners = None
        self._parent = None
        self._rare = None
        self._context = context

    _name = _rare('name', None)
    _report = _rare('report', None)
    _cancelled_by = _rare('cancelled_by', None)
    _scope_depth = _rare('scope_depth', 0)
    _shield = _rare('shield', None)

    @property
    def name(self):
        """A name for people: the coroutine's qualified name unless set."""
        return self._name or getattr(self.coro, '__qualname__', repr(self.coro))

    @name.setter
    def name(self, value):
        self._name = value

    def __repr__(self):
        return f'<Task {self.name} {self.state}>'

    @property
    def state(self):
        """A readable name for where the task is: ready, waiting (on what), finished."""
        if self._done:
            return 'cancelled' if self.cancelled() else (
                'failed' if self._exception is not None else 'finished')
        if self._undo is not None:
            return f'waiting ({self.waiting_on()})'
        return 'ready'

    def waiting_on(self):
        """What the task waits on, in words (None if it does not wait)."""
        if self._undo is None:
            return None
        what = self._waiting
        if isinstance(what, str):
            return what
        if isinstance(what, Task):
            return f'join {what.name}'
        describe = getattr(what, 'describe_wait', None)     # a file, a wait queue
        return describe(self) if describe is not None else repr(what)

    @property
    def parent(self):
        """The task that spawned this one, while it exists; None for the main task."""
        ref = self._parent
        return ref() if ref is not None else None

    async def join(self):
        """Wait for the task; return its result or raise its own exception object."""
        if not self._done:
            await _trap(('join', self))
        if self._exception is not None:     # (the outcome read here, not through
            self._mark_retrieved()          # result(), which would check _done again)
            raise self._exception
        return self._result

    async def wait(self):
        """Wait for the task to finish, whatever its outcome; never raises it."""
        await _join(self)

    async def cancel(self):
        """Cancel the task and wait until it has finished."""
        await _cancel(self)
        await _join(self)

    def done(self):
        """True once the task has finished, one way or another."""
        return self._done

    def result(self):
        """The task's return value, or its exception raised; it must be done."""
        self._check_done()
        self._mark_retrieved()
        if self._exception is not None:
            raise self._exception
        return self._result

    def exception(self):
        """The exception that ended the task, or None if it returned; it must be done."""
        self._check_done()
        self._mark_retrieved()
        return self._exception

    def _mark_retrieved(self):
        report = self._report
        if report is not None:          # somebody saw the error: no report
            self._report = None
            report.detach()

    def _fail_unseen(self, lost):
        """Arm the report of this task's error, for when nobody reads it."""
        code = getattr(self.coro, 'cr_code', None) or getattr(self.coro, 'gi_code', None)
        where = (code.co_filename, code.co_firstlineno) if code else ('<tale>', 0)
        self._report = weakref.finalize(self, _report_failure, repr(self),
                                        self._exception, where, lost)

    def cancelled(self):
        """True if the task ended by a `CancelledError`."""
        return isinstance(self._exception, CancelledError)

    def _check_done(self):
        if not self._done:
            raise RuntimeError(f'{self!r} has not finished yet')


def _report_failure(name, error, where, lost):
    lost.append(f'{name}: {error!r}')   # for a deadlock report, should one follow
    text = ''.join(traceback.format_exception(error)).rstrip()
    warnings.warn_explicit(f'{name} failed and nobody joined it:\n{text}',
                           TaskFailureWarning, *where, registry={})
