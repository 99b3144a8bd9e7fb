"""What tale's optimisations bought, what its unused features cost, and the GC.

Run by ``bench/run.py`` after the main run (alone: ``bench/run.py --only
variants``), like the main run: every sample in a fresh process pinned to one
CPU, repeats interleaved, medians of CPU time.  Three measurements:

1. The switch benchmark on tale and on variants of its adapter
   (``tale:generic``, ``tale:trap-call``, ``tale:async-sleep``, ``tale:wrapped``,
   ``tale:timeout``, ``tale:group``, ``tale:virtual``, see bench/adapters.py):
   what the ``YIELD`` fast path and the shape of ``sleep`` save, and what a
   timeout scope, a task group or the virtual clock cost a switch when they
   are there but not firing.
2. The timers benchmark on tale, ``minimal`` and asyncio with ``gc.callbacks``
   timing every collection: the cyclic collector's share of the run.
3. The objects the collector tracks per sleeping task, by type; and, for tale
   and ``minimal``, each full collection of a timers run: the objects it
   visited and the time it took.

Writes variants.json (the raw samples), optimisations.txt, unused.txt,
recheck.txt (the switch targets again, against asyncio and ladder rung 3 run in
the same rounds) and gc_timers.txt.  The rung 5 -> 6 row of optimisations.txt
comes from the floors of results.json, the same directory's main run.
"""
from __future__ import annotations

import json
import os

from config import COLLECTION_BACKENDS, GC_BACKENDS, SWITCH_REFERENCES, SWITCH_VARIANTS
from report import cell, fmt, paired, values

NAME = "variants"
BACKEND_NAMES = list(dict.fromkeys(SWITCH_VARIANTS + SWITCH_REFERENCES + GC_BACKENDS))


def plan(cfg):
    """[(job list, repeats)]: the switch variants, then the collector's share."""
    return [([("variants", "switches", cfg["switches"], SWITCH_VARIANTS + SWITCH_REFERENCES)],
             cfg["repeats"]),
            ([("gc", "timers_gc", cfg["timers"], GC_BACKENDS),
              ("tracked", "tracked", cfg["tracked"], GC_BACKENDS),
              ("collections", "full_collections", cfg["timers"], COLLECTION_BACKENDS)],
             cfg["gc_repeats"])]


# -- tables ------------------------------------------------------------------------

def _cpu_ns(data, backend):
    return values(data, "variants", "switches", backend, "cpu_ns_per_switch")


def _change(after, before):
    if after is None or before is None:
        return "–"
    return f"{after - before:+.0f} ns ({100 * (after - before) / before:+.0f} %)"


def _change_min(after, before):
    return _change(min(after), min(before)) if after and before else "–"


def optimisations_text(data, main=None):
    """Before and after, for each switch-path optimisation."""
    lines = ["| optimisation | before: CPU ns per switch | after | change (medians) "
             "| change (fastest samples) |", "|---|---|---|---|---|"]
    if main is not None:
        b5 = values(main, "floors", "switches", "floor:dispatch", "cpu_ns_per_switch")
        b6 = values(main, "floors", "switches", "floor:tuned", "cpu_ns_per_switch")
        (m5, t5), (m6, t6) = cell(b5), cell(b6)
        lines.append("| handlers take the request whole, hot names in locals "
                     f"(ladder rung 5 → 6, `make bench`) | {t5} | {t6} | {_change(m6, m5)} "
                     f"| {_change_min(b6, b5)} |")
    # Each row changes one thing: generic and trap-call differ only in the fast
    # path, async-sleep and trap-call in the wrapper, trap-call and tale in the call.
    generic, call = _cpu_ns(data, "tale:generic"), _cpu_ns(data, "tale:trap-call")
    slow, fast = _cpu_ns(data, "tale:async-sleep"), _cpu_ns(data, "tale")
    (mg, tg), (mc, tc), (ms, ts), (mt, tt) = cell(generic), cell(call), cell(slow), cell(fast)
    lines.append("| `sleep(0)` yields the shared `YIELD`, checked with `is` before the "
                 f"table (fast path off → on) | {tg} | {tc} | {_change(mc, mg)} "
                 f"| {_change_min(call, generic)} |")
    lines.append("| `sleep` a plain function that returns the trap generator, not an "
                 f"`async def` around it (one coroutine fewer per switch) | {ts} | {tc} "
                 f"| {_change(mc, ms)} | {_change_min(call, slow)} |")
    lines.append("| `sleep` a trap generator of its own, not a plain function that "
                 f"returns `_trap(...)` (one Python call fewer per switch) | {tc} | {tt} "
                 f"| {_change(mt, mc)} | {_change_min(fast, call)} |")
    return "\n".join(lines) + "\n"


