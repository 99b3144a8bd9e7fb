"""Chapter 7: cancelling a task wherever it is.

Each test runs against every stage that can cancel (tests/stagelist.py), on
the virtual clock, so times are exact and nothing sleeps for real.
"""
import socket
import warnings

import pytest

from stagelist import stages_with
from solutions.ch07_ex1 import wait_for
from solutions.ch07_ex2 import race

CANCEL_STAGES = stages_with("cancel")


def virtual(stage):
    return stage.Loop(stage.VirtualClock())


def was_cancelled(stage, task):
    return task.state == "done" and isinstance(task.exception, stage.CancelledError)


@pytest.mark.parametrize("stage", CANCEL_STAGES)
def test_cancelled_error_is_a_base_exception_only(stage):
    assert issubclass(stage.CancelledError, BaseException)
    assert not issubclass(stage.CancelledError, Exception)


@pytest.mark.parametrize("stage", CANCEL_STAGES)
def test_a_sleeping_task_runs_its_finally_and_its_timer_is_dropped(stage):
    log = []

    async def sleeper():
        try:
            await stage.sleep(100)
            log.append("woke up")
        finally:
            log.append(("cleaned up at", await stage.now()))

    async def main():
        task = await stage.spawn(sleeper())
        await stage.sleep(1)
        log.append(("cancel returned", await stage.cancel(task)))
        await stage.sleep(200)          # the dead timer must wake nobody
        return task

    loop = virtual(stage)
    task = loop.run(main())
    assert log == [("cleaned up at", 1.0), ("cancel returned", True)]
    assert was_cancelled(stage, task)
    assert loop.clock.now() == 201.0
    assert loop.timers == [] and loop.cancelled_timers == set()


@pytest.mark.parametrize("stage", CANCEL_STAGES)
def test_a_task_blocked_on_io_loses_its_registration(stage):
    a, b = socket.socketpair()
    reader = stage.Socket(a)
    log = []
    loop = virtual(stage)

    async def read():
        try:
            await reader.recv(10)
        except stage.CancelledError:
            log.append("reader cancelled")
            raise

    async def main():
        task = await stage.spawn(read())
        log.append(("watched", len(loop.selector.get_map())))
        await stage.cancel(task)
        log.append(("watched", len(loop.selector.get_map())))
        b.send(b"x")                    # the socket can be waited for again
        return await reader.recv(10)

    with a, b:
        assert loop.run(main()) == b"x"
    assert log == [("watched", 1), "reader cancelled", ("watched", 0)]


@pytest.mark.parametrize("stage", CANCEL_STAGES)
def test_a_ready_task_gets_the_cancellation_instead_of_its_answer(stage):
    """The essay's "deliberately incomplete" case."""
    log = []

    async def target():
        try:
            log.append(("slept", await stage.sleep(0)))
        except stage.CancelledError:
            log.append("cancelled in place of its answer")
            raise

    async def main():
        task = await stage.spawn(target())
        log.append(task.state)          # it ran once and is queued again
        return await stage.cancel(task)

    assert stage.run(main(), clock=stage.VirtualClock()) is True
    assert log == ["ready", "cancelled in place of its answer"]


@pytest.mark.parametrize("stage", CANCEL_STAGES)
def test_a_woken_sleeper_that_has_not_run_yet_is_cancelled(stage):
    """Woken by its timer in this tick, queued, then cancelled before its step."""
    log = []

    async def sleeper():
        try:
            await stage.sleep(1)
            log.append("saw the end of its sleep")
        except stage.CancelledError:
            log.append("cancelled")
            raise

    async def canceller(holder):
        await stage.sleep(1)            # same deadline, set earlier: runs first
        log.append(holder[0].state)
        await stage.cancel(holder[0])

    async def main():
        holder = []
        killer = await stage.spawn(canceller(holder))
        holder.append(await stage.spawn(sleeper()))
        await stage.join(killer)

    stage.run(main(), clock=stage.VirtualClock())
    assert log == ["ready", "cancelled"]


