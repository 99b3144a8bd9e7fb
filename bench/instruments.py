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

    python bench/run.py --instruments [--repeats 9] [--before REV]

(A side measurement, not one of run.py's parts: it compares tale with an
older tale, taken from git, rather than with other libraries.)
"""
from __future__ import annotations

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


def measure(rounds: int = 9, before: str | None = None) -> str:
    """Run the rounds; return the report, a few lines of text."""
    before = before or subprocess.run(
        ["git", "merge-base", "HEAD", "main"], cwd=ROOT, check=True, capture_output=True,
        text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        codes = {"before": checkout(before, Path(tmp)), "off": ROOT / "code", "on": ROOT / "code"}
        times = {p: {v: [] for v in codes} for p in SIZES}
        ratios = {p: {v: [] for v in ("off", "on")} for p in SIZES}
        for number in range(rounds):
            order = list(codes) if number % 2 == 0 else list(reversed(codes))
            for program in SIZES:
                got = {variant: sample(codes[variant], program,
                                       "on" if variant == "on" else "off") for variant in order}
                for variant, seconds in got.items():
                    times[program][variant].append(seconds)
                for variant in ("off", "on"):
                    ratios[program][variant].append(got[variant] / got["before"])
            print(f"round {number + 1}/{rounds} done", file=sys.stderr)
    lines = [f"tale before instruments: {before[:12]}; {rounds} rounds; CPU seconds, medians"]
    for program, n in SIZES.items():
        medians = {v: statistics.median(t) for v, t in times[program].items()}
        off, on = ratios[program]["off"], ratios[program]["on"]
        lines.append(f"{program} ({n:,}): before {medians['before']:.3f} s, "
                     f"off {medians['off']:.3f} s, on {medians['on']:.3f} s; "
                     f"off/before {statistics.median(off):.3f} "
                     f"(rounds: {min(off):.3f}-{max(off):.3f}), "
                     f"on/before {statistics.median(on):.2f}")
    return "\n".join(lines)
