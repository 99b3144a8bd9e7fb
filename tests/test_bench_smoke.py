"""`make bench` in miniature: every benchmark runs, every row of every table is there.

No test here asserts a time.  Peers that are not installed (requirements-bench.txt
is optional) are reported, not failed; a peer that is installed must run everything.
"""
import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))

import adapters  # noqa: E402
import config  # noqa: E402
import report  # noqa: E402


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """`make bench` at tiny sizes: the one entry point, every part of it."""
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
    assert all(probes[f]["ok"] for f in config.FLOORS)
    ran = {(s["group"], s["bench"], s["backend"]) for s in data["samples"]}
    for bench in config.HEADLINE:
        for backend in config.BACKENDS + config.EXTRA.get(bench, []):
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
    assert len(tables) == len(config.HEADLINE)
    for bench, table in zip(config.HEADLINE, tables):
        rows = [line.split(" | ")[0][2:] for line in table.splitlines()
                if line.startswith("| ") and "---" not in line]
        extra = [report.ROW_NAMES.get(b, b) for b in config.EXTRA.get(bench, [])]
        assert rows == ["backend"] + config.BACKENDS + extra
    for backend in config.BACKENDS:
        if not data["meta"]["backends"][backend]["ok"]:
            assert f"| {backend} | not run: " in summary
            assert re.search(rf"^  {backend} +NOT RUN: ", log, re.M)
    floors = (out / "floors.txt").read_text()
    for label in report.FLOOR_LABELS.values():
        assert label in floors
    scaling = (out / "scaling.txt").read_text()
    for backend in config.BACKENDS:
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
    for name in config.BACKENDS:
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


def test_variants_smoke_runs_every_variant_and_writes_its_tables(smoke):
    tmp_path, _data, _log = smoke
    data = json.loads((tmp_path / "variants.json").read_text())
    ran = {(s["group"], s["backend"]) for s in data["samples"] if "error" not in s["result"]}
    switched = config.SWITCH_VARIANTS + config.SWITCH_REFERENCES
    assert ran == ({("variants", v) for v in switched}
                   | {(g, b) for g in ("gc", "tracked") for b in ("tale", "minimal", "asyncio")}
                   | {("collections", b) for b in ("tale", "minimal")})
    for s in data["samples"]:
        if s["group"] == "variants":
            p = s["params"]
            assert s["result"]["switches"] == p["tasks"] * p["rounds"]
    tracked = [s["result"] for s in data["samples"]
               if s["group"] == "tracked" and s["backend"] == "tale"]
    # No Context: a task spawned from an empty one shares the blank context (chapter 9).
    assert tracked[0]["kinds_per_task"] == {"Task": 1.0, "coroutine": 1.0, "generator": 1.0}
    import variants
    unused = (tmp_path / "unused.txt").read_text()
    for _backend, _base, _name, label in variants.UNUSED:
        assert label in unused
    assert "fast path off → on" in (tmp_path / "optimisations.txt").read_text()
    assert "| asyncio |" in (tmp_path / "recheck.txt").read_text()
    gc_table = (tmp_path / "gc_timers.txt").read_text()
    assert "| tale |" in gc_table and "| asyncio |" in gc_table and "not run" not in gc_table


def test_the_table_of_full_collections_shows_the_median_run_of_each_loop():
    import variants
    def run(backend, full):
        return {"group": "collections", "backend": backend, "result": {"full": full}}
    data = {"samples": [run("tale", [[100_000, 0.030], [200_000, 0.070]]),
                        run("tale", [[100_000, 0.020], [200_000, 0.050]]),    # the median
                        run("tale", [[100_000, 0.010], [200_000, 0.020]]),
                        run("minimal", [[90_000, 0.009]])]}
    lines = variants.collections_lines(data)
    assert lines[4] == "| 1 | 100,000 | 20.0 | 200 | 90,000 | 9.0 | 100 |"
    assert lines[5] == "| 2 | 200,000 | 50.0 | 250 | – | – | – |"
    assert lines[-1] == "In all: tale 70 ms in 2; minimal 9 ms in 1."


