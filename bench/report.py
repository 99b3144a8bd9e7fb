"""Turn results.json into the tables and plots the Performance chapter shows.

Writes into the results directory:

    machine.txt        where and when the numbers were taken (MyST Markdown)
    summary.txt        the main table: median, min-max, ratios to asyncio and uvloop
    floors.txt         the cost of a switch, piece by piece (bench/floors.py)
    stages.txt         the Part I stages on the switch benchmark
    targets.txt        chapter 14's targets, the ratios measured, met or not
    scaling.txt        the numbers behind the plots
    echo_profile.txt   where tale's echo spends its time, by cProfile
    *.svg              the plots (if matplotlib is installed)

The tables are Markdown in ``.txt`` files so that Sphinx does not take them
for chapters; the chapter includes them with the MyST parser.
"""
from __future__ import annotations

import os
import statistics

from config import BACKENDS, EXTRA, FLOORS, HEADLINE, TARGETS

FLOOR_LABELS = {
    "floor:send": "1. bare `gen.send(None)`",
    "floor:await": "2. coroutine awaiting a `@types.coroutine` yield",
    "floor:sched": "3. + a ready deque of 100 coroutines",
    "floor:trap": "4. + request tuple, trap generator, `async def sleep`",
    "floor:dispatch": "5. + task object and handler table",
    "floor:tuned": "6. rung 5, tuned: no `*request[1:]`, locals",
}


def values(data, group, bench, backend, key, params=None):
    out = []
    for s in data["samples"]:
        if (s["group"], s["bench"], s["backend"]) != (group, bench, backend):
            continue
        if params is not None and s["params"] != params:
            continue
        if key in s["result"]:
            out.append(s["result"][key])
    return out


def by_round(data, group, bench, backend, key):
    """{repeat: value}: one sample per round of the interleaved runs."""
    return {s["repeat"]: s["result"][key] for s in data["samples"]
            if (s["group"], s["bench"], s["backend"]) == (group, bench, backend)
            and key in s["result"]}


def errors(data, group, bench, backend):
    return sorted({s["result"]["error"] for s in data["samples"]
                   if (s["group"], s["bench"], s["backend"]) == (group, bench, backend)
                   and "error" in s["result"]})


def not_run_reason(data, backend):
    probe = data["meta"]["backends"].get(backend, {})
    if probe.get("ok"):
        return None
    return probe.get("reason") or probe.get("error") or "not run"


def fmt(x):
    if x is None:
        return "–"
    ax = abs(x)
    if ax >= 10_000:
        return f"{x:,.0f}"
    if ax >= 100:
        return f"{x:.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    if ax >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def cell(vals):
    if not vals:
        return None, "–"
    med = statistics.median(vals)
    if len(vals) == 1:
        return med, fmt(med)
    return med, f"{fmt(med)} ({fmt(min(vals))}–{fmt(max(vals))})"


def ratio(value, ref, lower_is_better):
    """A ratio of *time*: below 1 means faster than the reference."""
    if value is None or ref is None or value == 0 or ref == 0:
        return "–"
    r = value / ref if lower_is_better else ref / value
    return f"{r:.2f}"


def _load_sentence(meta):
    load = meta.get("load_average")
    if not load:
        return "The machine's load was not recorded."
    before, after = load["before"][0], load["after"][0]
    cpus = meta["machine"]["cpus"]
    return (f"Load average (1 min) {before:.1f} when the run began and {after:.1f} when "
            f"it ended, on {cpus} CPUs: other work shared the machine"
            if max(before, after) >= 0.5 * cpus else
            f"Load average (1 min) {before:.1f} when the run began and {after:.1f} when "
            "it ended: the machine was otherwise quiet") + "."


def _commit_sentence(meta):
    commit = meta.get("commit")
    if not commit:
        return "The commit measured was not recorded."
    extra = (", with changes to `code/` not yet committed" if commit["code_changed"]
             else "")
    return f"The code measured is commit `{commit['head']}` of this book{extra}."