UNUSED = [  # (backend, compared with, short name, what the tasks have around them)
    ("tale", None, "plain", "plain tale: tasks spawned by the main task"),
    ("tale:wrapped", "tale", "wrapped", "each task inside one more coroutine frame"),
    ("tale:timeout", "tale:wrapped", "timeout", "each task inside `move_on_after(3600)`"),
    ("tale:group", "tale:wrapped", "group", "every task a child of a `TaskGroup`"),
    ("tale:virtual", "tale", "virtual", "the loop runs on `tale.testing.VirtualClock`"),
]


def unused_text(data):
    short = {b: name for b, _, name, _ in UNUSED}
    lines = ["| switch benchmark, with | CPU ns per switch: median (min–max) "
             "| difference of medians | of the fastest samples |",
             "|---|---|---|---|"]
    for backend, base, name, label in UNUSED:
        vals = _cpu_ns(data, backend)
        med, text = cell(vals)
        if base is None:
            lines.append(f"| {label} ({name}) | {text} | – | – |")
            continue
        base_vals = _cpu_ns(data, base)
        lines.append(f"| {label} ({name}; against {short[base]}) | {text} "
                     f"| {_change(med, cell(base_vals)[0])} | {_change_min(vals, base_vals)} |")
    return "\n".join(lines) + "\n"


def recheck_text(data):
    """The switch targets of chapter 14, measured again in these rounds."""
    tale, asy, floor = (_cpu_ns(data, b) for b in ("tale", "asyncio", "floor:sched"))
    if not (tale and asy and floor):
        return "The switch targets were not re-checked in this run.\n"
    return "\n".join([
        "| switch benchmark, same rounds | CPU ns per switch: median (min–max) "
        "| tale against it (median of the rounds) | (fastest samples) |", "|---|---|---|---|",
        f"| tale | {cell(tale)[1]} | – | – |",
        f"| asyncio | {cell(asy)[1]} | {paired(data, 'switches', 'asyncio', 'tale', 'variants'):.2f} × faster | "
        f"{min(asy) / min(tale):.2f} × faster |",
        f"| rung 3, the minimal scheduler | {cell(floor)[1]} "
        f"| {paired(data, 'switches', 'tale', 'floor:sched', 'variants'):.2f} × its time "
        f"| {min(tale) / min(floor):.2f} × its time |"]) + "\n"


def _gc_values(data, backend, key):
    return values(data, "gc", "timers_gc", backend, key)


def gc_text(data):
    p = data["meta"]["config"]["timers"]
    lines = [f"**The cyclic collector during the timers benchmark** ({p['tasks']:,} "
             f"tasks sleep 0–{p['max_ms']:g} ms; CPU time, median of "
             f"{data['meta']['config']['gc_repeats']} fresh-process runs)", "",
             "| backend | whole run (s) | in all collections (s) | share "
             "| full collections | in full collections (s) | without collections (s) |",
             "|---|---|---|---|---|---|---|"]
    meds = {}
    for b in GC_BACKENDS:
        run_s = cell(_gc_values(data, b, "cpu_seconds"))[0]
        gc_s = cell(_gc_values(data, b, "gc_cpu_seconds"))[0]
        full = cell(_gc_values(data, b, "gen2_collections"))[0]
        full_s = cell(_gc_values(data, b, "gen2_cpu_seconds"))[0]
        if run_s is None:
            lines.append(f"| {b} | not run | | | | | |")
            continue
        meds[b] = (run_s, gc_s)
        lines.append(f"| {b} | {fmt(run_s)} | {fmt(gc_s)} | {100 * gc_s / run_s:.0f} % "
                     f"| {full:g} | {fmt(full_s)} | {fmt(run_s - gc_s)} |")
    lines.append("")
    if "tale" in meds and "asyncio" in meds:
        (t, tg), (a, _ag) = meds["tale"], meds["asyncio"]
        lines += [f"In these runs tale is {a / t:.2f} × faster than asyncio. Four times "
                  f"faster would need tale's run to take at most {fmt(a / 4)} s; tale "
                  f"without any of its collections would take {fmt(t - tg)} s, "
                  f"{a / (t - tg):.2f} × faster than asyncio's whole run.", ""]
    lines += [f"**Objects the collector tracks per sleeping task** "
              f"({data['meta']['config']['tracked']['tasks']:,} tasks parked in a sleep)", "",
              "| backend | tracked per task | of which |", "|---|---|---|"]
    for b in GC_BACKENDS:
        found = [s["result"] for s in data["samples"]
                 if s["group"] == "tracked" and s["backend"] == b and "kinds_per_task" in
                 s["result"]]
        if not found:
            lines.append(f"| {b} | not run | |")
            continue
        kinds = found[0]["kinds_per_task"]
        parts = ", ".join(f"`{k}` {round(v, 2):g}" for k, v in
                          sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])))
        lines.append(f"| {b} | {found[0]['tracked_per_task']:g} | {parts} |")
    return "\n".join(lines + [""] + collections_lines(data)) + "\n"


