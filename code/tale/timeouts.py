"""Timeouts: a deadline that cancels the task, caught by the block that set it."""
import math

from .errors import CancelledError
from .traps import _current, _timeout, _untimeout


class TaskTimeout(CancelledError):
    """The cancellation a timeout scope throws into its task when it expires.

    Only the scope that made it turns it into `TimeoutError` (or swallows it);
    every other block sees a cancellation and lets it pass.  Its rank is the
    depth of its scope, so an outer scope's timeout overrides an inner one's
    still on its way, and a cancellation from outside (rank 0) overrides both.
    """

    def __init__(self, scope, rank):
        self.scope = scope
        self._rank = rank

    def __str__(self):      # made when asked: most deadlines never expire
        return f'deadline of {self.scope!r} expired'


class TimeoutScope:
    """A block of code with a deadline.  Made by `timeout_after` and `move_on_after`."""

    def __init__(self, seconds, raise_on_expiry):
        self.seconds = seconds          # None: no deadline at all
        #: True once the deadline has cancelled the block.
        self.expired = False
        self._raise = raise_on_expiry
        self._task = None
        self._handle = None
        self._exc = None
        self._cancelled_before = None   # the task's _cancelled_by at entry

    def __repr__(self):
        kind = 'timeout_after' if self._raise else 'move_on_after'
        return f'<{kind}({self.seconds})>'

    async def __aenter__(self):
        task = self._task = await _current()
        task._scope_depth += 1
        self._exc = TaskTimeout(self, task._scope_depth)
        self._cancelled_before = task._cancelled_by
        seconds = math.inf if self.seconds is None else self.seconds
        self._handle = await _timeout(seconds, self._exc)
        return self

    async def __aexit__(self, exc_type, exc, tb):
        task, ours = self._task, self._exc
        self._exc = None                     # no cycle through the frames
        task._scope_depth -= 1
        await _untimeout(self._handle)       # a timer that did not fire goes
        stronger = task._cancelled_by
        if stronger is ours:                 # our deadline is over, whatever it did
            task._cancelled_by = stronger = self._cancelled_before
        rest = None                          # what goes on past us
        if exc is not ours:
            if not isinstance(exc, BaseExceptionGroup):
                return False                 # not ours: let it pass
            mine, rest = exc.split(lambda error: error is ours)
            if mine is None:                 # a group's failures, without our deadline
                return False
        ours.__traceback__ = None            # it goes no further: nor do the frames
        if stronger is not self._cancelled_before:  # a cancellation from outside came
            if rest is None:                        # meanwhile: it goes on
                raise stronger
            raise BaseExceptionGroup(rest.message, [*rest.exceptions, stronger])
        self.expired = True
        if rest is not None:
            raise rest                       # failures that came with our deadline go on
        if self._raise:
            raise TimeoutError(f'timed out after {self.seconds} s') from None
        return True


async def _run_within(scope, corofunc, args):
    async with scope:
        return await corofunc(*args)


def timeout_after(seconds, corofunc=None, *args):
    """Give a block, or a call, `seconds` to finish, else raise `TimeoutError`.

    ``async with timeout_after(5):`` guards a block;
    ``await timeout_after(5, corofunc, *args)`` guards one call and returns
    its result.  Scopes nest: the one whose deadline expires reports it.
    """
    scope = TimeoutScope(seconds, True)
    return scope if corofunc is None else _run_within(scope, corofunc, args)


def move_on_after(seconds, corofunc=None, *args):
    """Like `timeout_after`, but expiry just ends the block quietly.

    ``async with move_on_after(5) as scope:`` then ``scope.expired`` says
    whether the deadline cut the block short.  The call form
    ``await move_on_after(5, corofunc, *args)`` returns None on expiry.
    """
    scope = TimeoutScope(seconds, False)
    return scope if corofunc is None else _run_within(scope, corofunc, args)
