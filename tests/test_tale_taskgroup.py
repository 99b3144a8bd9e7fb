"""Task groups: every child is waited for; a failure cancels the rest."""
import contextlib

import pytest

import tale
from tale.testing import VirtualClock


def run(main, *args):
    return tale.run(main, *args, clock=VirtualClock())


async def nap(log, name, seconds):
    try:
        await tale.sleep(seconds)
        log.append((name, 'done', tale.clock()))
        return name
    except tale.CancelledError:
        log.append((name, 'cancelled', tale.clock()))
        raise


async def fail_after(log, seconds, error):
    await tale.sleep(seconds)
    log.append(('fail', tale.clock()))
    raise error


def test_the_block_waits_for_every_child():
    log = []

    async def main():
        async with tale.TaskGroup() as g:
            a = await g.spawn(nap, log, 'a', 2)
            b = await g.spawn(nap, log, 'b', 1)
        return a.result(), b.result(), tale.clock()
    assert run(main) == ('a', 'b', 2.0)
    assert log == [('b', 'done', 1.0), ('a', 'done', 2.0)]


def test_a_failing_child_cancels_its_siblings_and_the_body():
    log = []
    error = ValueError('boom')

    async def main():
        with pytest.raises(ExceptionGroup) as info:
            async with tale.TaskGroup() as g:
                await g.spawn(nap, log, 'a', 10)
                await g.spawn(fail_after, log, 1, error)
                await nap(log, 'body', 20)
        assert info.value.exceptions == (error,)
        return tale.clock()
    assert run(main) == 1.0
    assert log == [('fail', 1.0), ('a', 'cancelled', 1.0), ('body', 'cancelled', 1.0)]


def test_a_failing_body_cancels_the_children_and_joins_the_group():
    log = []

    async def main():
        with pytest.raises(ExceptionGroup) as info:
            async with tale.TaskGroup() as g:
                await g.spawn(nap, log, 'a', 10)
                await tale.sleep(1)
                raise KeyError('body')
        return info.value.exceptions, tale.clock()
    exceptions, now = run(main)
    assert [type(e) for e in exceptions] == [KeyError] and now == 1.0
    assert log == [('a', 'cancelled', 1.0)]


def test_a_failure_while_being_cancelled_is_reported_too():
    log = []

    async def messy():
        try:
            await tale.sleep(10)
        finally:
            raise OSError('two')

    async def main():
        with pytest.raises(ExceptionGroup) as info:
            async with tale.TaskGroup() as g:
                await g.spawn(messy)
                await g.spawn(fail_after, log, 1, ValueError('one'))
        return [str(e) for e in info.value.exceptions]
    assert run(main) == ['two', 'one']


def test_two_children_due_together_the_first_failure_cancels_the_second():
    log = []

    async def main():
        with pytest.raises(ExceptionGroup) as info:
            async with tale.TaskGroup() as g:
                await g.spawn(fail_after, log, 1, ValueError('one'))
                await g.spawn(fail_after, log, 1, OSError('two'))
        return [str(e) for e in info.value.exceptions]
    assert run(main) == ['one']
    assert log == [('fail', 1.0)]


def test_outside_cancellation_cancels_every_child_and_propagates():
    log = []

    async def owner():
        async with tale.TaskGroup() as g:
            await g.spawn(nap, log, 'a', 10)
            await g.spawn(nap, log, 'b', 10)
        log.append('unreachable')

    async def main():
        task = await tale.spawn(owner)
        await tale.sleep(3)
        await task.cancel()
        return task.cancelled()
    assert run(main) is True
    assert log == [('a', 'cancelled', 3.0), ('b', 'cancelled', 3.0)]


def test_a_timeout_around_a_group_cancels_it_all():
    log = []

    async def main():
        async with tale.move_on_after(2) as scope:
            async with tale.TaskGroup() as g:
                await g.spawn(nap, log, 'a', 1)
                await g.spawn(nap, log, 'b', 5)
        return scope.expired, tale.clock()
    assert run(main) == (True, 2.0)
    assert log == [('a', 'done', 1.0), ('b', 'cancelled', 2.0)]


def test_children_can_spawn_siblings_and_no_task_outlives_the_group():
    log = []
    tasks = []

    async def parent(g):
        tasks.append(await g.spawn(nap, log, 'late', 3))

    async def main():
        async with tale.TaskGroup() as g:
            await g.spawn(parent, g)
        assert all(task.done() for task in tasks)
        with pytest.raises(RuntimeError, match='ended'):
            await g.spawn(nap, log, 'too late', 1)
        return tale.clock()
    assert run(main) == 3.0
    assert log == [('late', 'done', 3.0)]


def test_cancelling_one_child_is_not_a_failure():
    log = []

    async def main():
        async with tale.TaskGroup() as g:
            a = await g.spawn(nap, log, 'a', 10)
            await g.spawn(nap, log, 'b', 2)
            await tale.sleep(1)
            await a.cancel()
        return tale.clock()
    assert run(main) == 2.0
    assert log == [('a', 'cancelled', 1.0), ('b', 'done', 2.0)]


