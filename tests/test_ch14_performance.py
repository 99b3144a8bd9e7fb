"""Chapter 14: its exercises, and the committed results it shows.

The chapter's numbers come from ``book/results/``, written by ``make bench``.
These tests check that those files are there (a fresh clone builds the book
without running a benchmark), that the tables are exactly what bench/report.py
makes of the committed raw samples, that every number in the prose of the
chapter and of its appendix (book/bench-notes.md) appears in the results, and
that the chapter leaves the lab notebook (runs, drift, targets) to the appendix.
"""
import importlib
import gc
import json
import re
import selectors
import sys
import time
import warnings
from pathlib import Path

import pytest

from solutions.ch14_ex1 import poll_ns, switch_ns
from solutions.ch14_ex2 import cached_send, sleep

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "book" / "results"
CHAPTER = ROOT / "book" / "ch14-performance.md"
NOTES = ROOT / "book" / "bench-notes.md"
TABLES = ("machine.txt", "summary.txt", "floors.txt", "stages.txt", "scaling.txt",
          "echo_profile.txt", "targets.txt")
VARIANT_TABLES = ("optimisations.txt", "unused.txt", "recheck.txt", "gc_timers.txt")
PLOTS = ("switch_scaling", "timer_scaling", "idle_cpu", "memory")


# -- exercises ---------------------------------------------------------------------

