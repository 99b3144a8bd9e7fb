"""Chapter 3: one coroutine, driven to its end; requests answered from a table.

Every test here runs against each stage that has the feature (tests/stagelist.py).
"""
import inspect
import types

import pytest

from stagelist import stages_with
from solutions.ch03_ex1 import run_traced
from solutions.ch03_ex2 import run_checked


def traps_of(stage):
    """The stage's table of handlers: module-level in ch03, per Loop later."""
    return stage.TRAPS if hasattr(stage, "TRAPS") else stage.Loop().traps


@pytest.mark.parametrize("stage", stages_with("run"))
def test_run_returns_the_coroutine_result(stage):
    async def main():
        await stage.pause()
        return {"answer": 42}
    assert stage.run(main()) == {"answer": 42}


@pytest.mark.parametrize("stage", stages_with("run"))
def test_exception_escapes_as_itself(stage):
    error = KeyError("missing")
    events = []

    async def main():
        events.append("before")
        await stage.pause()
        events.append("raising")
        raise error
    with pytest.raises(KeyError) as caught:
        stage.run(main())
    assert caught.value is error
    assert events == ["before", "raising"]


@pytest.mark.parametrize("stage", stages_with("run"))
@pytest.mark.parametrize("bad", [None, 7, "pause", [("pause",)], (), (3,), (["x"],)])
def test_a_non_request_is_a_type_error_naming_it(stage, bad):
    @types.coroutine
    def yield_it():
        yield bad

    async def main():
        try:
            await yield_it()
        except TypeError as exc:
            return str(exc)
    message = stage.run(main())
    assert repr(bad) in message
    assert "not a request" in message


@pytest.mark.parametrize("stage", stages_with("run"))
def test_unknown_tag_is_thrown_into_the_task_which_goes_on(stage):
    events = []

    async def main():
        try:
            await stage._request("teleport", "moon")
        except TypeError as exc:
            events.append(str(exc))
        await stage.pause()
        events.append("still running")
        return "done"
    assert stage.run(main()) == "done"
    assert events == ["unknown request 'teleport' in ('teleport', 'moon')", "still running"]


@pytest.mark.parametrize("stage", stages_with("run"))
def test_uncaught_bad_request_escapes_run(stage):
    async def main():
        await stage._request("nope")
    with pytest.raises(TypeError, match="unknown request 'nope'"):
        stage.run(main())


@pytest.mark.parametrize("stage", stages_with("run"))
def test_wrong_arguments_to_a_handler_reach_the_task(stage):
    async def main():
        try:
            await stage._request("pause", "unexpected", "arguments")
        except TypeError:
            return "caught"
    assert stage.run(main()) == "caught"


@pytest.mark.parametrize("stage", stages_with("pause"))
def test_now_is_a_float_that_does_not_go_back(stage):
    async def main():
        first = await stage.now()
        second = await stage.now()
        return first, second
    first, second = stage.run(main())
    assert isinstance(first, float) and first <= second


@pytest.mark.parametrize("stage", stages_with("run"))
def test_every_handler_has_a_wrapper_and_vice_versa(stage):
    traps = traps_of(stage)
    for tag, handler in traps.items():
        assert handler.__name__ == f"trap_{tag}"
        wrapper = getattr(stage, tag)
        assert inspect.iscoroutinefunction(wrapper), tag
        # The wrapper really sends its own tag through the one door.
        nargs = len(inspect.signature(wrapper).parameters)
        coro = wrapper(*[None] * nargs)
        request = coro.send(None)
        coro.close()
        assert request[0] == tag and len(request) == nargs + 1
    # Vice versa: every async function that goes through the door itself is
    # the wrapper of a tag (helpers built on wrappers, like recv, are not).
    wrappers = {name for name, obj in vars(stage).items()
                if inspect.iscoroutinefunction(obj) and not name.startswith("_")
                and "_request(" in inspect.getsource(obj)}
    assert wrappers == set(traps)
    handler_names = {name for name in dir(stage.Loop if hasattr(stage, "Loop") else stage)
                     if name.startswith("trap_")}
    assert handler_names == {f"trap_{tag}" for tag in traps}


@pytest.mark.parametrize("stage", stages_with("run"))
def test_one_door_only(stage):
    """Exactly one generator-based coroutine in the stage yields requests."""
    doors = [name for name, obj in vars(stage).items()
             if inspect.isgeneratorfunction(obj)]
    assert doors == ["_request"]


# Exercises

def test_ex1_run_traced_records_every_request():
    from stages.ch03_loop import now, pause

    async def main():
        await pause()
        await now()
        await pause()
        return "end"
    result, trace = run_traced(main())
    assert result == "end"
    assert trace == [("pause",), ("now",), ("pause",)]


def test_ex1_run_traced_lets_bad_requests_be_caught():
    from stages.ch03_loop import _request

    async def main():
        try:
            await _request("bogus")
        except TypeError:
            return "caught"
    assert run_traced(main()) == ("caught", [("bogus",)])


def test_ex2_run_checked_explains_a_coroutine_function():
    async def main():
        return 1
    with pytest.raises(TypeError, match=r"did you mean run\(main\(\)\)\?"):
        run_checked(main)
    with pytest.raises(TypeError, match="needs a coroutine object, got 3"):
        run_checked(3)
    assert run_checked(main()) == 1
