"""Chapter 4: tasks, spawn and join, round-robin ticks.

Each test runs against every stage that has tasks (tests/stagelist.py).
"""
import warnings

import pytest

from stagelist import stages_with
from solutions.ch04_ex1 import StrictLoop
from solutions.ch04_ex2 import gather

TASK_STAGES = stages_with("tasks")


def check_invariants(loop, seen=()):
    """The Task invariants written next to its fields, checked on a live loop.

    `seen` holds tasks met in earlier ticks, so that finished ones are checked too.
    """
    for task in seen:
        if task.state == "done":
            # Invariant: state == "done" implies joiners == []
            assert task.joiners == [], task
    for task in loop.tasks | set(loop.ready):
        assert (task.state == "ready") == (task in loop.ready), task
        waiting = task.state not in ("ready", "running", "done")
        assert (task.undo is not None) == waiting, task
    assert len(set(loop.ready)) == len(loop.ready), "a task is queued twice"
    if hasattr(loop, "timers"):                 # from chapter 5 on
        live = [task for _, number, task in loop.timers
                if number not in loop.cancelled_timers]
        for task in loop.tasks:
            # Invariant: every task in state "sleeping" has exactly one live timer
            assert live.count(task) == (task.state == "sleeping"), task


def run_checked(stage, coro, loop=None):
    """Run `coro`, checking the invariants after every tick."""
    loop = loop or stage.Loop()
    tick = loop.tick
    seen = set()

    def checked_tick():
        seen.update(loop.tasks, loop.ready)
        tick()
        check_invariants(loop, seen)
    loop.tick = checked_tick
    return loop.run(coro)


@pytest.mark.parametrize("stage", TASK_STAGES)
def test_join_returns_the_child_result(stage):
    async def child(x):
        await stage.pause()
        return x * 2

    async def main():
        task = await stage.spawn(child(21))
        return await stage.join(task)
    assert run_checked(stage, main()) == 42


@pytest.mark.parametrize("stage", TASK_STAGES)
def test_join_reraises_the_childs_own_exception(stage):
    error = ValueError("child failed")

    async def child():
        await stage.pause()
        raise error

    async def main():
        task = await stage.spawn(child())
        try:
            await stage.join(task)
        except ValueError as exc:
            return exc, task.state
    exc, state = run_checked(stage, main())
    assert exc is error and state == "done"


@pytest.mark.parametrize("stage", TASK_STAGES)
def test_joining_a_finished_task_returns_at_once(stage):
    """The essay's race: the child ends before the parent asks to join it."""
    events = []

    async def child():
        events.append("child ends")
        return "result"

    async def main():
        task = await stage.spawn(child())
        for _ in range(3):
            await stage.pause()
        events.append(f"child is {task.state}")
        events.append(await stage.join(task))
        events.append(await stage.join(task))     # and again: still there
    run_checked(stage, main())
    assert events == ["child ends", "child is done", "result", "result"]


@pytest.mark.parametrize("stage", TASK_STAGES)
def test_several_joiners_all_wake_in_order(stage):
    events = []

    async def slow():
        for _ in range(3):
            await stage.pause()
        return "slow result"

    async def joiner(name, task):
        events.append(f"{name} waits")
        events.append(f"{name} got {await stage.join(task)}")

    async def main():
        target = await stage.spawn(slow())
        joiners = [await stage.spawn(joiner(n, target)) for n in ("x", "y", "z")]
        for task in joiners:
            await stage.join(task)
    run_checked(stage, main())
    assert events == ["x waits", "y waits", "z waits",
                      "x got slow result", "y got slow result", "z got slow result"]


@pytest.mark.parametrize("stage", TASK_STAGES)
def test_several_joiners_all_get_the_exception(stage):
    error = OSError("boom")

    async def fails():
        await stage.pause()
        raise error

    async def joiner(task):
        try:
            await stage.join(task)
        except OSError as exc:
            return exc

    async def main():
        target = await stage.spawn(fails())
        joiners = [await stage.spawn(joiner(target)) for _ in range(3)]
        return [await stage.join(task) for task in joiners]
    with warnings.catch_warnings():
        warnings.simplefilter("error")            # nothing is left unretrieved
        assert run_checked(stage, main()) == [error, error, error]


