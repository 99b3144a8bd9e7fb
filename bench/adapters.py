"""One small adapter per backend, so every benchmark is written once.

An adapter gives the same seven operations on every backend:

    run(main)                 run ``main()`` to completion, return its result
    await spawn(fn, *args)    start ``fn(*args)`` as a concurrent task, return a handle
    await join(handle)        wait for that task and return its result
    await sleep(seconds)      sleep; ``sleep(0)`` yields to the other ready tasks
    await wait_readable(sock) wait until a non-blocking socket can be read
    await wait_writable(sock) wait until it can be written
    now()                     time.perf_counter(), the same clock for everybody

Each adapter uses the backend's own public primitives, with as little glue as
the backend allows; where glue is unavoidable (trio has no join, asyncio has no
awaitable "wait until readable") it is written the way that backend's
documentation suggests, and the docstring says what it costs.

Besides the backends: the yardstick loops (bench/minimal.py, bench/lean.py),
variants of the tale adapter built on tale's public API (bench/variants.py
measures them), tale with one patch of bench/patches/ applied (bench/rejected.py),
and the Part I stages of code/stages/ (``stage:MODULE``).  None of them copies
kernel code: a change to the kernel is a patch, applied to the current code.
"""
from __future__ import annotations

import atexit
import importlib
import importlib.metadata
import inspect
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

now = time.perf_counter
HERE = os.path.dirname(os.path.abspath(__file__))
CODE = os.path.join(os.path.dirname(HERE), "code")
STAGES = os.path.join(CODE, "stages")


class Unavailable(Exception):
    """This backend cannot run here (not installed, or not written yet)."""


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _require(module: str):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise Unavailable(f"{module} is not installed ({exc})") from None


class Adapter:
    name = "?"
    version = "?"
    python_flags: tuple[str, ...] = ()   # extra interpreter flags for its worker
    flags_reason = ""
    now = staticmethod(now)


# -- asyncio, and uvloop (asyncio's API on a libuv loop written in Cython) ---------

class AsyncioAdapter(Adapter):
    """asyncio as shipped with CPython.

    ``spawn`` is ``asyncio.create_task`` (the C ``_asyncio.Task``), ``join`` is
    awaiting the task.  asyncio has no awaitable "wait until readable", so
    ``wait_readable`` registers a reader that completes a future and removes
    itself: that is what ``loop.sock_recv`` does internally when a ``recv``
    would block.
    """

    name = "asyncio"

    def __init__(self):
        import asyncio
        self.asyncio = asyncio
        self.version = "Python " + sys.version.split()[0]
        self.sleep = asyncio.sleep

    def run(self, main):
        return self.asyncio.run(main())

    async def spawn(self, fn, *args):
        return self.asyncio.create_task(fn(*args))

    async def join(self, task):
        return await task

    async def _wait(self, sock, add, remove):
        loop = self.asyncio.get_running_loop()
        fut = loop.create_future()
        fd = sock.fileno()
        add(fd, fut.set_result, None)
        try:
            await fut
        finally:
            remove(fd)

    async def wait_readable(self, sock):
        loop = self.asyncio.get_running_loop()
        await self._wait(sock, loop.add_reader, loop.remove_reader)

    async def wait_writable(self, sock):
        loop = self.asyncio.get_running_loop()
        await self._wait(sock, loop.add_writer, loop.remove_writer)


class UvloopAdapter(AsyncioAdapter):
    """asyncio's API with uvloop's event loop (libuv, compiled with Cython).

    Tasks are still asyncio's C ``Task`` objects; uvloop replaces the loop:
    the ready queue, timers and the poller.
    """

    name = "uvloop"

    def __init__(self):
        super().__init__()
        self.uvloop = _require("uvloop")
        self.version = _version("uvloop")

    def run(self, main):
        return self.uvloop.run(main())


# -- trio ---------------------------------------------------------------------------

class _TrioHandle:
    __slots__ = ("event", "result")


