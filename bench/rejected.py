"""Changes to tale that were measured and not adopted, next to plain tale.

    python bench/rejected.py                 into book/results/ (about a minute)
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

import argparse
import datetime
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import run  # noqa: E402
from report import HEADLINE, by_round, cell  # noqa: E402

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


def _paired(data, bench, a, b):
    key = HEADLINE[bench][1]
    va, vb = (by_round(data, "rejected", bench, x, key) for x in (a, b))
    ratios = [va[r] / vb[r] for r in va if r in vb]
    return statistics.median(ratios) if ratios else None


def rejected_text(data):
    lines = ["| change, measured and not adopted | benchmark | without it: CPU time, median "
             "(min–max) | with it | time with it against without (median of the "
             "rounds) | (fastest samples) |", "|---|---|---|---|---|---|"]
    for name, bench, base_name, what in CHANGES:
        key, unit = HEADLINE[bench][1], HEADLINE[bench][2]
        base = by_round(data, "rejected", bench, base_name, key)
        other = by_round(data, "rejected", bench, name, key)
        paired = _paired(data, bench, name, base_name)
        fastest = (min(other.values()) / min(base.values())) if base and other else None
        shown = ["–" if x is None else f"{x:.3f}" for x in (paired, fastest)]
        lines.append(f"| {what} | {HEADLINE[bench][4].split(':')[0]} ({unit}) "
                     f"| {cell(list(base.values()))[1]} | {cell(list(other.values()))[1]} "
                     f"| {shown[0]} | {shown[1]} |")
    timed = list(dict.fromkeys(n for name, b, base, _ in CHANGES if b == "timers"
                               for n in (base, name)))
    lines += ["", f"**The timers benchmark in the same rounds: speed-up over "
              f"{REFERENCE}** (median of the rounds)", "",
              "| loop | speed-up |", "|---|---|"]
    for name in timed:
        ratio = _paired(data, "timers", REFERENCE, name)
        lines.append(f"| {name} | {'–' if ratio is None else f'{ratio:.2f} ×'} |")
    return "\n".join(lines) + "\n"


def write_all(data, out):
    text = rejected_text(data)
    with open(os.path.join(out, "rejected.txt"), "w") as f:
        f.write(text)
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for tests")
    parser.add_argument("--out", default=os.path.join(ROOT, "book", "results"))
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    if args.report_only:
        with open(os.path.join(args.out, "rejected.json")) as f:
            write_all(json.load(f), args.out)
        return 0
    cfg = dict(SMOKE if args.smoke else FULL)
    pin, pin_note = run.pin_prefix()
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    log(f"tale, changes not adopted ({'smoke' if args.smoke else 'full'}): {pin_note}")
    names = list(dict.fromkeys(n for name, _, base, _ in CHANGES for n in (base, name)))
    names.append(REFERENCE)
    probes = run.probe_all(pin, names, cfg["timeout"])
    available = {n for n, p in probes.items() if p.get("ok")}
    load_before = os.getloadavg()
    started = time.perf_counter()
    samples: list[dict] = []
    run.run_rounds(pin, jobs(cfg), cfg["repeats"], available, cfg["timeout"], samples, log)
    data = {"meta": {
        "mode": "smoke" if args.smoke else "full",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": run.machine(), "pinning": pin_note,
        "elapsed_seconds": time.perf_counter() - started,
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "config": cfg, "backends": probes, "commit": run.git_commit()},
        "samples": samples}
    with open(os.path.join(args.out, "rejected.json"), "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    write_all(data, args.out)
    log(f"wrote {args.out}/rejected.json and rejected.txt "
        f"({data['meta']['elapsed_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