def test_poll_ns_times_one_select_0_per_call_on_one_idle_socket(monkeypatch):
    """Each select takes 250 ns on a clock that only selects advance."""
    clock, seen = [0.0], []

    class Timed(selectors.DefaultSelector):
        def select(self, timeout=None):
            seen.append((timeout, len(self.get_map())))
            clock[0] += 250e-9
            return super().select(timeout)

    monkeypatch.setattr(selectors, "DefaultSelector", Timed)
    monkeypatch.setattr(time, "perf_counter", lambda: clock[0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        assert poll_ns(40) == pytest.approx(250)
        gc.collect()
    assert seen == [(0, 1)] * 40
    assert [w for w in caught if w.category is ResourceWarning] == []   # sockets closed


def test_poll_ns_on_the_real_clock_is_a_plausible_system_call():
    assert 10 < poll_ns(200) < 1e6


def test_switch_ns_shares_one_poll_among_the_batch():
    assert switch_ns(500, 2000, 10) == 700
    assert switch_ns(500, 2000, 1) == 2500
    costs = [switch_ns(500, 2000, n) for n in (1, 10, 100, 1000)]
    assert costs == sorted(costs, reverse=True)


def test_cached_send_runs_tasks_in_fifo_order():
    log = []

    async def noted(rounds):
        me = object()
        for i in range(rounds):
            log.append((id(me), i))
            await sleep(0)

    result = cached_send(tasks=2, rounds=3, body=noted)
    assert result["switches"] == 6
    firsts = [who for who, i in log if i == 0]
    assert len(set(firsts)) == 2
    assert log == [(firsts[0], 0), (firsts[1], 0), (firsts[0], 1), (firsts[1], 1),
                   (firsts[0], 2), (firsts[1], 2)]


# -- committed results -------------------------------------------------------------

def bench(module):
    """A module of bench/, imported with bench/ on the path (its modules import
    one another by name)."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        return importlib.import_module(module)
    finally:
        sys.path.remove(str(ROOT / "bench"))


@pytest.fixture(scope="module")
def data():
    return json.loads((RESULTS / "results.json").read_text())


def test_results_are_committed_from_a_full_run(data):
    assert data["meta"]["mode"] == "full"
    for name in TABLES:
        assert (RESULTS / name).is_file(), name
    for name in PLOTS:
        assert "<svg" in (RESULTS / f"{name}.svg").read_text()
        assert (RESULTS / f"{name}.pdf").read_bytes().startswith(b"%PDF")
    assert data["meta"]["backends"]["asyncio"]["ok"]


@pytest.mark.leaks_descriptors("matplotlib keeps its font files open, a cache for the process")
def test_tables_are_what_the_report_makes_of_the_samples(data, tmp_path):
    report = bench("report")
    report.write_all(data, str(tmp_path))
    for name in TABLES:
        assert (tmp_path / name).read_text() == (RESULTS / name).read_text(), name


@pytest.mark.parametrize("module, tables", [("variants", VARIANT_TABLES),
                                            ("rejected", ("rejected.txt",)),
                                            ("kernel_steps", ("kernel_steps.txt",))])
def test_side_run_tables_are_what_their_script_makes_of_the_samples(module, tables,
                                                                    tmp_path):
    data = json.loads((RESULTS / f"{bench(module).NAME}.json").read_text())
    assert data["meta"]["mode"] == "full"
    (tmp_path / "results.json").write_text((RESULTS / "results.json").read_text())
    bench(module).write_all(data, str(tmp_path))
    for name in tables:
        assert (tmp_path / name).read_text() == (RESULTS / name).read_text(), name


def test_the_second_run_is_what_the_report_makes_of_its_samples():
    data = json.loads((RESULTS / "rerun" / "results.json").read_text())
    assert data["meta"]["mode"] == "full"
    report = bench("report")
    text = report.rerun_text(data)
    assert text == (RESULTS / "rerun" / "targets.txt").read_text()


def _fake(samples):
    """results.json with one sample per (group, backend, bench): CPU medians given."""
    keys = {"switches": "cpu_ns_per_switch", "spawn_join": "cpu_us_per_task",
            "timers": "cpu_seconds", "echo": "cpu_round_trips_per_s"}
    out = []
    for (group, bench, backend), value in samples.items():
        out.append({"group": group, "bench": bench, "backend": backend, "params": {},
                    "repeat": 0, "result": {keys[bench]: value}})
    return {"samples": out}


def test_targets_are_judged_on_the_median_of_the_ratios_within_each_round():
    report = bench("report")
    # Round 1 was slow for everybody: the ratio within each round is 4, 5 and 3.
    samples = []
    for rep, (tale, asyncio) in enumerate([(1.0, 4.0), (3.0, 15.0), (2.0, 6.0)]):
        for backend, value in (("tale", tale), ("asyncio", asyncio)):
            samples.append({"group": "main", "bench": "timers", "backend": backend,
                            "params": {}, "repeat": rep,
                            "result": {"cpu_seconds": value}})
    rows = {(b, ref): (m, met) for b, ref, _op, _bound, m, met
            in report.target_rows({"samples": samples})}
    assert rows[("timers", "asyncio")] == (4.0, True)   # medians alone: 6 / 2 = 3
    best = {(b, ref): m for b, ref, _op, _bound, m, _met
            in report.target_rows({"samples": samples}, best=True)}
    assert best[("timers", "asyncio")] == 4.0           # fastest: 4.0 / 1.0


def test_targets_are_computed_from_the_medians_and_judged():
    report = bench("report")
    data = _fake({("main", "switches", "tale"): 200.0, ("main", "switches", "asyncio"): 1200.0,
                  ("main", "switches", "uvloop"): 600.0,
                  ("floors", "switches", "floor:sched"): 160.0,
                  ("main", "spawn_join", "tale"): 2.5, ("main", "spawn_join", "asyncio"): 6.0,
                  ("main", "timers", "tale"): 0.8, ("main", "timers", "asyncio"): 2.0,
                  ("main", "echo", "tale"): 40_000.0, ("main", "echo", "asyncio"): 25_000.0,
                  ("main", "echo", "uvloop"): 50_000.0})
    rows = {(b, ref): (round(m, 2) if m is not None else None, met)
            for b, ref, _op, _bound, m, met in report.target_rows(data)}
    assert rows[("switches", "asyncio")] == (6.0, True)
    assert rows[("switches", "floor:sched")] == (1.25, True)
    assert rows[("spawn_join", "asyncio")] == (2.4, False)
    assert rows[("timers", "asyncio")] == (2.5, False)
    assert rows[("echo", "asyncio")] == (1.6, False)
    assert rows[("echo", "uvloop")] == (0.8, False)
    assert rows[("switches", "uvloop")] == (3.0, True)
    assert rows[("timers", "uvloop")] == (None, None)      # no uvloop sample: not judged
    assert "| timers: ahead of uvloop | – | – | – |" in report.targets_text(data)


NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def numbers_in(text, prefixes=False):
    """The numbers in ``text``, with thousands separators removed.

    With ``prefixes``, a version such as 3.11.7 also yields 3.11 and 3.
    """
    found = set()
    for token in NUMBER.findall(text):
        token = token.replace(",", "") if re.fullmatch(r"\d{1,3}(,\d{3})+", token) else token
        found.add(token)
        if prefixes:
            parts = token.split(".")
            found.update(".".join(parts[:k]) for k in range(1, len(parts)))
    return found


def prose(markdown):
    text = re.sub(r"^(`{3,})[^\n]*\n.*?^\1\s*$", "", markdown, flags=re.S | re.M)
    text = re.sub(r"`[^`\n]*`", "", text)                     # inline code
    text = re.sub(r"^:[\w-]+:.*$", "", text, flags=re.M)      # directive options
    text = re.sub(r"^:::\{[^}]*\}.*$", "", text, flags=re.M)  # directive lines
    return text


@pytest.mark.parametrize("page", [CHAPTER, NOTES], ids=["chapter", "notes"])
def test_every_number_in_the_prose_comes_from_the_results(page):
    known = set()
    for path in RESULTS.rglob("*"):
        if path.suffix in (".txt", ".json"):
            known |= numbers_in(path.read_text(), prefixes=True)
    allowed = {"127.0.0.1"}
    stray = sorted(n for n in numbers_in(prose(page.read_text()))
                   if n not in known and n not in allowed
                   and not (n.isdigit() and int(n) <= 10))
    assert stray == [], f"numbers in {page.name} that no results file contains: {stray}"


def test_the_chapter_leaves_runs_drift_and_targets_to_the_notes():
    """The chapter teaches; the appendix keeps the lab notebook and every table of it."""
    chapter, notes = CHAPTER.read_text(), NOTES.read_text()
    notebook = re.compile(r"\b(targets?|load average|drift|commit|earlier runs?|"
                          r"second run|recheck)\b", re.I)
    assert notebook.findall(prose(chapter).replace("the targets the library", "")) == []
    for table in ("machine.txt", "targets.txt", "recheck.txt", "rerun/targets.txt"):
        include = f":::{{include}} results/{table}"
        assert include in notes and include not in chapter, table
    for table in ("summary.txt", "floors.txt"):
        assert f":::{{include}} results/{table}" in chapter, table


@pytest.mark.parametrize("name", ["ch15-streams", "ch16-http", "ch17-redis", "ch19-inside"])
def test_part_three_leaves_its_lab_notes_to_the_appendix(name):
    """Part III's measurements: a question, a table, its lessons; the method is in the notes."""
    [chapter] = CHAPTER.parent.glob(f"{name}.md")
    notebook = re.compile(r"\b(load average|drift|commits?|earlier runs?|second run|"
                          r"recheck|build machine|shared machine|held to|"
                          r"targets? (?:met|missed))\b", re.I)
    assert notebook.findall(prose(chapter.read_text())) == [], name
    heading = {"ch15-streams": "Chapter 15", "ch16-http": "Chapter 16",
               "ch17-redis": "Chapter 17", "ch19-inside": "Chapter 19"}[name]
    assert f"## {heading}:" in NOTES.read_text(), f"the notes have no section for {name}"
