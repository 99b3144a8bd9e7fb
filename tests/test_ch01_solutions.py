"""Chapter 1's exercise solutions: drivers written with send, throw and close."""
import inspect

import pytest

from solutions.ch01_ex1 import run_to_end
from solutions.ch01_ex2 import round_robin
from solutions.ch01_ex3 import Pause, close_stubborn


async def steps(name, n, log):
    for i in range(1, n + 1):
        log.append(f"{name}{i}")
        await Pause()
    log.append(f"{name} done")
    return name.upper()


async def fails_after(n):
    for _ in range(n):
        await Pause()
    raise ValueError(f"failed after {n}")


def test_run_to_end_counts_every_suspension():
    log = []
    assert run_to_end(steps("a", 3, log)) == ("A", 3)
    assert log == ["a1", "a2", "a3", "a done"]


def test_run_to_end_without_suspension():
    async def immediate():
        return 42
    assert run_to_end(immediate()) == (42, 0)


def test_run_to_end_lets_the_exception_out_and_leaves_it_closed():
    coro = fails_after(2)
    with pytest.raises(ValueError, match="failed after 2"):
        run_to_end(coro)
    assert inspect.getcoroutinestate(coro) == "CORO_CLOSED"


def test_round_robin_interleaves_one_step_per_round():
    log = []
    results = round_robin(steps("a", 2, log), steps("b", 3, log), steps("c", 0, log))
    assert results == ["A", "B", "C"]
    assert log == ["a1", "b1", "c done",
                   "a2", "b2",
                   "a done", "b3",
                   "b done"]


def test_round_robin_of_nothing():
    assert round_robin() == []


def test_round_robin_results_keep_the_given_order_not_the_finishing_order():
    log = []
    assert round_robin(steps("slow", 4, log), steps("fast", 1, log)) == ["SLOW", "FAST"]
    assert log.index("fast done") < log.index("slow done")


def test_round_robin_stops_at_the_first_crash():
    log = []
    survivor = steps("s", 5, log)
    with pytest.raises(ValueError, match="failed after 1"):
        round_robin(fails_after(1), survivor)
    assert log == ["s1"]          # the survivor got one step, then was abandoned
    assert inspect.getcoroutinestate(survivor) == "CORO_SUSPENDED"
    survivor.close()


def test_close_stubborn_reports_the_refusal_and_finishes():
    log, message, state = close_stubborn()
    assert log == ["GeneratorExit caught", "finished anyway"]
    assert message == "coroutine ignored GeneratorExit"
    assert state == "CORO_CLOSED"


def test_pause_yields_once_and_returns_what_is_sent():
    async def one():
        return await Pause()
    coro = one()
    assert coro.send(None) == "pause"
    with pytest.raises(StopIteration) as stop:
        coro.send("answer")
    assert stop.value.value == "answer"
