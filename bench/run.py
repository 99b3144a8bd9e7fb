"""The one entry point of the benchmarks: run them, or redo their tables.

    python bench/run.py                     everything (about twenty minutes), into book/results/
    python bench/run.py --smoke --out DIR   tiny sizes, every installed backend
    python bench/run.py --only variants     one part: main, variants, rejected or kernel
    python bench/run.py --report-only       redo the tables and plots from the JSON files
    python bench/run.py --tool NAME [ARGS]  one standalone measurement (see TOOLS), its own options
    python bench/run.py --tool compare --bench timers --backends asyncio,tale,tale@DIR
                                            a quick side-by-side (compare.py), e.g. before/after
    python bench/run.py --instruments       what instruments cost (instruments.py; chapter 19)
    python bench/run.py --thread-wait       a loop waiting for a thread: polling or not (chapter 18)

Four parts, each written to its own JSON file of raw samples and its tables:
``main`` (results.json: every backend on every benchmark, the ladder of
floors, the scaling runs, report.py's tables and plots), ``variants``
(variants.json: tale's optimisations and unused features, and the garbage
collector's share of the timers benchmark, variants.py), ``rejected``
(rejected.json: changes measured and not adopted, rejected.py) and ``kernel``
(kernel.json: chapter 14's steps from chapter 9's tick to the package's,
kernel_steps.py).  What runs,
where and at which sizes is in config.py.

Every sample runs in a fresh interpreter (bench/worker.py), pinned to one CPU
with ``taskset -c 0`` when it is available.  Repeats are interleaved: each
round runs every benchmark once on every backend, in an order that rotates from
round to round, so a slow spell of the machine does not fall on one backend.
Tables show the median and the min-max of the repeats; ratios between two
backends are taken within each round (report.paired).
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
import config  # noqa: E402
import kernel_steps  # noqa: E402
import rejected  # noqa: E402
import report  # noqa: E402
import variants  # noqa: E402
from config import BACKENDS, EXTRA, FLOORS  # noqa: E402

PARTS = ("main", "variants", "rejected", "kernel")
SIDE_RUNS = {"variants": (variants, config.VARIANTS_FULL, config.VARIANTS_SMOKE),
             "rejected": (rejected, config.REJECTED_FULL, config.REJECTED_SMOKE),
             "kernel": (kernel_steps, config.KERNEL_FULL, config.KERNEL_SMOKE)}


def pin_prefix() -> tuple[list[str], str]:
    """``taskset -c 0`` if it works here, and a sentence saying what we did."""
    taskset = shutil.which("taskset")
    if taskset and subprocess.run([taskset, "-c", "0", "true"]).returncode == 0:
        return [taskset, "-c", "0"], "every sample pinned to CPU 0 with `taskset -c 0`"
    return [], "not pinned to a CPU (taskset is not available here)"


def worker_command(pin, backend, *args):
    cls = adapters.BACKENDS.get(backend)
    flags = list(cls.python_flags) if cls else []
    return [*pin, sys.executable, *flags, os.path.join(HERE, "worker.py"), *args]


def call_worker(cmd, timeout):
    # A sample is a production run: no debug mode, which (since chapter 19) also
    # chooses, when tale is imported, a checked `sleep`.
    env = {k: v for k, v in os.environ.items() if k not in ("TALE_DEBUG", "PYTHONDEVMODE")}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
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


def main_jobs(cfg, stage_names):
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


def meta(mode, cfg, probes, pin_note, load_before, elapsed):
    """What every JSON file of samples says about its run."""
    return {"mode": mode,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(), "pinning": pin_note, "elapsed_seconds": elapsed,
            "load_average": {"before": load_before, "after": os.getloadavg()},
            "config": cfg, "backends": probes, "commit": git_commit()}


def probe_and_log(pin, names, timeout, log):
    probes = probe_all(pin, names, timeout)
    for n, p in probes.items():
        log(f"  {n:17} {p['version'] if p.get('ok') else 'NOT RUN: ' + str(p.get('reason') or p.get('error'))}")
    return probes, {n for n, p in probes.items() if p.get("ok")}


def run_main(cfg, mode, pin, pin_note, out, log):
    """Every backend on every benchmark, the floors, scaling, idle CPU, memory, a profile."""
    stage_names = adapters.stages()
    extras = [b for bs in EXTRA.values() for b in bs]
    names = list(dict.fromkeys(BACKENDS + extras + FLOORS + [f"stage:{s}" for s in stage_names]))
    probes, available = probe_and_log(pin, names, cfg["timeout"], log)
    for name in BACKENDS:
        cls = adapters.BACKENDS[name]
        if cls.python_flags and name in available:
            log(f"  {name} runs with python {' '.join(cls.python_flags)}: {cls.flags_reason}")
    load_before, started = os.getloadavg(), time.perf_counter()
    samples: list[dict] = []
    for job_list, repeats in ((main_jobs(cfg, stage_names), cfg["repeats"]),
                              (floor_jobs(cfg), cfg["floor_repeats"]),
                              (scaling_jobs(cfg), cfg["scaling_repeats"]),
                              (idle_jobs(cfg), cfg["idle_repeats"])):
        run_rounds(pin, job_list, repeats, available, cfg["timeout"], samples, log)
    profiles = {}
    if "tale" in available:
        params = config.PROFILE_SMOKE if mode == "smoke" else config.PROFILE
        cmd = worker_command(pin, "tale", "--profile", "tale", "echo", json.dumps(params))
        profiles["tale echo"] = {"params": params, **call_worker(cmd, cfg["timeout"])}
        log(f"  profiled tale on echo: {profiles['tale echo'].get('error') or 'ok'}")
    info = meta(mode, cfg, probes, pin_note, load_before, time.perf_counter() - started)
    info["flags"] = {n: {"flags": list(adapters.BACKENDS[n].python_flags),
                         "reason": adapters.BACKENDS[n].flags_reason}
                     for n in BACKENDS if adapters.BACKENDS[n].python_flags}
    info["stages"] = stage_names
    data = {"meta": info, "samples": samples, "profiles": profiles}
    save(data, os.path.join(out, "results.json"))
    report.write_all(data, out)


def run_side(part, cfg, mode, pin, pin_note, out, log):
    """variants or rejected: its plan of rounds, its JSON file, its tables."""
    module = SIDE_RUNS[part][0]
    probes, available = probe_and_log(pin, module.BACKEND_NAMES, cfg["timeout"], log)
    load_before, started = os.getloadavg(), time.perf_counter()
    samples: list[dict] = []
    for job_list, repeats in module.plan(cfg):
        run_rounds(pin, job_list, repeats, available, cfg["timeout"], samples, log)
    data = {"meta": meta(mode, cfg, probes, pin_note, load_before,
                         time.perf_counter() - started), "samples": samples}
    save(data, os.path.join(out, f"{part}.json"))
    module.write_all(data, out)


def save(data, path):
    with open(path, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")


def report_only(out):
    """Redo every table and plot from the JSON files in ``out``."""
    def load(*path):
        with open(os.path.join(out, *path)) as f:
            return json.load(f)

    report.write_all(load("results.json"), out)
    for part in SIDE_RUNS:
        if os.path.exists(os.path.join(out, f"{part}.json")):
            SIDE_RUNS[part][0].write_all(load(f"{part}.json"), out)
    if os.path.exists(os.path.join(out, "rerun", "results.json")):   # a second full run
        with open(os.path.join(out, "rerun", "targets.txt"), "w") as f:
            f.write(report.rerun_text(load("rerun", "results.json")))


#: Measurements with a command line of their own, run as ``--tool NAME [ARGS]``:
#: name -> module of bench/ with a main(argv).
TOOLS = {"streams": "streams_eagain",    # chapter 15: try the call first, or wait first
         "http": "http_servers",         # chapter 16: HTTP servers under wrk
         "http-costs": "http_costs",     # chapter 16: a request's pieces, without sockets
         "redis": "redis_servers",       # chapter 17: RESP servers under redis-benchmark
         "soak": "soak",                 # the appendix on reliability: a minute of load, then leaks?
         "compare": "compare"}           # a quick side-by-side: some benchmarks, backends, trees


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--tool"]:
        if len(argv) < 2 or argv[1] not in TOOLS:
            sys.exit(f"--tool needs one of {', '.join(TOOLS)}")
        import importlib
        return importlib.import_module(TOOLS[argv[1]]).main(argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for tests")
    parser.add_argument("--out", default=os.path.join(ROOT, "book", "results"),
                        help="directory for the JSON samples, the tables and the plots")
    parser.add_argument("--only", choices=PARTS, action="append",
                        help="run this part only (may be given more than once)")
    parser.add_argument("--repeats", type=int, help="rounds of the main benchmarks")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the tables and plots from the JSON files in OUT")
    parser.add_argument("--instruments", action="store_true",
                        help="measure tale without instruments against tale before them")
    parser.add_argument("--before", help="with --instruments: the git revision to compare")
    parser.add_argument("--thread-wait", action="store_true",
                        help="only print what an idle loop costs while a thread works "
                             "(thread_wait.py; chapter 18)")
    args = parser.parse_args(argv)
    if args.instruments:
        import instruments
        print(instruments.measure(args.repeats or 9, args.before))
        return 0
    if args.thread_wait:
        import thread_wait
        thread_wait.main(["--repeats", str(args.repeats or 3)])
        return 0
    os.makedirs(args.out, exist_ok=True)
    if args.report_only:
        report_only(args.out)
        return 0
    mode = "smoke" if args.smoke else "full"
    pin, pin_note = pin_prefix()
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    for part in args.only or PARTS:
        if part == "main":
            cfg = dict(config.SMOKE if args.smoke else config.FULL)
            if args.repeats:
                cfg["repeats"] = args.repeats
        else:
            cfg = dict(SIDE_RUNS[part][2 if args.smoke else 1])
        log(f"tale benchmarks, {part} ({mode}): {pin_note}")
        started = time.perf_counter()
        if part == "main":
            run_main(cfg, mode, pin, pin_note, args.out, log)
        else:
            run_side(part, cfg, mode, pin, pin_note, args.out, log)
        log(f"wrote {part} into {args.out} ({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