def machine_text(data):
    m = data["meta"]
    mach = m["machine"]
    lines = [
        f"Measured on {m['date']}: {mach['cpu']} ({mach['cpus']} CPUs), "
        f"{mach['platform']}, {mach['implementation']} {mach['python']}; "
        f"{m['pinning']}; {m['config']['repeats']} interleaved "
        f"round{'s' if m['config']['repeats'] != 1 else ''} of the main "
        f"benchmarks, each sample in a fresh process; the whole run took "
        f"{m['elapsed_seconds']:.0f} s.",
        "",
        _load_sentence(m),
        "",
        _commit_sentence(m),
        "",
        "| backend | version |",
        "|---|---|",
    ]
    for name in dict.fromkeys(BACKENDS + [b for bs in EXTRA.values() for b in bs]):
        probe = m["backends"].get(name, {})
        version = probe.get("version") if probe.get("ok") else "not run: " + (
            probe.get("reason") or probe.get("error") or "?")
        flags = m.get("flags", {}).get(name)
        if flags and probe.get("ok"):
            version += f" (run with `python {' '.join(flags['flags'])}`: {flags['reason']})"
        lines.append(f"| {ROW_NAMES.get(name, name)} | {version} |")
    return "\n".join(lines) + "\n"


# Rows of the main tables that are not backends, by the name the chapter uses.
ROW_NAMES = {"floor:sched": "rung 3"}


def summary_text(data):
    """One small table per benchmark: CPU time first, then wall clock, then ratios."""
    lines = []
    for bench, (wall_key, cpu_key, unit, lower, label) in HEADLINE.items():
        label = label.format(**data["meta"]["config"]["main"][bench])
        meds = {b: cell(values(data, "main", bench, b, cpu_key))[0] for b in BACKENDS}
        lines += [f"**{label}** ({unit})", "",
                  "| backend | CPU time: median (min–max) | wall clock: median (min–max) "
                  "| × asyncio | × uvloop |",
                  "|---|---|---|---|---|"]
        for b in BACKENDS + EXTRA.get(bench, []):
            _, wall = cell(values(data, "main", bench, b, wall_key))
            med, cpu = cell(values(data, "main", bench, b, cpu_key))
            if med is None:
                why = not_run_reason(data, b) or "; ".join(errors(data, "main", bench, b)) \
                    or "no sample"
                lines.append(f"| {ROW_NAMES.get(b, b)} | not run: {why} | | | |")
                continue
            lines.append(f"| {ROW_NAMES.get(b, b)} | {cpu} | {wall} | "
                         f"{ratio(med, meds['asyncio'], lower)} | "
                         f"{ratio(med, meds['uvloop'], lower)} |")
        lines.append("")
    lines += ["Ratios compare CPU-time medians and are ratios of time (for echo, of "
              "time per round trip): below 1 is faster than the reference, above 1 "
              "slower. For timers, the wall clock counts what the run took beyond its "
              "longest sleep, and the CPU time counts all the work of the run."]
    return "\n".join(lines) + "\n"


def floors_text(data):
    """The ladder.  Steps are differences of the *fastest* samples: on a busy
    machine noise only ever adds time, so the minimum of a deterministic
    CPU-bound loop is the closest estimate of its cost."""
    lines = ["| what one switch does | CPU ns per switch: median (min–max) "
             "| added by this step (from the minima) |",
             "|---|---|---|"]
    prev = None
    mins = {}
    for f in FLOORS:
        vals = values(data, "floors", "switches", f, "cpu_ns_per_switch")
        _, text = cell(vals)
        low = min(vals) if vals else None
        mins[f] = low
        base = mins.get("floor:dispatch") if f == "floor:tuned" else prev
        added = "–" if base is None or low is None else f"{low - base:+.0f}"
        if f == "floor:tuned" and added != "–":
            added += " (vs rung 5)"
        lines.append(f"| {FLOOR_LABELS[f]} | {text} | {added} |")
        prev = low
    rung5 = mins.get("floor:dispatch")
    for b in ("tale", "asyncio", "uvloop", "curio", "trio"):
        vals = values(data, "main", "switches", b, "cpu_ns_per_switch")
        _, text = cell(vals)
        diff = ("–" if not vals or rung5 is None
                else f"{min(vals) - rung5:+.0f} vs rung 5")
        lines.append(f"| {b} (`sleep(0)`) | {text} | {diff} |")
    return "\n".join(lines) + "\n"


