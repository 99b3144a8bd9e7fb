"""Stage 4: spawning and joining.

Many tasks take turns on one loop.  A task can spawn another and join it
later, getting its result or its exception.
"""
import collections
import inspect
import itertools
import time
import types
import warnings


@types.coroutine
def _request(*request):
    """Hand one request to the loop; return the loop's answer.

    This is the only place where a task yields.  If the loop answers
    with an exception, it throws it in here, so it is raised at the
    `await` in the task that asked.
    """
    return (yield request)


async def pause():
    """Let the loop take over for one step, then carry on."""
    return await _request("pause")


async def now():
    """The loop's idea of the current time, in seconds."""
    return await _request("now")


async def spawn(coro):
    """Start running `coro` as a new task, alongside this one; return the Task."""
    return await _request("spawn", coro)


async def join(task):
    """Wait until `task` ends; return its result or raise its exception."""
    return await _request("join", task)


async def current():
    """The Task running this code."""
    return await _request("current")


class Task:
    """A coroutine the loop runs, and what became of it."""

    def __init__(self, coro, number):
        self.coro = coro            # the coroutine; only Loop.step resumes it
        self.number = number        # 1, 2, 3... in order of spawning, per loop
        self.name = getattr(coro, "__qualname__", type(coro).__name__)
        self.state = "ready"        # "ready", "running", "done", or the wait it
                                    # is in: "joining" (more waits come later)
        self.send_next = None       # value to send at the next step...
        self.throw_next = None      # ...or exception to throw instead
        self.result = None          # what the coroutine returned, once done
        self.exception = None       # or the exception it ended with
        self.joiners = []           # tasks waiting in join() for this one, FIFO
        self.undo = None            # zero-argument callable that cancels the
                                    # current wait; None when not waiting
        # Invariant: (state == "ready") == (self in loop.ready)
        # Invariant: (undo is not None) == (state not in ("ready", "running", "done"))
        # Invariant: state == "done" implies joiners == []

    def __repr__(self):
        return f"<Task {self.number} {self.name} {self.state}>"


class UnretrievedWarning(RuntimeWarning):
    """A task failed, and its exception never reached anyone."""


def find_handler(request, traps):
    """The handler for `request`, or a TypeError that says what went wrong."""
    if not (isinstance(request, tuple) and request and isinstance(request[0], str)):
        raise TypeError(f"a task yielded {request!r}, which is not a request "
                        "(a tuple starting with a tag such as 'pause'); "
                        "is it awaiting something made for another event loop?")
    if request[0] not in traps:
        raise TypeError(f"unknown request {request[0]!r} in {request!r}")
    return traps[request[0]]


class Loop:
    """Runs tasks in ticks, answering their requests."""

    def __init__(self):
        self.ready = collections.deque()    # tasks to step, oldest first
        self.tasks = set()                  # tasks not yet done
        self.unretrieved = {}               # failed tasks whose exception nobody
                                            # received yet (a dict keeps order)
        self.current = None                 # the task being stepped, or None
        self.ticks = 0                      # ticks so far, for tests and curiosity
        self.numbers = itertools.count(1)
        self.traps = {                      # tag -> handler; every tag has a wrapper
            "pause": self.trap_pause,
            "now": self.trap_now,
            "spawn": self.trap_spawn,
            "join": self.trap_join,
            "current": self.trap_current,
        }

    def run(self, coro):
        """Run `coro` as the main task until every task is done.

        Return the main task's result, or raise its exception.
        """
        main = self.spawn_task(coro)
        while self.tasks:
            if not self.ready:
                stuck = sorted(self.tasks, key=lambda t: t.number)
                raise RuntimeError(f"deadlock: nothing can ever wake {stuck}")
            self.tick()
        self.unretrieved.pop(main, None)    # run() delivers it, below
        self.report_unretrieved()
        if main.exception is not None:
            raise main.exception
        return main.result

    def report_unretrieved(self):
        for task in self.unretrieved:
            warnings.warn(f"{task!r} failed and nobody joined it: {task.exception!r}",
                          UnretrievedWarning, stacklevel=3)

    def spawn_task(self, coro):
        task = Task(coro, next(self.numbers))
        self.tasks.add(task)
        self.schedule(task)
        return task

    def schedule(self, task, value=None, exc=None):
        """Put `task` at the back of the ready queue, to receive value or exc."""
        task.state = "ready"
        task.send_next, task.throw_next = value, exc
        self.ready.append(task)

    def tick(self):
        """Step each task that is ready now, once, oldest first."""
        self.ticks += 1
        for _ in range(len(self.ready)):    # tasks woken meanwhile wait their turn
            self.step(self.ready.popleft())

    def step(self, task):
        """Resume `task` until its next request, and handle that request."""
        self.current, task.state = task, "running"
        value, exc = task.send_next, task.throw_next
        task.send_next = task.throw_next = None
        try:
            if exc is None:
                request = task.coro.send(value)
            else:
                request = task.coro.throw(exc)
        except StopIteration as stop:
            self.finish(task, result=stop.value)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as error:      # the task failed; the loop goes on
            self.finish(task, exception=error)
        else:
            self.dispatch(task, request)
        finally:
            self.current = None

    def dispatch(self, task, request):
        try:
            handler = find_handler(request, self.traps)
            handler(task, *request[1:])
        except Exception as exc:            # a bad request: tell the task that made it
            self.schedule(task, exc=exc)

    def finish(self, task, result=None, exception=None):
        task.state, task.result, task.exception = "done", result, exception
        self.tasks.discard(task)
        if exception is not None:
            self.unretrieved[task] = None
        for joiner in task.joiners:
            self.wake_joiner(joiner, task)
        task.joiners.clear()

    def trap_join(self, task, target):
        if not isinstance(target, Task):
            raise TypeError(f"join() needs a Task, got {target!r}")
        if target is task:
            raise RuntimeError(f"{task!r} cannot join itself: it would wait for ever")
        if target.state == "done":          # it ended before we asked: answer now
            self.wake_joiner(task, target)
        else:
            task.state = "joining"
            target.joiners.append(task)
            task.undo = lambda: target.joiners.remove(task)

    def wake_joiner(self, joiner, target):
        """Schedule `joiner` with the outcome of the finished `target`."""
        joiner.undo = None
        if target.exception is None:
            self.schedule(joiner, target.result)
        else:
            self.unretrieved.pop(target, None)   # somebody has it now
            self.schedule(joiner, exc=target.exception)

    def trap_pause(self, task):
        self.schedule(task)

    def trap_spawn(self, task, coro):
        if not inspect.iscoroutine(coro):
            raise TypeError(f"spawn() needs a coroutine object, got {coro!r}")
        self.schedule(task, self.spawn_task(coro))

    def trap_current(self, task):
        self.schedule(task, task)

    def trap_now(self, task):
        self.schedule(task, time.monotonic())


def run(coro):
    """Run `coro` on a new Loop; return its result or raise its exception."""
    return Loop().run(coro)


if __name__ == "__main__":
    async def worker(name, n):
        for i in range(n):
            print(f"{name} step {i}")
            await pause()
        return f"{name} did {n} steps"

    async def main():
        tasks = [await spawn(worker(name, 2)) for name in "abc"]
        for task in tasks:
            print(await join(task))

    run(main())
