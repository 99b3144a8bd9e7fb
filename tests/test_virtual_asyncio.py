"""The virtual-time asyncio loop of tests/virtual_asyncio.py keeps exact time."""
import asyncio
import socket
import time

import pytest

import virtual_asyncio


def test_sleeps_take_exactly_their_virtual_time_and_no_real_time():
    seen = []

    async def sleeper(name, seconds):
        await asyncio.sleep(seconds)
        seen.append((asyncio.get_running_loop().time(), name))

    async def main():
        await asyncio.gather(sleeper('b', 3600.5), sleeper('a', 0.25),
                             sleeper('c', 2.0 ** -40))
        return asyncio.get_running_loop().time()
    began = time.monotonic()
    assert virtual_asyncio.run(main(), start=10.0) == 3610.5
    assert time.monotonic() - began < 1.0
    assert seen == [(10.0 + 2.0 ** -40, 'c'), (10.25, 'a'), (3610.5, 'b')]


def test_timeouts_and_call_at_fire_at_their_deadline():
    async def main():
        loop = asyncio.get_running_loop()
        fired = []
        loop.call_at(7.0, lambda: fired.append(loop.time()))
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(5.0):
                await asyncio.sleep(100)
        assert loop.time() == 5.0
        await asyncio.sleep(3)
        return fired
    assert virtual_asyncio.run(main()) == [7.0]


def test_ready_io_is_served_without_moving_the_clock():
    a, b = socket.socketpair()
    with a, b:
        async def main():
            loop = asyncio.get_running_loop()
            b.send(b'x')
            a.setblocking(False)
            data = await loop.sock_recv(a, 1)
            return data, loop.time()
        assert virtual_asyncio.run(main()) == (b'x', 0.0)


def test_a_loop_that_would_wait_for_ever_says_so():
    cleaned = []

    async def stuck():
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.append(True)

    with pytest.raises(virtual_asyncio.VirtualDeadlock):
        virtual_asyncio.run(stuck())
    assert cleaned == [True]
