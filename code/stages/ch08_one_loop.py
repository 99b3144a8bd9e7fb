"""Stage 8: one loop.

Spawn, join, sleep, wait for files and cancel, in one loop whose data
obeys the invariants written next to it; Loop(debug=True) checks them
after every tick.  Part II grows this file into the package `tale`.
"""
import collections
import heapq
import inspect
import itertools
import os
import selectors
import socket
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


async def read_wait(fileobj):
    """Wait until `fileobj` (anything with fileno()) can be read."""
    return await _request("read_wait", fileobj)


async def write_wait(fileobj):
    """Wait until `fileobj` (anything with fileno()) can be written."""
    return await _request("write_wait", fileobj)


async def cancel(task):
    """Cancel `task` and wait until it has ended.

    Return True if the cancellation ended it, False if it had ended
    already.  Raise RuntimeError if it caught the CancelledError and
    ended some other way.
    """
    return await _request("cancel", task)


PLACES = {                      # a task's state -> the one place it is in
    "ready": "ready",           # Loop.ready, the queue of tasks to step
    "running": "current",       # Loop.current, during its own step only
    "sleeping": "timers",       # one live (deadline, number, task) in timers
    "reading": "selector",      # the EVENT_READ slot of one selector key
    "writing": "selector",      # the EVENT_WRITE slot of one selector key
    "joining": "joiners",       # the joiners of the one task it joins
    "cancelling": "joiners",    # the joiners of the one task it cancels
    "done": None,               # nowhere: the loop has let go of it
}
WAITS = {"sleeping", "reading", "writing", "joining", "cancelling"}


class Task:
    """A coroutine the loop runs, and what became of it."""

    def __init__(self, coro, number):
        self.coro = coro            # the coroutine; only Loop.step resumes it
        self.number = number        # 1, 2, 3... in order of spawning, per loop
        self.name = getattr(coro, "__qualname__", type(coro).__name__)
        self.state = "ready"        # a key of PLACES; only the Loop sets it
        self.send_next = None       # value to send at the next step...
        self.throw_next = None      # ...or exception to throw instead
        self.result = None          # what the coroutine returned, once done
        self.exception = None       # or the exception it ended with
        self.joiners = []           # tasks in join() or cancel() for this one
        self.undo = None            # zero-argument callable that ends the
                                    # current wait; None when not waiting
        # Invariant: (undo is not None) == (state in WAITS)
        # Invariant: send_next is None or throw_next is None
        # Invariant: state == "done" implies joiners == []

    def __repr__(self):
        return f"<Task {self.number} {self.name} {self.state}>"


class UnretrievedWarning(RuntimeWarning):
    """A task failed, and its exception never reached anyone."""


class CancelledError(BaseException):
    """Thrown into a task to cancel it.

    A BaseException, not an Exception, so that `except Exception:`,
    written to survive errors, does not also survive cancellation.
    """


class ResourceBusyError(RuntimeError):
    """Another task already waits for the same event on the same file."""


