"""What the chapters say about asyncio, curio and trio, checked against the
installed releases.

Each test names the chapter whose sentence it holds.  curio and trio are
pinned in requirements-bench.txt; where one is missing, or installed at
another release than the one the book names, its tests skip and say why.
asyncio is read from the running CPython 3.11.
"""
import asyncio
import asyncio.base_events
import asyncio.tasks
import inspect
import re
import types
from pathlib import Path

import pytest


def peer(name, version):
    """The installed package `name`, if it is the release the book describes."""
    module = pytest.importorskip(name, reason=f"{name} is not installed")
    installed = module.__version__
    if installed != version and not installed.startswith(version + "."):
        pytest.skip(f"{name} {installed} is installed; the book describes {version}")
    return module


def source(module, path):
    return (Path(module.__file__).parent / path).read_text()


# -- chapter 2: the trap at the bottom of every await --------------------------------

def test_ch02_curios_kernel_trap_raises_an_answer_that_is_an_exception():
    """curio's trap raises what it receives if it is an exception (lines 31 to 36)."""
    peer("curio", "1.6")
    from curio import traps
    lines = source(traps, "traps.py").splitlines()
    assert lines[30] == "def _kernel_trap(*request):"            # line 31
    assert "raise result" in "\n".join(lines[30:36])
    trap = traps._kernel_trap("trap_sleep", 0)
    assert trap.send(None) == ("trap_sleep", 0)
    with pytest.raises(KeyError):
        trap.send(KeyError("raised by the trap itself"))


def test_ch02_tales_trap_returns_an_exception_as_an_ordinary_answer():
    """tale does not do what curio does: its loop throws errors in."""
    from tale import traps
    trap = traps._trap(("now",))
    assert trap.send(None) == ("now",)
    answer = KeyError("only an answer")
    with pytest.raises(StopIteration) as stop:
        trap.send(answer)
    assert stop.value.value is answer


def test_ch02_trio_throws_an_unrecognised_yield_into_the_task():
    trio = peer("trio", "0.35")
    run = source(trio, "_core/_run.py")
    at = run.index("received unrecognized yield message")
    assert "task._next_send_fn = task.coro.throw" in run[at:at + 1500]


def test_ch02_asyncio_answers_a_bad_yield_with_a_runtime_error():
    assert "RuntimeError(f'Task got bad yield: {result!r}')" in \
        inspect.getsource(asyncio.tasks)


# -- chapter 5: timers ---------------------------------------------------------------

def test_ch05_asyncio_caps_the_select_timeout_at_a_day_and_sleep0_yields_none():
    assert asyncio.base_events.MAXIMUM_SELECT_TIMEOUT == 24 * 3600
    sleep0 = getattr(asyncio.tasks, "__sleep0")
    gen = sleep0()
    assert isinstance(gen, types.GeneratorType) and gen.send(None) is None


def test_ch05_curio_sends_a_zero_sleep_straight_back_and_splits_near_and_far():
    curio = peer("curio", "1.6")
    kernel = source(curio, "kernel.py")
    sleep = kernel[kernel.index("def trap_sleep(clock):"):]
    assert re.search(r"if clock <= 0:\s+reschedule_task\(current\)", sleep)
    assert "(current.id, sleep_type)" in kernel                  # tasks named by id
    from curio.timequeue import TimeQueue
    assert TimeQueue.cutoff == 1.0                                # "within a second"
    queue = TimeQueue()
    assert queue.near == [] and queue.far == {}


def test_ch05_ch14_trio_sleeps_in_a_cancel_scope_and_mock_clock_stands_still():
    trio = peer("trio", "0.35")
    body = inspect.getsource(trio.sleep_until)
    assert "with move_on_at(deadline):" in body and "await sleep_forever()" in body
    import trio.testing
    clock = trio.testing.MockClock()
    assert clock.rate == 0 and clock.autojump_threshold == float("inf")


# -- chapter 8: how the loop is written ----------------------------------------------

def test_ch08_trio_states_two_invariants_as_comments_and_asserts_in_reschedule():
    trio = peer("trio", "0.35")
    run = source(trio, "_core/_run.py")
    assert run.count("# Invariant:") == 2
    reschedule = run[run.index("    def reschedule("):]
    reschedule = reschedule[:reschedule.index("\n    def ", 10)]
    assert "assert task._next_send_fn is None" in reschedule


def test_ch08_ch14_trio_reverses_its_batch_at_random_and_shuffles_only_for_tests():
    trio = peer("trio", "0.35")
    run = source(trio, "_core/_run.py")
    batch = run[run.index("batch = list(runner.runq)"):]
    batch = batch[:batch.index("while batch:")]
    deterministic, normal = batch.split("else:")
    assert "_r.shuffle(batch)" in deterministic and "_ALLOW_DETERMINISTIC" in deterministic
    assert "batch.reverse()" in normal and "shuffle" not in normal


# -- chapter 11: task groups ---------------------------------------------------------

def test_ch11_curio_taskgroup_wait_strategies():
    curio = peer("curio", "1.6")
    doc = curio.TaskGroup.__doc__
    for strategy in ("wait=all", "wait=any", "wait=object", "wait=None"):
        assert strategy in doc


def test_ch11_trio_nurseries_raise_exception_groups_by_default():
    trio = peer("trio", "0.35")
    default = inspect.signature(trio.run).parameters["strict_exception_groups"].default
    assert default is True


def test_ch11_asyncio_taskgroup_uncancels_its_parent():
    import asyncio.taskgroups
    assert ".uncancel()" in inspect.getsource(asyncio.taskgroups)


# -- chapter 13 and 14: curio's kernel ----------------------------------------------

def test_ch13_ch14_curio_reads_the_monotonic_clock_and_collects_its_handlers_by_name():
    curio = peer("curio", "1.6")
    kernel = source(curio, "kernel.py")
    assert "time_monotonic = time.monotonic" in kernel
    assert "clock" not in str(inspect.signature(curio.Kernel.__init__))
    assert re.search(r"locals\(\)\.items\(\)\s+if key\.startswith\('trap_'\)", kernel)
