"""Chapter 8: one loop, its invariants, and its boundary.

The behaviour tests of chapters 3 to 7 already run against this stage
through tests/stagelist.py; the first test here runs them once more with
the invariants checked after every tick (TALE_DEBUG=1).
"""
import os
import re
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from stagelist import stages_with
from solutions.ch08_ex1 import CensusLoop
from solutions.ch08_ex2 import TracingLoop

ROOT = Path(__file__).resolve().parent.parent
ONE_LOOP = stages_with("invariants")
EARLIER_TESTS = ["tests/test_ch03_loop.py", "tests/test_ch04_spawn.py",
                 "tests/test_ch05_time.py", "tests/test_ch06_io.py",
                 "tests/test_ch07_cancel.py"]


def test_every_earlier_test_passes_with_the_invariants_checked():
    """Chapters 3-7's tests, against ch08_one_loop, checked every tick."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-k", "ch08_one_loop",
         *EARLIER_TESTS],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "TALE_DEBUG": "1"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    passed = int(re.search(r"(\d+) passed", result.stdout).group(1))
    assert passed >= 70, result.stdout[-500:]


@pytest.mark.parametrize("stage", ONE_LOOP)
def test_debug_mode_comes_from_the_argument_or_the_environment(stage, monkeypatch):
    monkeypatch.delenv("TALE_DEBUG", raising=False)
    assert stage.Loop().debug is False
    assert stage.Loop(debug=True).debug is True
    monkeypatch.setenv("TALE_DEBUG", "1")
    assert stage.Loop().debug is True
    assert stage.Loop(debug=False).debug is False


@pytest.mark.parametrize("stage", ONE_LOOP)
def test_debug_mode_checks_after_every_tick(stage):
    checks = []

    class Counting(stage.Loop):
        def check_invariants(self):
            checks.append(self.ticks)
            super().check_invariants()

    async def child(n):
        await stage.sleep(n)
        return n

    async def main():
        tasks = [await stage.spawn(child(n)) for n in (2, 1, 0)]
        return [await stage.join(t) for t in tasks]

    loop = Counting(stage.VirtualClock(), debug=True)
    assert loop.run(main()) == [2, 1, 0]
    assert checks == list(range(1, loop.ticks + 1))


@pytest.mark.parametrize("stage", ONE_LOOP)
def test_a_mixed_workload_keeps_every_invariant(stage):
    """Spawn, join, sleep, I/O, cancel and failures, all at once."""
    a, b = socket.socketpair()
    reader, writer = stage.Socket(a), stage.Socket(b)
    log = []

    async def sleeper(n):
        await stage.sleep(n)
        return n

    async def read_two():
        return await reader.recv(1) + await reader.recv(1)

    async def failing():
        await stage.sleep(0.5)
        raise ValueError("expected")

    async def main():
        r = await stage.spawn(read_two())
        sleepers = [await stage.spawn(sleeper(n)) for n in (3, 1, 2)]
        doomed = await stage.spawn(sleeper(100))
        bad = await stage.spawn(failing())
        joiner = await stage.spawn(stage.join(doomed))
        await writer.send(b"x")
        await stage.sleep(1.5)
        await writer.send(b"y")
        log.append(("cancel joiner", await stage.cancel(joiner)))
        log.append(("cancel doomed", await stage.cancel(doomed)))
        log.append([await stage.join(t) for t in sleepers])
        log.append(await stage.join(r))
        try:
            await stage.join(bad)
        except ValueError as exc:
            log.append(str(exc))

    loop = stage.Loop(stage.VirtualClock(), debug=True)
    with reader, writer:
        loop.run(main())
    assert log == [("cancel joiner", True), ("cancel doomed", True), [3, 1, 2], b"xy",
                   "expected"]
    assert loop.clock.now() == 3.0
    assert not loop.tasks and not loop.ready and not loop.selector.get_map()


def napping_loop(stage):
    async def napper():
        await stage.sleep(10)

    loop = stage.Loop(stage.VirtualClock())
    task = loop.spawn_task(napper())
    loop.tick()
    loop.check_invariants()             # healthy to begin with
    return loop, task


@pytest.mark.parametrize("stage", ONE_LOOP)
@pytest.mark.parametrize("corruption", [
    "queued twice", "timer lost", "undo lost", "state lies", "done but queued",
    "stale registration", "stray cancelled timer"])
def test_check_invariants_catches_each_kind_of_corruption(stage, corruption):
    loop, task = napping_loop(stage)
    if corruption == "queued twice":
        loop.ready.append(task)
    elif corruption == "timer lost":
        loop.cancelled_timers.add(loop.timers[0][1])
    elif corruption == "undo lost":
        task.undo = None
    elif corruption == "state lies":
        task.state = "joining"
    elif corruption == "done but queued":
        loop.tasks.discard(task)
    elif corruption == "stale registration":
        a, b = socket.socketpair()
        loop.selector.register(a, stage.selectors.EVENT_READ,
                               {stage.selectors.EVENT_READ: task})
    elif corruption == "stray cancelled timer":
        loop.cancelled_timers.add(12345)
    with pytest.raises(AssertionError):
        loop.check_invariants()
    if corruption == "stale registration":
        a.close()
        b.close()


@pytest.mark.parametrize("stage", ONE_LOOP)
def test_every_state_has_one_place(stage):
    assert set(stage.PLACES) == {"ready", "running", "sleeping", "reading", "writing",
                                 "joining", "cancelling", "done"}
    assert stage.WAITS == {s for s in stage.PLACES
                           if s not in ("ready", "running", "done")}


@pytest.mark.parametrize("stage", ONE_LOOP)
def test_bad_input_is_thrown_into_the_task_that_made_it(stage):
    """Each mistake reaches only the task that made it; the others go on."""
    import asyncio
    log = []

    class NoFileno:
        pass

    async def bystander():
        for i in range(3):
            await stage.sleep(1)
            log.append(("bystander", i))

    async def clumsy():
        attempts = {
            "foreign awaitable": asyncio.sleep(0),
            "unknown tag": stage._request("teleport", "moon"),
            "join yourself": stage.join(await stage.current()),
            "join a non-task": stage.join(42),
            "spawn a non-coroutine": stage.spawn(print),
            "cancel a non-task": stage.cancel("task"),
            "wait for a non-file": stage.read_wait(NoFileno()),
            "sleep a string": stage.sleep("soon"),
        }
        for name, attempt in attempts.items():
            try:
                await attempt
                log.append((name, "no error"))
            except (TypeError, RuntimeError, ValueError) as exc:
                log.append((name, type(exc).__name__))
            await stage.sleep(0)

    async def main():
        b = await stage.spawn(bystander())
        c = await stage.spawn(clumsy())
        await stage.join(c)
        await stage.join(b)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stage.run(main(), clock=stage.VirtualClock(), debug=True)
    mistakes = [entry for entry in log if entry[0] != "bystander"]
    assert mistakes == [
        ("foreign awaitable", "TypeError"), ("unknown tag", "TypeError"),
        ("join yourself", "RuntimeError"), ("join a non-task", "TypeError"),
        ("spawn a non-coroutine", "TypeError"), ("cancel a non-task", "TypeError"),
        ("wait for a non-file", "ValueError"), ("sleep a string", "TypeError")]
    assert [entry for entry in log if entry[0] == "bystander"] == [
        ("bystander", 0), ("bystander", 1), ("bystander", 2)]


@pytest.mark.parametrize("stage", ONE_LOOP)
def test_a_non_request_is_named_in_the_error(stage):
    import types

    @types.coroutine
    def odd():
        yield {"not": "a request"}

    async def main():
        try:
            await odd()
        except TypeError as exc:
            return str(exc)

    assert "{'not': 'a request'}" in stage.run(main())


def test_the_stage_demo_hangs_up_on_the_silent_client():
    stage = ROOT / "code" / "stages" / "ch08_one_loop.py"
    out = subprocess.run([sys.executable, str(stage)], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    assert out.splitlines() == [
        "client sent b'hello', got b'hello'",
        "server: hung up on a silent client after 0.2 s",
        "client sent b'', got b''"]


# ------------------------------------------------------------ exercises

def test_exercise_1_census_counts_live_tasks_by_state():
    from stages.ch08_one_loop import VirtualClock, join, sleep, spawn
    seen = []

    async def nap():
        await sleep(5)

    async def main():
        sleepers = [await spawn(nap()) for _ in range(3)]
        joiner = await spawn(join(sleepers[0]))
        await sleep(0)
        seen.append(loop.statistics())
        await join(joiner)

    loop = CensusLoop(VirtualClock())
    loop.run(main())
    # main is running while it asks; the joiner ran once and waits
    assert seen == [{"running": 1, "sleeping": 3, "joining": 1}]
    assert loop.statistics() == {}


def test_exercise_2_tracing_loop_records_every_request():
    from stages.ch08_one_loop import VirtualClock, join, sleep, spawn

    async def child():
        await sleep(1)
        return "ok"

    async def main():
        task = await spawn(child())
        return await join(task)

    loop = TracingLoop(VirtualClock())
    assert loop.run(main()) == "ok"
    assert loop.trace == [(1, 1, "spawn"), (2, 2, "sleep"), (2, 1, "join")]


def test_every_test_the_colophon_names_exists():
    """The colophon maps the book's claims to tests; a renamed test must not leave it stale."""
    colophon = (ROOT / "book" / "how-made.md").read_text()
    table = colophon[colophon.index("## Which test checks which claim"):]
    named = re.findall(r"`(\w+\.py)(?:::(\w+))?`", table)
    assert len(named) >= 40
    for filename, test in named:
        path = ROOT / "tests" / filename
        assert path.is_file(), filename
        if test:
            assert re.search(rf"^def {test}\(", path.read_text(), re.M), f"{filename}::{test}"


