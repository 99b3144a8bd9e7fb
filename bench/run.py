"""Run every benchmark on tale and its peers, and write the results.

    python bench/run.py                 the full run (several minutes), into book/results/
    python bench/run.py --smoke --out DIR   tiny sizes, every installed backend
    python bench/run.py --report-only   redo the tables and plots from results.json

The full run ends with bench/variants.py (tale's optimisations and unused
features, and the garbage collector's share of the timers benchmark) and
bench/rejected.py (changes measured and not adopted).

Every sample runs in a fresh interpreter (bench/worker.py), pinned to one CPU
with ``taskset -c 0`` when it is available.  Repeats are interleaved: each
round runs every benchmark once on every backend, in an order that rotates from
round to round, so a slow spell of the machine does not fall on one backend.
Tables show the median and the min-max of the repeats.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import adapters  # noqa: E402

BACKENDS = ["asyncio", "uvloop", "trio", "curio", "tale"]
# Variants measured on one benchmark only, next to the backends: {benchmark: [names]}.
# "minimal" (bench/minimal.py) is the least trap loop that runs these two: the
# yardstick for what tale's features cost there.  Rung 3 of the ladder (the
# minimal scheduler) runs in the switch rounds, so that the target against it
# compares samples taken side by side.
EXTRA: dict[str, list[str]] = {"switches": ["floor:sched"], "spawn_join": ["minimal"],
                               "timers": ["minimal"]}
FLOORS = ["floor:send", "floor:await", "floor:sched", "floor:trap", "floor:dispatch",
          "floor:tuned"]

# What each benchmark reports in the main table:
#   (wall-clock key, CPU-time key, unit, lower_is_better, label made from its sizes)
HEADLINE = {
    "switches": ("ns_per_switch", "cpu_ns_per_switch", "ns per switch", True,
                 "switches: {tasks:,} tasks × {rounds:,} `sleep(0)`"),
    "spawn_join": ("us_per_task", "cpu_us_per_task", "µs per task", True,
                   "spawn + join: {tasks:,} trivial tasks"),
    "timers": ("overhead_seconds", "cpu_seconds", "s", True,
               "timers: {tasks:,} tasks sleep 0–{max_ms:g} ms"),
    "echo": ("round_trips_per_s", "cpu_round_trips_per_s", "round trips per s", False,
             "echo: {connections:,} connections × {trips:,} round trips of {size} B"),
}

FULL = {
    "repeats": 5,
    "timeout": 400,          # trio's timers at a million sleepers take about 150 s
    "main": {
        "switches": {"tasks": 100, "rounds": 10_000},
        "spawn_join": {"tasks": 100_000},
        "timers": {"tasks": 100_000, "max_ms": 10.0, "seed": 1},
        "echo": {"connections": 50, "trips": 2_000, "size": 64},
    },
    "switch_scaling": {"sizes": [10, 100, 1_000, 10_000, 100_000], "switches": 200_000,
                       "min_rounds": 5},
    "timer_scaling": {"sizes": [1_000, 10_000, 100_000, 300_000, 1_000_000], "max_ms": 10.0},
    "idle_cpu": {"tasks": 10_000, "seconds": 1.0},
    "memory": {"tasks": 10_000, "seconds": 3.0},
    "scaling_repeats": 1,
    "idle_repeats": 3,
    "floor_repeats": 7,
}

SMOKE = {
    "repeats": 1,
    "timeout": 60,
    "main": {
        "switches": {"tasks": 10, "rounds": 50},
        "spawn_join": {"tasks": 200},
        "timers": {"tasks": 200, "max_ms": 2.0, "seed": 1},
        "echo": {"connections": 3, "trips": 20, "size": 64},
    },
    "switch_scaling": {"sizes": [10, 100], "switches": 1_000, "min_rounds": 5},
    "timer_scaling": {"sizes": [100, 300], "max_ms": 2.0},
    "idle_cpu": {"tasks": 50, "seconds": 0.05},
    "memory": {"tasks": 100, "seconds": 0.5},
    "scaling_repeats": 1,
    "idle_repeats": 1,
    "floor_repeats": 1,
}


# One echo sample under cProfile, to show where tale's I/O path spends its time.
PROFILE = {"connections": 20, "trips": 500, "size": 64}
PROFILE_SMOKE = {"connections": 2, "trips": 10, "size": 64}


def pin_prefix() -> tuple[list[str], str]:
    """``taskset -c 0`` if it works here, and a sentence saying what we did."""
    taskset = shutil.which("taskset")
    if taskset and subprocess.run([taskset, "-c", "0", "true"]).returncode == 0:
        return [taskset, "-c", "0"], "every sample pinned to CPU 0 with `taskset -c 0`"
    return [], "not pinned to a CPU (taskset is not available here)"


def worker_command(pin, backend, *args):
    flags = []
    if not backend.startswith(("floor:", "stage:")):
        cls = adapters.BACKENDS.get(backend)
        flags = list(cls.python_flags) if cls else []
    return [*pin, sys.executable, *flags, os.path.join(HERE, "worker.py"), *args]


def call_worker(cmd, timeout):
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within {timeout} s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"worker exited {proc.returncode}: {tail}"}
    return json.loads(lines[-1])


def probe_all(pin, names, timeout):
    found = {}
    for name in names:
        found[name] = call_worker(worker_command(pin, name, "--probe", name), timeout)
    return found


def jobs(cfg, stage_names):
    """Every (group, benchmark, params, backends) to run, in the order of a round."""
    out = []
    for bench, params in cfg["main"].items():
        out.append(("main", bench, params, BACKENDS + EXTRA.get(bench, [])))
    if stage_names:
        out.append(("stages", "switches", cfg["main"]["switches"],
                    [f"stage:{s}" for s in stage_names]))
    return out


def floor_jobs(cfg):
    return [("floors", "switches", cfg["main"]["switches"], FLOORS)]


def scaling_jobs(cfg):
    out = []
    sw = cfg["switch_scaling"]
    for n in sw["sizes"]:
        rounds = max(sw["min_rounds"], sw["switches"] // n)
        out.append(("switch_scaling", "switches", {"tasks": n, "rounds": rounds}, BACKENDS))
    ts = cfg["timer_scaling"]
    for n in ts["sizes"]:
        out.append(("timer_scaling", "timers",
                    {"tasks": n, "max_ms": ts["max_ms"], "seed": 1}, BACKENDS))
    return out


def idle_jobs(cfg):
    return [("idle_cpu", "idle_cpu", cfg["idle_cpu"], BACKENDS),
            ("memory", "memory", cfg["memory"], BACKENDS)]


def run_rounds(pin, job_list, repeats, available, timeout, samples, log):
    for rep in range(repeats):
        for group, bench, params, backends in job_list:
            order = [b for b in backends if b in available]
            shift = rep % len(order) if order else 0
            order = order[shift:] + order[:shift]
            for backend in order:
                cmd = worker_command(pin, backend, backend, bench, json.dumps(params))
                started = time.perf_counter()
                result = call_worker(cmd, timeout)
                samples.append({"group": group, "bench": bench, "params": params,
                                "backend": backend, "repeat": rep, "result": result})
                took = time.perf_counter() - started
                status = result.get("error") or "ok"
                log(f"  round {rep + 1}/{repeats} {group:14} {bench:10} {backend:15} "
                    f"{took:6.2f} s  {status}")


def side_run(argv, description, name, full, smoke, names, plan, write_all):
    """The command line of bench/variants.py and bench/rejected.py, run like ``make bench``.

    ``plan(cfg)`` gives [(job list, repeats)]; the samples go to OUT/NAME.json
    and ``write_all(data, out)`` makes the tables.  ``--report-only`` redoes
    the tables from the JSON.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for tests")
    parser.add_argument("--out", default=os.path.join(ROOT, "book", "results"))
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"{name}.json")
    if args.report_only:
        with open(path) as f:
            write_all(json.load(f), args.out)
        return 0
    cfg = dict(smoke if args.smoke else full)
    pin, pin_note = pin_prefix()
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    log(f"tale {name} ({'smoke' if args.smoke else 'full'}): {pin_note}")
    probes = probe_all(pin, names, cfg["timeout"])
    available = {n for n, p in probes.items() if p.get("ok")}
    for n, p in probes.items():
        log(f"  {n:17} {p.get('version') if p.get('ok') else 'NOT RUN: ' + str(p)}")
    load_before = os.getloadavg()
    started = time.perf_counter()
    samples: list[dict] = []
    for job_list, repeats in plan(cfg):
        run_rounds(pin, job_list, repeats, available, cfg["timeout"], samples, log)
    data = {"meta": {
        "mode": "smoke" if args.smoke else "full",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(), "pinning": pin_note,
        "elapsed_seconds": time.perf_counter() - started,
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "config": cfg, "backends": probes, "commit": git_commit()},
        "samples": samples}
    with open(path, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    write_all(data, args.out)
    log(f"wrote {path} and its tables ({data['meta']['elapsed_seconds']:.0f} s)")
    return 0


def git_commit():
    """The commit measured, and whether code/ had changes not yet committed."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "code"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
    except OSError:
        return None
    return {"head": head, "code_changed": bool(dirty)} if head else None


def machine():
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"platform": platform.platform(), "cpu": cpu, "cpus": os.cpu_count(),
            "python": sys.version.split()[0], "implementation": platform.python_implementation()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for tests")
    parser.add_argument("--out", default=os.path.join(ROOT, "book", "results"),
                        help="directory for results.json, the tables and the plots")
    parser.add_argument("--repeats", type=int, help="rounds of the main benchmarks")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite tables and plots from OUT/results.json")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    import report

    if args.report_only:
        with open(os.path.join(args.out, "results.json")) as f:
            report.write_all(json.load(f), args.out)
        if os.path.exists(os.path.join(args.out, "variants.json")):
            import variants
            variants.main(["--report-only", "--out", args.out])
        rerun = os.path.join(args.out, "rerun", "results.json")
        if os.path.exists(rerun):       # a second full run, kept for its verdicts
            with open(rerun) as f, open(os.path.join(args.out, "rerun", "targets.txt"),
                                        "w") as out:
                out.write(report.rerun_text(json.load(f)))
        if os.path.exists(os.path.join(args.out, "rejected.json")):
            import rejected
            rejected.main(["--report-only", "--out", args.out])
        return 0

    cfg = dict(SMOKE if args.smoke else FULL)
    if args.repeats:
        cfg["repeats"] = args.repeats
    pin, pin_note = pin_prefix()
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    log(f"tale benchmarks ({'smoke' if args.smoke else 'full'}): {pin_note}")

    import stage_adapters
    stage_names = stage_adapters.discover()
    extras = [b for bs in EXTRA.values() for b in bs]
    names = list(dict.fromkeys(BACKENDS + extras + FLOORS
                               + [f"stage:{s}" for s in stage_names]))
    probes = probe_all(pin, names, cfg["timeout"])
    available = {n for n, p in probes.items() if p.get("ok")}
    for n, p in probes.items():
        if p.get("ok"):
            log(f"  {n:15} {p['version']}")
        else:
            log(f"  {n:15} NOT RUN: {p.get('reason') or p.get('error')}")
    for name in BACKENDS:
        cls = adapters.BACKENDS[name]
        if cls.python_flags and name in available:
            log(f"  {name} runs with python {' '.join(cls.python_flags)}: {cls.flags_reason}")

    load_before = os.getloadavg()
    started = time.perf_counter()
    samples: list[dict] = []
    run_rounds(pin, jobs(cfg, stage_names), cfg["repeats"], available, cfg["timeout"],
               samples, log)
    run_rounds(pin, floor_jobs(cfg), cfg["floor_repeats"], available, cfg["timeout"],
               samples, log)
    run_rounds(pin, scaling_jobs(cfg), cfg["scaling_repeats"], available, cfg["timeout"],
               samples, log)
    run_rounds(pin, idle_jobs(cfg), cfg["idle_repeats"], available, cfg["timeout"],
               samples, log)
    profiles = {}
    if "tale" in available:
        params = PROFILE_SMOKE if args.smoke else PROFILE
        cmd = worker_command(pin, "tale", "--profile", "tale", "echo", json.dumps(params))
        profiles["tale echo"] = {"params": params, **call_worker(cmd, cfg["timeout"])}
        log(f"  profiled tale on echo: {profiles['tale echo'].get('error') or 'ok'}")
    elapsed = time.perf_counter() - started

    data = {
        "meta": {
            "mode": "smoke" if args.smoke else "full",
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(),
            "pinning": pin_note,
            "elapsed_seconds": elapsed,
            "load_average": {"before": load_before, "after": os.getloadavg()},
            "config": cfg,
            "backends": {n: probes[n] for n in names},
            "flags": {n: {"flags": list(adapters.BACKENDS[n].python_flags),
                          "reason": adapters.BACKENDS[n].flags_reason}
                      for n in BACKENDS if adapters.BACKENDS[n].python_flags},
            "stages": stage_names,
            "commit": git_commit(),
        },
        "samples": samples,
        "profiles": profiles,
    }
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    report.write_all(data, args.out)
    log(f"wrote {args.out}/results.json, tables and plots ({elapsed:.0f} s of benchmarks)")
    if not args.smoke:
        import rejected
        import variants
        return variants.main(["--out", args.out]) or rejected.main(["--out", args.out])
    return 0


if __name__ == "__main__":
    sys.exit(main())