def test_kernel_steps_smoke_runs_every_step_and_writes_its_table(smoke):
    """Chapter 14's steps: each kernel of code/stages/ch14_kernels.py ran, and has its rows."""
    tmp_path, _data, _log = smoke
    data = json.loads((tmp_path / "kernel.json").read_text())
    ran = {(s["group"], s["bench"], s["backend"]) for s in data["samples"]
           if "error" not in s["result"]}
    every = ["tale:ch09-tick", "tale:step1", "tale:step2", "tale:step3", "tale:step4",
             "tale:step5", "tale:step6", "tale"]
    timed = ["tale:step2", "tale:step3", "tale:step4", "tale:step5", "tale:step6", "tale"]
    assert ran == ({("kernel", "switches", b) for b in every}
                   | {("kernel", "spawn_join", b)
                      for b in ("tale:step4", "tale:step5", "tale:step6", "tale")}
                   | {(g, bench, b) for g, bench in (("gc", "timers_gc"), ("tracked", "tracked"))
                      for b in timed})
    table = (tmp_path / "kernel_steps.txt").read_text()
    for _step, _after, _before, what in config.KERNEL_STEP_LIST:
        assert what in table
    assert "| after step 7 (the package) |" in table
    assert "| – |" not in table.split("**The timers")[1].split("**Time after")[0]
    tracked = {s["backend"]: s["result"]["kinds_per_task"] for s in data["samples"]
               if s["group"] == "tracked"}
    assert tracked["tale:step3"]["cell"] == 2.0          # the closure's two cells
    assert "cell" not in tracked["tale:step4"] and tracked["tale:step4"]["Context"] == 1.0
    assert "Context" not in tracked["tale"]               # the blank context, shared


def test_tale_variants_switch_like_tale():
    """Each variant of the tale adapter runs the switch benchmark to the end."""
    import programs
    for name in ("tale",) + tuple(adapters.VARIANTS):
        result = programs.switches(adapters.load(name), tasks=3, rounds=4)
        assert result["switches"] == 12, name


def test_each_tale_variant_has_its_feature_around_the_tasks():
    import tale
    seen = {}

    async def probe(name):
        task = await tale.current_task()
        seen[name] = (task.coro.__qualname__, tale.clock() == 0.0)

    for name in ("tale",) + tuple(adapters.VARIANTS):
        B = adapters.load(name)

        async def main():
            await B.join(await B.spawn(probe, name))
        B.run(main)
    assert seen["tale"] == ("test_each_tale_variant_has_its_feature_around_the_tasks."
                            "<locals>.probe", False)
    assert seen["tale:generic"] == seen["tale"] == seen["tale:async-sleep"]
    assert seen["tale:wrapped"] == ("_wrapped", False)
    assert seen["tale:timeout"] == ("TaleTimeoutAdapter._within", False)
    assert seen["tale:group"] == ("TaskGroup._supervise", False)
    assert seen["tale:virtual"] == (seen["tale"][0], True)     # the virtual clock starts at 0


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


def test_rejected_smoke_runs_every_change_next_to_tale(smoke):
    tmp_path, _data, _log = smoke
    data = json.loads((tmp_path / "rejected.json").read_text())
    ran = {(s["bench"], s["backend"]) for s in data["samples"] if "error" not in s["result"]}
    table = (tmp_path / "rejected.txt").read_text()
    for name, bench, base, what in config.CHANGES:
        assert {(bench, base), (bench, name)} <= ran
        row = next(line for line in table.splitlines() if line.startswith(f"| {what} |"))
        assert "–" not in row, row                  # measured on both sides
    speedups = table[table.index("| loop | speed-up |"):].splitlines()[2:]
    assert speedups and all(line.endswith(" × |") for line in speedups), speedups
    for name in adapters.REJECTED:
        version = data["meta"]["backends"][name]["version"]
        assert version == f"tale with bench/patches/{name.split(':')[1]}.patch"


def worker(*args):
    proc = subprocess.run([sys.executable, str(BENCH / "worker.py"), *args],
                          capture_output=True, text=True, timeout=120)
    return json.loads(proc.stdout)