def _median_run(data, backend):
    """The full collections of the run whose time in them is the median, or None."""
    runs = sorted((sum(ms for _, ms in s["result"]["full"]), s["result"]["full"])
                  for s in data["samples"] if s["group"] == "collections"
                  and s["backend"] == backend and "full" in s["result"])
    return runs[(len(runs) - 1) // 2][1] if runs else None


def collections_lines(data):
    """Each full collection of one timers run: objects tracked, CPU time."""
    runs = {b: _median_run(data, b) for b in COLLECTION_BACKENDS}
    head = " | ".join(f"{b}: objects tracked | {b}: CPU ms | {b}: ns per object"
                      for b in COLLECTION_BACKENDS)
    lines = ["**Each full collection of one timers run** (of each loop, the run whose "
             "full collections took the median time; objects tracked when it ended)", "",
             f"| collection | {head} |", "|---" * (1 + 3 * len(COLLECTION_BACKENDS)) + "|"]
    for i in range(max((len(r) for r in runs.values() if r), default=0)):
        cells = []
        for b in COLLECTION_BACKENDS:
            run = runs[b]
            if run is None or i >= len(run):
                cells.append("– | – | –")
                continue
            objects, seconds = run[i]
            cells.append(f"{objects:,} | {seconds * 1e3:.1f} | {seconds * 1e9 / objects:.0f}")
        lines.append(f"| {i + 1} | {' | '.join(cells)} |")
    if len(lines) == 4:
        lines.append("| (no full collection in these runs) |" + " |" * 3 * len(COLLECTION_BACKENDS))
    totals = []
    for b in COLLECTION_BACKENDS:
        run = runs[b]
        if run:
            totals.append(f"{b} {sum(s for _, s in run) * 1e3:.0f} ms in {len(run)}")
    if totals:
        lines += ["", "In all: " + "; ".join(totals) + "."]
    return lines


def header_text(data):
    m = data["meta"]
    load = m["load_average"]
    commit = m.get("commit") or {}
    return (f"Measured on {m['date']} by `bench/variants.py`, commit "
            f"`{commit.get('head', '?')}`"
            f"{', with changes to `code/` not yet committed' if commit.get('code_changed') else ''}"
            f"; {m['pinning']}; {m['config']['repeats']} interleaved rounds of the switch "
            f"variants; load average (1 min) {load['before'][0]:.1f} before and "
            f"{load['after'][0]:.1f} after, on {m['machine']['cpus']} CPUs.\n")


def write_all(data, out):
    main = None
    path = os.path.join(out, "results.json")
    if os.path.exists(path):
        with open(path) as f:
            main = json.load(f)
    texts = {"optimisations.txt": optimisations_text(data, main),
             "unused.txt": header_text(data) + "\n" + unused_text(data),
             "recheck.txt": recheck_text(data),
             "gc_timers.txt": gc_text(data)}
    for name, text in texts.items():
        with open(os.path.join(out, name), "w") as f:
            f.write(text)
    return texts