class TrioAdapter(Adapter):
    """trio: every task lives in a nursery, and there is no join.

    ``run`` opens one nursery around ``main`` and ``spawn`` starts tasks in it.
    To join, the spawned function is wrapped so that it stores its result and
    sets a ``trio.Event``; ``join`` waits for that event.  This is the usual
    trio idiom for "a task whose result I want later"; it costs trio one extra
    coroutine frame per task and one event.
    """

    name = "trio"

    def __init__(self):
        self.trio = _require("trio")
        self.version = _version("trio")
        self.sleep = self.trio.sleep
        self.wait_readable = self.trio.lowlevel.wait_readable
        self.wait_writable = self.trio.lowlevel.wait_writable
        self.nursery = None

    def run(self, main):
        trio = self.trio

        async def outer():
            async with trio.open_nursery() as nursery:
                self.nursery = nursery
                return await main()

        return trio.run(outer)

    async def _body(self, handle, fn, args):
        handle.result = await fn(*args)
        handle.event.set()

    async def spawn(self, fn, *args):
        handle = _TrioHandle()
        handle.event = self.trio.Event()
        self.nursery.start_soon(self._body, handle, fn, args)
        return handle

    async def join(self, handle):
        await handle.event.wait()
        return handle.result


# -- curio --------------------------------------------------------------------------

class CurioAdapter(Adapter):
    """curio: ``curio.spawn`` returns a Task, ``task.join()`` returns its result.

    Waiting on a socket uses curio's own traps ``_read_wait``/``_write_wait``,
    which are what its socket wrapper awaits when an operation would block.
    """

    name = "curio"
    python_flags = ("-O",)
    flags_reason = ("curio 1.6's scheduler checks `assert task not in ready` on every "
                    "reschedule, a linear scan of the ready deque; -O removes that "
                    "debugging check, as in any production run")

    def __init__(self):
        self.curio = _require("curio")
        from curio import traps
        self.version = _version("curio")
        self.sleep = self.curio.sleep
        self.wait_readable = traps._read_wait
        self.wait_writable = traps._write_wait

    def run(self, main):
        return self.curio.run(main)

    async def spawn(self, fn, *args):
        return await self.curio.spawn(fn, *args)

    async def join(self, task):
        return await task.join()


# -- tale ---------------------------------------------------------------------------

class TaleAdapter(Adapter):
    """tale, the library of this book: its public API is already this shape."""

    name = "tale"

    def __init__(self):
        tale = _require("tale")
        needed = ("run", "spawn", "sleep", "wait_readable", "wait_writable")
        missing = [n for n in needed if not hasattr(tale, n)]
        if missing:
            raise Unavailable(f"tale has no {', '.join(missing)} yet")
        self.tale = tale
        self.version = getattr(tale, "__version__", _version("tale"))
        self.spawn = tale.spawn
        self.sleep = tale.sleep
        self.wait_readable = tale.wait_readable
        self.wait_writable = tale.wait_writable

    def run(self, main):
        return self.tale.run(main)

    async def join(self, task):
        return await task.join()


# -- the yardstick: the least trap loop that runs spawn + join and timers ---------

class MinimalAdapter(Adapter):
    """bench/minimal.py, a loop with three requests and nothing else: what
    ``tale``'s features cost on top of the least a trap loop must do."""

    name = "minimal"

    def __init__(self):
        import minimal
        self.loop = minimal
        self.version = "bench/minimal.py on Python " + sys.version.split()[0]
        self.spawn = minimal.spawn
        self.sleep = minimal.sleep

    def run(self, main):
        return self.loop.run(main)

    async def join(self, task):            # one coroutine around it, as for tale
        return await self.loop.join(task)


class LeanAdapter(MinimalAdapter):
    """bench/lean.py: ``minimal`` with a task that waits on its own task object
    instead of a trap generator (two objects per sleeping task, not three)."""

    name = "lean"

    def __init__(self):
        import lean
        self.loop = lean
        self.version = "bench/lean.py on Python " + sys.version.split()[0]
        self.spawn = lean.spawn
        self.sleep = lean.sleep


