"""Chapter 2's exercise solutions: traps, and a driver that answers from a script."""
import inspect
import traceback
import types

import pytest

from solutions.ch02_ex1 import Ask
from solutions.ch02_ex2 import replay
from solutions.ch02_ex3 import ask_or_raise


@types.coroutine
def ask(*request):
    return (yield request)


async def adder(make_trap, log):
    a = await make_trap("number")
    b = await make_trap("number")
    log.append(("got", a, b))
    return await make_trap("add", a, b)


def test_ask_class_yields_its_request_and_returns_the_answer():
    log = []
    coro = adder(Ask, log)
    assert coro.send(None) == ("number",)
    assert coro.send(2) == ("number",)
    assert coro.send(3) == ("add", 2, 3)
    with pytest.raises(StopIteration) as stop:
        coro.send(5)
    assert stop.value.value == 5
    assert log == [("got", 2, 3)]


def test_one_ask_object_makes_a_fresh_generator_for_each_await():
    trap = Ask("x")
    first = trap.__await__()
    second = trap.__await__()
    assert first is not second
    assert next(first) == ("x",) and next(second) == ("x",)


def test_ask_class_gets_thrown_exceptions_at_the_await():
    async def guarded():
        try:
            await Ask("risky")
        except KeyError as error:
            return f"handled {error.args[0]}"
    coro = guarded()
    coro.send(None)
    with pytest.raises(StopIteration) as stop:
        coro.throw(KeyError("k"))
    assert stop.value.value == "handled k"


@pytest.mark.parametrize("trap", [ask, Ask], ids=["generator", "class"])
def test_replay_records_the_whole_conversation(trap):
    log = []
    requests, result = replay(adder(trap, log), [20, 22, 42])
    assert requests == [("number",), ("number",), ("add", 20, 22)]
    assert result == 42
    assert log == [("got", 20, 22)]


def test_replay_throws_exception_answers():
    log = []
    async def tries_twice():
        for attempt in (1, 2):
            try:
                return await ask("fetch", attempt)
            except ConnectionError as error:
                log.append(f"attempt {attempt}: {error}")
        return "gave up"
    requests, result = replay(tries_twice(), [ConnectionError("reset"), "data"])
    assert requests == [("fetch", 1), ("fetch", 2)]
    assert result == "data"
    assert log == ["attempt 1: reset"]


def test_replay_lets_an_uncaught_exception_answer_out():
    coro = adder(ask, [])
    with pytest.raises(ValueError, match="bad number"):
        replay(coro, [ValueError("bad number")])
    assert inspect.getcoroutinestate(coro) == "CORO_CLOSED"


def test_replay_running_out_of_answers_closes_the_coroutine():
    log = []
    async def with_cleanup():
        try:
            await ask("one")
            await ask("two")
        finally:
            log.append("cleanup ran")
    coro = with_cleanup()
    with pytest.raises(LookupError, match=r"no answer for request \('two',\)"):
        replay(coro, ["first"])
    assert log == ["cleanup ran"]
    assert inspect.getcoroutinestate(coro) == "CORO_CLOSED"


def test_replay_of_a_coroutine_that_asks_nothing():
    async def quiet():
        return "silence"
    assert replay(quiet(), []) == ([], "silence")


def test_ask_or_raise_returns_ordinary_answers():
    log = []
    requests, result = replay(adder(ask_or_raise, log), [1, 2, 3])
    assert (requests[-1], result, log) == (("add", 1, 2), 3, [("got", 1, 2)])


def test_ask_or_raise_raises_an_exception_answer_inside_the_trap():
    async def victim():
        return await ask_or_raise("read")
    coro = victim()
    assert coro.send(None) == ("read",)
    with pytest.raises(TimeoutError) as caught:
        coro.send(TimeoutError("too slow"))
    names = [frame.name for frame in traceback.extract_tb(caught.value.__traceback__)]
    assert names[-2:] == ["victim", "ask_or_raise"]


def test_ask_or_raise_cannot_return_an_exception_as_a_value():
    async def wants_an_error_object():
        return await ask_or_raise("last error")
    coro = wants_an_error_object()
    coro.send(None)
    with pytest.raises(KeyError):
        coro.send(KeyError("the last error"))
