"""Timeouts and cancellation meeting the primitives: nothing leaks, nothing is lost."""
import pytest

import tale
from tale.testing import VirtualClock


def test_timeouts_around_every_kind_of_wait():
    log = []

    async def main():
        q = tale.Queue()
        async with tale.move_on_after(1) as s:
            await q.get()
        log.append(('get timed out', s.expired, len(q._getters)))
        await q.put(1)
        log.append(('the item stays', q.qsize()))

        lock = tale.Lock()
        await lock.acquire()

        async def taker(name, seconds):
            async with tale.move_on_after(seconds):
                async with lock:
                    log.append((name, 'got the lock at', tale.clock()))
        a = await tale.spawn(taker, 'a', 1)
        b = await tale.spawn(taker, 'b', 10)
        await tale.sleep(2)                 # a gives up at 2.0, b still waits
        lock.release()
        await b.join()
        await a.join()
        log.append(('lock free', not lock.locked()))

        event = tale.Event()
        log.append(('event wait', await tale.move_on_after(3, event.wait), tale.clock()))

        cond = tale.Condition()
        async with cond:
            async with tale.move_on_after(1) as s:
                await cond.wait_for(lambda: False)
            log.append(('condition timed out, lock held', s.expired, cond.locked()))

    tale.run(main, clock=VirtualClock())
    assert log == [
        ('get timed out', True, 0),
        ('the item stays', 1),
        ('b', 'got the lock at', 3.0),
        ('lock free', True),
        ('event wait', None, 6.0),
        ('condition timed out, lock held', True, True),
    ]


def test_timeouts_inside_group_children_and_slow_cleanup_on_cancel():
    async def child(seconds):
        async with tale.move_on_after(seconds):
            await tale.sleep(100)
        return seconds

    async def stubborn():
        try:
            await tale.sleep(100)
        except tale.CancelledError:
            await tale.sleep(5)             # cleanup takes a while
            raise

    async def owner():
        async with tale.TaskGroup() as g:
            await g.spawn(stubborn)

    async def main():
        async with tale.TaskGroup() as g:
            tasks = [await g.spawn(child, n) for n in (1, 2)]
        results = [t.result() for t in tasks], tale.clock()
        task = await tale.spawn(owner)
        await tale.sleep(1)
        started = tale.clock()
        await task.cancel()                 # waits for the cleanup too
        return results, task.cancelled(), tale.clock() - started
    assert tale.run(main, clock=VirtualClock()) == (([1, 2], 2.0), True, 5.0)


def test_condition_wait_keeps_the_outer_timeout_when_an_inner_one_fires_during_reacquire():
    # The outer deadline cancels the wait at 1; taking the lock back takes
    # until 10, and the inner deadline fires at 2 meanwhile.  The outer
    # block must still be the one that reports its expiry.
    async def holder(cond):
        await tale.sleep(0.5)
        async with cond:
            await tale.sleep(10)

    async def main():
        cond = tale.Condition()
        await tale.spawn(holder, cond)
        try:
            async with tale.timeout_after(1) as outer:
                async with tale.timeout_after(2) as inner:
                    async with cond:
                        await cond.wait()
        except TimeoutError:
            pass
        return outer.expired, inner.expired, tale.clock()
    assert tale.run(main, clock=VirtualClock()) == (True, False, 10.5)


def _waits():
    """Each kind of wait, as (name, set-up in main, the wait in the task)."""
    import socket

    def sock():
        a, b = socket.socketpair()
        return a, b

    return {
        'sleep': (lambda: None, lambda _: tale.sleep(100)),
        'join': (lambda: None, lambda _: _join_forever()),
        'wait_readable': (sock, lambda pair: tale.wait_readable(pair[0])),
        'Event.wait': (tale.Event, lambda e: e.wait()),
        'Lock.acquire': (lambda: _locked(tale.Lock()), lambda lock: lock.acquire()),
        'Semaphore.acquire': (lambda: tale.Semaphore(0), lambda s: s.acquire()),
        'Condition.wait': (tale.Condition, lambda c: _cond_wait(c)),
        'Queue.get': (tale.Queue, lambda q: q.get()),
        'Queue.put': (lambda: _filled(tale.Queue(1)), lambda q: q.put('more')),
        'TaskGroup': (lambda: None, lambda _: _group_forever()),
    }


