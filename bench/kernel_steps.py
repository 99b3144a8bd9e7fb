"""Chapter 14's steps from chapter 9's readable kernel to the package's, each measured.

Run by ``bench/run.py`` after the other parts (alone: ``bench/run.py --only
kernel``).  The kernel after each step is a class of code/stages/ch14_kernels.py,
run through an adapter (``tale:ch09-tick``, ``tale:step1`` ... ``tale:step4``;
after step 5 it is the package's kernel).  Steps 6 and 7 change the task and
``spawn``, not the kernel: every kernel before them runs on a copy of the
package with bench/patches/before-step6.patch applied (``tale:step6``:
before-step7.patch), and after step 7 it is plain ``tale``.  Each benchmark of
``config.KERNEL_BENCHES`` runs the kernels before and after the steps it
measures, in the same interleaved rounds: the switch benchmark every step; the
timers benchmark, with every collection timed, and the objects the collector
tracks per sleeping task, steps 3 to 7; spawn and join, steps 5 to 7.  Every
sample in a fresh process pinned to one CPU.  Writes kernel.json (the raw samples) and kernel_steps.txt.
"""
from __future__ import annotations

import os
import statistics

from config import HEADLINE, KERNEL_BENCHES, KERNEL_STEP_LIST
from report import by_round, cell, values

NAME = "kernel"
STEPS = {step: (after, before, what) for step, after, before, what in KERNEL_STEP_LIST}


def _kernels(steps):
    """The adapters a list of steps needs, in order: each step's before, then after."""
    return list(dict.fromkeys(n for s in steps for n in (STEPS[s][1], STEPS[s][0])))


BACKEND_NAMES = _kernels(STEPS)


def plan(cfg):
    """[(job list, repeats)]: switches and spawn and join, then the timers and the objects."""
    fast = [("kernel", bench, cfg[bench], _kernels(KERNEL_BENCHES[bench]))
            for bench in ("switches", "spawn_join")]
    timed = _kernels(KERNEL_BENCHES["timers_gc"])
    return [(fast, cfg["repeats"]),
            ([("gc", "timers_gc", cfg["timers"], timed),
              ("tracked", "tracked", cfg["tracked"], timed)], cfg["gc_repeats"])]


def _within(data, group, bench, after, before, key):
    """Median over the rounds of after's value divided by before's, same round."""
    a, b = (by_round(data, group, bench, x, key) for x in (after, before))
    ratios = [a[r] / b[r] for r in a if r in b and b[r]]
    return statistics.median(ratios) if ratios else None


def _ratio(x):
    return "–" if x is None else f"{x:.3f}"


def _label(backend):
    if backend == "tale:ch09-tick":
        return "chapter 9's kernel"
    step = next(s for s, (after, _b, _w) in STEPS.items() if after == backend)
    return f"after step {step}" + (" (the package)" if backend == "tale" else "")


def steps_text(data):
    key = HEADLINE["switches"][1]
    lines = ["| step | switch benchmark: CPU ns per switch, median (min–max) "
             "| change of the medians | of the fastest samples "
             "| time against the step before (median of the rounds) |",
             "|---|---|---|---|---|"]
    first = STEPS[KERNEL_BENCHES["switches"][0]][1]
    lines.append(f"| chapter 9's kernel | {cell(values(data, 'kernel', 'switches', first, key))[1]} "
                 "| – | – | – |")
    for step in KERNEL_BENCHES["switches"]:
        after, before, what = STEPS[step]
        a = values(data, "kernel", "switches", after, key)
        b = values(data, "kernel", "switches", before, key)
        change = "–"
        fastest = "–"
        if a and b:
            ma, mb = cell(a)[0], cell(b)[0]
            change = f"{ma - mb:+.0f} ns ({100 * (ma - mb) / mb:+.0f} %)"
            fastest = f"{min(a) - min(b):+.0f} ns ({100 * (min(a) - min(b)) / min(b):+.0f} %)"
        lines.append(f"| {step}. {what} | {cell(a)[1]} | {change} | {fastest} "
                     f"| {_ratio(_within(data, 'kernel', 'switches', after, before, key))} |")

    timed = _kernels(KERNEL_BENCHES["timers_gc"])
    lines += ["", "**The timers benchmark** (every collection timed; CPU time, median "
              "(min–max) of the runs)", "",
              "| kernel | whole run (s) | in collections (s) | full collections "
              "| objects tracked per sleeping task |", "|---|---|---|---|---|"]
    for backend in timed:
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
        lines.append(f"| {_label(backend)} | {cell(run)[1]} | {cell(in_gc)[1]} "
                     f"| {'–' if not full else f'{cell(full)[0]:g}'} | {tracked} |")

    spawn_key = HEADLINE["spawn_join"][1]
    lines += ["", "**Spawn and join** (CPU µs per task, median "
              "(min–max) of the rounds)", "", "| kernel | CPU µs per task |", "|---|---|"]
    for backend in _kernels(KERNEL_BENCHES["spawn_join"]):
        lines.append(f"| {_label(backend)} | "
                     f"{cell(values(data, 'kernel', 'spawn_join', backend, spawn_key))[1]} |")

    lines += ["", "**Time after each step against before** (median of the rounds)", "",
              "| step | timers | spawn and join |", "|---|---|---|"]
    for step in sorted(set(KERNEL_BENCHES["timers_gc"]) | set(KERNEL_BENCHES["spawn_join"])):
        after, before, what = STEPS[step]
        timers = (_within(data, "gc", "timers_gc", after, before, "cpu_seconds")
                  if step in KERNEL_BENCHES["timers_gc"] else None)
        spawns = (_within(data, "kernel", "spawn_join", after, before, spawn_key)
                  if step in KERNEL_BENCHES["spawn_join"] else None)
        lines.append(f"| {step}. {what} | {_ratio(timers)} | {_ratio(spawns)} |")
    return "\n".join(lines) + "\n"


def write_all(data, out):
    text = steps_text(data)
    with open(os.path.join(out, "kernel_steps.txt"), "w") as f:
        f.write(text)
    return text
