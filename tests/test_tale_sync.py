"""Synchronisation primitives: FIFO wake-ups, cancelled waiters, context managers."""
import pytest

import tale
from tale.sync import WaitQueue
from tale.testing import VirtualClock


def run(main, *args):
    return tale.run(main, *args, clock=VirtualClock())


def test_wait_queue_wakes_fifo_and_hands_values():
    log = []

    async def waiter(wq, name):
        log.append((name, await wq.wait()))

    async def main():
        wq = WaitQueue()
        for name in 'abc':
            await tale.spawn(waiter, wq, name)
        await tale.sleep(0)
        assert len(wq) == 3
        assert wq.wake(2, 'first two') == 2
        await tale.sleep(0)
        assert wq.wake_all('rest') == 1
        await tale.sleep(0)
        return len(wq)
    assert run(main) == 0
    assert log == [('a', 'first two'), ('b', 'first two'), ('c', 'rest')]


def test_a_waiter_cancelled_while_parked_is_removed():
    async def main():
        wq = WaitQueue()
        task = await tale.spawn(wq.wait)
        await tale.sleep(0)
        await task.cancel()
        return len(wq), wq.wake(1)
    assert run(main) == (0, 0)


def test_a_waiter_cancelled_after_its_wake_up_passes_it_on():
    log = []

    async def waiter(wq, name):
        try:
            log.append((name, await wq.wait()))
        except tale.CancelledError:
            log.append((name, 'cancelled'))

    async def main():
        wq = WaitQueue()
        a = await tale.spawn(waiter, wq, 'a')
        await tale.spawn(waiter, wq, 'b')
        await tale.sleep(0)
        wq.wake(1, 'token')        # picks a ...
        await a.cancel()           # ... which is cancelled before it runs
        await tale.sleep(0)
    run(main)
    assert log == [('a', 'cancelled'), ('b', 'token')]


def test_event_wakes_every_waiter_in_order():
    log = []

    async def waiter(event, name):
        await event.wait()
        log.append((name, tale.clock()))

    async def main():
        event = tale.Event()
        for name in 'abc':
            await tale.spawn(waiter, event, name)
        await tale.sleep(5)
        assert not event.is_set()
        event.set()
        await event.wait()                 # set: returns at once
        event.clear()
        return event.is_set()
    assert run(main) is False
    assert log == [('a', 5.0), ('b', 5.0), ('c', 5.0)]


def test_lock_is_handed_over_in_fifo_order():
    log = []

    async def worker(lock, name):
        async with lock:
            log.append((name, 'in'))
            await tale.sleep(1)
            log.append((name, 'out'))

    async def main():
        lock = tale.Lock()
        async with tale.TaskGroup() as g:
            for name in 'abc':
                await g.spawn(worker, lock, name)
        return lock.locked(), tale.clock()
    assert run(main) == (False, 3.0)
    assert log == [('a', 'in'), ('a', 'out'), ('b', 'in'), ('b', 'out'),
                   ('c', 'in'), ('c', 'out')]


def test_no_barging_a_late_comer_queues_behind_waiters():
    log = []

    async def take(lock, name):
        async with lock:
            log.append(name)

    async def main():
        lock = tale.Lock()
        await lock.acquire()
        await tale.spawn(take, lock, 'waiter')
        await tale.sleep(0)
        lock.release()                     # handed to 'waiter' ...
        assert lock.locked()
        await take(lock, 'main')           # ... so main, though running, queues
    run(main)
    assert log == ['waiter', 'main']


def test_a_lock_waiter_cancelled_after_the_hand_over_passes_the_lock_on():
    log = []

    async def take(lock, name):
        try:
            async with lock:
                log.append(name)
        except tale.CancelledError:
            log.append(name + ' cancelled')

    async def main():
        lock = tale.Lock()
        await lock.acquire()
        a = await tale.spawn(take, lock, 'a')
        await tale.spawn(take, lock, 'b')
        await tale.sleep(0)
        lock.release()            # the lock now belongs to a ...
        await a.cancel()          # ... cancelled before it could run
        await tale.sleep(0)
        await tale.sleep(0)
        return lock.locked()
    assert run(main) is False
    assert log == ['a cancelled', 'b']


def test_release_of_an_unlocked_lock_is_an_error():
    with pytest.raises(RuntimeError, match='unlocked'):
        tale.Lock().release()


def test_semaphore_admits_n_at_a_time():
    inside = []
    peak = []

    async def worker(sem):
        async with sem:
            inside.append(1)
            peak.append(len(inside))
            await tale.sleep(1)
            inside.pop()

    async def main():
        sem = tale.Semaphore(2)
        async with tale.TaskGroup() as g:
            for _ in range(5):
                await g.spawn(worker, sem)
        return sem.value, tale.clock()
    assert run(main) == (2, 3.0)
    assert max(peak) == 2


def test_bounded_semaphore_refuses_over_release():
    async def main():
        sem = tale.BoundedSemaphore(1)
        await sem.acquire()
        sem.release()
        with pytest.raises(ValueError, match='too many'):
            sem.release()
        return sem.value
    assert run(main) == 1