async def _locked(lock):
    await lock.acquire()         # main holds it: the victim must queue
    return lock


def _filled(q):
    q.put_nowait('first')
    return q


async def _cond_wait(cond):
    async with cond:
        await cond.wait()


async def _join_forever():
    other = await tale.spawn(tale.sleep, 100, daemon=True)
    await other.join()


async def _group_forever():
    async with tale.TaskGroup() as g:
        await g.spawn(tale.sleep, 100)


@pytest.mark.parametrize('kind', sorted(_waits()))
def test_cancel_a_task_wherever_it_waits(kind):
    setup, wait = _waits()[kind]
    log = []

    async def victim(thing):
        try:
            await wait(thing)
            log.append('woke?!')
        except tale.CancelledError:
            log.append(('cancelled at', tale.clock()))
            raise

    async def main():
        thing = setup()
        if hasattr(thing, '__await__'):
            thing = await thing
        task = await tale.spawn(victim, thing)
        await tale.sleep(3)
        assert task.state.startswith('waiting'), task.state
        await task.cancel()
        log.append((task.done(), task.cancelled(), tale.clock()))
        if isinstance(thing, tuple):
            for s in thing:
                s.close()
    tale.run(main, clock=VirtualClock())
    assert log == [('cancelled at', 3.0), (True, True, 3.0)]


def test_cancel_a_task_that_has_not_started_and_one_that_has_finished():
    log = []

    async def never_runs():
        log.append('ran?!')

    async def quick():
        return 'done'

    async def main():
        early = await tale.spawn(never_runs)
        await early.cancel()                # before its first step
        done = await tale.spawn(quick)
        await done.wait()
        await done.cancel()                 # too late: nothing changes
        return early.cancelled(), done.cancelled(), done.result()
    assert tale.run(main, clock=VirtualClock()) == (True, False, 'done')
    assert log == []


@pytest.mark.parametrize('seed', range(20))
def test_random_workloads_leave_nothing_behind(seed):
    # Tasks take locks, permits and items under random deadlines and random
    # outside cancellations.  Afterwards: every lock free, every permit back,
    # no item lost or duplicated, no live timer, the kernel's invariants hold.
    import random
    from tale import kernel
    rng = random.Random(seed)
    k = kernel.Kernel(VirtualClock())
    got = []

    async def worker(n, lock, sem, q, cond, state):
        for _ in range(rng.randrange(1, 6)):
            op = rng.choice(['lock', 'sem', 'get', 'put', 'cond', 'sleep'])
            async with tale.move_on_after(rng.choice([0, 0.5, 1, 2, 5])):
                if op == 'lock':
                    async with lock:
                        await tale.sleep(rng.random())
                elif op == 'sem':
                    async with sem:
                        await tale.sleep(rng.random())
                elif op == 'get':
                    got.append(await q.get())
                elif op == 'put':
                    await q.put((n, rng.random()))
                    state['put'] += 1
                elif op == 'cond':
                    async with cond:
                        await cond.wait_for(lambda: state['put'] > n)
                else:
                    await tale.sleep(rng.random() * 3)
            k.check_invariants(from_task=True)

    async def main():
        lock, sem, q = tale.Lock(), tale.Semaphore(2), tale.Queue(maxsize=2)
        cond, state = tale.Condition(), {'put': 0}
        tasks = [await tale.spawn(worker, n, lock, sem, q, cond, state)
                 for n in range(12)]
        for _ in range(4):
            await tale.sleep(rng.random() * 2)
            await tale.spawn(rng.choice(tasks).cancel)
        for task in tasks:
            await task.wait()
        assert not lock.locked() and sem.value == 2 and not cond.locked()
        assert len(q._getters) == len(q._putters) == 0
        assert q._reserved == q._handed == 0
        assert q.qsize() + len(got) == state['put']       # nothing lost or doubled
        return [t.exception() for t in tasks if not t.cancelled()]
    errors = k.run(main)
    assert errors == [None] * len(errors)
    assert len(k._timers) == 0
    k.check_invariants()
