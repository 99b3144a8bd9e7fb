"""Timeouts and cancel scopes, on a virtual clock (exact times, no waiting)."""
import pytest

import tale
from tale import kernel
from tale.testing import VirtualClock


def run(main, *args):
    return tale.run(main, *args, clock=VirtualClock())


def live_timers(k):
    return len(k._timers)


def test_timeout_after_raises_builtin_timeout_error_at_the_deadline():
    async def main():
        with pytest.raises(TimeoutError):
            async with tale.timeout_after(2.5):
                await tale.sleep(10)
        return tale.clock()
    assert run(main) == 2.5


def test_move_on_after_ends_the_block_quietly():
    async def main():
        log = []
        async with tale.move_on_after(3) as scope:
            await tale.sleep(1)
            log.append('slept 1')
            await tale.sleep(5)
            log.append('never')
        return log, scope.expired, tale.clock()
    assert run(main) == (['slept 1'], True, 3.0)


def test_a_block_that_finishes_in_time_is_untouched_and_leaves_no_timer():
    k = kernel.Kernel(VirtualClock())

    async def main():
        async with tale.timeout_after(5):
            await tale.sleep(1)
        async with tale.move_on_after(5) as scope:
            await tale.sleep(1)
        assert live_timers(k) == 0
        await tale.sleep(10)                 # the old deadlines pass: nothing fires
        return scope.expired, tale.clock()
    assert k.run(main) == (False, 12.0)


def test_function_forms():
    async def slow(x):
        await tale.sleep(10)
        return x

    async def quick(x):
        await tale.sleep(1)
        return x * 2

    async def main():
        assert await tale.timeout_after(5, quick, 4) == 8
        assert await tale.move_on_after(5, slow, 4) is None
        with pytest.raises(TimeoutError):
            await tale.timeout_after(5, slow, 4)
        return tale.clock()
    assert run(main) == 11.0


def test_outer_earlier_deadline_wins_and_the_outer_block_reports_it():
    log = []

    async def main():
        try:
            async with tale.timeout_after(1) as outer:
                try:
                    async with tale.timeout_after(5) as inner:
                        await tale.sleep(10)
                except TimeoutError:
                    log.append('inner reported')
                    raise
        except TimeoutError:
            log.append('outer reported')
        return outer.expired, inner.expired, tale.clock()
    assert run(main) == (True, False, 1.0)
    assert log == ['outer reported']


def test_inner_earlier_deadline_is_reported_by_the_inner_block():
    async def main():
        async with tale.move_on_after(5) as outer:
            async with tale.move_on_after(1) as inner:
                await tale.sleep(10)
            at = tale.clock()
            await tale.sleep(1)
        return inner.expired, outer.expired, at, tale.clock()
    assert run(main) == (True, False, 1.0, 2.0)


def test_simultaneous_deadlines_outer_reports():
    async def main():
        async with tale.move_on_after(1) as outer:
            async with tale.move_on_after(1) as inner:
                await tale.sleep(10)
        return outer.expired, inner.expired
    assert run(main) == (True, False)


def test_outside_cancellation_is_not_mistaken_for_a_timeout():
    log = []

    async def guarded():
        try:
            async with tale.timeout_after(10):
                await tale.sleep(100)
        except TimeoutError:
            log.append('timeout?!')
        except tale.CancelledError:
            log.append(('cancelled', tale.clock()))
            raise

    async def main():
        task = await tale.spawn(guarded)
        await tale.sleep(3)
        await task.cancel()
        return task.cancelled()
    assert run(main) is True
    assert log == [('cancelled', 3.0)]


def test_outside_cancel_and_deadline_in_the_same_tick():
    async def guarded():
        async with tale.move_on_after(2) as scope:
            await tale.sleep(100)
        return scope.expired

    async def canceller(tasks):
        await tale.sleep(2)
        await tasks[0].cancel()

    async def main():
        # The canceller's timer is set first, so in the tick at 2.0 it runs
        # first: the deadline has fired, but the task has not yet seen it.
        tasks = []
        await tale.spawn(canceller, tasks)
        tasks.append(await tale.spawn(guarded))
        await tasks[0].wait()
        return tasks[0].cancelled(), tale.clock()
    assert run(main) == (True, 2.0)


