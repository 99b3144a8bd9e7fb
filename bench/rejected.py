"""Changes to tale that were measured and not adopted, next to plain tale.

    python bench/rejected.py                 into book/results/ (a few minutes)
    python bench/rejected.py --smoke --out DIR   tiny sizes, for tests
    python bench/rejected.py --report-only   redo the table from rejected.json

Each change is an adapter in bench/adapters.py that patches one thing in tale
(``tale:spawn-inline``, ``tale:spawn-trap``, ``tale:timer-inline``), or a
yardstick loop built differently (``lean``, bench/lean.py, against
``minimal``), and runs on the benchmark it is meant to speed up, in the same
interleaved rounds as what it is compared with, every sample in a fresh
process pinned to one CPU.  Writes rejected.json (the raw samples) and
rejected.txt.
"""
from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import run  # noqa: E402
from report import HEADLINE, by_round, cell, paired  # noqa: E402

# (adapter, benchmark, the adapter it is compared with, what it changes)
CHANGES = [
    ("tale:spawn-inline", "spawn_join", "tale",
     "`trap_spawn` makes the task itself instead of calling `_new_task`"),
    ("tale:spawn-trap", "spawn_join", "tale",
     "`spawn` a trap generator of its own, like `sleep`"),
    ("tale:timer-inline", "timers", "tale",
     "`trap_sleep` arms its timer itself instead of calling `_set_timer`"),
    ("lean", "timers", "minimal",
     "a task waits on its own task object, not a trap generator (`lean` against "
     "`minimal`)"),
    ("lean", "switches", "minimal",
     "the same, on the switch benchmark"),
]
# Measured in the same rounds as the timers changes, for their speed-up over it.
REFERENCE = "asyncio"

FULL = {"repeats": 15, "timeout": 180,
        "switches": {"tasks": 100, "rounds": 10_000},
        "spawn_join": {"tasks": 100_000},
        "timers": {"tasks": 100_000, "max_ms": 10.0, "seed": 1}}
SMOKE = {"repeats": 1, "timeout": 60,
         "switches": {"tasks": 10, "rounds": 50},
         "spawn_join": {"tasks": 200},
         "timers": {"tasks": 200, "max_ms": 2.0, "seed": 1}}


def jobs(cfg):
    out = []
    for bench in dict.fromkeys(b for _, b, _, _ in CHANGES):
        names = [n for name, b, base, _ in CHANGES if b == bench for n in (base, name)]
        if bench == "timers":
            names.append(REFERENCE)
        out.append(("rejected", bench, cfg[bench], list(dict.fromkeys(names))))
    return out


def rejected_text(data):
    lines = ["| change, measured and not adopted | benchmark | without it: CPU time, median "
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


def main(argv=None):
    names = list(dict.fromkeys(n for name, _, base, _ in CHANGES for n in (base, name)))
    return run.side_run(argv, __doc__.split("\n")[0], "rejected", FULL, SMOKE,
                        names + [REFERENCE], lambda cfg: [(jobs(cfg), cfg["repeats"])],
                        write_all)


if __name__ == "__main__":
    sys.exit(main())