@pytest.mark.parametrize("stage", CANCEL_STAGES)
def test_a_task_that_never_started_ends_without_running(stage):
    """Only code outside the request protocol can see an unstarted task."""
    log = []
    loop = virtual(stage)

    async def target():
        log.append("started")           # must never happen

    async def main():
        victim = loop.spawn_task(target())      # behind the loop's back
        return victim, await stage.cancel(victim)

    victim, cancelled = loop.run(main())
    assert cancelled is True
    assert log == []
    assert was_cancelled(stage, victim)


@pytest.mark.parametrize("stage", CANCEL_STAGES)
def test_a_joining_task_leaves_the_joiners_and_the_target_goes_on(stage):
    log = []

    async def slow():
        await stage.sleep(10)
        return "slow result"

    async def waiter(child):
        try:
            await stage.join(child)
        finally:
            log.append(("waiter cleaned up, child joiners", len(child.joiners)))

    async def main():
        child = await stage.spawn(slow())
        w = await stage.spawn(waiter(child))
        await stage.sleep(1)
        await stage.cancel(w)
        log.append(await stage.join(child))
        log.append(await stage.now())

    stage.run(main(), clock=stage.VirtualClock())
    assert log == [("waiter cleaned up, child joiners", 0), "slow result", 10.0]


@pytest.mark.parametrize("stage", CANCEL_STAGES)
def test_a_canceller_can_itself_be_cancelled(stage):
    log = []

    async def slow_cleanup():
        try:
            await stage.sleep(100)
        finally:
            await stage.sleep(50)       # a long goodbye
            log.append(("target done", await stage.now()))

    async def canceller(target):
        try:
            await stage.cancel(target)
        except stage.CancelledError:
            log.append(("canceller cancelled", await stage.now()))
            raise

    async def main():
        target = await stage.spawn(slow_cleanup())
        middle = await stage.spawn(canceller(target))
        await stage.sleep(1)
        assert middle.state == "cancelling"
        await stage.cancel(middle)
        try:
            await stage.join(target)    # still ends, on its own time
        except stage.CancelledError:
            log.append("joined the cancelled target")

    stage.run(main(), clock=stage.VirtualClock())
    assert log == [("canceller cancelled", 1.0), ("target done", 50.0),
                   "joined the cancelled target"]


@pytest.mark.parametrize("stage", CANCEL_STAGES)
def test_a_task_can_cancel_itself(stage):
    log = []

    async def quitter():
        me = await stage.current()
        try:
            await stage.cancel(me)
            log.append("not reached")
        finally:
            log.append("quitter cleaned up")

    async def main():
        task = await stage.spawn(quitter())
        try:
            await stage.join(task)
        except stage.CancelledError:
            log.append("joined a cancelled task")

    stage.run(main(), clock=stage.VirtualClock())
    assert log == ["quitter cleaned up", "joined a cancelled task"]


@pytest.mark.parametrize("stage", CANCEL_STAGES)
def test_cancelling_a_finished_task_changes_nothing(stage):
    async def quick():
        return 42

    async def main():
        task = await stage.spawn(quick())
        first = await stage.join(task)
        return first, await stage.cancel(task), await stage.join(task)

    assert stage.run(main(), clock=stage.VirtualClock()) == (42, False, 42)


@pytest.mark.parametrize("stage", CANCEL_STAGES)
def test_cancel_returns_only_when_the_target_has_ended(stage):
    log = []

    async def slow_cleanup():
        try:
            await stage.sleep(100)
        finally:
            log.append("cleanup starts")
            await stage.sleep(5)        # cleanup may wait, too
            log.append("cleanup ends")

    async def main():
        task = await stage.spawn(slow_cleanup())
        await stage.sleep(1)
        await stage.cancel(task)
        log.append(("cancel returned at", await stage.now()))

    stage.run(main(), clock=stage.VirtualClock())
    assert log == ["cleanup starts", "cleanup ends", ("cancel returned at", 6.0)]


@pytest.mark.parametrize("stage", CANCEL_STAGES)
def test_swallowing_the_cancellation_is_reported_to_the_canceller(stage):
    async def stubborn():
        try:
            await stage.sleep(100)
        except stage.CancelledError:
            pass                        # the documented mistake
        return "carried on"

    async def main():
        task = await stage.spawn(stubborn())
        await stage.sleep(1)
        with pytest.raises(RuntimeError, match="swallowed its cancellation "
                                               "and returned 'carried on'"):
            await stage.cancel(task)
        return await stage.join(task)   # the result is still there

    assert stage.run(main(), clock=stage.VirtualClock()) == "carried on"