class Socket:
    """A socket whose blocking operations are async: while one task
    waits, the others run.  The socket is made non-blocking."""

    def __init__(self, sock):
        sock.setblocking(False)
        self.sock = sock

    def __getattr__(self, name):        # the rest: the plain socket's own
        return getattr(self.sock, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.sock.close()

    async def recv(self, maxsize):
        """Up to `maxsize` bytes; b"" when the peer has closed its side."""
        while True:
            try:
                return self.sock.recv(maxsize)
            except BlockingIOError:
                await read_wait(self.sock)

    async def send(self, data):
        """Send all of `data`, waiting for room as often as needed."""
        view = memoryview(data)
        while view:
            try:
                sent = self.sock.send(view)
            except BlockingIOError:
                await write_wait(self.sock)
            else:
                view = view[sent:]

    async def accept(self):
        """Wait for a client; return (Socket, address)."""
        while True:
            try:
                conn, address = self.sock.accept()
            except BlockingIOError:
                await read_wait(self.sock)
            else:
                return Socket(conn), address

    async def connect(self, address):
        """Connect to `address`; raise OSError if that fails."""
        try:
            self.sock.connect(address)
        except BlockingIOError:         # EINPROGRESS: under way
            await write_wait(self.sock)
            error = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if error:
                raise OSError(error, os.strerror(error))


MAX_POLL = 24 * 3600.0      # the longest one poll may block, in seconds


class MonotonicClock:
    """Real time: time.monotonic() never goes backwards."""

    def now(self):
        return time.monotonic()

    def sleep(self, seconds):
        time.sleep(seconds)

    def select(self, selector, timeout):
        return selector.select(timeout)


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

    def select(self, selector, timeout):
        events = selector.select(0)     # look, but never wait for real
        if not events and timeout > 0:
            self.sleep(timeout)
        return events


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
    """Runs tasks in ticks, answering their requests, keeping time,
    watching files and cancelling tasks."""

    def __init__(self, clock=None, debug=None):
        self.clock = clock or MonotonicClock()
        self.debug = (bool(os.environ.get("TALE_DEBUG")) if debug is None
                      else debug)           # check the invariants every tick
        self.ready = collections.deque()    # tasks to step, oldest first;
                                            # schedule() appends, run_batch() pops
        self.tasks = set()                  # tasks not yet done
        # Invariant: tasks == {t for t in all tasks if t.state != "done"}
        # Invariant: every live task is in PLACES[task.state], exactly once
        self.timers = []                    # heap of (deadline, number, task)
        self.timer_numbers = itertools.count()  # tie-breakers: FIFO among equals
        self.cancelled_timers = set()       # numbers of timers that no longer count
        # Invariant: cancelled_timers <= {number for _, number, _ in timers}
        # Invariant: every task in state "sleeping" has exactly one live timer
        self.selector = selectors.DefaultSelector()
        # Invariant: every key's data maps EVENT_READ and/or EVENT_WRITE to a
        # task "reading" or "writing", and key.events is exactly those events
        self.unretrieved = {}               # failed tasks whose exception nobody
                                            # received yet (a dict keeps order)
        # Invariant: all(t.state == "done" and t.exception for t in unretrieved)
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
            "read_wait": self.trap_read_wait,
            "write_wait": self.trap_write_wait,
            "cancel": self.trap_cancel,
        }

    def run(self, coro):
        """Run `coro` as the main task until every task is done.

        Return the main task's result, or raise its exception.
        """
        main = self.spawn_task(coro)
        while self.tasks:
            if (not self.ready and self.next_deadline() is None
                    and not self.selector.get_map()):
                waiting = sorted(self.tasks, key=lambda t: t.number)
                raise RuntimeError(f"deadlock: {waiting} all wait, "
                                   "and nothing can wake them")
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
        if self.debug:                      # and, when debugging, check
            self.check_invariants()

    def poll_timeout(self):
        """Step 1: how long the poll may block."""
        if self.ready:
            return 0.0
        deadline = self.next_deadline()
        if deadline is None:
            return MAX_POLL
        return min(max(deadline - self.clock.now(), 0.0), MAX_POLL)

    def poll(self, timeout):
        """Step 2: wait until a watched file is ready, or `timeout` passes;
        the tasks waiting for ready files become ready."""
        if not self.selector.get_map():     # no file watched: only time passes
            if timeout > 0:
                self.clock.sleep(timeout)
            return
        for key, events in self.clock.select(self.selector, timeout):
            for event in (selectors.EVENT_READ, selectors.EVENT_WRITE):
                if events & event and event in key.data:
                    task = key.data[event]
                    task.undo()             # the wait is over: unregister
                    task.undo = None
                    self.schedule(task)

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

    def check_invariants(self):
        """Assert every `# Invariant:` of Task and Loop.  Between ticks only;
        Loop(debug=True) calls it after each one."""
        assert self.current is None, "invariants hold between steps"
        found = collections.defaultdict(list)   # task -> places it is in
        for task in self.ready:
            found[task].append("ready")
        numbers = {number for _, number, _ in self.timers}
        assert self.cancelled_timers <= numbers, "a cancelled timer is lost"
        for _, number, task in self.timers:
            if number not in self.cancelled_timers:
                found[task].append("timers")
        for key in self.selector.get_map().values():
            assert key.data and key.events == sum(key.data), key  # READ 1, WRITE 2
            for event, task in key.data.items():
                found[task].append("selector")
                wanted = "reading" if event == selectors.EVENT_READ else "writing"
                assert task.state == wanted, (task, key)
        for target in self.tasks:
            for waiter in target.joiners:
                found[waiter].append("joiners")
        for task, places in found.items():
            assert task in self.tasks, f"{task!r} is done but still in {places}"
        for task in self.tasks:
            assert found[task] == [PLACES[task.state]], (task, found[task])
            assert (task.undo is not None) == (task.state in WAITS), task
            assert task.send_next is None or task.throw_next is None, task
        for task in self.unretrieved:
            assert task.state == "done" and task.exception is not None, task

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
        if exception is not None and not isinstance(exception, CancelledError):
            self.unretrieved[task] = None   # a cancellation is not a failure
        for waiter in task.joiners:
            if waiter.state == "cancelling":
                self.wake_canceller(waiter, task)
            else:
                self.wake_joiner(waiter, task)
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

    def trap_read_wait(self, task, fileobj):
        self.watch(task, fileobj, selectors.EVENT_READ)

    def trap_write_wait(self, task, fileobj):
        self.watch(task, fileobj, selectors.EVENT_WRITE)

    def watch(self, task, fileobj, event):
        """Park `task` in the selector until `fileobj` is ready for `event`."""
        try:
            key = self.selector.get_key(fileobj)
        except KeyError:                    # nobody watches this file yet
            self.selector.register(fileobj, event, {event: task})
        else:
            if event in key.data:           # one waiter per event and file
                raise ResourceBusyError(f"{key.data[event]!r} already waits "
                                        f"for {fileobj!r}")
            key.data[event] = task
            self.selector.modify(fileobj, key.events | event, key.data)
        task.state = "reading" if event == selectors.EVENT_READ else "writing"
        task.undo = lambda: self.unwatch(fileobj, event)

    def unwatch(self, fileobj, event):
        """Stop watching `fileobj` for `event`; forget it if that was all."""
        key = self.selector.get_key(fileobj)
        del key.data[event]
        if key.data:
            self.selector.modify(fileobj, key.events & ~event, key.data)
        else:
            self.selector.unregister(fileobj)

    def trap_cancel(self, task, target):
        if not isinstance(target, Task):
            raise TypeError(f"cancel() needs a Task, got {target!r}")
        if target.state == "done":          # too late: nothing to cancel
            self.schedule(task, False)
        elif target not in self.tasks:
            raise RuntimeError(f"{target!r} belongs to another loop")
        elif target is task:                # raise it at this very await
            self.schedule(task, exc=CancelledError())
        else:
            self.throw_into(target, CancelledError())
            task.state = "cancelling"       # and wait until the target ends
            target.joiners.append(task)
            task.undo = lambda: target.joiners.remove(task)

    def throw_into(self, target, exc):
        """Make `exc` the next thing `target` sees, wherever it waits."""
        if target.state == "ready":         # queued already: change its answer
            target.send_next, target.throw_next = None, exc
        else:                               # parked: leave the wait, then queue
            target.undo()
            target.undo = None
            self.schedule(target, exc=exc)

    def wake_canceller(self, canceller, target):
        """Schedule `canceller`: `target`, which it cancelled, has ended."""
        canceller.undo = None
        if isinstance(target.exception, CancelledError):
            self.schedule(canceller, True)
            return
        if target.exception is None:
            ended = f"returned {target.result!r}"
        else:
            ended = f"raised {target.exception!r}"
            self.unretrieved.pop(target, None)   # the canceller hears of it
        error = RuntimeError(f"{target!r} swallowed its cancellation and {ended}")
        error.__cause__ = target.exception
        self.schedule(canceller, exc=error)