@pytest.mark.parametrize("stage", TASK_STAGES)
def test_a_crash_ends_neither_the_loop_nor_its_siblings(stage):
    events = []

    async def crasher():
        events.append("crasher runs")
        raise ZeroDivisionError

    async def sibling():
        for i in range(3):
            events.append(f"sibling {i}")
            await stage.pause()
        return "sibling done"

    async def main():
        await stage.spawn(crasher())
        task = await stage.spawn(sibling())
        return await stage.join(task)
    with pytest.warns(stage.UnretrievedWarning) as record:
        assert run_checked(stage, main()) == "sibling done"
    assert events == ["crasher runs", "sibling 0", "sibling 1", "sibling 2"]
    assert len(record) == 1
    assert "crasher" in str(record[0].message)
    assert "ZeroDivisionError" in str(record[0].message)


@pytest.mark.parametrize("stage", TASK_STAGES)
def test_unretrieved_failures_are_reported_once_each_in_order(stage):
    async def fail(n):
        raise ValueError(n)

    async def main():
        await stage.spawn(fail(1))
        await stage.spawn(fail(2))
        joined = await stage.spawn(fail(3))
        try:
            await stage.join(joined)
        except ValueError:
            pass
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        run_checked(stage, main())
    assert [str(w.message) for w in record] == [
        "<Task 2 test_unretrieved_failures_are_reported_once_each_in_order.<locals>.fail done>"
        " failed and nobody joined it: ValueError(1)",
        "<Task 3 test_unretrieved_failures_are_reported_once_each_in_order.<locals>.fail done>"
        " failed and nobody joined it: ValueError(2)",
    ]


@pytest.mark.parametrize("stage", TASK_STAGES)
@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit])
def test_stopping_the_program_is_not_a_task_failure(stage, stop):
    """KeyboardInterrupt and SystemExit leave run() at once; other tasks stop too."""
    events = []

    async def sibling():
        for i in range(5):
            events.append(i)
            await stage.pause()

    async def stopper():
        await stage.pause()
        raise stop

    async def main():
        await stage.spawn(sibling())
        await stage.join(await stage.spawn(stopper()))
        events.append("main goes on")
    with pytest.raises(stop):
        stage.run(main())
    assert events == [0, 1, 2]                      # tick 4 is the last


@pytest.mark.parametrize("stage", TASK_STAGES)
def test_main_task_failure_is_raised_not_warned(stage):
    async def main():
        raise LookupError("main")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(LookupError, match="main"):
            run_checked(stage, main())


@pytest.mark.parametrize("stage", TASK_STAGES)
def test_joining_yourself_is_a_clear_error(stage):
    async def main():
        me = await stage.current()
        try:
            await stage.join(me)
        except RuntimeError as exc:
            return str(exc)
    assert "cannot join itself" in run_checked(stage, main())


@pytest.mark.parametrize("stage", TASK_STAGES)
def test_join_and_spawn_refuse_wrong_arguments(stage):
    async def main():
        errors = []
        for bad in (lambda: stage.join("not a task"), lambda: stage.spawn(print)):
            try:
                await bad()
            except TypeError as exc:
                errors.append(str(exc))
        return errors
    assert run_checked(stage, main()) == [
        "join() needs a Task, got 'not a task'",
        "spawn() needs a coroutine object, got <built-in function print>",
    ]


@pytest.mark.parametrize("stage", TASK_STAGES)
def test_tasks_interleave_round_robin(stage):
    """N ready tasks that pause take strict turns, in the order they were spawned."""
    log = []

    async def worker(name):
        for i in range(3):
            log.append(f"{name}{i}")
            await stage.pause()

    async def main():
        log.append("main")
    loop = stage.Loop()
    for name in "abcd":
        loop.spawn_task(worker(name))
    run_checked(stage, main(), loop)
    assert log == ["a0", "b0", "c0", "d0", "main",
                   "a1", "b1", "c1", "d1", "a2", "b2", "c2", "d2"]


