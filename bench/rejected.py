"""Changes to tale that were measured and not adopted, next to plain tale.

Run by ``bench/run.py`` after the main run (alone: ``bench/run.py --only
rejected``).  Each change (``config.CHANGES``) is an adapter that runs tale
with one patch from bench/patches/ applied to a copy of code/tale
(``tale:spawn-inline``, ``tale:spawn-trap``, ``tale:timer-inline``), or a
yardstick loop built differently (``lean``, bench/lean.py, against
``minimal``), on the benchmark it is meant to speed up; and the prices of
tale's features, each added to ``minimal`` by a patch of bench/minimal.py
(``minimal+table``, ``minimal+parent``, ``minimal+handlers``,
``minimal+fields``, each with the ones before it) or taken out of tale (``tale:no-task-table``), on timers, in the same
interleaved rounds as what it is compared with, every sample in a fresh
process pinned to one CPU.  Writes rejected.json (the raw samples) and
rejected.txt.
"""
from __future__ import annotations

import os

from config import CHANGES, HEADLINE, REFERENCE
from report import by_round, cell, paired

NAME = "rejected"
BACKEND_NAMES = list(dict.fromkeys([n for name, _, base, _ in CHANGES for n in (base, name)]
                                   + [REFERENCE]))


def plan(cfg):
    """[(job list, repeats)]: each benchmark with its changes and what they are compared with."""
    jobs = []
    for bench in dict.fromkeys(b for _, b, _, _ in CHANGES):
        names = [n for name, b, base, _ in CHANGES if b == bench for n in (base, name)]
        if bench == "timers":
            names.append(REFERENCE)
        jobs.append(("rejected", bench, cfg[bench], list(dict.fromkeys(names))))
    return [(jobs, cfg["repeats"])]


def rejected_text(data):
    lines = ["| change measured (not adopted), or price | benchmark | without it: CPU time, median "
             "(min–max) | with it | time with it against without (median of the "
             "rounds) | (fastest samples) |", "|---|---|---|---|---|---|"]
    for name, bench, base_name, what in CHANGES:
        key, unit = HEADLINE[bench][1], HEADLINE[bench][2]
        base = by_round(data, "rejected", bench, base_name, key)
        other = by_round(data, "rejected", bench, name, key)
        within = paired(data, bench, name, base_name, "rejected")
        fastest = (min(other.values()) / min(base.values())) if base and other else None
        shown = ["–" if x is None else f"{x:.3f}" for x in (within, fastest)]
        lines.append(f"| {what} | {HEADLINE[bench][4].split(':')[0]} ({unit}) "
                     f"| {cell(list(base.values()))[1]} | {cell(list(other.values()))[1]} "
                     f"| {shown[0]} | {shown[1]} |")
    timed = list(dict.fromkeys(n for name, b, base, _ in CHANGES if b == "timers"
                               for n in (base, name)))
    lines += ["", f"**The timers benchmark in the same rounds: speed-up over "
              f"{REFERENCE}** (median of the rounds)", "",
              "| loop | speed-up |", "|---|---|"]
    for name in timed:
        ratio = paired(data, "timers", REFERENCE, name, "rejected")
        lines.append(f"| {name} | {'–' if ratio is None else f'{ratio:.2f} ×'} |")
    return "\n".join(lines) + "\n"


def write_all(data, out):
    text = rejected_text(data)
    with open(os.path.join(out, "rejected.txt"), "w") as f:
        f.write(text)
    return text
