"""The one way into the kernel.

A task asks the kernel for something by yielding a *request*, a tuple whose
first item is a tag: ``('sleep', 1.5)``, ``('join', task)``.  Two generators
in tale yield requests, both here: `_trap`, which everything else awaits, and
`sleep`, the busiest call, which is its own trap.  For each tag ``x`` there is
a thin wrapper ``_x`` here and a handler ``Kernel.trap_x`` in the kernel (a
test checks that both sides match).
"""
import inspect
import types

#: The request made by ``sleep(0)``, built once: the kernel recognises this very
#: object and takes its fast path (``tests/test_tale_kernel.py`` pins both paths).
YIELD = ('sleep', 0)


@types.coroutine
def _trap(request):
    """Hand `request` to the kernel; return its answer or raise what it throws."""
    return (yield request)


async def _spawn(coro, daemon):
    """Start `coro` as a new task; answer the `Task` at once."""
    return await _trap(('spawn', coro, daemon))


async def _join(task):
    """Wait until `task` has finished (its outcome is read from the task)."""
    return await _trap(('join', task))


async def _sleep(seconds):
    """Wait `seconds` on the kernel's clock."""
    return await _trap(('sleep', seconds))


async def _read_wait(fileobj):
    """Wait until `fileobj` is readable."""
    return await _trap(('read_wait', fileobj))


async def _write_wait(fileobj):
    """Wait until `fileobj` is writable."""
    return await _trap(('write_wait', fileobj))


async def _cancel(task, exc=None):
    """Throw `exc` (a new `CancelledError` by default) into `task`; do not wait."""
    return await _trap(('cancel', task, exc))


async def _current():
    """Answer the running task at once."""
    return await _trap(('current',))


async def _timeout(seconds, exc):
    """Set a timer that throws `exc` into this task; answer its handle."""
    return await _trap(('timeout', seconds, exc))


async def _untimeout(handle):
    """Disarm the timer `handle` from `_timeout` if it has not fired."""
    return await _trap(('untimeout', handle))


async def _park(waiters, owner):
    """Append this task, in a cell, to the deque `waiters` and wait to be woken."""
    return await _trap(('park', waiters, owner))


# The public face: what tasks call.

def spawn(corofunc, *args, daemon=False):
    """Start ``corofunc(*args)`` as a new task: ``task = await spawn(f, x)``.

    Returns its `Task` at once; the new task runs when the caller next
    waits.  A *daemon* task is not waited for when the loop ends: `run`
    cancels it once every other task is done.  A coroutine object is
    accepted in place of ``corofunc``.
    """
    return _trap(('spawn', _coroutine(corofunc, args, 'spawn()'), daemon))


def _coroutine(corofunc, args, who):
    """``corofunc(*args)``, checked: a native coroutine the kernel can step."""
    coro = corofunc if isinstance(corofunc, types.CoroutineType) else corofunc(*args)
    if type(coro) is types.CoroutineType:
        return coro
    if not inspect.isawaitable(coro):
        raise TypeError(f'{who} runs async functions, but {corofunc!r} returned '
                        f'{coro!r}, which cannot be awaited')
    async def native():             # the kernel steps native coroutines only
        return await coro
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


async def current_task():
    """Return the `Task` running this code: the very object `spawn` returned."""
    return await _trap(('current',))


async def wait_readable(fileobj):
    """Wait until `fileobj` (anything with ``fileno()``) is ready to read."""
    await _trap(('read_wait', fileobj))


async def wait_writable(fileobj):
    """Wait until `fileobj` (anything with ``fileno()``) is ready to write."""
    await _trap(('write_wait', fileobj))
