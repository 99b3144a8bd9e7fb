"""The solutions to chapter 12's exercises."""
import tale
from solutions.ch12_ex1 import Barrier
from solutions.ch12_ex2 import pool_map
from tale.testing import VirtualClock


def test_barrier_releases_everyone_when_the_last_arrives():
    log = []

    async def party(barrier, name, seconds):
        await tale.sleep(seconds)
        index = await barrier.wait()
        log.append((name, index, tale.clock()))

    async def main():
        barrier = Barrier(3)
        async with tale.TaskGroup() as g:
            for name, seconds in (('a', 1), ('b', 3), ('c', 2)):
                await g.spawn(party, barrier, name, seconds)
        log.append('second round')
        async with tale.TaskGroup() as g:
            for name in 'xyz':
                await g.spawn(party, barrier, name, 0)
    tale.run(main, clock=VirtualClock())
    assert log == [('b', 2, 3.0), ('a', 0, 3.0), ('c', 1, 3.0), 'second round',
                   ('z', 2, 3.0), ('x', 0, 3.0), ('y', 1, 3.0)]


def test_pool_map_limits_concurrency_and_keeps_order():
    running, peak = [], []

    async def job(x):
        running.append(x)
        peak.append(len(running))
        await tale.sleep(1)
        running.remove(x)
        return x * 10

    async def main():
        return await pool_map(job, range(7), 3), tale.clock()
    assert tale.run(main, clock=VirtualClock()) == ([0, 10, 20, 30, 40, 50, 60], 3.0)
    assert max(peak) == 3