def stages_text(data):
    stage_names = data["meta"].get("stages", [])
    if not stage_names:
        return "No Part I stage was present when these results were taken.\n"
    lines = ["| stage | CPU ns per switch | note |", "|---|---|---|"]
    for s in stage_names:
        b = f"stage:{s}"
        med, text = cell(values(data, "stages", "switches", b, "cpu_ns_per_switch"))
        if med is None:
            why = not_run_reason(data, b) or "; ".join(errors(data, "stages", "switches", b))
            lines.append(f"| `{s}` | – | {why} |")
        else:
            lines.append(f"| `{s}` | {text} | |")
    med, text = cell(values(data, "main", "switches", "tale", "cpu_ns_per_switch"))
    lines.append(f"| `tale` (the library) | {text} | from the main table |")
    return "\n".join(lines) + "\n"


TARGET_NAMES = {"switches": "switches", "spawn_join": "spawn + join",
                "timers": "timers", "echo": "echo"}


def target_rows(data, best=False):
    """[(benchmark, reference, op, bound, measured or None, met or None)].

    Measured round by round: each round runs the backends one after the other,
    so the ratio of two samples of one round leaves out what the machine did
    between rounds; the verdict takes the median of those ratios.  With
    ``best``, the fastest sample of each side instead (noise on a shared
    machine only ever adds time).
    """
    rows = []
    for bench, ref, op, bound in TARGETS:
        _, cpu_key, _, lower, _ = HEADLINE[bench]
        group = "main"
        if ref.startswith("floor:") and not values(data, "main", bench, ref, cpu_key):
            group = "floors"        # not in the switch rounds: pair the floors' rounds
        tale = by_round(data, "main", bench, "tale", cpu_key)
        other = by_round(data, group, bench, ref, cpu_key)
        if best:
            pick = min if lower else max
            pairs = [(pick(tale.values()), pick(other.values()))] if tale and other else []
        else:
            pairs = [(tale[r], other[r]) for r in sorted(tale) if r in other]
        if not pairs:
            rows.append((bench, ref, op, bound, None, None))
            continue
        if op == "≤":           # tale's time as a multiple of the floor's
            measured = statistics.median(t / o for t, o in pairs)
            met = measured <= bound
        else:                   # a speed-up over the reference
            measured = statistics.median(o / t if lower else t / o for t, o in pairs)
            met = measured >= bound
        rows.append((bench, ref, op, bound, measured, met))
    return rows


def targets_text(data):
    lines = ["| target | measured (median of the rounds) | met? | from the fastest samples |",
             "|---|---|---|---|"]
    for row, fast in zip(target_rows(data), target_rows(data, best=True)):
        bench, ref, op, bound, measured, met = row
        name = TARGET_NAMES[bench]
        unit = " ×" if op == "≤" else " × faster"
        if op == "≤":
            what = f"{name}: tale's time ≤ {bound:g} × rung 3's (minimal scheduler)"
        elif bound == 1.0:
            what = f"{name}: ahead of {ref}"
        else:
            what = f"{name}: ≥ {bound:g} × faster than {ref}"
        shown = "–" if measured is None else f"{measured:.2f}{unit}"
        shown_fast = "–" if fast[4] is None else f"{fast[4]:.2f}{unit}"
        verdict = "–" if met is None else ("met" if met else "**not met**")
        lines.append(f"| {what} | {shown} | {verdict} | {shown_fast} |")
    lines += ["", "Speed-ups divide the reference's CPU time by tale's (for echo, tale's "
              "rate by the reference's): 2.00 × faster means half the time. Each round "
              "runs the backends one after the other, so each round gives one ratio of "
              "two samples taken side by side; the verdict is judged on the median of "
              "those ratios. The last column compares the fastest sample of each side."]
    return "\n".join(lines) + "\n"


# The yardsticks of the main tables: {benchmark: (yardstick, what it is)}.
YARDSTICKS = {"switches": ("floor:sched", "rung 3, the minimal scheduler"),
              "spawn_join": ("minimal", "`minimal`, the least trap loop"),
              "timers": ("minimal", "`minimal`, the least trap loop")}


def paired(data, bench, a, b, group="main"):
    """Median over the rounds of a's CPU time divided by b's, from the same round."""
    key = HEADLINE[bench][1]
    va, vb = (by_round(data, group, bench, x, key) for x in (a, b))
    ratios = [va[r] / vb[r] for r in va if r in vb]
    return statistics.median(ratios) if ratios else None