def test_condition_wait_notify_and_wait_for():
    log = []

    async def consumer(cond, items, name):
        async with cond:
            got = await cond.wait_for(lambda: items)    # the predicate's value
            log.append((name, got is items, items.pop(0), tale.clock()))

    async def main():
        cond = tale.Condition()
        items = []
        for name in 'ab':
            await tale.spawn(consumer, cond, items, name)
        await tale.sleep(1)
        async with cond:
            items.append('x')
            cond.notify()
        await tale.sleep(1)
        async with cond:
            items.append('y')
            cond.notify_all()
        await tale.sleep(0)
    run(main)
    assert log == [('a', True, 'x', 1.0), ('b', True, 'y', 2.0)]


def test_condition_needs_its_lock_and_holds_it_again_when_cancelled():
    async def waiter(cond):
        async with cond:
            try:
                await cond.wait()
            except tale.CancelledError:
                assert cond.locked()
                raise

    async def main():
        cond = tale.Condition()
        with pytest.raises(RuntimeError, match='without holding'):
            await cond.wait()
        with pytest.raises(RuntimeError, match='without holding'):
            cond.notify()
        task = await tale.spawn(waiter, cond)
        await tale.sleep(1)
        async with cond:                 # we hold the lock while it is cancelled
            await tale.spawn(task.cancel)
            await tale.sleep(1)
            assert not task.done()       # it waits for the lock we hold
        await task.wait()
        return task.cancelled(), cond.locked()
    assert run(main) == (True, False)


# FIFO fairness and cancelled waiters, primitive by primitive.

def test_semaphore_hands_permits_in_arrival_order():
    log = []

    async def worker(sem, name):
        await sem.acquire()
        log.append((name, tale.clock()))

    async def main():
        sem = tale.Semaphore(0)
        for name in 'abcd':
            await tale.spawn(worker, sem, name)
        await tale.sleep(0)
        for _ in range(4):
            await tale.sleep(1)
            sem.release()
        await tale.sleep(0)
        return sem.value
    assert run(main) == 0
    assert log == [('a', 1.0), ('b', 2.0), ('c', 3.0), ('d', 4.0)]


def test_condition_notify_wakes_waiters_in_arrival_order():
    log = []

    async def waiter(cond, name):
        async with cond:
            await cond.wait()
            log.append(name)

    async def main():
        cond = tale.Condition()
        for name in 'abc':
            await tale.spawn(waiter, cond, name)
        await tale.sleep(0)
        for _ in range(3):
            async with cond:
                cond.notify()
            await tale.sleep(0)
            log.append('-')
    run(main)
    assert log == ['a', '-', 'b', '-', 'c', '-']


async def _sem_wait(prim):
    await prim.acquire()


async def _sem_wake(prim):
    prim.release()


async def _cond_wait(prim):
    async with prim:
        await prim.wait()


async def _cond_wake(prim):
    async with prim:
        prim.notify(1)


async def _lock_wait(prim):
    await prim.acquire()
    prim.release()


async def _lock_wake(prim):
    prim.release()


async def _taken(prim):
    await prim.acquire()        # held by main, so the waiters must queue
    return prim


async def _as_is(prim):
    return prim


WAKE_ONE = {
    'Semaphore': (lambda: _taken(tale.Semaphore(1)), _sem_wait, _sem_wake),
    'BoundedSemaphore': (lambda: _taken(tale.BoundedSemaphore(1)), _sem_wait, _sem_wake),
    'Condition': (lambda: _as_is(tale.Condition()), _cond_wait, _cond_wake),
    'Lock': (lambda: _taken(tale.Lock()), _lock_wait, _lock_wake),
}


@pytest.mark.parametrize('when', ['parked', 'picked'])
@pytest.mark.parametrize('kind', sorted(WAKE_ONE))
def test_a_cancelled_waiter_does_not_eat_a_wake_up_meant_for_another(kind, when):
    make, wait, wake = WAKE_ONE[kind]
    log = []

    async def waiter(prim, name):
        try:
            await wait(prim)
            log.append((name, 'woken'))
        except tale.CancelledError:
            log.append((name, 'cancelled'))
            raise

    async def main():
        prim = await make()
        a = await tale.spawn(waiter, prim, 'a')
        await tale.spawn(waiter, prim, 'b')
        await tale.sleep(0)
        if when == 'parked':             # cancelled while waiting, then one wake-up
            await a.cancel()
            await wake(prim)
        else:                            # the wake-up picks a, cancelled before it runs
            await wake(prim)
            await a.cancel()
        await tale.sleep(0)
        await tale.sleep(0)
    run(main)
    assert log == [('a', 'cancelled'), ('b', 'woken')]


def test_event_a_cancelled_waiter_leaves_the_others_to_be_woken():
    log = []

    async def waiter(event, name):
        try:
            await event.wait()
            log.append((name, 'woken'))
        except tale.CancelledError:
            log.append((name, 'cancelled'))
            raise

    async def main():
        event = tale.Event()
        tasks = [await tale.spawn(waiter, event, name) for name in 'abc']
        await tale.sleep(0)
        await tasks[1].cancel()
        event.set()
        await tale.sleep(0)
    run(main)
    assert log == [('b', 'cancelled'), ('a', 'woken'), ('c', 'woken')]


def test_bounded_semaphore_over_release_after_waiters_raises_value_error():
    async def main():
        sem = tale.BoundedSemaphore(2)
        async with sem:
            async with sem:
                assert sem.locked()
        assert sem.value == 2
        with pytest.raises(ValueError):
            sem.release()
        return sem.value
    assert run(main) == 2
