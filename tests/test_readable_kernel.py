"""Chapter 9's readable kernel and chapter 14's steps run the library like the package's kernel.

Chapter 9 writes a readable kernel (code/stages/ch09_kernel.py) and chapter 14
turns its tick into the package's, one measured change at a time
(code/stages/ch14_kernels.py keeps each step runnable).  These tests hold
both to the package's behaviour: the library's own tests and chapters 9 to
13, 18 and 19 run with the readable kernel imported as ``tale.kernel``; and
the same programs give the same transcripts on every step of chapter 14.
"""
import contextvars
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tale
from stages import ch14_kernels
from tale import kernel
from tale.testing import VirtualClock

ROOT = Path(__file__).resolve().parent.parent

#: The library's tests and chapters that exercise the kernel, run on the readable one.
ON_THE_READABLE_KERNEL = [
    "tests/test_tale_kernel.py", "tests/test_tale_timeouts.py", "tests/test_tale_taskgroup.py",
    "tests/test_tale_sync.py", "tests/test_tale_queues.py", "tests/test_tale_testing.py",
    "tests/test_tale_regressions.py", "tests/test_tale_combinations.py",
    "tests/test_tale_generated.py",     # random programs, with trio and asyncio as the oracle
    "book/ch09-library.md", "book/ch10-timeouts.md", "book/ch11-taskgroups.md",
    "book/ch12-sync.md", "book/ch13-testing.md", "book/ch18-outside.md", "book/ch19-inside.md",
]
#: Slower ones (real processes for Ctrl-C, Ctrl-C at every line of the kernel,
#: the suite again under instruments): `make soak-programs` runs them too
#: (TALE_READABLE_FULL=1).
if os.environ.get("TALE_READABLE_FULL"):
    ON_THE_READABLE_KERNEL += ["tests/test_ch18_outside.py", "tests/test_tale_interrupts.py",
                               "tests/test_tale_inside.py"]


def test_the_library_runs_on_chapter_9s_readable_kernel():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(["tests", "code"]), "TALE_DEBUG": "1"}
    # (Less one timing test, of the wait queues' cost, which a loaded machine can fail.)
    proc = subprocess.run([sys.executable, "tests/readable_kernel.py", "-p", "no:cacheprovider",
                           "-x", "-k", "not is_linear", *ON_THE_READABLE_KERNEL],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert f"tale.kernel is {ROOT / 'code' / 'stages' / 'ch09_kernel.py'}" in out, out[-3000:]
    failures = [line for line in out.splitlines()
                if line.startswith(("FAILED", "ERROR", "E ")) or " failed" in line]
    assert proc.returncode == 0 and " passed" in out, "\n".join(failures[:40]) or out[-3000:]


KERNELS = [ch14_kernels.ReadableTick, ch14_kernels.BatchInOnePiece, ch14_kernels.FastPath,
           ch14_kernels.ClosureUndo, ch14_kernels.OwnContexts, kernel.Kernel]


async def _worker(name, log, rounds):
    for i in range(rounds):
        log.append(f"{name}{i}@{tale.clock():g}")
        await tale.sleep(0)


async def _sleeper(log, seconds):
    await tale.sleep(seconds)
    log.append(f"woke {seconds:g} at {tale.clock():g}")
    return seconds


async def _crash():
    raise LookupError("no such thing")


async def _yields_junk():
    import types

    @types.coroutine
    def junk():
        yield "junk"
    await junk()


async def _program(log):
    """A little of everything the tick does: switches, timers, cancellation, errors."""
    for name in "abc":
        await tale.spawn(_worker, name, log, 3)
    sleepers = [await tale.spawn(_sleeper, log, s) for s in (3, 1, 2, 1, 5)]
    await sleepers[-1].cancel()                     # a sleep's undo kills its timer
    log.append(f"cancelled: {sleepers[-1].cancelled()}")
    log.append(f"current: {(await tale.current_task()).name}")
    crash = await tale.spawn(_crash)
    try:
        await crash.join()
    except LookupError as error:
        log.append(f"joined the crash: {error}")
    try:
        junk = await tale.spawn(_yields_junk)
        await junk.join()
    except TypeError as error:
        log.append(f"junk: {str(error)[:40]}")
    async with tale.TaskGroup() as group:
        await group.spawn(_sleeper, log, 0.5)
    async with tale.move_on_after(0.25):
        await tale.sleep(10)
    log.append(f"moved on at {tale.clock():g}")
    return [await s.join() for s in sleepers[:-1]]


@pytest.mark.parametrize("cls", KERNELS, ids=lambda c: c.__name__)
def test_every_step_of_chapter_14_runs_a_program_like_the_package(cls):
    transcripts = []
    for kernel_class in (kernel.Kernel, cls):
        log = []
        result = kernel_class(VirtualClock(), True).run(_program, log)   # debug: invariants
        transcripts.append((result, log))
    assert transcripts[0] == transcripts[1]
    result, log = transcripts[0]
    assert result == [3, 1, 2, 1] and "cancelled: True" in log
    assert log[:3] == ["a0@0", "b0@0", "c0@0"]


@pytest.mark.parametrize("cls", KERNELS, ids=lambda c: c.__name__)
def test_every_step_counts_its_ticks(cls):
    k = cls(VirtualClock(), False)
    k.run(_worker, "a", [], 5)
    assert k.ticks == 5 + 1           # five switches, and the tick that ends the task


def test_the_steps_differ_only_in_what_their_listings_replace():
    """Each class of chapter 14's stage overrides only what its listing replaces."""
    def own(cls):
        return set(vars(cls)) - {"__module__", "__doc__"}
    assert own(ch14_kernels.OwnContexts) == {"_loop", "trap_spawn"}
    assert own(ch14_kernels.ClosureUndo) == {"trap_sleep", "_wait_file", "_undo_wait"}
    assert own(ch14_kernels.ReadableTick) == {
        "_loop", "tick", "poll_timeout", "poll", "expire_timers",
        "run_batch", "resume", "dispatch"}
    for cls in (ch14_kernels.BatchInOnePiece, ch14_kernels.FastPath):
        assert own(cls) == {"run_batch"}


@pytest.mark.parametrize("cls", KERNELS, ids=lambda c: c.__name__)
def test_a_task_that_sets_a_variable_and_fails_leaves_the_others_their_context(cls):
    """The blank context of step 5: claimed by a task that then fails in the same step."""
    var = contextvars.ContextVar("var", default="-")

    async def sets_and_fails():
        var.set("mine")
        raise KeyError("after setting")

    async def reads(log):
        await tale.sleep(0)
        log.append(var.get())

    async def main():
        log = []
        failing = await tale.spawn(sets_and_fails)
        reader = await tale.spawn(reads, log)
        await tale.sleep(0)
        await reader.join()
        with pytest.raises(KeyError):
            await failing.join()
        later = await tale.spawn(reads, log)
        await later.join()
        return log
    assert contextvars.Context().run(cls(None, True).run, main) == ["-", "-"]