def yardsticks_text(data):
    lines = ["**tale and the yardsticks, round by round** (medians of the ratios "
             "within each round, CPU time)", "",
             "| benchmark | yardstick | tale's time against its time "
             "| its speed-up over asyncio | tale's speed-up over asyncio |",
             "|---|---|---|---|---|"]
    for bench, (stick, what) in YARDSTICKS.items():
        cells = (paired(data, bench, "tale", stick), paired(data, bench, "asyncio", stick),
                 paired(data, bench, "asyncio", "tale"))
        shown = ["–" if c is None else f"{c:.2f} ×" for c in cells]
        lines.append(f"| {TARGET_NAMES[bench]} | {what} | {shown[0]} | {shown[1]} "
                     f"| {shown[2]} |")
    return "\n".join(lines) + "\n"


def rerun_text(data):
    """A second full run's verdicts, for the chapter to set beside the first's."""
    m = data["meta"]
    head = (m.get("commit") or {}).get("head", "?")
    return (f"Measured on {m['date']} by `make bench`, commit "
            f"`{head}`: {m['config']['repeats']} interleaved rounds, "
            f"{m['pinning']}. {_load_sentence(m)}\n\n" + targets_text(data) + "\n"
            + yardsticks_text(data))


def scaling_points(data, group, bench, key, size_key="tasks"):
    """{backend: [(size, median), ...]} for one scaling group."""
    out = {}
    for b in BACKENDS:
        sizes = sorted({s["params"][size_key] for s in data["samples"]
                        if s["group"] == group and s["backend"] == b})
        pts = []
        for n in sizes:
            vals = [s["result"][key] for s in data["samples"]
                    if s["group"] == group and s["backend"] == b
                    and s["params"][size_key] == n and key in s["result"]]
            if vals:
                pts.append((n, statistics.median(vals)))
        out[b] = pts
    return out


def scaling_text(data):
    parts = []
    sw = scaling_points(data, "switch_scaling", "switches", "cpu_ns_per_switch")
    tm = scaling_points(data, "timer_scaling", "timers", "cpu_us_per_timer")
    for title, pts, unit in (("CPU ns per switch, by number of live tasks", sw, "tasks"),
                             ("CPU µs per sleeping task (spawn, sleep, join), by number "
                              "of sleepers", tm, "sleepers")):
        sizes = sorted({n for p in pts.values() for n, _ in p})
        if not sizes:
            continue
        parts.append(f"**{title}**\n")
        parts.append(f"| {unit} | " + " | ".join(BACKENDS) + " |")
        parts.append("|---|" + "---|" * len(BACKENDS))
        for n in sizes:
            row = [fmt(dict(pts[b]).get(n)) for b in BACKENDS]
            parts.append(f"| {n:,} | " + " | ".join(row) + " |")
        parts.append("")
    missing = []
    for s in data["samples"]:
        if s["group"] in ("switch_scaling", "timer_scaling") and "error" in s["result"]:
            missing.append(f"{s['backend']} at {s['params']['tasks']:,}: {s['result']['error']}")
    if missing:
        parts.append("Points missing: " + "; ".join(sorted(set(missing))) + ".\n")
    cfg = data["meta"]["config"]
    parts += [f"**CPU and memory while tasks sleep** ({cfg['idle_cpu']['tasks']:,} tasks "
              f"for {cfg['idle_cpu']['seconds']} s; {cfg['memory']['tasks']:,} tasks for "
              "memory)\n",
              "| backend | CPU s used | CPU share of the wall time | bytes per sleeping task |",
              "|---|---|---|---|"]
    for b in BACKENDS:
        cpu = values(data, "idle_cpu", "idle_cpu", b, "cpu_seconds")
        share = values(data, "idle_cpu", "idle_cpu", b, "cpu_share")
        mem = values(data, "memory", "memory", b, "bytes_per_task")
        parts.append(f"| {b} | {cell(cpu)[1]} | "
                     f"{'–' if not share else f'{100 * statistics.median(share):.0f} %'} | "
                     f"{cell(mem)[1]} |")
    return "\n".join(parts) + "\n"


