"""A quick side-by-side run: some main benchmarks, some backends, a few rounds.

    python bench/run.py --tool compare --bench timers,spawn_join \\
        --backends asyncio,tale,tale@/tmp/old,minimal --repeats 3

For trying a change: ``tale@DIR`` is tale from another tree (a git worktree or
a copy with ``code/`` and ``bench/``, say at the commit before the change),
run by that tree's own bench/worker.py.  Samples are taken as bench/run.py
takes them (a fresh pinned interpreter each, no debug mode, rounds
interleaved in a rotating order), at the sizes of config.FULL (``--smoke``:
config.SMOKE).  Prints the CPU-time median of each backend, its ratio to the
first backend (a speed-up: > 1 is faster) and every sample; writes nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import config  # noqa: E402

#: The CPU-time key of each main benchmark, and whether more is better.
CPU_KEY = {name: (cpu, not lower) for name, (_wall, cpu, _unit, lower, _label)
           in config.HEADLINE.items()}


def sample(pin, backend, bench, params, timeout):
    """One sample in a fresh interpreter: the CPU-time figure, or raise."""
    name, _, tree = backend.partition("@")
    worker = os.path.join(os.path.abspath(tree) if tree else os.path.dirname(HERE),
                          "bench", "worker.py")
    env = {k: v for k, v in os.environ.items() if k not in ("TALE_DEBUG", "PYTHONDEVMODE")}
    proc = subprocess.run([*pin, sys.executable, worker, name, bench, json.dumps(params)],
                          capture_output=True, text=True, timeout=timeout, env=env)
    lines = proc.stdout.strip().splitlines()
    result = json.loads(lines[-1]) if proc.returncode == 0 and lines else {
        "error": (proc.stderr.strip().splitlines() or ["no output"])[-1]}
    if "error" in result:
        raise RuntimeError(f"{backend} on {bench}: {result['error']}")
    return result[CPU_KEY[bench][0]]


def main(argv):
    parser = argparse.ArgumentParser(prog="run.py --tool compare",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--bench", default="switches,spawn_join,timers,echo",
                        help="comma-separated main benchmarks")
    parser.add_argument("--backends", default="asyncio,uvloop,tale",
                        help="comma-separated; the first is the reference; tale@DIR allowed")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="config.SMOKE sizes")
    args = parser.parse_args(argv)
    benches, backends = args.bench.split(","), args.backends.split(",")
    unknown = [b for b in benches if b not in CPU_KEY]
    if unknown:
        sys.exit(f"unknown benchmark {', '.join(unknown)}; one of {', '.join(CPU_KEY)}")
    cfg = config.SMOKE if args.smoke else config.FULL
    pin = ["taskset", "-c", "0"] if subprocess.run(
        ["taskset", "-c", "0", "true"], capture_output=True).returncode == 0 else []
    samples = {}
    for rep in range(args.repeats):
        for bench in benches:
            shift = rep % len(backends)
            for backend in backends[shift:] + backends[:shift]:
                samples.setdefault((bench, backend), []).append(
                    sample(pin, backend, bench, cfg["main"][bench], cfg["timeout"]))
    for bench in benches:
        key, more_is_better = CPU_KEY[bench]
        print(f"{bench} ({key}, median of {args.repeats}; ratio: speed-up over {backends[0]})")
        ref = statistics.median(samples[(bench, backends[0])])
        for backend in backends:
            values = samples[(bench, backend)]
            med = statistics.median(values)
            ratio = med / ref if more_is_better else ref / med
            print(f"  {backend:30} {med:12.6g}  {ratio:5.2f}  "
                  f"[{', '.join(f'{v:.6g}' for v in values)}]")
    return 0