@pytest.mark.parametrize("stage", TASK_STAGES)
def test_a_task_woken_during_a_tick_runs_in_the_next(stage):
    loop = stage.Loop()
    log = []

    async def child():
        log.append(("child", loop.ticks))

    async def parent():
        log.append(("parent", loop.ticks))
        task = await stage.spawn(child())
        log.append(("parent again", loop.ticks))
        await stage.join(task)
        log.append(("parent joined", loop.ticks))
    run_checked(stage, parent(), loop)
    # The child, spawned in tick 1, runs in tick 2, ahead of its parent (FIFO).
    # The parent's join is answered at once during tick 2, but the parent
    # goes on only in tick 3: nobody runs twice in one tick.
    assert log == [("parent", 1), ("child", 2), ("parent again", 2), ("parent joined", 3)]


@pytest.mark.parametrize("stage", TASK_STAGES)
def test_a_join_cycle_is_reported_as_deadlock(stage):
    async def child(parent):
        await stage.join(parent)

    async def main():
        me = await stage.current()
        await stage.join(await stage.spawn(child(me)))
    with pytest.raises(RuntimeError, match="deadlock"):
        stage.run(main())


@pytest.mark.parametrize("stage", TASK_STAGES)
def test_children_outlive_main(stage):
    events = []

    async def child():
        for _ in range(3):
            await stage.pause()
        events.append("child finished")

    async def main():
        await stage.spawn(child())
        events.append("main returns")
        return "main result"
    assert run_checked(stage, main()) == "main result"
    assert events == ["main returns", "child finished"]


@pytest.mark.parametrize("stage", TASK_STAGES)
def test_task_states_are_readable(stage):
    seen = []

    async def child():
        await stage.pause()

    async def main():
        me = await stage.current()
        task = await stage.spawn(child())
        seen.append((me.state, task.state))
        await stage.join(task)
        seen.append((me.state, task.state))
        return repr(task)
    assert run_checked(stage, main()).startswith("<Task 2 ")
    assert seen == [("running", "ready"), ("running", "done")]


# Exercises

def test_ex1_strict_loop_raises_what_nobody_received():
    from stages.ch04_spawn import spawn

    first, second = ValueError(1), KeyError(2)

    async def fail(exc):
        raise exc

    async def main():
        await spawn(fail(first))
        await spawn(fail(second))
        return "fine"
    with pytest.raises(ExceptionGroup) as caught:
        StrictLoop().run(main())
    assert caught.value.exceptions == (first, second)


def test_ex1_strict_loop_puts_main_error_first_and_passes_clean_runs():
    from stages.ch04_spawn import spawn
    side, mine = ValueError("side"), RuntimeError("main")

    async def fail(exc):
        raise exc

    async def main():
        await spawn(fail(side))
        raise mine
    with pytest.raises(ExceptionGroup) as caught:
        StrictLoop().run(main())
    assert caught.value.exceptions == (mine, side)

    async def clean():
        return 5
    assert StrictLoop().run(clean()) == 5


def test_ex2_gather_returns_results_in_order_and_runs_concurrently():
    from stages.ch04_spawn import pause, run
    log = []

    async def work(name, steps):
        for i in range(steps):
            log.append(name)
            await pause()
        return name * steps

    async def main():
        return await gather(work("a", 3), work("b", 1), work("c", 2))
    assert run(main()) == ["aaa", "b", "cc"]
    # Interleaved, not one after the other: b and c start before a is done.
    assert log == ["a", "a", "b", "a", "c", "c"]


def test_ex2_gather_raises_the_first_failure_in_order():
    from stages.ch04_spawn import pause, run
    early, late = ValueError("late in order"), KeyError("first in order")

    async def fail(exc, steps):
        for _ in range(steps):
            await pause()
        raise exc

    async def main():
        return await gather(fail(late, 5), fail(early, 0))
    with pytest.warns(Warning):                       # `early` was never joined
        with pytest.raises(KeyError) as caught:
            run(main())
    assert caught.value is late
