"""The one way into the kernel.

A task asks the kernel for something by yielding a *request*, a tuple whose
first item is a tag: ``('sleep', 1.5)``, ``('join', task)``.  Two generators
in tale yield requests, both here: `_trap`, which everything else awaits, and
`sleep`, the busiest call, which is its own trap.  For each tag ``x`` there is
a thin wrapper ``_x`` here and a handler ``Kernel.trap_x`` in the kernel (a
test checks that both sides match).
"""
import functools
import inspect
import os
import sys
import types
import warnings

#: The request made by ``sleep(0)``, built once: the kernel recognises this very
#: object and takes its fast path.
YIELD = ('sleep', 0)


@types.coroutine
def _trap(request):
    """Hand `request` to the kernel; return its answer or raise what it throws."""
    return (yield request)


def _join(task):
    """Wait until `task` has finished (its outcome is read from the task)."""
    return _trap(('join', task))


def _cancel(task, exc=None):
    """Throw `exc` (a new `CancelledError` by default) into `task`; do not wait."""
    return _trap(('cancel', task, exc))


def _current():
    """Answer the running task at once."""
    return _trap(('current',))


def _timeout(seconds, exc):
    """Set a timer that throws `exc` into this task; answer its handle."""
    return _trap(('timeout', seconds, exc))


def _untimeout(handle):
    """Disarm the timer `handle` from `_timeout` if it has not fired."""
    return _trap(('untimeout', handle))


def _park(waiters, owner):
    """Append this task, in a cell, to the deque `waiters` and wait to be woken."""
    return _trap(('park', waiters, owner))


# The public face: what tasks call.

def spawn(corofunc, *args, daemon=False):
    """Start ``corofunc(*args)`` as a new task: ``task = await spawn(f, x)``.

    Returns its `Task` at once; the new task runs when the caller next
    waits.  A *daemon* task is not waited for when the loop ends: `run`
    cancels it once every other task is done.  A coroutine object is
    accepted in place of ``corofunc``.
    """
    coro = corofunc if type(corofunc) is _NATIVE else corofunc(*args)
    if type(coro) is not _NATIVE:       # _coroutine's tests, without its call
        coro = _awaitable(corofunc, coro, 'spawn()')
    return _trap(('spawn', coro, daemon))


_NATIVE = types.CoroutineType


def _coroutine(corofunc, args, who):
    """``corofunc(*args)``, checked: a native coroutine the kernel can step."""
    coro = corofunc if type(corofunc) is _NATIVE else corofunc(*args)
    return coro if type(coro) is _NATIVE else _awaitable(corofunc, coro, who)


def _awaitable(corofunc, coro, who):
    """`coro`, made by `corofunc`, wrapped in a native coroutine; TypeError if
    it cannot be awaited."""
    if not inspect.isawaitable(coro):
        raise TypeError(f'{who} runs async functions, but {corofunc!r} returned '
                        f'{coro!r}, which cannot be awaited')
    steps = coro.__await__() if hasattr(coro, '__await__') else coro    # awaited now

    @types.coroutine
    def step():
        return (yield from steps)

    async def native():             # the kernel steps native coroutines only
        return await step()
    wrapped = native()
    wrapped.__qualname__ = getattr(coro, '__qualname__', repr(coro))
    return wrapped


@types.coroutine
def sleep(seconds):
    """Suspend the calling task for `seconds` on the loop's clock: ``await sleep(s)``.

    ``await sleep(0)`` lets every other ready task run once before the caller
    runs again.  (A trap generator of its own, not a call of `_trap`: the
    busiest call in tale costs one generator and no other frame.)
    """
    yield YIELD if seconds <= 0 else ('sleep', seconds)


def current_task():
    """Return the `Task` running this code: ``await current_task()``, the very
    object `spawn` returned."""
    return _current()


async def wait_readable(fileobj):
    """Wait until `fileobj` (anything with ``fileno()``) is ready to read."""
    await _trap(('read_wait', fileobj))


async def wait_writable(fileobj):
    """Wait until `fileobj` (anything with ``fileno()``) is ready to write."""
    await _trap(('write_wait', fileobj))


class _CheckedSleep:
    """``sleep(s)`` in debug mode: the same generator, and a warning if never awaited."""

    __slots__ = ('_gen', '_seconds', '_where')

    def __init__(self, gen, seconds, where):
        self._gen = gen
        self._seconds = seconds
        self._where = where         # (file, line) of the call; None once started

    def __await__(self):            # an iterator, driven by send and throw;
        self._where = None          # asked for it is awaited (spawn(sleep, 1) too)
        return self

    def __iter__(self):
        return self

    def __next__(self):
        return self.send(None)

    def send(self, value):          # (so that spawn(sleep, 1) works too)
        self._where = None
        return self._gen.send(value)

    def throw(self, exc):
        self._where = None
        try:
            return self._gen.throw(exc)
        finally:
            exc = None              # else exc -> its traceback -> this frame -> exc

    def close(self):
        self._where = None
        self._gen.close()

    def __getattr__(self, name):    # gi_frame, __qualname__, ...
        return getattr(self._gen, name)

    def __del__(self):
        if self._where is not None:
            warnings.warn_explicit(f'tale.sleep({self._seconds!r}) was never awaited',
                                   RuntimeWarning, *self._where)
            self._gen.close()


def _checked(sleep):
    @functools.wraps(sleep)
    def checked_sleep(seconds):
        caller = sys._getframe(1)
        return _CheckedSleep(sleep(seconds), seconds,
                             (caller.f_code.co_filename, caller.f_lineno))
    return checked_sleep


if os.environ.get('TALE_DEBUG') or sys.flags.dev_mode:
    sleep = _checked(sleep)
