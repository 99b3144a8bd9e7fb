"""Chapter 5: sleeping, the timer heap, the four-step tick, clocks.

Each test runs against every stage that can sleep (tests/stagelist.py).
Timer tests use the VirtualClock: they take no real time and see exact times.
Only the tests marked "real clock" sleep for real, briefly.
"""
import time

import pytest

from stagelist import stages_with
from test_ch04_spawn import run_checked
from solutions.ch05_ex1 import every
from solutions.ch05_ex2 import UntilLoop, sleep_until

SLEEP_STAGES = stages_with("sleep")


@pytest.mark.parametrize("stage", SLEEP_STAGES)
def test_sleepers_wake_in_deadline_order_at_exact_times(stage):
    log = []

    async def sleeper(name, seconds):
        await stage.sleep(seconds)
        log.append((await stage.now(), name))

    async def main():
        for name, seconds in [("c", 3), ("a", 1), ("b", 2), ("a2", 1)]:
            await stage.spawn(sleeper(name, seconds))
    clock = stage.VirtualClock()
    run_checked(stage, main(), stage.Loop(clock))
    assert log == [(1.0, "a"), (1.0, "a2"), (2.0, "b"), (3.0, "c")]
    assert clock.now() == 3.0


@pytest.mark.parametrize("stage", SLEEP_STAGES)
def test_equal_deadlines_wake_first_in_first_out(stage):
    """Many timers with one deadline: no Task comparison, and FIFO order."""
    log = []

    async def sleeper(n):
        await stage.sleep(5)
        log.append(n)

    loop = stage.Loop(stage.VirtualClock())
    for n in range(20):
        loop.spawn_task(sleeper(n))

    async def main():
        pass
    run_checked(stage, main(), loop)
    assert log == list(range(20))


@pytest.mark.parametrize("stage", SLEEP_STAGES)
def test_an_hour_of_sleep_on_the_virtual_clock_is_instant(stage):
    async def main():
        start = await stage.now()
        await stage.sleep(3600)
        return await stage.now() - start
    cpu = time.process_time()
    assert stage.run(main(), clock=stage.VirtualClock()) == 3600.0
    assert time.process_time() - cpu < 0.5              # generous: ~1 ms in practice


@pytest.mark.parametrize("stage", SLEEP_STAGES)
def test_sleeping_does_not_spin_real_clock(stage):
    """Real clock: 0.3 s of sleep costs almost no processor time."""
    loop = stage.Loop()
    cpu = time.process_time()
    start = time.monotonic()
    loop.run(stage.sleep(0.3))
    assert time.monotonic() - start >= 0.3               # it did wait (a lower bound only)
    assert time.process_time() - cpu < 0.05
    assert loop.ticks == 2


@pytest.mark.parametrize("stage", SLEEP_STAGES)
def test_sleep_lets_others_run_real_clock(stage):
    """Real clock: the chapter's opening example, with await sleep."""
    log = []

    async def sleeper():
        log.append("sleeper sleeps")
        await stage.sleep(0.02)
        log.append("sleeper wakes")

    async def worker():
        for i in range(3):
            log.append(f"worker {i}")
            await stage.pause()

    async def main():
        tasks = [await stage.spawn(sleeper()), await stage.spawn(worker())]
        for task in tasks:
            await stage.join(task)
    stage.run(main())
    assert log == ["sleeper sleeps", "worker 0", "worker 1", "worker 2", "sleeper wakes"]


@pytest.mark.parametrize("stage", SLEEP_STAGES)
@pytest.mark.parametrize("seconds", [0, -1, 0.0])
def test_sleep_zero_only_lets_others_run(stage, seconds):
    log = []
    loop = stage.Loop(stage.VirtualClock())

    async def polite(name):
        for i in range(2):
            log.append(f"{name}{i}")
            await stage.sleep(seconds)

    async def main():
        pass
    for name in "ab":
        loop.spawn_task(polite(name))
    loop.run(main())
    assert log == ["a0", "b0", "a1", "b1"]
    assert loop.clock.now() == 0.0 and loop.timers == []


