"""The timer queue (tale/timers.py) alone, and against a model that knows nothing of heaps."""
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tale
from tale import traps
from tale.kernel import Kernel
from tale.testing import VirtualClock
from tale.timers import COMPACT_AT, TimerQueue


def test_due_timers_come_out_earliest_first_and_ties_in_the_order_set():
    q = TimerQueue()
    for deadline, task in [(3.0, 'c'), (1.0, 'a1'), (2.0, 'b'), (1.0, 'a2'), (9.0, 'z')]:
        q.add(deadline, task)
    assert q.first() == 1.0
    assert list(q.due(3.0)) == [('a1', None), ('a2', None), ('b', None), ('c', None)]
    assert len(q) == 1 and q.first() == 9.0


def test_a_killed_timer_never_fires_and_the_first_deadline_skips_it():
    q = TimerQueue()
    early = q.add(1.0, 'early', KeyError)
    q.add(2.0, 'late')
    q.kill(early)
    q.kill(early)                       # twice, or after it fired: nothing happens
    assert len(q) == 1 and q.first() == 2.0
    assert list(q.due(5.0)) == [('late', None)]
    q.check()


def test_an_infinite_deadline_is_a_number_that_kills_nothing():
    q = TimerQueue()
    number = q.add(math.inf, 'never')
    assert number == q.last and not q.heap and len(q) == 0 and q.first() is None
    q.kill(number)
    assert q.add(1.0, 'next') == number + 1


def test_many_dead_timers_are_swept_out_and_the_live_ones_kept():
    q = TimerQueue()
    numbers = [q.add(float(i), i) for i in range(10 * COMPACT_AT)]
    for number in numbers[1:]:          # all but the earliest
        q.kill(number)
        dead = len(q.heap) - len(q)
        assert dead <= COMPACT_AT or 2 * dead <= len(q.heap)
    assert len(q.heap) <= COMPACT_AT + 1
    q.check()
    assert list(q.due(math.inf)) == [(0, None)]


def test_a_sweep_during_due_keeps_the_heap_a_heap():
    """A due timer whose handling kills many others (a cancelled group)."""
    q = TimerQueue()
    others = [q.add(100.0 + i, i) for i in range(4 * COMPACT_AT)]
    q.add(1.0, 'first')
    q.add(2.0, 'second')
    fired = []
    for task, _ in q.due(50.0):
        fired.append(task)
        for number in others:
            q.kill(number)
    assert fired == ['first', 'second'] and len(q) == 0
    q.check()


def test_the_kernel_keeps_no_timer_of_a_cancelled_sleeper():
    k = Kernel(VirtualClock())

    async def sleeper():
        await tale.sleep(1000)

    async def main():
        tasks = [await tale.spawn(sleeper) for _ in range(3 * COMPACT_AT)]
        await tale.sleep(0)
        for task in tasks:
            await traps._cancel(task)   # cancel, without waiting
        await tale.sleep(0)
        k.check_invariants(from_task=True)
        return len(k._timers), len(k._timers.heap)
    live, entries = k.run(main)
    assert live == 0 and entries <= COMPACT_AT


# -- against a model ---------------------------------------------------------------------

ops = st.lists(st.one_of(
    st.tuples(st.just('add'), st.integers(0, 20), st.booleans()),
    st.tuples(st.just('kill'), st.integers(0, 400)),
    st.tuples(st.just('due'), st.integers(0, 20)),
    st.tuples(st.just('first'),),
), max_size=400)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_the_queue_behaves_as_a_sorted_list_of_live_timers(program):
    """The model: a list of (deadline, number, task) for the live timers, sorted
    when asked; kill removes by number. Small integer deadlines make ties
    frequent; an occasional infinite one is no timer."""
    q, model, handles, most = TimerQueue(), [], [], 0
    for op in program:
        if op[0] == 'add':
            deadline = math.inf if op[1] == 20 else float(op[1])
            task = object()
            number = q.add(deadline, task, None if op[2] else ValueError)
            handles.append(number)
            if deadline != math.inf:
                model.append((deadline, number, task, None if op[2] else ValueError))
        elif op[0] == 'kill':
            if handles:
                number = handles[op[1] % len(handles)]
                q.kill(number)
                model = [m for m in model if m[1] != number]
        elif op[0] == 'due':
            now = float(op[1])
            expected = [(t, e) for d, n, t, e in sorted(model, key=lambda m: m[:2])
                        if d <= now]
            assert list(q.due(now)) == expected
            model = [m for m in model if m[0] > now]
        else:
            assert q.first() == (min(m[0] for m in model) if model else None)
        assert len(q) == len(model)
        most = max(most, len(model))
        assert len(q.heap) - len(q) <= max(COMPACT_AT, most)    # dead ones stay few
        q.check()
        assert sorted(id(t) for _, t, _ in q.live()) == sorted(id(m[2]) for m in model)