def test_timeout_of_a_task_blocked_on_io_unregisters_it():
    import socket
    k = kernel.Kernel(VirtualClock(io_patience=0.001))

    async def main():
        a, b = socket.socketpair()
        with a, b:
            a.setblocking(False)
            async with tale.move_on_after(5) as scope:
                await tale.wait_readable(a)
            k.check_invariants(from_task=True)
            await tale.sleep(0)             # the registration goes before the next poll
            return scope.expired, tale.clock(), len(k._selector.get_map())
    assert k.run(main) == (True, 5.0, 0)


@pytest.mark.parametrize('outer, inner', [(1, 5), (5, 1), (3, 3)])
def test_no_deadline_outlives_nested_scopes_whichever_fired(outer, inner):
    k = kernel.Kernel(VirtualClock())
    fired = []

    async def main():
        try:
            async with tale.timeout_after(outer) as o:
                try:
                    async with tale.timeout_after(inner) as i:
                        await tale.sleep(10)
                except TimeoutError:
                    fired.append('inner')
                    raise
        except TimeoutError:
            fired.append('outer' if o.expired else 'outer passes it on')
        k.check_invariants(from_task=True)
        assert live_timers(k) == 0, 'a deadline outlived its block'
        await tale.sleep(20)               # nothing is left to fire
        return o.expired, i.expired, tale.clock()
    expected_time = min(outer, inner) + 20.0
    assert k.run(main) == (outer <= inner, inner < outer, expected_time)
    assert fired == (['outer'] if outer <= inner else ['inner', 'outer passes it on'])


def test_function_form_passes_arguments_and_the_result():
    async def add(a, b):
        await tale.sleep(1)
        return a + b

    async def main():
        return (await tale.timeout_after(2, add, 1, 2),
                await tale.move_on_after(2, add, 3, 4), tale.clock())
    assert run(main) == (3, 7, 2.0)


def test_task_timeout_is_a_cancellation_and_except_exception_does_not_swallow_it():
    log = []

    async def main():
        async with tale.move_on_after(1) as scope:
            try:
                await tale.sleep(5)
            except Exception:
                log.append('swallowed')
            finally:
                log.append(('finally', tale.clock()))
        return scope.expired
    assert run(main) is True
    assert log == [('finally', 1.0)]
    assert issubclass(tale.timeouts.TaskTimeout, tale.CancelledError)


@pytest.mark.parametrize('seed', range(30))
def test_random_nests_of_scopes_the_earliest_deadline_reports(seed):
    # Up to five nested scopes with random deadlines around a random sleep:
    # the block ends at the earliest of them all; the scope that expired is
    # the outermost one with the earliest deadline, and only that one.
    import random
    rng = random.Random(seed)
    depth = rng.randrange(1, 6)
    deadlines = [rng.choice([1, 2, 3, 4]) for _ in range(depth)]
    kinds = [rng.choice([tale.timeout_after, tale.move_on_after]) for _ in range(depth)]
    nap = rng.choice([0.5, 2.5, 10])
    k = kernel.Kernel(VirtualClock())
    scopes = []

    async def nest(level):
        if level == depth:
            await tale.sleep(nap)
            return
        async with kinds[level](deadlines[level]) as scope:
            scopes.append(scope)
            await nest(level + 1)

    async def main():
        try:
            await nest(0)
        except TimeoutError:
            pass
        assert live_timers(k) == 0
        return tale.clock()
    end = min(deadlines + [nap])
    assert k.run(main) == end
    expired = [s.expired for s in scopes]
    if nap < min(deadlines):
        assert expired == [False] * depth
    else:
        first = deadlines.index(min(deadlines))
        assert expired == [i == first for i in range(depth)]


@pytest.mark.parametrize('form', ['timeout_after', 'move_on_after', 'move_on_after as scope'])
def test_an_expired_scope_keeps_nothing_of_its_block_alive(form):
    """A deadline that fired leaves no reference cycle behind: what the
    block's frame held is freed at once, not when the cyclic collector runs
    (a server dropping a client that stopped reading kept its response)."""
    import gc
    import weakref

    class Buffer:
        pass

    async def block():
        buffer = Buffer()
        ref = weakref.ref(buffer)
        try:
            if form == 'move_on_after as scope':
                async with tale.move_on_after(1) as scope:
                    await tale.sleep(5)
                assert scope.expired
            else:
                async with getattr(tale, form)(1):
                    await tale.sleep(5)
        except TimeoutError:
            pass
        return ref

    async def main():
        ref = await block()
        return ref() is None
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        assert run(main), 'the buffer waits for the garbage collector'
    finally:
        if was_enabled:
            gc.enable()
