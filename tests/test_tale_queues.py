"""Queues: FIFO, LIFO, priority, backpressure, join, cancelled getters."""
import pytest

import tale
from tale.testing import VirtualClock


def run(main, *args):
    return tale.run(main, *args, clock=VirtualClock())


def test_fifo_lifo_priority_order():
    async def drain(q):
        return [q.get_nowait() for _ in range(q.qsize())]

    async def main():
        results = []
        for cls in (tale.Queue, tale.LifoQueue, tale.PriorityQueue):
            q = cls()
            for item in (3, 1, 2):
                await q.put(item)
            results.append(await drain(q))
        return results
    assert run(main) == [[3, 1, 2], [2, 1, 3], [1, 2, 3]]


def test_backpressure_slows_the_producer_to_the_consumer():
    log = []

    async def producer(q):
        for i in range(4):
            await q.put(i)
            log.append(('put', i, tale.clock()))

    async def consumer(q):
        for _ in range(4):
            await tale.sleep(1)
            log.append(('got', await q.get(), tale.clock()))

    async def main():
        q = tale.Queue(maxsize=1)
        async with tale.TaskGroup() as g:
            await g.spawn(producer, q)
            await g.spawn(consumer, q)
    run(main)
    assert log == [('put', 0, 0.0), ('got', 0, 1.0), ('put', 1, 1.0),
                   ('got', 1, 2.0), ('put', 2, 2.0), ('got', 2, 3.0),
                   ('put', 3, 3.0), ('got', 3, 4.0)]


def test_getters_are_served_in_order():
    log = []

    async def getter(q, name):
        log.append((name, await q.get()))

    async def main():
        q = tale.Queue()
        for name in 'abc':
            await tale.spawn(getter, q, name)
        await tale.sleep(0)
        for item in (1, 2, 3):
            await q.put(item)
        await tale.sleep(0)
    run(main)
    assert log == [('a', 1), ('b', 2), ('c', 3)]


def test_a_getter_cancelled_after_being_handed_an_item_gives_it_back():
    log = []

    async def getter(q, name):
        try:
            log.append((name, await q.get()))
        except tale.CancelledError:
            log.append((name, 'cancelled'))

    async def main():
        q = tale.Queue()
        a = await tale.spawn(getter, q, 'a')
        await tale.spawn(getter, q, 'b')
        await tale.sleep(0)
        await q.put('item')        # handed to a ...
        await a.cancel()           # ... who never runs: b gets it
        await tale.sleep(0)
        return q.qsize()
    assert run(main) == 0
    assert log == [('a', 'cancelled'), ('b', 'item')]


def test_a_putter_cancelled_after_being_promised_a_place_passes_it_on():
    async def main():
        q = tale.Queue(maxsize=1)
        await q.put('first')
        a = await tale.spawn(q.put, 'a')
        b = await tale.spawn(q.put, 'b')
        await tale.sleep(0)
        assert q.full()
        assert q.get_nowait() == 'first'   # a place is kept for a ...
        await a.cancel()                   # ... who gives it to b
        await b.join()
        return q.get_nowait(), q.empty()
    assert run(main) == ('b', True)


def test_join_waits_for_task_done():
    log = []

    async def worker(q):
        while True:
            item = await q.get()
            await tale.sleep(item)
            log.append(item)
            q.task_done()

    async def main():
        q = tale.Queue()
        await tale.spawn(worker, q, daemon=True)
        for item in (1, 2):
            await q.put(item)
        await q.join()
        with pytest.raises(ValueError, match='task_done'):
            q.task_done()
        return tale.clock()
    assert run(main) == 3.0
    assert log == [1, 2]


def test_nowait_errors():
    async def main():
        q = tale.Queue(maxsize=1)
        with pytest.raises(RuntimeError, match='empty'):
            q.get_nowait()
        q.put_nowait(1)
        with pytest.raises(RuntimeError, match='full'):
            q.put_nowait(2)
        return q.full()
    assert run(main) is True


