"""Task groups: structured concurrency.  No task outlives its group."""
from .errors import CancelledError
from .traps import _cancel, _coroutine, _current, spawn


class _GroupCancelled(CancelledError):
    """How a group stops its own body after a child failed (the weakest rank)."""
    _rank = 1 << 30


class TaskGroup:
    """Spawn tasks that the ``async with`` block waits for.

    ``async with TaskGroup() as g: await g.spawn(corofunc, *args)``.  When the
    block ends, it waits for every child.  If a child or the body fails with
    an exception, the group cancels the other children (and the body, if it is
    still running), waits for them, and raises every failure together in an
    `ExceptionGroup`.  A cancellation from outside cancels all the children
    and then goes on.
    """

    def __init__(self):
        self._tasks = []         # every child, in the order spawned
        self._coros = []         # the coroutine each child runs, in the same order
        self._parent = None      # the task running the async with block
        self._in_body = False    # True while the parent is inside the block
        self._aborting = False   # True once a failure or a cancellation stops it
        self._closed = False     # True once the block has ended
        self._stop = _GroupCancelled('a task of the group failed')
        self._cancelled_before = None   # the parent's _cancelled_by at entry

    async def __aenter__(self):
        parent = self._parent = await _current()
        self._cancelled_before = parent._cancelled_by
        self._in_body = True
        return self

    async def spawn(self, corofunc, *args):
        """Start ``corofunc(*args)`` as a child of this group; return its `Task`."""
        if self._closed:
            raise RuntimeError('this TaskGroup has ended; it cannot take new tasks')
        coro = _coroutine(corofunc, args, 'TaskGroup.spawn()')
        task = await spawn(self._supervise, coro)
        task.name = getattr(coro, '__qualname__', repr(corofunc))
        self._tasks.append(task)
        self._coros.append(coro)
        if self._aborting:                   # too late to start: cancelled before it runs
            await _cancel(task)
        return task

    async def _supervise(self, coro):
        try:
            return await coro
        except (CancelledError, GeneratorExit):     # GeneratorExit: closed by force
            raise
        except BaseException:
            await self._abort()
            raise

    async def _abort(self):
        """Cancel every unfinished child and, if it is still in the block, the body."""
        self._aborting = True
        me = await _current()
        for task in self._tasks:
            if task is not me and not task.done():
                await _cancel(task)
        if self._in_body and self._parent is not me:
            await _cancel(self._parent, self._stop)

    async def __aexit__(self, exc_type, exc, tb):
        self._in_body = False
        errors = []
        cancelled = None
        parent = self._parent
        if parent._cancelled_by is self._stop:      # our own stop ends with the block
            parent._cancelled_by = self._cancelled_before
        if isinstance(exc, BaseExceptionGroup):  # an inner group may carry our stop
            mine, rest = exc.split(lambda error: error is self._stop)
            if mine is not None:
                if rest is not None:
                    errors.append(rest)          # with failures of its own
                exc = self._stop
        if exc is self._stop:
            exc = None                       # we stopped the body ourselves
            if parent._cancelled_by is not self._cancelled_before:
                cancelled = parent._cancelled_by    # but a stronger one came meanwhile
        elif isinstance(exc, CancelledError):
            cancelled = exc                  # from outside, or a timeout
            await self._abort()
        elif exc is not None:
            errors.append(exc)               # the body failed
            await self._abort()
        index = 0
        while index < len(self._tasks):      # children may spawn siblings
            try:
                await self._tasks[index].wait()
            except CancelledError as error:  # cancelled while waiting
                if cancelled is None or error._rank < cancelled._rank:
                    cancelled = error        # the stronger of two wins
                await self._abort()
                continue
            index += 1
        self._closed = True
        for coro in self._coros:             # a child cancelled before it started
            coro.close()                     # never awaited its coroutine: say it is over
        errors += [task.exception() for task in self._tasks
                   if not task.cancelled() and task.exception() is not None]
        for error in errors:                     # Ctrl-C and exit() stop the program:
            if isinstance(error, (KeyboardInterrupt, SystemExit)):
                raise error                      # they are not the group's to wrap
        if errors:
            if cancelled is not None:            # the cancellation is news too:
                errors.append(cancelled)         # it goes on, beside the failures
            raise BaseExceptionGroup('a task group failed', errors)
        if cancelled is not None and cancelled is not exc:
            raise cancelled
        return exc is None and exc_type is not None