def after_loading(name, code):
    """What `code` prints in a fresh process once adapter `name` is loaded (a
    patched backend puts its copy first on the import path when it loads)."""
    return subprocess.run(
        [sys.executable, "-c", f"import sys, inspect; sys.path[:0] = "
         f"{[str(BENCH), str(ROOT / 'code')]!r}; import adapters; "
         f"adapters.load({name!r}); {code}"],
        capture_output=True, text=True, timeout=60, check=True).stdout


@pytest.mark.parametrize("name", sorted(adapters.REJECTED))
def test_each_rejected_change_runs_tale_with_its_patch_applied(name):
    """In a fresh process: the patched tale spawns, joins and sleeps (the
    benchmarks check the joins' sum and the sleeps' length)."""
    assert "error" not in worker(name, "spawn_join", '{"tasks": 50}')
    result = worker(name, "timers", '{"tasks": 50, "max_ms": 20.0}')
    assert result["seconds"] >= result["longest_sleep"] > 0.015
    source = after_loading(name, "import tale.kernel, tale.traps; print(tale.__file__); "
                           "print(inspect.getsource(tale.kernel.Kernel.trap_spawn)"
                           " + inspect.getsource(tale.kernel.Kernel.trap_sleep)"
                           " + inspect.getsource(tale.traps.spawn))")
    assert "tale-patched-" in source.splitlines()[0]
    changed = {"tale:spawn-inline": "self._live += 1", "tale:spawn-trap": "(yield ('spawn'",
               "tale:timer-inline": "heapq.heappush(timers.heap",
               "tale:no-task-table": "(no parent link, and no task table"}[name]
    assert changed in source


@pytest.mark.parametrize("name, added", [
    ("minimal+table", ["tasks[child] = None", "del tasks[task]"]),
    ("minimal+parent", ["del tasks[task]", "child.parent = weakref.ref(task)"]),
    ("minimal+handlers", ["del tasks[task]", "child.parent = weakref.ref(task)",
                          'handlers = {"sleep": trap_sleep']),
    ("minimal+fields", ['handlers = {"sleep": trap_sleep', "self.waiting = None"]),
    ("minimal:heap-task", ["heapq.heappop(timers)[2]"])])
def test_each_price_runs_minimal_with_its_patch_applied(name, added):
    """The features added to `minimal` one by one (each with the ones before
    it), and the timers without cancelling: in a fresh process, the patched
    loop runs both benchmarks, and it is the patched source that runs."""
    assert "error" not in worker(name, "spawn_join", '{"tasks": 50}')
    result = worker(name, "timers", '{"tasks": 50, "max_ms": 20.0}')
    assert result["seconds"] >= result["longest_sleep"] > 0.015
    out = after_loading(name, "import minimal; print(minimal.__file__); "
                              "print(inspect.getsource(minimal))")
    assert "minimal-patched-" in out.splitlines()[0]
    assert all(line in out for line in added), name
    plain = (BENCH / "minimal.py").read_text()
    assert not any(line in plain for line in added)


@pytest.mark.parametrize("name, slot, spawn_calls", [
    ("tale:step4", "_shield", "_coroutine(corofunc, args"),     # a stage class, patched
    ("tale:step5", "_shield", "_coroutine(corofunc, args"),     # before steps 6 and 7
    ("tale:step6", "_rare", "_coroutine(corofunc, args"),       # before step 7
    ("tale", "_rare", "_awaitable(corofunc, coro")])
def test_each_kernel_step_runs_the_task_and_spawn_of_its_step(name, slot, spawn_calls):
    """Steps 6 and 7 change task.py and traps.py: the kernels before them run
    tale with those steps undone by a patch, in a fresh process."""
    assert "error" not in worker(name, "spawn_join", '{"tasks": 50}')
    out = after_loading(name, "import tale.task, tale.traps; print(tale.task.Task.__slots__); "
                              "print(inspect.getsource(tale.traps.spawn))")
    slots, spawn = out.split("\n", 1)
    assert f"'{slot}'" in slots and spawn_calls in spawn
    assert ("'_rare'" in slots) == (slot == "_rare")