def test_blocked_putters_get_their_places_in_arrival_order():
    log = []

    async def putter(q, name):
        await q.put(name)
        log.append(('put', name, tale.clock()))

    async def main():
        q = tale.Queue(maxsize=1)
        await q.put('first')
        assert q.full() and q.qsize() == 1 and not q.empty()
        for name in 'abc':
            await tale.spawn(putter, q, name)
        await tale.sleep(0)
        assert log == []                    # all three wait: the queue is full
        for _ in range(4):
            await tale.sleep(1)
            log.append(('got', await q.get(), tale.clock()))
        return q.qsize(), q.empty(), q.full()
    assert run(main) == (0, True, False)
    assert log == [('got', 'first', 1.0), ('put', 'a', 1.0),
                   ('got', 'a', 2.0), ('put', 'b', 2.0),
                   ('got', 'b', 3.0), ('put', 'c', 3.0),
                   ('got', 'c', 4.0)]


def test_priority_queue_gives_items_in_heapq_order():
    import heapq
    import random
    rng = random.Random(7)
    items = [(rng.randrange(5), rng.randrange(100), str(i)) for i in range(200)]
    expected = list(items)
    heapq.heapify(expected)
    expected = [heapq.heappop(expected) for _ in range(len(items))]

    async def main():
        q = tale.PriorityQueue()
        for item in items:
            await q.put(item)
        return [await q.get() for _ in range(q.qsize())]
    assert run(main) == expected


def test_qsize_empty_full_follow_puts_and_gets():
    async def main():
        q = tale.LifoQueue(maxsize=2)
        seen = [(q.qsize(), q.empty(), q.full())]
        await q.put('a')
        seen.append((q.qsize(), q.empty(), q.full()))
        await q.put('b')
        seen.append((q.qsize(), q.empty(), q.full()))
        seen.append(await q.get())
        seen.append((q.qsize(), q.empty(), q.full()))
        return seen
    assert run(main) == [(0, True, False), (1, False, False), (2, False, True),
                         'b', (1, False, False)]


def test_an_item_given_back_by_a_cancelled_getter_keeps_its_place_and_the_bound():
    log = []

    async def getter(q):
        await q.get()

    async def main():
        q = tale.Queue(maxsize=2)
        a = await tale.spawn(getter, q)
        await tale.sleep(0)
        await q.put(1)                  # handed to a, which has not run yet
        q.put_nowait(2)
        log.append(('full after 1, 2', q.full()))
        with pytest.raises(RuntimeError, match='full'):
            q.put_nowait(3)             # 1 still takes a place while it is in a's hands
        await a.cancel()                # a gives 1 back: it was first, it stays first
        log.append(('size', q.qsize()))
        log.append([q.get_nowait(), q.get_nowait()])
    run(main)
    assert log == [('full after 1, 2', True), ('size', 2), [1, 2]]


@pytest.mark.parametrize('cls, order', [(tale.Queue, [1, 2]), (tale.LifoQueue, [2, 1]),
                                        (tale.PriorityQueue, [1, 2])])
def test_an_item_given_back_comes_out_where_its_kind_of_queue_puts_it(cls, order):
    async def getter(q):
        await q.get()

    async def main():
        q = cls()
        a = await tale.spawn(getter, q)
        await tale.sleep(0)
        await q.put(1)                  # handed to a ...
        await q.put(2)
        await a.cancel()                # ... which gives it back
        return [q.get_nowait(), q.get_nowait()]
    assert run(main) == order


def test_a_putter_waits_while_an_item_is_in_flight_and_gets_the_place_after():
    log = []

    async def getter(q):
        log.append(('got', await q.get()))

    async def main():
        q = tale.Queue(maxsize=1)
        await tale.spawn(getter, q)
        await tale.sleep(0)
        await q.put(1)                  # handed to the getter, not yet taken
        log.append(('full', q.full()))  # 1 still counts: a put now must wait
        await q.put(2)
        log.append(('put', 2))
        return q.qsize(), q.full()
    assert run(main) == (1, True)
    assert log == [('full', True), ('got', 1), ('put', 2)]
