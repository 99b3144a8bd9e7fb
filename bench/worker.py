"""Run one sample of one benchmark on one backend, in this fresh process.

    python bench/worker.py BACKEND BENCHMARK '{"tasks": 100}'
    python bench/worker.py --probe BACKEND
    python bench/worker.py --profile BACKEND BENCHMARK '{"trips": 500}'

prints one line of JSON: the measurements, or {"error": "..."} saying why the
backend could not run it.  BACKEND is an adapter name (bench/adapters.py:
asyncio, uvloop, trio, curio, tale, their variants, ``stage:MODULE`` for a Part
I stage) or ``floor:RUNG`` (bench/floors.py).  Not a command of its own:
bench/run.py starts one of these processes per sample.
"""
from __future__ import annotations

import json
import os
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, os.path.join(ROOT, "code")]

import adapters  # noqa: E402
import floors  # noqa: E402
import programs  # noqa: E402


def probe(name):
    try:
        if name.startswith("floor:"):
            if name[6:] not in floors.RUNGS:
                raise adapters.Unavailable(f"no floor called {name[6:]!r}")
            return {"ok": True, "version": "Python " + sys.version.split()[0]}
        b = adapters.load(name)
        return {"ok": True, "version": b.version}
    except adapters.Unavailable as exc:
        return {"ok": False, "reason": str(exc)}
    except Exception as exc:  # a backend that breaks on import is reported, not fatal
        return {"ok": False, "reason": f"{type(exc).__name__}: {exc}"}


def sample(name, bench, params):
    try:
        if name.startswith("floor:"):
            if bench != "switches":
                raise adapters.Unavailable("floors only measure switches")
            return floors.RUNGS[name[6:]](**params)
        b = adapters.load(name)
        return programs.BENCHMARKS[bench](b, **params)
    except adapters.Unavailable as exc:
        return {"error": str(exc)}
    except Exception as exc:
        tb = traceback.format_exc(limit=-3)
        return {"error": f"{type(exc).__name__}: {exc}", "traceback": tb}


def profile(name, bench, params, lines=12):
    """Run one sample under cProfile: the top functions by their own time."""
    import cProfile
    import io
    import pstats
    b = adapters.load(name)
    prof = cProfile.Profile()
    prof.runcall(programs.BENCHMARKS[bench], b, **params)
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out).strip_dirs().sort_stats("tottime")
    rows = []
    for func in stats.fcn_list[:lines]:
        _cc, ncalls, tottime, cumtime, _callers = stats.stats[func]
        rows.append([ncalls, tottime, cumtime, pstats.func_std_string(func)])
    stats.print_stats(lines)
    text = out.getvalue()
    text = text[text.index("   ncalls"):] if "   ncalls" in text else text
    return {"rows": rows,
            "text": "\n".join(line.rstrip() for line in text.strip("\n").splitlines())}


def main(argv):
    if argv[:1] == ["--probe"]:
        out = probe(argv[1])
    elif argv[:1] == ["--profile"]:
        try:
            out = profile(argv[1], argv[2], json.loads(argv[3]))
        except adapters.Unavailable as exc:
            out = {"error": str(exc)}
    else:
        name, bench, params = argv[0], argv[1], json.loads(argv[2] if len(argv) > 2 else "{}")
        out = sample(name, bench, params)
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