def run(coro, clock=None, debug=None):
    """Run `coro` on a new Loop; return its result or raise its exception.

    `clock` defaults to the real, monotonic clock; pass a VirtualClock()
    to make time jump instead of pass.  `debug=True` checks the loop's
    invariants after every tick.
    """
    return Loop(clock, debug).run(coro)


if __name__ == "__main__":
    async def echo(conn):
        with conn:
            while data := await conn.recv(1024):
                await conn.send(data)

    async def time_limit(task, seconds):
        await sleep(seconds)
        if await cancel(task):
            print(f"server: hung up on a silent client after {seconds} s")

    async def server(listener):
        while True:
            conn, _address = await listener.accept()
            await spawn(time_limit(await spawn(echo(conn)), 0.2))

    async def client(port, message):
        with Socket(socket.socket()) as sock:
            await sock.connect(("127.0.0.1", port))
            if message:
                await sock.send(message)
            print(f"client sent {message!r}, got {await sock.recv(100)!r}")

    async def main():
        with Socket(socket.create_server(("127.0.0.1", 0))) as listener:
            port = listener.getsockname()[1]
            serving = await spawn(server(listener))
            await join(await spawn(client(port, b"hello")))
            await join(await spawn(client(port, b"")))
            await cancel(serving)

    run(main(), debug=True)
