"""The solutions to chapter 11's exercises."""
import pytest

import tale
from solutions.ch11_ex1 import race
from solutions.ch11_ex2 import map_concurrently
from tale.testing import VirtualClock


def test_race_returns_the_fastest_and_cancels_the_others():
    log = []

    def runner(name, seconds):
        async def run():
            try:
                await tale.sleep(seconds)
                return name
            except tale.CancelledError:
                log.append((name, 'cancelled', tale.clock()))
                raise
        return run

    async def main():
        result = await race(runner('slow', 5), runner('fast', 2), runner('slower', 9))
        return result, tale.clock()
    assert tale.run(main, clock=VirtualClock()) == ('fast', 2.0)
    assert log == [('slow', 'cancelled', 2.0), ('slower', 'cancelled', 2.0)]


def test_a_contestant_that_fails_fails_the_race_and_cancels_the_rest():
    log = []

    async def fails():
        await tale.sleep(1)
        raise ValueError('no')

    async def slow():
        try:
            await tale.sleep(2)
            return 'slow'
        except tale.CancelledError:
            log.append(('slow', 'cancelled', tale.clock()))
            raise

    async def main():
        with pytest.raises(ExceptionGroup) as info:
            await race(slow, fails, slow)
        return [repr(e) for e in info.value.exceptions], tale.clock()
    assert tale.run(main, clock=VirtualClock()) == (["ValueError('no')"], 1.0)
    assert log == [('slow', 'cancelled', 1.0)] * 2


def test_map_concurrently_keeps_order_and_runs_at_once():
    async def slow_square(x):
        await tale.sleep(x)
        return x * x

    async def main():
        return await map_concurrently(slow_square, [3, 1, 2]), tale.clock()
    assert tale.run(main, clock=VirtualClock()) == ([9, 1, 4], 3.0)


def test_map_concurrently_fails_as_a_group():
    async def check(x):
        await tale.sleep(x)
        if x == 2:
            raise ValueError(x)
        return x

    async def main():
        with pytest.raises(ExceptionGroup) as info:
            await map_concurrently(check, [5, 2, 1])
        return [str(e) for e in info.value.exceptions], tale.clock()
    assert tale.run(main, clock=VirtualClock()) == (['2'], 2.0)
