"""What instruments cost when none is installed (chapter 19), and when one is.

Two programs, each timed in a fresh interpreter pinned to one core:

* ``switches``: two tasks that take turns with ``sleep(0)`` (ping-pong);
* ``spawn_join``: a task that spawns and joins trivial tasks, one at a time.

Three variants, interleaved in every round so that they share the machine's
mood: ``before``, tale as it was before instruments (a git revision, by
default where this branch left ``main``); ``off``, tale now, without
instruments; ``on``, tale now with one instrument that counts steps.  Each
sample is the CPU time (``time.process_time``) of one ``tale.run``, debug
mode off.  The report gives, per program, the median of each variant and the
median over rounds of the ratio to ``before`` measured within the round.

    python bench/instruments.py [--rounds 7] [--before REV]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = {"switches": 500_000, "spawn_join": 200_000}

PROGRAM = r"""
import json, sys, time
import tale

class Steps:
    steps = 0
    def before_task_step(self, task):
        Steps.steps += 1

async def turns(n):
    for _ in range(n):
        await tale.sleep(0)

async def switches(n):
    a = await tale.spawn(turns, n)
    b = await tale.spawn(turns, n)
    await a.join()
    await b.join()

async def nothing():
    pass

async def spawn_join(n):
    for _ in range(n):
        task = await tale.spawn(nothing)
        await task.join()

program, n, variant = sys.argv[1], int(sys.argv[2]), sys.argv[3]
extra = {'instruments': [Steps()]} if variant == 'on' else {}
start = time.process_time()
tale.run(globals()[program], n, debug=False, **extra)
print(json.dumps(time.process_time() - start))
"""


def checkout(revision: str, into: Path) -> Path:
    """``code/tale`` as it was at `revision`, extracted into `into`."""
    archive = subprocess.run(["git", "archive", revision, "code/tale"], cwd=ROOT,
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "code"


def sample(code: Path, program: str, variant: str) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("TALE_DEBUG", "PYTHONDEVMODE")}
    env["PYTHONPATH"] = str(code)
    command = [sys.executable, "-c", PROGRAM, program, str(SIZES[program]), variant]
    if shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    if result.returncode:
        raise RuntimeError(result.stderr)
    return json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--before", default=None,
                        help="git revision of tale before instruments (default: merge-base with main)")
    args = parser.parse_args()
    before = args.before or subprocess.run(
        ["git", "merge-base", "HEAD", "main"], cwd=ROOT, check=True, capture_output=True,
        text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        codes = {"before": checkout(before, Path(tmp)), "off": ROOT / "code", "on": ROOT / "code"}
        times = {p: {v: [] for v in codes} for p in SIZES}
        ratios = {p: {v: [] for v in ("off", "on")} for p in SIZES}
        for number in range(args.rounds):
            order = list(codes) if number % 2 == 0 else list(reversed(codes))
            for program in SIZES:
                got = {variant: sample(codes[variant], program,
                                       "on" if variant == "on" else "off") for variant in order}
                for variant, seconds in got.items():
                    times[program][variant].append(seconds)
                for variant in ("off", "on"):
                    ratios[program][variant].append(got[variant] / got["before"])
            print(f"round {number + 1}/{args.rounds} done", file=sys.stderr)
    print(f"tale before instruments: {before[:12]}; {args.rounds} rounds; CPU seconds, medians")
    for program, n in SIZES.items():
        medians = {v: statistics.median(t) for v, t in times[program].items()}
        print(f"{program} ({n:,}): before {medians['before']:.3f} s, "
              f"off {medians['off']:.3f} s, on {medians['on']:.3f} s; "
              f"off/before {statistics.median(ratios[program]['off']):.3f} "
              f"(rounds: {min(ratios[program]['off']):.3f}-{max(ratios[program]['off']):.3f}), "
              f"on/before {statistics.median(ratios[program]['on']):.2f}")


if __name__ == "__main__":
    main()
