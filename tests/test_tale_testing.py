"""The virtual clock: hours of sleeping in milliseconds, at exact times."""
import socket
import time

import tale
from tale.testing import VirtualClock


def test_a_day_of_timers_runs_in_milliseconds_at_exact_times():
    log = []

    async def ticker(name, period, count):
        for _ in range(count):
            await tale.sleep(period)
            log.append((tale.clock(), name))

    async def main():
        async with tale.TaskGroup() as g:
            await g.spawn(ticker, 'hourly', 3600, 24)
            await g.spawn(ticker, 'six-hourly', 6 * 3600, 4)
        return tale.clock()
    started = time.process_time()
    assert tale.run(main, clock=VirtualClock()) == 86400.0
    assert time.process_time() - started < 2.0            # generous CPU bound
    assert len(log) == 28
    # at 6 h both are due; the six-hourly timer was set first (at 0 h), so it
    # wakes first: equal deadlines keep the order in which they were set
    assert log[:7] == [(3600.0 * i, 'hourly') for i in range(1, 6)] + [
        (21600.0, 'six-hourly'), (21600.0, 'hourly')]


def test_time_stands_still_while_tasks_run():
    async def main():
        before = tale.clock()
        for _ in range(1000):
            await tale.sleep(0)
        return before, tale.clock()
    assert tale.run(main, clock=VirtualClock(start=100)) == (100.0, 100.0)


def test_jumps_are_logged_and_advance_works():
    clock = VirtualClock()

    async def main():
        await tale.sleep(2)
        await tale.sleep(3)
        clock.advance(10)
        return tale.clock()
    assert tale.run(main, clock=clock) == 15.0
    assert clock.jumps == [(0.0, 2.0), (2.0, 5.0), (5.0, 15.0)]


def test_io_waits_still_work_under_a_virtual_clock():
    async def reader(sock):
        await tale.wait_readable(sock)
        return sock.recv(10), tale.clock()

    async def main():
        a, b = socket.socketpair()
        with a, b:
            a.setblocking(False)
            task = await tale.spawn(reader, a)
            await tale.sleep(7)             # the clock jumps: nothing to read
            b.send(b'ping')
            return await task.join()
    assert tale.run(main, clock=VirtualClock(io_patience=0.001)) == (b'ping', 7.0)


def test_long_timeouts_expire_at_exact_virtual_times_with_no_real_wait():
    async def main():
        clock = tale.kernel.running_kernel().clock
        with_timeout = []
        try:
            async with tale.timeout_after(7 * 86400):        # a week
                await tale.sleep(30 * 86400)
        except TimeoutError:
            with_timeout.append(tale.clock())
        async with tale.move_on_after(3600.5) as scope:
            await tale.sleep(86400)
        with_timeout.append((tale.clock(), scope.expired))
        return with_timeout, clock.jumps
    started = time.process_time()
    times, jumps = tale.run(main, clock=VirtualClock())
    assert time.process_time() - started < 2.0            # generous CPU bound
    assert times == [604800.0, (608400.5, True)]
    # one poll blocks at most MAX_WAIT (a day), so the week takes several jumps
    step, now, expected = tale.kernel.MAX_WAIT, 0.0, []
    for target in (604800.0, 608400.5):
        while now < target:
            expected.append((now, min(now + step, target)))
            now = expected[-1][1]
    assert jumps == expected
