"""The solutions to chapter 10's exercises."""
import pytest

import tale
from solutions.ch10_ex1 import retry
from solutions.ch10_ex2 import timeout_at
from tale.testing import VirtualClock


def test_retry_gives_each_attempt_its_own_timeout():
    calls = []

    async def flaky():
        calls.append(tale.clock())
        await tale.sleep(10 if len(calls) < 3 else 1)   # the third is fast
        return 'ok'

    async def main():
        return await retry(5, 2, flaky), tale.clock()
    assert tale.run(main, clock=VirtualClock()) == ('ok', 5.0)
    assert calls == [0.0, 2.0, 4.0]


def test_retry_raises_the_last_timeout():
    async def main():
        with pytest.raises(TimeoutError):
            await retry(3, 1, tale.sleep, 10)
        return tale.clock()
    assert tale.run(main, clock=VirtualClock()) == 3.0


def test_timeout_at_an_absolute_deadline():
    async def main():
        await tale.sleep(4)
        async with timeout_at(10) as scope:      # 6 seconds from now
            await tale.sleep(1)
        with pytest.raises(TimeoutError):
            await timeout_at(10, tale.sleep, 100)
        at = tale.clock()
        with pytest.raises(TimeoutError):
            async with timeout_at(3):             # already past
                await tale.sleep(0)               # so the first wait times out
        return scope.expired, at, tale.clock()
    assert tale.run(main, clock=VirtualClock()) == (False, 10.0, 10.0)