def profile_text(prof):
    p = prof["params"]
    lines = [f"cProfile of tale on echo ({p['connections']} connections × {p['trips']} "
             "round trips), the functions with the most time of their own:", "",
             "| calls | own time (s) | with callees (s) | function |",
             "|---|---|---|---|"]
    for ncalls, own, total, func in prof["rows"]:
        func = func.replace("|", "\\|")
        lines.append(f"| {ncalls:,} | {own:.3f} | {total:.3f} | `{func}` |")
    return "\n".join(lines) + "\n"


# -- plots -----------------------------------------------------------------------------

STYLE = {"asyncio": ("#1f77b4", "o"), "uvloop": ("#2ca02c", "s"), "trio": ("#9467bd", "^"),
         "curio": ("#8c564b", "v"), "tale": ("#d62728", "D")}


def _plt():
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "tale"
    matplotlib.rcParams["svg.fonttype"] = "none"
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path):
    """Write ``path`` (an .svg, for HTML) and the same plot as .pdf (for LaTeX)."""
    fig.tight_layout()
    fig.savefig(path, format="svg", metadata={"Date": None})
    fig.savefig(path[:-4] + ".pdf", format="pdf",
                metadata={"CreationDate": None, "ModDate": None})


def plot_lines(plt, pts, title, ylabel, xlabel, path):
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for b, p in pts.items():
        if p:
            colour, marker = STYLE[b]
            ax.plot([n for n, _ in p], [v for _, v in p], marker=marker, color=colour, label=b)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    _save(fig, path)
    plt.close(fig)


def plot_bars(plt, data, group, key, scale, title, ylabel, path):
    names, meds = [], []
    for b in BACKENDS:
        vals = values(data, group, group, b, key)
        if vals:
            names.append(b)
            meds.append(statistics.median(vals) * scale)
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    ax.bar(names, meds, color=[STYLE[n][0] for n in names])
    for i, v in enumerate(meds):
        ax.annotate(fmt(v), (i, v), ha="center", va="bottom", fontsize="small")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.margins(y=0.15)
    _save(fig, path)
    plt.close(fig)


def write_all(data, out):
    texts = {"machine.txt": machine_text(data), "summary.txt": summary_text(data),
             "floors.txt": floors_text(data), "stages.txt": stages_text(data),
             "scaling.txt": scaling_text(data),
             "targets.txt": targets_text(data) + "\n" + yardsticks_text(data)}
    prof = data.get("profiles", {}).get("tale echo", {})
    if "rows" in prof:
        texts["echo_profile.txt"] = profile_text(prof)
    for name, text in texts.items():
        with open(os.path.join(out, name), "w") as f:
            f.write(text)
    plt = _plt()
    if plt is None:
        with open(os.path.join(out, "plots.txt"), "w") as f:
            f.write("No plots: matplotlib is not installed (pip install -r "
                    "requirements-bench.txt).\n")
        return sorted(texts)
    cfg = data["meta"]["config"]
    plot_lines(plt, scaling_points(data, "switch_scaling", "switches", "cpu_ns_per_switch"),
               "One switch, by number of live tasks", "CPU ns per switch (log)",
               "live tasks (log)", os.path.join(out, "switch_scaling.svg"))
    plot_lines(plt, scaling_points(data, "timer_scaling", "timers", "cpu_us_per_timer"),
               f"Spawn, sleep 0–{cfg['timer_scaling']['max_ms']:g} ms, join: CPU per task",
               "CPU µs per task (log)", "sleeping tasks (log)",
               os.path.join(out, "timer_scaling.svg"))
    plot_bars(plt, data, "idle_cpu", "cpu_seconds", 1.0,
              f"CPU time while {cfg['idle_cpu']['tasks']:,} tasks sleep "
              f"{cfg['idle_cpu']['seconds']:g} s", "CPU seconds",
              os.path.join(out, "idle_cpu.svg"))
    plot_bars(plt, data, "memory", "bytes_per_task", 1.0,
              f"Memory per sleeping task ({cfg['memory']['tasks']:,} tasks, tracemalloc)",
              "bytes per task", os.path.join(out, "memory.svg"))
    return sorted(texts) + ["switch_scaling.svg", "timer_scaling.svg", "idle_cpu.svg",
                            "memory.svg"]
