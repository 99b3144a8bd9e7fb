"""Generated programs, run on tale and on trio, must tell the same story.

Hypothesis writes random programs of tasks: each sleeps, spawns children,
joins them, cancels them, and opens `move_on_after` blocks around more of
the same.  Each program runs twice on a virtual clock: on tale, and on trio
with `trio.testing.MockClock`, whose semantics match tale's for everything
these programs do.  Every task keeps its own log (what it did, and when),
and the two loops must agree on every task's log exactly: the tests know
nothing about how tale works, only that it must behave as trio does.

Intended differences, kept out of the programs (chapter 10 tells them):
- trio's cancellation is level-triggered: an await in a `finally` of a
  cancelled task raises again at once; tale delivers a cancellation once.
  The programs do not await in `finally` blocks.
- trio starts a task before it can see a cancellation; tale throws the
  cancellation into a task that has not started, so its body never runs.
  On trio, each task of these programs begins with
  ``checkpoint_if_cancelled()``, which makes trio do what tale does.
- Every async call of trio is a checkpoint: waiting for an event already
  set yields to the other tasks; tale's join of a finished task answers at
  once.  The trio side does not wait for an event that is set.
- A task whose wait is already over (woken, not yet run) and is cancelled:
  tale throws the cancellation in instead of the answer, as asyncio does;
  trio lets it run on to its next checkpoint.  Distinct deadlines keep the
  programs from cancelling a task in that instant.
- Tasks woken at the same instant may run in either order: trio shuffles
  each batch on purpose, tale keeps it first in, first out.  Every sleep
  and every timeout carries its own tiny offset (a distinct power of two),
  so that no two deadlines of a program coincide.
"""
import math
import os

import pytest

hypothesis = pytest.importorskip('hypothesis')
trio = pytest.importorskip('trio')
import trio.testing  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import tale  # noqa: E402
from tale import kernel  # noqa: E402
from tale.testing import VirtualClock  # noqa: E402

EXAMPLES = int(os.environ.get('TALE_GENERATED_EXAMPLES', '150'))

sleeps = st.sampled_from([0, 0.25, 0.5, 1.0, 1.5])
timeouts = st.sampled_from([0.25, 0.75, 1.25, 2.5])


def ops(depth):
    leaf = st.one_of(
        st.tuples(st.just('sleep'), sleeps),
        st.tuples(st.just('join'), st.integers(0, 3)),
        st.tuples(st.just('cancel'), st.integers(0, 3)),
    )
    if depth == 0:
        return st.lists(leaf, max_size=4)
    child = ops(depth - 1)
    return st.lists(st.one_of(
        leaf, leaf,
        st.tuples(st.just('spawn'), child),
        st.tuples(st.just('move_on'), timeouts, child),
    ), max_size=5)


programs = ops(2)


def numbered(program, counter=None):
    """The program with its numbers fixed before it runs: a distinct tiny
    offset on every sleep and deadline (a distinct power of two, exact in
    binary) and an id for every task its spawns will start."""
    counter = counter if counter is not None else [1]
    out = []
    for op in program:
        counter[0] += 1
        offset = 2.0 ** -(10 + counter[0])
        if op[0] == 'sleep':
            out.append(('sleep', op[1] + offset))
        elif op[0] == 'move_on':
            out.append(('move_on', op[1] + offset, numbered(op[2], counter)))
        elif op[0] == 'spawn':
            out.append(('spawn', counter[0], numbered(op[1], counter)))
        else:
            out.append(op)
    return out


class Run:
    def __init__(self):
        self.logs = {}

    def log(self, task):
        return self.logs.setdefault(task, [])


def when(t):
    return round(t, 9)


# tale's interpreter -------------------------------------------------------

async def tale_task(run, me, program):
    children = []
    await tale_ops(run, me, program, children)
    run.log(me).append(('done', when(tale.clock())))


