"""Adapters for the Part I stages (code/stages/chNN_*.py), for the switch benchmark.

The stages are teaching programs, each a little different: early ones run a
single coroutine, later ones spawn, join, sleep and wait for I/O.  This module
finds what a stage offers and wraps it in the adapter interface; a stage that
lacks something the benchmark needs is reported as unavailable, with the reason
(that is the point: the table shows which stages can switch at all).
"""
from __future__ import annotations

import importlib
import inspect
import os

from adapters import Adapter, Unavailable

STAGES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "code", "stages")


def discover() -> list[str]:
    """The stage modules present, in chapter order."""
    if not os.path.isdir(STAGES):
        return []
    return sorted(f[:-3] for f in os.listdir(STAGES)
                  if f.startswith("ch") and f.endswith(".py"))


def _first_param(fn):
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    return params[0] if params else None


class StageAdapter(Adapter):
    def __init__(self, name):
        self.name = f"stage:{name}"
        try:
            mod = importlib.import_module(f"stages.{name}")
        except Exception as exc:
            raise Unavailable(f"cannot import stages.{name}: {exc}") from None
        missing = [n for n in ("run", "spawn") if not callable(getattr(mod, n, None))]
        if missing:
            raise Unavailable(f"no {' and '.join(missing)}: it runs one coroutine, "
                              "so there is nothing to switch to")
        self.mod = mod
        if callable(getattr(mod, "sleep", None)):
            self.sleep = mod.sleep
            self.version = "switches with `sleep(0)`"
        elif callable(getattr(mod, "pause", None)):
            pause = mod.pause
            self.sleep = lambda _seconds: pause()
            self.version = "no sleep yet: switches with `pause()`"
        else:
            raise Unavailable("neither sleep nor pause: a task cannot give way on request")
        # run(coro) or run(corofunc, *args)?
        param = _first_param(mod.run)
        self._run_takes_coro = param is not None and param.name in ("coro", "coroutine", "main_coro")
        param = _first_param(mod.spawn)
        self._spawn_takes_coro = param is not None and param.name in ("coro", "coroutine")
        join = getattr(mod, "join", None)
        self._join = join if callable(join) else None

    def run(self, main):
        return self.mod.run(main()) if self._run_takes_coro else self.mod.run(main)

    async def spawn(self, fn, *args):
        if self._spawn_takes_coro:
            return await self.mod.spawn(fn(*args))
        return await self.mod.spawn(fn, *args)

    async def join(self, task):
        if self._join is not None:
            return await self._join(task)
        return await task.join()


def load(name: str) -> StageAdapter:
    if name not in discover():
        raise Unavailable(f"no stage called {name!r}")
    return StageAdapter(name)