@pytest.mark.parametrize("stage", SLEEP_STAGES)
def test_the_tick_steps_in_order(stage):
    """timeout, poll, expire, run: recorded by a clock that logs its calls."""
    calls = []

    class LoggingClock(stage.VirtualClock):
        def sleep(self, seconds):
            calls.append(("poll", seconds))
            super().sleep(seconds)

    loop = stage.Loop(LoggingClock())
    for step in ("poll_timeout", "expire_timers", "run_batch"):
        original = getattr(loop, step)

        def logged(*args, _original=original, _step=step):
            result = _original(*args)
            calls.append((_step, result) if _step == "poll_timeout" else (_step,))
            return result
        setattr(loop, step, logged)

    async def main():
        await stage.sleep(2)
    loop.run(main())
    assert calls == [
        ("poll_timeout", 0.0), ("expire_timers",), ("run_batch",),      # main runs, sleeps
        ("poll_timeout", 2.0), ("poll", 2.0), ("expire_timers",), ("run_batch",),
    ]


@pytest.mark.parametrize("stage", SLEEP_STAGES)
def test_poll_timeout_is_zero_when_ready_and_capped(stage):
    loop = stage.Loop(stage.VirtualClock())

    async def nap(seconds):
        await stage.sleep(seconds)
    assert loop.poll_timeout() == stage.MAX_POLL               # nothing at all
    loop.spawn_task(nap(10 * stage.MAX_POLL))
    assert loop.poll_timeout() == 0.0                          # a task is ready
    loop.tick()                                                # it goes to sleep
    assert loop.poll_timeout() == stage.MAX_POLL               # capped
    loop.run(nap(0))
    assert loop.clock.now() == 10 * stage.MAX_POLL
    # 1 tick before, 2 for the short nap, then one per capped poll of the long one.
    assert loop.ticks == 1 + 2 + 10


@pytest.mark.parametrize("stage", SLEEP_STAGES)
def test_timers_woken_during_a_tick_run_after_the_ready_ones(stage):
    log = []
    loop = stage.Loop(stage.VirtualClock())

    async def sleeper():
        await stage.sleep(1)
        log.append(("sleeper", loop.ticks))

    async def busy():
        for _ in range(3):
            log.append(("busy", loop.ticks))
            await stage.pause()

    async def main():
        await stage.spawn(sleeper())
        await stage.spawn(busy())
    run_checked(stage, main(), loop)
    # The clock stands still while busy() is ready, so the sleeper wakes only
    # once nobody is ready and the loop jumps to its deadline.
    assert log == [("busy", 3), ("busy", 4), ("busy", 5), ("sleeper", 7)]
    assert loop.clock.now() == 1.0


@pytest.mark.parametrize("stage", SLEEP_STAGES)
def test_cancelled_timers_are_dropped_lazily(stage):
    """The sleep's undo: a timer that no longer counts never wakes its task."""
    loop = stage.Loop(stage.VirtualClock())
    log = []

    async def sleeper():
        await stage.sleep(5)
        log.append("woke")

    victim = loop.spawn_task(sleeper())
    loop.tick()
    assert victim.state == "sleeping" and len(loop.timers) == 1
    victim.undo()
    assert loop.next_deadline() is None and loop.timers == []
    assert loop.poll_timeout() == stage.MAX_POLL
    loop.expire_timers()
    assert log == [] and victim.state == "sleeping"
    victim.coro.close()


@pytest.mark.parametrize("stage", SLEEP_STAGES)
def test_virtual_clock_moved_by_hand_makes_a_timer_due(stage):
    """advance() moves time without a poll; the next tick finds the timer due."""
    loop = stage.Loop(stage.VirtualClock())
    log = []

    async def sleeper():
        await stage.sleep(5)
        log.append(await stage.now())

    loop.spawn_task(sleeper())
    loop.tick()                                     # it asks to sleep until 5.0
    assert loop.poll_timeout() == 5.0
    loop.clock.advance(4)
    assert loop.poll_timeout() == 1.0
    loop.clock.advance(1)
    assert loop.poll_timeout() == 0.0               # due now: no waiting
    loop.tick()                                     # expires it; it asks the time
    loop.tick()                                     # and ends
    assert log == [5.0] and loop.tasks == set() and loop.clock.now() == 5.0