@pytest.mark.parametrize("stage", CANCEL_STAGES)
def test_a_task_that_swallows_and_never_ends_leaves_its_canceller_cancelling(stage):
    """The chapter's claim: the canceller waits, visibly, in state "cancelling"."""
    log = []

    async def deaf():
        while True:
            try:
                await stage.sleep(1)
            except stage.CancelledError:
                log.append("swallowed")

    async def boss():
        task = await stage.spawn(deaf())
        log.append(task)
        log.append(await stage.cancel(task))    # never returns

    loop = virtual(stage)
    main = loop.spawn_task(boss())
    for _ in range(10):
        loop.tick()
    deaf_task = log[0]
    assert log[1:] == ["swallowed"]
    assert (main.state, deaf_task.state) == ("cancelling", "sleeping")
    assert main in deaf_task.joiners
    main.coro.close()                   # end both, so nothing is left suspended
    deaf_task.coro.close()


@pytest.mark.parametrize("stage", CANCEL_STAGES)
def test_swallowing_then_failing_names_the_failure_as_the_cause(stage):
    problem = ValueError("cleanup went wrong")

    async def clumsy():
        try:
            await stage.sleep(100)
        except stage.CancelledError:
            raise problem

    async def main():
        task = await stage.spawn(clumsy())
        await stage.sleep(1)
        try:
            await stage.cancel(task)
        except RuntimeError as exc:
            return exc

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the failure was delivered: no warning
        error = stage.run(main(), clock=stage.VirtualClock())
    assert "raised ValueError('cleanup went wrong')" in str(error)
    assert error.__cause__ is problem


@pytest.mark.parametrize("stage", CANCEL_STAGES)
def test_a_cancelled_task_is_not_reported_as_unretrieved(stage):
    async def victim():
        await stage.sleep(10)

    async def main():
        await stage.cancel(await stage.spawn(victim()))
        me_too = await stage.spawn(stage.sleep(5))
        await stage.sleep(0)
        await stage.cancel(me_too)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stage.run(main(), clock=stage.VirtualClock())
    assert [w for w in caught if issubclass(w.category, stage.UnretrievedWarning)] == []


@pytest.mark.parametrize("stage", CANCEL_STAGES)
def test_cancelling_a_task_of_another_loop_is_an_error(stage):
    async def outer():
        me = await stage.current()      # alive in the outer loop

        async def intruder():
            try:
                await stage.cancel(me)
            except RuntimeError as exc:
                return str(exc)
        return stage.Loop().run(intruder())     # a second loop, inside a task

    message = stage.run(outer())
    assert "belongs to another loop" in message


@pytest.mark.parametrize("stage", CANCEL_STAGES)
def test_cancel_needs_a_task(stage):
    async def main():
        try:
            await stage.cancel("not a task")
        except TypeError as exc:
            return str(exc)

    assert "cancel() needs a Task" in stage.run(main())


@pytest.mark.parametrize("stage", CANCEL_STAGES)
def test_the_others_go_on_while_one_is_cancelled(stage):
    log = []

    async def ticker(name):
        for i in range(3):
            log.append((name, i, await stage.now()))
            await stage.sleep(1)

    async def main():
        a = await stage.spawn(ticker("a"))
        b = await stage.spawn(ticker("b"))
        await stage.sleep(1.5)
        await stage.cancel(a)
        await stage.join(b)

    stage.run(main(), clock=stage.VirtualClock())
    assert log == [("a", 0, 0.0), ("b", 0, 0.0), ("a", 1, 1.0), ("b", 1, 1.0),
                   ("b", 2, 2.0)]