async def tale_ops(run, me, program, children):
    log = run.log(me)
    for op in program:
        if op[0] == 'sleep':
            await tale.sleep(op[1])
            log.append(('slept', when(tale.clock())))
        elif op[0] == 'spawn':
            child = op[1]
            children.append((child, await tale.spawn(tale_task, run, child, op[2])))
        elif op[0] in ('join', 'cancel') and children:
            child, task = children[op[1] % len(children)]
            if op[0] == 'join':
                await task.wait()
            else:
                await task.cancel()
            outcome = 'cancelled' if task.cancelled() else 'ok'
            log.append((op[0], child, outcome, when(tale.clock())))
        elif op[0] == 'move_on':
            async with tale.move_on_after(op[1]) as scope:
                await tale_ops(run, me, op[2], children)
            log.append(('scope', scope.expired, when(tale.clock())))


def run_on_tale(program):
    run = Run()
    k = kernel.Kernel(VirtualClock(), debug=True)

    async def main():
        await tale_task(run, 1, numbered(program))
    k.run(main)
    assert not k._tasks and not k._armed and not k._ready      # nothing left behind
    return run.logs


# trio's interpreter -------------------------------------------------------

class Handle:
    def __init__(self):
        self.done = trio.Event()
        self.scope = None
        self.cancel_asked = False
        self.outcome = None

    def cancel(self):
        self.cancel_asked = True
        if self.scope is not None:
            self.scope.cancel()


async def trio_task(run, me, program, nursery, handle):
    with trio.CancelScope() as scope:
        handle.scope = scope
        if handle.cancel_asked:
            scope.cancel()
        await trio.lowlevel.checkpoint_if_cancelled()      # (see the docstring)
        children = []
        await trio_ops(run, me, program, children, nursery)
        run.log(me).append(('done', when(trio.current_time())))
    handle.outcome = 'cancelled' if scope.cancelled_caught else 'ok'
    handle.done.set()


async def trio_ops(run, me, program, children, nursery):
    log = run.log(me)
    for op in program:
        if op[0] == 'sleep':
            await trio.sleep(op[1])
            log.append(('slept', when(trio.current_time())))
        elif op[0] == 'spawn':
            child, handle = op[1], Handle()
            nursery.start_soon(trio_task, run, child, op[2], nursery, handle)
            children.append((child, handle))
        elif op[0] in ('join', 'cancel') and children:
            child, handle = children[op[1] % len(children)]
            if op[0] == 'cancel':
                handle.cancel()
            if not handle.done.is_set():    # (trio's wait() would yield even then)
                await handle.done.wait()
            log.append((op[0], child, handle.outcome, when(trio.current_time())))
        elif op[0] == 'move_on':
            with trio.move_on_after(op[1]) as scope:
                await trio_ops(run, me, op[2], children, nursery)
            log.append(('scope', scope.cancelled_caught, when(trio.current_time())))


def run_on_trio(program):
    run = Run()

    async def main():
        async with trio.open_nursery() as nursery:
            await trio_task(run, 1, numbered(program), nursery, Handle())
    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return run.logs


@hypothesis.settings(max_examples=EXAMPLES, deadline=None,
                     suppress_health_check=list(hypothesis.HealthCheck))
@hypothesis.given(programs)
def test_tale_and_trio_tell_the_same_story(program):
    assert run_on_tale(program) == run_on_trio(program)


def test_a_known_program_tells_the_expected_story():
    """The comparison is not vacuous: both loops give this exact story."""
    program = [('spawn', [('sleep', 1.0)]),
               ('move_on', 0.75, [('join', 0)]),
               ('cancel', 0)]
    deadline = numbered(program)[1][1]            # 0.75 and its tiny offset
    assert 0.75 < deadline < 0.7501
    logs = run_on_tale(program)
    assert logs == run_on_trio(program)
    assert logs[1] == [('scope', True, when(deadline)),
                       ('cancel', 2, 'cancelled', when(deadline)),
                       ('done', when(deadline))]
    assert logs[2] == []                          # cancelled in its sleep


def test_a_broken_loop_is_caught(monkeypatch):
    """Break tale's timeouts on purpose: the comparison must notice."""
    from tale import timeouts
    monkeypatch.setattr(timeouts.TimeoutScope, '__aexit__',
                        lambda self, *exc: _swallow_everything(self))
    program = [('spawn', [('sleep', 1.0)]), ('move_on', 0.75, [('join', 0)])]
    with pytest.raises(BaseException):
        assert run_on_tale(program) == run_on_trio(program)


async def _swallow_everything(scope):
    scope._task._scope_depth -= 1
    return False                        # never swallows its own expiry