def test_a_patch_that_no_longer_applies_makes_its_backend_unavailable(tmp_path, monkeypatch):
    (tmp_path / "patches").mkdir()
    stale = (BENCH / "patches" / "timer-inline.patch").read_text().replace(
        "self._timers.add(self.clock.now() + seconds, task)", "self._timers.add(seconds, task)")
    (tmp_path / "patches" / "timer-inline.patch").write_text(stale)
    monkeypatch.setattr(adapters, "HERE", str(tmp_path))
    for module in [m for m in sys.modules if m == "tale" or m.startswith("tale.")]:
        monkeypatch.delitem(sys.modules, module)
    with pytest.raises(adapters.Unavailable, match="timer-inline.patch no longer applies"):
        adapters.load("tale:timer-inline")
    assert "tale" not in sys.modules


def test_a_patched_tale_is_not_loaded_where_tale_already_is():
    import tale  # noqa: F401
    with pytest.raises(adapters.Unavailable, match="fresh process"):
        adapters.load("tale:spawn-inline")


BENCH_MODULES = sorted(p.stem for p in BENCH.glob("*.py"))


def test_the_bench_modules_import_one_another_without_a_cycle():
    """Static: every import of a bench module by another, wherever it is written
    (at the top or inside a function), is an edge; the graph has no cycle."""
    import ast
    graph = {}
    for name in BENCH_MODULES:
        tree = ast.parse((BENCH / f"{name}.py").read_text())
        uses = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                uses |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                uses.add(node.module)
        graph[name] = sorted(uses & set(BENCH_MODULES))
    done, path = set(), []

    def visit(name):
        assert name not in path, "import cycle: " + " -> ".join(path[path.index(name):] + [name])
        if name in done:
            return
        path.append(name)
        for other in graph[name]:
            visit(other)
        path.pop()
        done.add(name)

    for name in BENCH_MODULES:
        visit(name)
    assert graph["config"] == []


@pytest.mark.parametrize("name", BENCH_MODULES)
def test_each_bench_module_imports_alone_in_a_fresh_interpreter(name):
    """Imported first, with no other bench module loaded: it pulls in only what
    it needs (and a lazy import to break a cycle is not needed anywhere)."""
    code = (f"import sys; sys.path[:0] = [{str(BENCH)!r}, {str(ROOT / 'code')!r}]; "
            f"import {name}")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=ROOT)


def test_run_py_is_the_one_entry_point():
    mains = sorted(p.name for p in BENCH.glob("*.py") if '__name__ == "__main__"' in p.read_text())
    assert mains == ["run.py", "worker.py"]       # worker.py: the process of one sample
    assert "bench/run.py" in (ROOT / "Makefile").read_text()
    assert "run.py starts one of these processes" in (BENCH / "worker.py").read_text()


def test_compare_tool_runs_backends_side_by_side_from_two_trees():
    """``run.py --tool compare``: tale from this tree and from another (tale@DIR)."""
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--tool", "compare", "--smoke",
         "--bench", "spawn_join", "--backends", f"tale,minimal,tale@{ROOT}", "--repeats", "2"],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("spawn_join (cpu_us_per_task, median of 2")
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert set(rows) == {"tale", "minimal", f"tale@{ROOT}"}
    assert rows["tale"][2] == "1.00"                    # the reference
    assert all(float(row[1]) > 0 and row[3].startswith("[") for row in rows.values())
    bad = subprocess.run([sys.executable, str(BENCH / "run.py"), "--tool", "compare",
                          "--bench", "nope"], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "unknown benchmark nope" in bad.stderr


def test_in_the_timers_benchmark_main_seldom_waits_to_join(monkeypatch):
    """Chapter 14: the join path costs the timers benchmark next to nothing.
    main joins in spawn order; once the first task it joins has woken, the
    tasks with shorter sleeps have woken too, so nearly every join finds its
    task done, and `Task.join` returns without a request.  Counted here: the
    join requests that reach the kernel, each of which waits."""
    import programs
    from tale.kernel import Kernel
    waited = []
    plain = Kernel.trap_join

    def counting(self, task, request):
        waited.append(request[1])
        return plain(self, task, request)
    monkeypatch.setattr(Kernel, "trap_join", counting)
    programs.timers(adapters.load("tale"), tasks=20_000)
    assert 1 <= len(waited) <= 10, len(waited)      # the first join at least must wait
    assert len(set(waited)) == len(waited)