def test_a_group_waiting_for_slow_children_keeps_the_outer_timeout_over_an_inner_one():
    # The outer deadline (1) cancels the body and the child, whose cleanup
    # would take until 10; the inner deadline (2) fires while the group
    # waits, so the group cancels the child again (it ends at 3), and must
    # still raise the outer deadline's cancellation, not the inner one's.
    async def slow_to_stop():
        try:
            await tale.sleep(100)
        finally:
            with contextlib.suppress(tale.CancelledError):
                async with tale.move_on_after(8):      # cleanup that takes time
                    await tale.sleep(9)
            await tale.sleep(1)

    async def main():
        try:
            async with tale.timeout_after(1) as outer:
                async with tale.timeout_after(2) as inner:
                    async with tale.TaskGroup() as g:
                        await g.spawn(slow_to_stop)
                        await tale.sleep(50)
        except TimeoutError:
            pass
        return outer.expired, inner.expired, tale.clock()
    assert run(main) == (True, False, 3.0)


def test_a_failure_during_cancellation_by_a_deadline_goes_on_and_the_deadline_is_caught():
    async def child():
        try:
            await tale.sleep(10)
        finally:
            raise ValueError('cleanup failed')

    async def main():
        with pytest.raises(ExceptionGroup) as info:
            async with tale.move_on_after(1) as scope:
                async with tale.TaskGroup() as g:
                    await g.spawn(child)
                    await tale.sleep(5)
        return [repr(e) for e in info.value.exceptions], scope.expired, tale.clock()
    assert run(main) == (["ValueError('cleanup failed')"], True, 1.0)


# A failure does not replace a cancellation: handling the failure must not
# let a cancelled task, or a block whose deadline expired, run on.

def _fails_in_cleanup():
    async def child():
        try:
            await tale.sleep(10)
        finally:
            raise ValueError('cleanup failed')
    return child


def test_handling_a_groups_failure_does_not_lose_a_cancellation_from_outside():
    log = []

    async def victim():
        try:
            async with tale.TaskGroup() as g:
                await g.spawn(_fails_in_cleanup())
                await tale.sleep(10)
        except* ValueError:
            log.append('handled')
        log.append('ran on after the cancellation')

    async def main():
        task = await tale.spawn(victim)
        await tale.sleep(1)
        await task.cancel()
        return task.cancelled(), tale.clock()
    # what the except* left, a group of nothing but the cancellation, ends
    # the task as cancelled
    assert run(main) == (True, 1.0)
    assert log == ['handled']


def test_handling_a_groups_failure_does_not_lose_a_deadline():
    log = []

    async def main():
        async with tale.move_on_after(1) as scope:
            try:
                async with tale.TaskGroup() as g:
                    await g.spawn(_fails_in_cleanup())
                    await tale.sleep(10)
            except* ValueError:
                log.append('handled')
            await tale.sleep(10)
            log.append('slept past the deadline')
        return scope.expired, tale.clock()
    assert run(main) == (True, 1.0)
    assert log == ['handled']


@pytest.mark.parametrize('seed', range(30))
def test_random_groups_no_child_outlives_and_every_failure_is_reported(seed):
    import random
    rng = random.Random(seed)
    plans = [(rng.choice([0, 1, 2, 3]), rng.random() < 0.3) for _ in range(rng.randrange(1, 7))]
    body_fails = rng.random() < 0.2
    children = []

    async def child(i, seconds, fails):
        await tale.sleep(seconds)
        if fails:
            raise ValueError(i)

    async def main():
        raised = None
        try:
            async with tale.TaskGroup() as g:
                for i, (seconds, fails) in enumerate(plans):
                    children.append(await g.spawn(child, i, seconds, fails))
                await tale.sleep(1.5)
                if body_fails:
                    raise KeyError('body')
        except ExceptionGroup as group:
            raised = group
        assert all(t.done() for t in children)          # nobody outlives the group
        return raised, tale.clock()
    raised, end = tale.run(main, clock=VirtualClock())
    failed = [t for t in children if not t.cancelled() and t.exception() is not None]
    first_failure = min([s for s, f in plans if f] + [1.5 if body_fails else 99])
    if raised is None:
        assert failed == [] and not body_fails
        assert end == max([1.5] + [s for s, _ in plans])
    else:
        reported = list(raised.exceptions)
        expected = ([KeyError] if body_fails and first_failure == 1.5 else [])
        assert [type(e) for e in reported if isinstance(e, KeyError)] == expected
        assert [e for e in reported if isinstance(e, ValueError)] == [
            t.exception() for t in failed]
        assert end == first_failure
        # every child still running at the first failure was cancelled
        assert all(t.cancelled() for t, (s, f) in zip(children, plans) if s > end)


def test_a_child_cancelled_before_it_started_leaves_no_unawaited_coroutine():
    """Found by the generated programs: the body fails right after a spawn,
    the child is cancelled before its first step, and its coroutine was
    never awaited (a RuntimeWarning when collected, far from the cause)."""
    import gc
    import warnings

    async def child():
        pass

    async def main():
        async with tale.TaskGroup() as g:
            await g.spawn(child)
            raise ValueError('the body fails before the child starts')
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter('always')
        with pytest.raises(ExceptionGroup):
            tale.run(main)
        gc.collect()
    assert [str(w.message) for w in seen] == []
