"""Chapter 14's steps from chapter 9's readable tick to the package's, each measured.

Run by ``bench/run.py`` after the other parts (alone: ``bench/run.py --only
kernel``).  Each step is a kernel class of code/stages/ch14_kernels.py, run
through an adapter (``tale:ch09-tick``, ``tale:batch``, ``tale:fast-path``;
step 3 is plain ``tale``), on the switch benchmark, in the same interleaved
rounds as the step before it.  Then the timers benchmark with every
collection timed, and the objects the collector tracks per sleeping task, on
``tale:fast-path`` (before step 3), ``tale:closure-undo`` (the package's
kernel with chapter 9's undo for a sleep, before step 4) and ``tale``.  Every sample in a fresh process pinned
to one CPU.  Writes kernel.json (the raw samples) and kernel_steps.txt.
"""
from __future__ import annotations

import os
import statistics

from config import TICK_STEPS, UNDO_STEP
from report import by_round, cell, values

NAME = "kernel"
SWITCHERS = list(dict.fromkeys(n for _, after, before, _ in TICK_STEPS for n in (before, after)))
TIMED = [TICK_STEPS[2][2], UNDO_STEP[2], UNDO_STEP[1]]     # fast-path, closure-undo, tale
BACKEND_NAMES = list(dict.fromkeys(SWITCHERS + TIMED))


def plan(cfg):
    """[(job list, repeats)]: the switch benchmark on every step, then step 4 on timers."""
    return [([("kernel", "switches", cfg["switches"], SWITCHERS)], cfg["repeats"]),
            ([("gc", "timers_gc", cfg["timers"], TIMED),
              ("tracked", "tracked", cfg["tracked"], TIMED)], cfg["gc_repeats"])]


def _within(data, group, bench, after, before, key):
    """Median over the rounds of after's value divided by before's, same round."""
    a, b = (by_round(data, group, bench, x, key) for x in (after, before))
    ratios = [a[r] / b[r] for r in a if r in b and b[r]]
    return statistics.median(ratios) if ratios else None


def _change(after, before):
    if after is None or before is None:
        return "–"
    return f"{after - before:+.0f} ns ({100 * (after - before) / before:+.0f} %)"


def steps_text(data):
    ns = {b: values(data, "kernel", "switches", b, "cpu_ns_per_switch") for b in SWITCHERS}
    lines = ["| step | switch benchmark: CPU ns per switch, median (min–max) "
             "| change of the medians | of the fastest samples "
             "| time against the step before (median of the rounds) |",
             "|---|---|---|---|---|",
             f"| chapter 9's tick | {cell(ns[SWITCHERS[0]])[1]} | – | – | – |"]
    for step, after, before, what in TICK_STEPS:
        a, b = ns[after], ns[before]
        within = _within(data, "kernel", "switches", after, before, "cpu_ns_per_switch")
        lines.append(f"| {step}. {what} | {cell(a)[1]} | {_change(cell(a)[0], cell(b)[0])} "
                     f"| {_change(min(a), min(b)) if a and b else '–'} "
                     f"| {'–' if within is None else f'{within:.3f}'} |")
    step, after, before, what = UNDO_STEP
    lines += ["", "**The timers benchmark** (every collection timed; CPU time, median "
              "(min–max) of the runs), for step 3 and step 4", "",
              "| kernel | whole run (s) | in collections (s) | full collections "
              "| objects tracked per sleeping task |", "|---|---|---|---|---|"]
    labels = {TICK_STEPS[2][2]: "after step 2 (a call per step of the tick)",
              before: "the package, but a sleep's undo a closure (before step 4)",
              after: "the package"}
    for backend in TIMED:
        run = values(data, "gc", "timers_gc", backend, "cpu_seconds")
        in_gc = values(data, "gc", "timers_gc", backend, "gc_cpu_seconds")
        full = values(data, "gc", "timers_gc", backend, "gen2_collections")
        found = [s["result"] for s in data["samples"] if s["group"] == "tracked"
                 and s["backend"] == backend and "tracked_per_task" in s["result"]]
        tracked = "–"
        if found:
            kinds = found[0]["kinds_per_task"]
            tracked = f"{round(found[0]['tracked_per_task'], 2):g}: " + ", ".join(
                f"`{k}` {round(v, 2):g}" for k, v in sorted(kinds.items(),
                                                           key=lambda kv: (-kv[1], kv[0])))
        lines.append(f"| {labels[backend]} | {cell(run)[1]} | {cell(in_gc)[1]} "
                     f"| {'–' if not full else f'{cell(full)[0]:g}'} | {tracked} |")
    lines.append("")
    for (step, after, before, what) in (TICK_STEPS[2], UNDO_STEP):
        within = _within(data, "gc", "timers_gc", after, before, "cpu_seconds")
        lines.append(f"Step {step} on the timers benchmark, time after against before "
                     f"(median of the rounds): {'–' if within is None else f'{within:.3f}'}.")
    return "\n".join(lines) + "\n"


def write_all(data, out):
    text = steps_text(data)
    with open(os.path.join(out, "kernel_steps.txt"), "w") as f:
        f.write(text)
    return text
