"""`make bench` in miniature: every benchmark runs, every row of every table is there.

No test here asserts a time.  Peers that are not installed (requirements-bench.txt
is optional) are reported, not failed; a peer that is installed must run everything.
"""
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))

import adapters  # noqa: E402
import report  # noqa: E402
import run  # noqa: E402


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run([sys.executable, str(BENCH / "run.py"), "--smoke", "--out", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads((out / "results.json").read_text())
    return out, data, proc.stdout


def test_every_installed_backend_runs_every_benchmark(smoke):
    _out, data, _log = smoke
    probes = data["meta"]["backends"]
    missing = {b: p["reason"] for b, p in probes.items()
               if not p["ok"] and not b.startswith("stage:")}
    if missing:
        warnings.warn("not benchmarked here: " + "; ".join(f"{b}: {r}" for b, r in missing.items()))
    assert probes["asyncio"]["ok"], probes["asyncio"]
    assert all(probes[f]["ok"] for f in run.FLOORS)
    ran = {(s["group"], s["bench"], s["backend"]) for s in data["samples"]}
    for bench in run.HEADLINE:
        for backend in run.BACKENDS + run.EXTRA.get(bench, []):
            if probes[backend]["ok"]:
                assert ("main", bench, backend) in ran
    failed = [(s["bench"], s["backend"], s["result"]["error"]) for s in data["samples"]
              if "error" in s["result"]]
    assert failed == []
    for s in data["samples"]:
        if s["bench"] == "switches":
            p = s["params"]
            assert s["result"]["switches"] == p["tasks"] * p["rounds"]


def test_every_row_is_produced(smoke):
    out, data, log = smoke
    summary = (out / "summary.txt").read_text()
    tables = summary.split("\n**")
    assert len(tables) == len(run.HEADLINE)
    for bench, table in zip(run.HEADLINE, tables):
        rows = [line.split(" | ")[0][2:] for line in table.splitlines()
                if line.startswith("| ") and "---" not in line]
        extra = [report.ROW_NAMES.get(b, b) for b in run.EXTRA.get(bench, [])]
        assert rows == ["backend"] + run.BACKENDS + extra
    for backend in run.BACKENDS:
        if not data["meta"]["backends"][backend]["ok"]:
            assert f"| {backend} | not run: " in summary
            assert f"{backend:15} NOT RUN: " in log
    floors = (out / "floors.txt").read_text()
    for label in report.FLOOR_LABELS.values():
        assert label in floors
    scaling = (out / "scaling.txt").read_text()
    for backend in run.BACKENDS:
        assert f"| {backend} |" in scaling
    assert "Measured on" in (out / "machine.txt").read_text()
    stages = (out / "stages.txt").read_text()
    for name in data["meta"]["stages"]:
        assert f"`{name}`" in stages


def test_plots_are_written_when_matplotlib_is_installed(smoke):
    out, _data, _log = smoke
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "matplotlib is not installed" in (out / "plots.txt").read_text()
        return
    for name in ("switch_scaling", "timer_scaling", "idle_cpu", "memory"):
        text = (out / f"{name}.svg").read_text()
        assert text.lstrip().startswith("<?xml") and "<svg" in text


def test_curio_runs_optimised_and_the_output_says_why(smoke):
    _out, data, log = smoke
    if not data["meta"]["backends"]["curio"]["ok"]:
        pytest.skip("curio is not installed here")
    assert data["meta"]["flags"]["curio"]["flags"] == ["-O"]
    assert "curio runs with python -O" in log and "assert task not in ready" in log


def test_adapters_offer_the_same_operations():
    ops = ("run", "spawn", "join", "sleep", "wait_readable", "wait_writable", "now")
    for name in run.BACKENDS:
        try:
            backend = adapters.load(name)
        except adapters.Unavailable:
            continue
        for op in ops:
            assert callable(getattr(backend, op)), (name, op)


def test_unavailable_backend_is_reported_with_its_reason():
    proc = subprocess.run([sys.executable, str(BENCH / "worker.py"), "--probe", "nosuch"],
                          capture_output=True, text=True, timeout=60)
    assert json.loads(proc.stdout) == {"ok": False, "reason": "no adapter called 'nosuch'"}
    proc = subprocess.run([sys.executable, str(BENCH / "worker.py"), "nosuch", "switches", "{}"],
                          capture_output=True, text=True, timeout=60)
    assert json.loads(proc.stdout) == {"error": "no adapter called 'nosuch'"}


def test_ratios_are_ratios_of_time():
    assert report.ratio(200.0, 100.0, lower_is_better=True) == "2.00"     # twice the time
    assert report.ratio(50_000.0, 100_000.0, lower_is_better=False) == "2.00"  # half the rate
    assert report.ratio(None, 1.0, True) == "–"


def test_floor_rungs_count_their_switches():
    import floors
    for name, rung in floors.RUNGS.items():
        result = rung(tasks=3, rounds=7)
        assert result["switches"] == 21, name
        assert result["seconds"] > 0


def test_median_and_range_cell():
    assert report.cell([3.0, 1.0, 2.0]) == (2.0, "2.00 (1.00–3.00)")
    assert report.cell([]) == (None, "–")


def test_variants_smoke_runs_every_variant_and_writes_its_tables(tmp_path):
    proc = subprocess.run([sys.executable, str(BENCH / "variants.py"), "--smoke",
                           "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads((tmp_path / "variants.json").read_text())
    import variants
    ran = {(s["group"], s["backend"]) for s in data["samples"] if "error" not in s["result"]}
    switched = variants.SWITCH_VARIANTS + variants.SWITCH_REFERENCES
    assert ran == ({("variants", v) for v in switched}
                   | {(g, b) for g in ("gc", "tracked") for b in ("tale", "asyncio")})
    for s in data["samples"]:
        if s["group"] == "variants":
            p = s["params"]
            assert s["result"]["switches"] == p["tasks"] * p["rounds"]
    tracked = [s["result"] for s in data["samples"]
               if s["group"] == "tracked" and s["backend"] == "tale"]
    assert tracked[0]["kinds_per_task"] == {"Task": 1.0, "coroutine": 1.0, "generator": 1.0}
    unused = (tmp_path / "unused.txt").read_text()
    for _backend, _base, _name, label in variants.UNUSED:
        assert label in unused
    assert "fast path off → on" in (tmp_path / "optimisations.txt").read_text()
    assert "| asyncio |" in (tmp_path / "recheck.txt").read_text()
    gc_table = (tmp_path / "gc_timers.txt").read_text()
    assert "| tale |" in gc_table and "| asyncio |" in gc_table and "not run" not in gc_table


def test_tale_variants_switch_like_tale():
    """Each variant of the tale adapter runs the switch benchmark to the end."""
    import programs
    for name in ("tale",) + tuple(adapters.VARIANTS):
        result = programs.switches(adapters.load(name), tasks=3, rounds=4)
        assert result["switches"] == 12, name


def test_each_tale_variant_has_its_feature_around_the_tasks():
    import tale
    import tale.kernel
    import tale.testing
    seen = {}

    async def probe(name):
        task = await tale.current_task()
        kernel = tale.kernel.running_kernel()
        seen[name] = (task.coro.__qualname__, task._scope_depth,
                      type(kernel.clock).__name__)

    for name in ("tale",) + tuple(adapters.VARIANTS):
        B = adapters.load(name)

        async def main():
            await B.join(await B.spawn(probe, name))
        B.run(main)
    assert seen["tale"] == ("test_each_tale_variant_has_its_feature_around_the_tasks."
                            "<locals>.probe", 0, seen["tale"][2])
    assert seen["tale:generic"] == seen["tale"] == seen["tale:async-sleep"]
    assert seen["tale:wrapped"][:2] == ("_wrapped", 0)
    assert seen["tale:timeout"][:2] == ("TaleTimeoutAdapter._within", 1)
    assert seen["tale:group"][:2] == ("TaskGroup._supervise", 0)
    assert seen["tale:virtual"][2] == "VirtualClock" != seen["tale"][2]


def test_the_generic_variant_misses_the_fast_path():
    from tale.traps import YIELD
    for name, fast in (("tale", True), ("tale:generic", False), ("tale:async-sleep", True)):
        request = adapters.load(name).sleep(0).send(None)
        assert request == YIELD
        assert (request is YIELD) is fast, name


@pytest.mark.parametrize("name", ["minimal", "lean"])
def test_the_yardstick_loops_run_their_benchmarks_and_wait_for_real(name):
    import programs
    B = adapters.load(name)
    assert programs.spawn_join(B, tasks=50)["us_per_task"] > 0   # it checks the joins' sum
    result = programs.timers(B, tasks=50, max_ms=20.0)
    assert result["seconds"] >= result["longest_sleep"] > 0.015

    async def bad():
        await B.loop._trap(("teleport",))
    with pytest.raises(TypeError, match="teleport"):
        B.run(bad)


def test_rejected_smoke_runs_every_change_next_to_tale(tmp_path):
    proc = subprocess.run([sys.executable, str(BENCH / "rejected.py"), "--smoke",
                           "--out", str(tmp_path)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads((tmp_path / "rejected.json").read_text())
    import rejected
    ran = {(s["bench"], s["backend"]) for s in data["samples"] if "error" not in s["result"]}
    for name, bench, base, what in rejected.CHANGES:
        assert {(bench, base), (bench, name)} <= ran
        assert what in (tmp_path / "rejected.txt").read_text()


def test_each_rejected_change_still_runs_tale_correctly():
    """The patched kernels still spawn, join and sleep (patches undone afterwards)."""
    import tale
    from tale.testing import VirtualClock
    saved = dict(vars(tale.kernel.Kernel))

    async def child(x):
        await tale.sleep(1)
        return x * 2

    async def main(B):
        tasks = [await B.spawn(child, i) for i in range(5)]
        daemon = await tale.spawn(child, 100, daemon=True)
        return [await t.join() for t in tasks], daemon

    try:
        for name in ("tale:spawn-inline", "tale:spawn-trap", "tale:timer-inline"):
            B = adapters.load(name)
            clock = VirtualClock()
            results, daemon = tale.run(main, B, clock=clock)
            assert results == [0, 2, 4, 6, 8] and clock.now() == 1, name
            assert daemon.done(), name
    finally:
        for attr in ("trap_spawn", "trap_sleep"):
            setattr(tale.kernel.Kernel, attr, saved[attr])
    assert tale.kernel.Kernel.trap_spawn is saved["trap_spawn"]