@pytest.mark.parametrize("stage", SLEEP_STAGES)
def test_now_comes_from_the_injected_clock(stage):
    async def main():
        return await stage.now()
    assert stage.run(main(), clock=stage.VirtualClock(start=1234.5)) == 1234.5


@pytest.mark.parametrize("stage", SLEEP_STAGES)
def test_sleeping_tasks_are_not_a_deadlock_but_joiners_are(stage):
    async def child(parent):
        await stage.sleep(1)
        await stage.join(parent)

    async def main():
        me = await stage.current()
        await stage.join(await stage.spawn(child(me)))
    clock = stage.VirtualClock()
    with pytest.raises(RuntimeError, match="deadlock"):
        stage.run(main(), clock=clock)
    assert clock.now() == 1.0


@pytest.mark.parametrize("stage", SLEEP_STAGES)
def test_bad_sleep_argument_is_thrown_into_the_task(stage):
    async def main():
        try:
            await stage.sleep("soon")
        except TypeError:
            return "caught"
    assert stage.run(main(), clock=stage.VirtualClock()) == "caught"


# Exercises

def test_ex1_every_does_not_drift():
    from stages.ch05_time import VirtualClock, now, run, sleep
    times = []

    async def slow_action():
        times.append(await now())
        await sleep(0.25)                  # the action itself takes time

    async def main():
        await every(1.0, 4, slow_action)
    run(main(), clock=VirtualClock())
    assert times == [1.0, 2.0, 3.0, 4.0]


def test_ex1_every_catches_up_after_a_long_action():
    from stages.ch05_time import VirtualClock, now, run, sleep
    times = []

    async def sometimes_slow():
        times.append(await now())
        if len(times) == 1:
            await sleep(2.5)

    run(every(1.0, 4, sometimes_slow), clock=VirtualClock())
    assert times == [1.0, 3.5, 3.5, 4.0]


def test_ex2_sleep_until_wakes_at_the_deadline():
    from stages.ch05_time import VirtualClock, now, sleep, spawn, join
    log = []

    async def at(deadline, name):
        await sleep_until(deadline)
        log.append((await now(), name))

    async def main():
        await sleep(1)
        tasks = [await spawn(at(5.0, "five")), await spawn(at(0.5, "past")),
                 await spawn(at(2.0, "two"))]
        for task in tasks:
            await join(task)
    UntilLoop(VirtualClock()).run(main())
    assert log == [(1.0, "past"), (2.0, "two"), (5.0, "five")]


def test_ex2_sleep_until_has_a_handler_named_after_its_tag():
    loop = UntilLoop()
    assert loop.traps["sleep_until"].__name__ == "trap_sleep_until"
    coro = sleep_until(3)
    assert coro.send(None) == ("sleep_until", 3)
    coro.close()


@pytest.mark.parametrize("stage", SLEEP_STAGES)
def test_a_task_looping_on_sleep_zero_does_not_starve_sleepers_real_clock(stage):
    """Real clock: timers expire in every tick, even when tasks are always ready.

    A loop that looked at its timers only when no task was ready would never
    wake the sleeper while the spinner keeps itself ready.
    """
    state = {"woke": False, "spins": 0}

    async def sleeper():
        await stage.sleep(0.01)
        state["woke"] = True

    async def spinner():
        while not state["woke"] and state["spins"] < 5_000_000:   # bounded
            state["spins"] += 1
            await stage.sleep(0)

    async def main():
        await stage.spawn(sleeper())
        await stage.spawn(spinner())
    stage.run(main())
    assert state["woke"] and state["spins"] < 5_000_000
