"""Stage 5: time.

Tasks can sleep without stopping the others.  Each tick has four named
steps: timeout, poll, expire, run.  The clock is an object the loop is
given: the real monotonic clock, or a virtual one for tests.
"""
import collections
import heapq
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


async def sleep(seconds):
    """Let the other tasks run for `seconds`; sleep(0) just lets them run once."""
    return await _request("sleep", seconds)


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


MAX_POLL = 24 * 3600.0      # the longest one poll may block, in seconds


class MonotonicClock:
    """Real time: time.monotonic() never goes backwards."""

    def now(self):
        return time.monotonic()

    def sleep(self, seconds):
        time.sleep(seconds)


class VirtualClock:
    """Time for tests: it stands still while tasks run, and jumps when the
    loop would wait, so waiting takes no real time at all."""

    def __init__(self, start=0.0):
        self.time = start           # only sleep() and advance() change it

    def now(self):
        return self.time

    def sleep(self, seconds):
        self.time += seconds

    advance = sleep                 # for tests that move time by hand


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
    """Runs tasks in ticks, answering their requests and keeping time."""

    def __init__(self, clock=None):
        self.clock = clock or MonotonicClock()
        self.ready = collections.deque()    # tasks to step, oldest first
        self.tasks = set()                  # tasks not yet done
        self.timers = []                    # heap of (deadline, number, task)
        self.timer_numbers = itertools.count()  # tie-breakers: FIFO among equals
        self.cancelled_timers = set()       # numbers of timers that no longer count
        # Invariant: every task in state "sleeping" has exactly one live timer
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
            "sleep": self.trap_sleep,
        }

    def run(self, coro):
        """Run `coro` as the main task until every task is done.

        Return the main task's result, or raise its exception.
        """
        main = self.spawn_task(coro)
        while self.tasks:
            if not self.ready and self.next_deadline() is None:
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
        """One turn of the loop: timeout, poll, expire, run."""
        self.ticks += 1
        timeout = self.poll_timeout()
        self.poll(timeout)
        self.expire_timers()
        self.run_batch()

    def poll_timeout(self):
        """Step 1: how long the poll may block."""
        if self.ready:
            return 0.0
        deadline = self.next_deadline()
        if deadline is None:
            return MAX_POLL
        return min(max(deadline - self.clock.now(), 0.0), MAX_POLL)

    def poll(self, timeout):
        """Step 2: wait for something to happen; for now, only time can."""
        if timeout > 0:
            self.clock.sleep(timeout)

    def expire_timers(self):
        """Step 3: every task whose deadline has come becomes ready."""
        now = self.clock.now()
        while (deadline := self.next_deadline()) is not None and deadline <= now:
            _, _, task = heapq.heappop(self.timers)
            task.undo = None
            self.schedule(task)

    def run_batch(self):
        """Step 4: step each task that is ready now, once, oldest first."""
        for _ in range(len(self.ready)):    # tasks woken meanwhile wait their turn
            self.step(self.ready.popleft())

    def next_deadline(self):
        """The earliest live deadline, or None; drops cancelled timers on top."""
        while self.timers and self.timers[0][1] in self.cancelled_timers:
            _, number, _ = heapq.heappop(self.timers)
            self.cancelled_timers.remove(number)
        return self.timers[0][0] if self.timers else None

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
        self.schedule(task, self.clock.now())

    def trap_sleep(self, task, seconds):
        if seconds <= 0:                    # sleep(0): only let the others run
            self.schedule(task)
            return
        number = next(self.timer_numbers)
        heapq.heappush(self.timers, (self.clock.now() + seconds, number, task))
        task.state = "sleeping"
        task.undo = lambda: self.cancelled_timers.add(number)


def run(coro, clock=None):
    """Run `coro` on a new Loop; return its result or raise its exception.

    `clock` defaults to the real, monotonic clock; pass a VirtualClock()
    to make time jump instead of pass.
    """
    return Loop(clock).run(coro)


if __name__ == "__main__":
    async def heartbeat(name, period, beats):
        start = await now()
        for _ in range(beats):
            await sleep(period)
            print(f"{await now() - start:5.2f}s  {name}")

    async def main():
        fast = await spawn(heartbeat("fast", 0.1, 5))
        slow = await spawn(heartbeat("slow", 0.25, 2))
        await join(fast)
        await join(slow)

    run(main())