@pytest.mark.parametrize("stage", CANCEL_STAGES)
def test_a_server_cancelled_while_accepting_stops_its_handlers(stage):
    log = []

    async def echo(conn):
        try:
            with conn:
                while data := await conn.recv(100):
                    await conn.send(data)
        finally:
            log.append("handler closed")

    async def server(listener):
        handlers = []
        try:
            while True:
                conn, _ = await listener.accept()
                handlers.append(await stage.spawn(echo(conn)))
        finally:
            log.append(("handlers cancelled",
                        [await stage.cancel(h) for h in handlers]))

    async def main(listener):
        port = listener.getsockname()[1]
        serving = await stage.spawn(server(listener))
        clients = []
        for text in (b"one", b"two"):
            sock = stage.Socket(socket.socket())
            await sock.connect(("127.0.0.1", port))
            await sock.send(text)
            log.append(await sock.recv(10))
            clients.append(sock)
        log.append(("server cancelled", await stage.cancel(serving)))
        for sock in clients:
            log.append(("client sees end", await sock.recv(10)))
            sock.close()

    loop = stage.Loop()
    with stage.Socket(socket.create_server(("127.0.0.1", 0))) as listener:
        loop.run(main(listener))
    assert log == [b"one", b"two", "handler closed", "handler closed",
                   ("handlers cancelled", [True, True]), ("server cancelled", True),
                   ("client sees end", b""), ("client sees end", b"")]
    assert len(loop.selector.get_map()) == 0


# ------------------------------------------------------------ exercises

def test_exercise_1_wait_for_returns_in_time_or_times_out():
    from stages.ch07_cancel import VirtualClock, now, run, sleep
    log = []

    async def work(seconds):
        try:
            await sleep(seconds)
            return f"done after {seconds}"
        finally:
            log.append(("work ends", await now()))

    async def main():
        fast = await wait_for(work(1), 5)
        try:
            await wait_for(work(10), 3)
        except TimeoutError as exc:
            slow = str(exc)
        return fast, slow, await now()

    assert run(main(), clock=VirtualClock()) == ("done after 1", "no result after 3 s", 4.0)
    assert log == [("work ends", 1.0), ("work ends", 4.0)]


def test_exercise_1_wait_for_passes_its_own_cancellation_on():
    from stages.ch07_cancel import (CancelledError, VirtualClock, cancel, now, run,
                                    sleep, spawn)
    log = []

    async def work():
        try:
            await sleep(100)
        finally:
            log.append(("work ends", await now()))

    async def caller():
        try:
            await wait_for(work(), 50)
        except CancelledError:
            log.append("caller cancelled, not timed out")
            raise

    async def main():
        task = await spawn(caller())
        await sleep(2)
        return await cancel(task)

    assert run(main(), clock=VirtualClock()) is True
    assert log == [("work ends", 2.0), "caller cancelled, not timed out"]


def test_exercise_2_race_returns_the_first_and_cancels_the_rest():
    from stages.ch07_cancel import VirtualClock, now, run, sleep
    log = []

    async def runner(name, seconds):
        try:
            await sleep(seconds)
            return name
        finally:
            log.append((name, await now()))

    async def main():
        winner = await race(runner("slow", 5), runner("fast", 2), runner("mid", 3))
        return winner, await now()

    assert run(main(), clock=VirtualClock()) == ("fast", 2.0)
    assert sorted(log) == [("fast", 2.0), ("mid", 2.0), ("slow", 2.0)]


def test_the_stage_demo_stops_its_server():
    import pathlib
    import subprocess
    import sys
    stage = pathlib.Path(__file__).parent.parent / "code" / "stages" / "ch07_cancel.py"
    out = subprocess.run([sys.executable, str(stage)], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    assert out.splitlines() == [
        "client got 'one'", "client got 'two'", "client got 'three'",
        "server: stopped, 3 handlers cancelled", "main: cancel the server: True",
        *["client: the server closed the connection: True"] * 3]


@pytest.mark.parametrize("stage", CANCEL_STAGES)
def test_a_task_blocked_in_send_is_cancelled_and_unregistered(stage):
    a, b = socket.socketpair()
    sender = stage.Socket(a)
    log = []
    loop = virtual(stage)

    async def flood():
        try:
            await sender.send(b"x" * (8 << 20))     # far more than the buffers hold
        except stage.CancelledError:
            log.append("sender cancelled")
            raise

    async def main():
        task = await stage.spawn(flood())
        log.append((task.state, len(loop.selector.get_map())))
        await stage.cancel(task)
        log.append((task.state, len(loop.selector.get_map())))

    with a, b:
        loop.run(main())
    assert log == [("writing", 1), "sender cancelled", ("done", 0)]
