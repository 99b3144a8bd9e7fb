"""The solutions to chapter 13's exercises."""
import tale
from solutions.ch13_ex1 import Sequencer
from solutions.ch13_ex2 import elapsed
from tale.testing import VirtualClock


def test_sequencer_forces_the_order_of_blocks_in_different_tasks():
    log = []

    async def worker(seq, name, positions):
        for position in positions:
            async with seq(position):
                log.append((position, name))
                await tale.sleep(0)

    async def main():
        seq = Sequencer()
        async with tale.TaskGroup() as g:
            await g.spawn(worker, seq, 'late', [1, 3])
            await g.spawn(worker, seq, 'early', [0, 2])
    tale.run(main, clock=VirtualClock())
    assert log == [(0, 'early'), (1, 'late'), (2, 'early'), (3, 'late')]


def test_elapsed_measures_exact_virtual_time():
    async def main():
        with elapsed() as whole:
            await tale.sleep(1.5)
            with elapsed() as part:
                await tale.timeout_after(10, tale.sleep, 2.25)
        return whole.seconds, part.seconds
    assert tale.run(main, clock=VirtualClock(start=1000)) == (3.75, 2.25)