def _import_patched(adapter, module, source, copy_source):
    """Put a copy of `source`, with ``bench/patches/<adapter.patch>.patch``
    applied, first on the import path, so that `module` is imported from it.

    The patch is applied afresh each time, so that a change of the source
    either carries the patch along or makes the backend unavailable, with
    the reason.  Only in a fresh process: `module` must not be imported yet.
    """
    if module in sys.modules:
        raise Unavailable(f"{adapter.name} imports a patched {module}, so it runs only "
                          f"in a fresh process (bench/worker.py), before {module} is "
                          "imported")
    copy = tempfile.mkdtemp(prefix=f"{module}-patched-")
    atexit.register(shutil.rmtree, copy, True)
    copy_source(copy)
    patch = os.path.join(HERE, "patches", f"{adapter.patch}.patch")
    proc = subprocess.run(["git", "apply", patch], cwd=copy, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise Unavailable(f"bench/patches/{adapter.patch}.patch no longer applies to "
                          f"{source}: {proc.stderr.strip().splitlines()[0]}")
    sys.path.insert(0, copy)


class MinimalPatchedAdapter(MinimalAdapter):
    """``minimal`` with one patch, ``bench/patches/NAME.patch``, applied to a
    copy of bench/minimal.py: a feature of tale added to the least loop, to
    see what it costs there (or, for ``minimal:heap-task``, a design it does
    without)."""

    patch = "?"

    def __init__(self):
        _import_patched(self, "minimal", "bench/minimal.py",
                        lambda copy: shutil.copy(os.path.join(HERE, "minimal.py"), copy))
        super().__init__()
        self.version = f"bench/minimal.py with bench/patches/{self.patch}.patch"


class MinimalTableAdapter(MinimalPatchedAdapter):
    """``minimal`` with a task table, a dict of every unfinished task."""
    name, patch = "minimal+table", "minimal-table"


class MinimalParentAdapter(MinimalPatchedAdapter):
    """And a weak reference from each task to the task that spawned it."""
    name, patch = "minimal+parent", "minimal-parent"


class MinimalHandlersAdapter(MinimalPatchedAdapter):
    """And the requests answered through a table of handlers."""
    name, patch = "minimal+handlers", "minimal-handlers"


class MinimalFieldsAdapter(MinimalPatchedAdapter):
    """And a task of as many fields as tale's, the ones minimal lacks unused."""
    name, patch = "minimal+fields", "minimal-fields"


class MinimalHeapTaskAdapter(MinimalPatchedAdapter):
    """``minimal`` whose timer entries hold their task: no dictionary of armed
    timers, and no way to cancel one (a fourth tracked object per sleeper)."""
    name, patch = "minimal:heap-task", "minimal-heap-task"


BACKENDS = {
    "asyncio": AsyncioAdapter,
    "uvloop": UvloopAdapter,
    "trio": TrioAdapter,
    "curio": CurioAdapter,
    "tale": TaleAdapter,
    "minimal": MinimalAdapter,
    "lean": LeanAdapter,
    **{cls.name: cls for cls in (MinimalTableAdapter, MinimalParentAdapter,
                                 MinimalHandlersAdapter, MinimalFieldsAdapter,
                                 MinimalHeapTaskAdapter)},
}



def load(name: str) -> Adapter:
    """The adapter for ``name`` (or ``stage:MODULE``); raises Unavailable with
    the reason if it cannot run."""
    if name.startswith("stage:"):
        return StageAdapter(name.split(":", 1)[1])
    try:
        cls = BACKENDS[name]
    except KeyError:
        raise Unavailable(f"no adapter called {name!r}") from None
    return cls()


# -- tale, with one thing changed: for chapter 14's "what it cost" tables -----------
# (bench/variants.py runs these on the switch benchmark, next to plain tale.)

class TaleGenericAdapter(TaleAdapter):
    """``sleep(0)`` yields a fresh ``('sleep', 0)``, not the shared ``YIELD``:
    every switch takes the kernel's generic path (table lookup, handler).
    Otherwise it is ``tale:trap-call``: a plain function that calls the trap."""

    name = "tale:generic"

    def __init__(self):
        super().__init__()
        trap = self.tale.traps._trap

        def sleep(seconds):
            return trap(('sleep', seconds))     # a new tuple: never `is YIELD`
        self.sleep = sleep


class TaleTrapCallAdapter(TaleAdapter):
    """``sleep`` is a plain function that returns ``_trap(request)``, as it was
    before it became a trap generator of its own: one more Python call per
    switch, the same generator and the same fast path."""

    name = "tale:trap-call"

    def __init__(self):
        super().__init__()
        trap, fast = self.tale.traps._trap, self.tale.traps.YIELD

        def sleep(seconds):
            return trap(fast if seconds <= 0 else ('sleep', seconds))
        self.sleep = sleep


class TaleAsyncSleepAdapter(TaleAdapter):
    """``sleep`` is an ``async def`` around tale's trap, as on rung 4 of the
    ladder: the fast path stays, and every switch makes one more coroutine."""

    name = "tale:async-sleep"

    def __init__(self):
        super().__init__()
        trap, fast = self.tale.traps._trap, self.tale.traps.YIELD

        async def sleep(seconds):
            return await trap(fast if seconds <= 0 else ('sleep', seconds))
        self.sleep = sleep


async def _wrapped(fn, args):
    return await fn(*args)


class _TaleSpawnVariant(TaleAdapter):
    """A tale adapter whose ``spawn`` is its own ``_spawn`` method (the plain
    adapter stores ``tale.spawn`` on the instance, which a method cannot override)."""

    def __init__(self):
        super().__init__()
        self.spawn = self._spawn


class TaleWrappedAdapter(_TaleSpawnVariant):
    """Each task runs its function inside one more coroutine frame: the
    baseline for the timeout and group variants, which need that frame too."""

    name = "tale:wrapped"

    async def _spawn(self, fn, *args):
        return await self.tale.spawn(_wrapped, fn, args)


class TaleTimeoutAdapter(_TaleSpawnVariant):
    """Each task runs its function inside ``move_on_after(3600)``: a scope
    open, its timer armed, the whole time the task switches."""

    name = "tale:timeout"

    async def _spawn(self, fn, *args):
        return await self.tale.spawn(self._within, fn, args)

    async def _within(self, fn, args):
        async with self.tale.move_on_after(3600):
            return await fn(*args)


class TaleGroupAdapter(_TaleSpawnVariant):
    """The main task opens a ``TaskGroup`` and every task is its child."""

    name = "tale:group"

    def run(self, main):
        async def outer():
            async with self.tale.TaskGroup() as self.group:
                return await main()
        return self.tale.run(outer)

    async def _spawn(self, fn, *args):
        return await self.group.spawn(fn, *args)


class TaleVirtualAdapter(TaleAdapter):
    """``tale.run`` with ``tale.testing.VirtualClock`` in place of the real clock."""

    name = "tale:virtual"

    def run(self, main):
        return self.tale.run(main, clock=self.tale.testing.VirtualClock())


# -- changes measured and not adopted: for chapter 14's "What we left out" ---------
# (bench/rejected.py runs these next to plain tale.)

class TalePatchedAdapter(TaleAdapter):
    """tale with one change: ``bench/patches/NAME.patch`` applied to a copy of
    code/tale, imported in place of it.  The patch is applied afresh to the
    current code each time, so that a change of the kernel either carries the
    patch along or makes this backend unavailable, with the reason."""

    patch = "?"

    def __init__(self):
        _import_patched(self, "tale", "code/tale", lambda copy: shutil.copytree(
            os.path.join(CODE, "tale"), os.path.join(copy, "tale")))
        super().__init__()
        self.version = f"tale with bench/patches/{self.patch}.patch"


class TaleSpawnInlineAdapter(TalePatchedAdapter):
    """``trap_spawn`` makes the task itself, without calling ``_new_task``."""

    name, patch = "tale:spawn-inline", "spawn-inline"


class TaleSpawnTrapAdapter(TalePatchedAdapter):
    """``spawn`` is a trap generator of its own, like ``sleep``: one Python call
    fewer per spawn, and the coroutine is made only when the spawn is awaited."""

    name, patch = "tale:spawn-trap", "spawn-trap"


class TaleTimerInlineAdapter(TalePatchedAdapter):
    """``trap_sleep`` arms its timer itself, without calling ``TimerQueue.add``."""

    name, patch = "tale:timer-inline", "timer-inline"


class TaleNoTaskTableAdapter(TalePatchedAdapter):
    """No task table and no parent link: not a correct tale (a deadlock report,
    the task tree and a stopped run need them), only what the two cost."""

    name, patch = "tale:no-task-table", "no-task-table"


REJECTED = {cls.name: cls for cls in (TaleSpawnInlineAdapter, TaleSpawnTrapAdapter,
                                      TaleTimerInlineAdapter, TaleNoTaskTableAdapter)}
BACKENDS.update(REJECTED)


# -- the Part I stages (code/stages/chNN_*.py), for the switch benchmark ------------

def stages() -> list[str]:
    """Part I's stage modules present, in chapter order.  (The later files of
    code/stages/ are the package's kernel in other shapes, chapter 9's and
    chapter 14's steps: the kernel part of the benchmarks measures those.)"""
    if not os.path.isdir(STAGES):
        return []
    return sorted(f[:-3] for f in os.listdir(STAGES)
                  if re.fullmatch(r"ch0[1-8]_\w+\.py", f))


def _first_param(fn):
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    return params[0] if params else None


class StageAdapter(Adapter):
    """A Part I stage, wrapped as far as it goes.  The stages are teaching
    programs, each a little different: early ones run a single coroutine,
    later ones spawn, join and sleep.  A stage that lacks something the switch
    benchmark needs is unavailable, with the reason (the table shows which
    stages can switch at all)."""

    def __init__(self, name):
        self.name = f"stage:{name}"
        if name not in stages():
            raise Unavailable(f"no stage called {name!r}")
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
        self._run_takes_coro = param is not None and param.name in ("coro", "coroutine",
                                                                     "main_coro")
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


VARIANTS = {cls.name: cls for cls in (TaleGenericAdapter, TaleTrapCallAdapter,
                                      TaleAsyncSleepAdapter, TaleWrappedAdapter,
                                      TaleTimeoutAdapter, TaleGroupAdapter,
                                      TaleVirtualAdapter)}
BACKENDS.update(VARIANTS)


# -- tale on the kernel of each step of chapter 14 (bench/kernel_steps.py) ----------

class TaleKernelStepAdapter(TalePatchedAdapter):
    """tale run by a kernel class of code/stages/ch14_kernels.py: the package's
    kernel with part of its hot path as it was before one of chapter 14's steps,
    and its task and spawn as they were before steps 6 and 7 (the patch)."""

    kernel = "?"
    patch = "before-step6"

    def __init__(self):
        super().__init__()
        try:
            from stages import ch14_kernels
        except ImportError as exc:
            raise Unavailable(f"cannot import stages.ch14_kernels: {exc}") from None
        self.kernel_class = getattr(ch14_kernels, self.kernel)

    def run(self, main):
        return self.kernel_class().run(main)


class TaleCh09TickAdapter(TaleKernelStepAdapter):
    """Chapter 9's kernel: a method per step, a call per task and per request."""
    name, kernel = "tale:ch09-tick", "ReadableTick"


class TaleStep1Adapter(TaleKernelStepAdapter):
    """After step 1: the batch in one piece, its hot names in locals."""
    name, kernel = "tale:step1", "BatchInOnePiece"


class TaleStep2Adapter(TaleKernelStepAdapter):
    """After step 2: and the fast path for ``sleep(0)``."""
    name, kernel = "tale:step2", "FastPath"


class TaleStep3Adapter(TaleKernelStepAdapter):
    """After step 3: the tick in one method (a sleep's undo still a closure)."""
    name, kernel = "tale:step3", "ClosureUndo"


class TaleStep4Adapter(TaleKernelStepAdapter):
    """After step 4: a sleep's undo its timer's number (a context per task)."""
    name, kernel = "tale:step4", "OwnContexts"


class TaleStep5Adapter(TalePatchedAdapter):
    """After step 5: the package's kernel, its task and spawn before steps 6 and 7."""
    name, patch = "tale:step5", "before-step6"


class TaleStep6Adapter(TalePatchedAdapter):
    """After step 6: the package's kernel and task, its spawn before step 7."""
    name, patch = "tale:step6", "before-step7"


KERNEL_STEPS = {cls.name: cls for cls in (TaleCh09TickAdapter, TaleStep1Adapter,
                                          TaleStep2Adapter, TaleStep3Adapter,
                                          TaleStep4Adapter, TaleStep5Adapter,
                                          TaleStep6Adapter)}
BACKENDS.update(KERNEL_STEPS)
