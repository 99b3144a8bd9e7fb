"""The solutions to chapter 9's exercises."""
import socket

import pytest

import tale
from solutions.ch09_ex1 import gather
from solutions.ch09_ex2 import recv_exactly
from tale.testing import VirtualClock


def test_gather_returns_results_in_argument_order():
    async def after(seconds, value):
        await tale.sleep(seconds)
        return value

    async def main():
        results = await gather(lambda: after(3, 'a'), lambda: after(1, 'b'))
        return results, tale.clock()
    assert tale.run(main, clock=VirtualClock()) == (['a', 'b'], 3.0)


def test_gather_cancels_the_rest_when_one_fails():
    log = []

    async def slow():
        try:
            await tale.sleep(100)
        except tale.CancelledError:
            log.append(('cancelled', tale.clock()))
            raise

    async def bad():
        await tale.sleep(2)
        raise ValueError('bad')

    async def main():
        with pytest.raises(ValueError, match='bad'):
            await gather(bad, slow)
        return tale.clock()
    assert tale.run(main, clock=VirtualClock()) == 2.0
    assert log == [('cancelled', 2.0)]


def test_recv_exactly_reassembles_chunks_and_reports_a_short_read():
    async def writer(sock):
        for piece in (b'he', b'll', b'o!'):
            sock.send(piece)
            await tale.sleep(0.01)
        sock.close()

    async def main():
        a, b = socket.socketpair()
        with a:
            a.setblocking(False)
            await tale.spawn(writer, b)
            first = await recv_exactly(a, 5)
            with pytest.raises(EOFError, match='after 1 of 4'):
                await recv_exactly(a, 4)
            return first
    assert tale.run(main) == b'hello'