def test_the_chapters_offer_no_test_names_as_proof():
    """Chapters show behaviour as examples; the map to tests lives in the colophon."""
    for number in range(1, 20):
        [chapter] = (ROOT / "book").glob(f"ch{number:02}-*.md")
        text = re.sub(r"^(`{3,}).*?^\1\s*$", "", chapter.read_text(), flags=re.S | re.M)
        assert not re.search(r"`(tests/|test_\w+)", text), chapter.name


@pytest.mark.parametrize("package, path", [("curio", "kernel.py"),
                                           ("trio", "_core/_run.py")])
def test_the_sizes_the_chapter_gives_for_curio_and_trio(package, path):
    """"How big is it?" quotes the line counts of the pinned releases."""
    module = pytest.importorskip(package)
    chapter = (ROOT / "book" / "ch08-one-loop.md").read_text()
    claim = re.search(rf"{package} ([\d.]+)'s `{package}/{re.escape(path)}`"
                      r"[^\d]*?has ([\d,]+)", chapter, re.S)
    assert claim, f"the chapter no longer names the size of {package}/{path}"
    version, size = claim.group(1), int(claim.group(2).replace(",", ""))
    if module.__version__ != version and not module.__version__.startswith(version + "."):
        pytest.skip(f"{package} {module.__version__} installed, the chapter names {version}")
    source = Path(module.__file__).parent / path
    assert len(source.read_text().splitlines()) == size
