"""Generated programs, run on tale, trio and asyncio, must tell the same story.

Hypothesis writes random programs of tasks.  A task sleeps, spawns children,
joins them, cancels them, fails; opens `move_on_after` and `timeout_after`
blocks (nested) around more of the same; runs a task group whose children
are programs too (one may fail, the group may be cancelled from outside);
sets and waits for an event; holds a lock or a semaphore around a block;
puts to and gets from a bounded queue; waits on a condition or notifies it.
Each program runs three times on virtual time: on tale (`VirtualClock`,
debug mode), on trio (`trio.testing.MockClock`, autojump) and on asyncio
(`virtual_asyncio.VirtualTimeLoop`).  Every task keeps its own log: what
it did, what it got, and the exact virtual time.  The logs must agree, task
by task: the tests know nothing about how tale works, only that it must do
what the other two do.

What the three can agree on, and how the programs are kept inside it:

- Each task's own log, not one global order.  Within one instant, tasks
  woken together run in an order that is each loop's own business (trio
  shuffles, and yields after every operation, even one that did not wait);
  across instants, and in who gets a lock, an item or a notification first
  (first come, first served in all three), the logs must agree.  trio's
  shuffle is switched off here (its batches run first in, first out) so
  that one task's log does not depend on it.
- Every sleep and every timeout carries its own tiny offset (a distinct
  power of two), so that no two deadlines of a program coincide: at each
  instant one timer fires, and everything else then is its consequence.
  All times are exact binary fractions: the three loops compute the same
  sums, bit for bit.
- A program may deadlock (a get nobody answers, a lock held while joining a
  task that wants it).  trio and asyncio run under a watchdog that cancels
  everything at `WATCHDOG` seconds; tale runs without one and must raise
  `DeadlockError` exactly when the watchdog fires, naming the same tasks.
- The intended differences (the one table in book/reliability.md) are
  kept out of the programs (no await in a `finally`; no task takes a lock
  it holds; a queue of size 1, never 0), bridged (a trio task first checks
  for a cancellation, and raises it, as tale does before a first step; the trio side
  calls the `*_nowait` form first, since every trio call is a checkpoint,
  and skips waiting for what is done), or detected as the program runs,
  and the comparison with that one peer skipped (`Interpreter.diverged`,
  counted in `--hypothesis-show-statistics`): in trio a task woken then
  cancelled before it ran, a nursery's exit as a schedule point; in
  asyncio 3.11 a child's failure reaching its `TaskGroup` a step late, a
  `TaskGroup` leaving a cancellation counted, a `TaskGroup`'s failures
  leaving out the cancellation of its task, a queue's freed place or item taken from the woken task, a
  task cancelled before it ran telling its joiners a step late; and in
  tale, tasks woken as a group ended (tale's group joins its children in
  order, the others wake once, after the last: no peer compared).
  tale's own checks apply to every program.

After each tale run the kernel must hold nothing: no task, no timer, no
ready entry, no file, and no primitive a waiter; every join saw the
outcome its task ended with; every sleep and every expired deadline ended
at exactly the virtual time it named.

`TALE_GENERATED_EXAMPLES` sets how many programs a test generates (default
500, a few seconds); `make soak-programs` runs 5000.
"""
import asyncio
import inspect
import math
import os
import warnings

import pytest

hypothesis = pytest.importorskip('hypothesis')
trio = pytest.importorskip('trio')
import trio.testing  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import tale  # noqa: E402
import virtual_asyncio  # noqa: E402
from tale import kernel  # noqa: E402
from tale.testing import VirtualClock  # noqa: E402

EXAMPLES = int(os.environ.get('TALE_GENERATED_EXAMPLES', '500'))
SETTINGS = hypothesis.settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                               database=None, print_blob=True,
                               suppress_health_check=list(hypothesis.HealthCheck))
WATCHDOG = 1000.0           # longer than any program's own times
MAX_TIMED = 34              # offsets 2**-8 .. 2**-41: exact sums below 2**11

sleeps = st.sampled_from([0, 0.25, 0.5, 1.0, 1.5])
timeouts = st.sampled_from([0.25, 0.75, 1.25, 2.5])

# The program language ----------------------------------------------------
#   ('sleep', s)              ('join', i)   ('cancel', i)   ('fail',)
#   ('set',)  ('wait',)       the event
#   ('put',)  ('get',)        the queue (bounded)
#   ('notify', n) ('cwait',)  the condition (n: 1, or 0 for all)
#   ('spawn', ops)            a child this task may join or cancel (i)
#   ('move_on', s, ops)  ('fail_after', s, ops)
#   ('lock', ops)  ('sem', ops)          the block, holding it
#   ('group', [ops, ...], ops)           children, then the body


def ops(depth, primitives=True):
    leaves = [st.tuples(st.just('sleep'), sleeps),
              st.tuples(st.just('join'), st.integers(0, 3)),
              st.tuples(st.just('cancel'), st.integers(0, 3))]
    if primitives:
        leaves += [st.just(('fail',)), st.just(('set',)), st.just(('wait',)),
                   st.just(('put',)), st.just(('get',)),
                   st.tuples(st.just('notify'), st.integers(0, 1)),
                   st.just(('cwait',))]
    leaf = st.one_of(*leaves)
    if depth == 0:
        return st.lists(leaf, max_size=4)
    child = ops(depth - 1, primitives)
    blocks = [st.tuples(st.just('spawn'), child),
              st.tuples(st.just('move_on'), timeouts, child)]
    if primitives:
        blocks += [st.tuples(st.just('fail_after'), timeouts, child),
                   st.tuples(st.just('lock'), child),
                   st.tuples(st.just('sem'), child),
                   st.tuples(st.just('group'), st.lists(child, min_size=1, max_size=2),
                             child)]
    return st.lists(st.one_of(leaf, leaf, *blocks), max_size=5)


# The main task starts a few children first, so that most programs have
# several tasks to interleave, then runs a program of its own.
programs = st.builds(lambda children, rest: [('spawn', c) for c in children] + rest,
                     st.lists(ops(1), min_size=1, max_size=3), ops(2))
timing_programs = ops(2, primitives=False)     # the first generation's language


def numbered(program):
    """The program with its numbers fixed before it runs: a distinct offset
    (a power of two) on every sleep and deadline, and a label for every
    task.  None if it has too many timed operations for exact sums."""
    state = {'timed': 0, 'label': 1}

    def number(program, holding=False):
        out = []
        for op in program:
            kind = op[0]
            if kind in ('sleep', 'move_on', 'fail_after'):
                state['timed'] += 1
                seconds = op[1] + 2.0 ** -(7 + state['timed'])
                out.append((kind, seconds) + tuple(number(p, holding) for p in op[2:]))
            elif kind == 'spawn':
                state['label'] += 1
                out.append(('spawn', state['label'], number(op[1])))
            elif kind == 'group':
                children = []
                for child in op[1]:
                    state['label'] += 1
                    children.append((state['label'], number(child)))
                out.append(('group', children, number(op[2])))
            elif kind == 'lock' and holding:    # (trio's Lock refuses its owner)
                out.append(('sem', number(op[1], holding)))
            elif kind in ('lock', 'sem'):
                out.append((kind, number(op[1], holding or kind == 'lock')))
            else:
                out.append(op)
        return out
    out = number(program)
    return out if state['timed'] <= MAX_TIMED else None


class Failure(Exception):
    """What a task raises for the 'fail' operation: its label."""


class Skip(Exception):
    """The program met an intended difference of this peer: do not compare."""


# The interpreter, one for all three loops --------------------------------

class Interpreter:
    """Runs a numbered program; subclasses say how for each loop."""

    name = None

    def __init__(self):
        self.logs = {}            # label -> [event, ...]
        self.outcomes = {}        # label -> ('ok', result) | ('error', label) | ('cancelled',)
        self.stuck = set()        # labels of the tasks the watchdog (or a deadlock) ended
        self.ended = {}           # label -> when it ended (trio)
        self.diverged = None      # why this run may not be compared, or None
        self.items = 0

    def log(self, me, *event):
        self.logs.setdefault(me, []).append(event + (self.now(),))

    # A condition, as tale and asyncio both spell it (trio's own below).
    async def notify(self, n):
        async with self.cond:
            if n:
                self.cond.notify(n)
            else:
                self.cond.notify_all()

    async def cond_wait(self, me):
        async with self.cond:
            await self.cond.wait()
            self.log(me, 'notified')

    def failures_in(self, me, group):
        """The failures of a group that ended; a cancellation it carries
        along is logged, then raised: the task goes no further."""
        try:
            return failures_in(group)
        except BaseException:
            self.log(me, 'group cancelled')
            raise

    async def task(self, me, program):
        self.logs.setdefault(me, [])
        children = []
        await self.ops(me, program, children)
        self.log(me, 'done')
        return f'result of {me}'

    async def ops(self, me, program, children):
        for op in program:
            kind = op[0]
            if kind == 'sleep':
                start = self.now()
                await self.sleep(op[1])
                assert self.now() == start + op[1], (self.name, 'a sleep ended off time')
                self.log(me, 'slept')
            elif kind == 'spawn':
                children.append((op[1], await self.spawn(op[1], op[2])))
            elif kind in ('join', 'cancel'):
                if children:
                    child, handle = children[op[1] % len(children)]
                    if kind == 'cancel':
                        await self.cancel(handle)
                    else:
                        await self.join(handle)
                    self.log(me, kind, child, self.outcome(handle))
            elif kind == 'fail':
                self.log(me, 'fail')
                raise Failure(me)
            elif kind == 'set':
                self.set_event()
                self.log(me, 'set')
            elif kind == 'wait':
                await self.wait_event()
                await self.woken()
                self.log(me, 'waited')
            elif kind == 'put':
                self.items += 1
                item = (me, self.items)
                await self.put(item)
                await self.woken()
                self.log(me, 'put', item)
            elif kind == 'get':
                item = await self.get()
                await self.woken()
                self.log(me, 'got', item)
            elif kind == 'notify':
                await self.notify(op[1])
                self.log(me, 'notify', op[1])
            elif kind == 'cwait':
                await self.cond_wait(me)
            elif kind in ('move_on', 'fail_after'):
                start = self.now()
                expired = await self.scope(kind, op[1], self.ops(me, op[2], children))
                if expired:
                    assert self.now() == start + op[1], (self.name, 'a deadline off time')
                self.log(me, kind, expired)
            elif kind in ('lock', 'sem'):
                await self.holding(kind, me, op[1], children)
            elif kind == 'group':
                failures = await self.group(me, op[1], self.ops(me, op[2], children))
                self.log(me, 'group', failures)
            else:
                raise AssertionError(op)

    async def woken(self):
        """After a wait that may have parked the task (trio checks here)."""

    def finish(self, program):
        """Check what holds for any loop, once the run is over."""
        for me, events in self.logs.items():
            outcome = self.outcomes.get(me)
            assert outcome is not None, (self.name, me, 'a task did not end')
            if self.diverged:
                continue
            if events and events[-1][0] == 'done':
                assert outcome == ('ok', f'result of {me}'), (self.name, me, outcome)
            elif events and events[-1][0] == 'fail':
                assert outcome == ('error', me), (self.name, me, outcome)
            for event in events:
                if event[0] in ('join', 'cancel'):
                    assert event[2] == self.outcomes[event[1]], (self.name, event)
        return {'logs': self.logs, 'stuck': self.stuck}


def outcome_of(error, result=None):
    if error is None:
        return ('ok', result)
    if isinstance(error, Failure):
        return ('error', error.args[0])
    return ('cancelled',)


def flatten(group):
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            yield from flatten(error)
        else:
            yield error


def failures_in(group):
    """The labels of the `Failure`s an exception group holds, sorted; raise
    anything else it holds."""
    failures = []
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            failures += failures_in(error)
        elif isinstance(error, Failure):
            failures.append(error.args[0])
        else:
            raise error
    return sorted(failures)


# tale -----------------------------------------------------------------------

class OnTale(Interpreter):
    name = 'tale'

    def now(self):
        return tale.clock()

    def sleep(self, seconds):
        return tale.sleep(seconds)

    async def spawn(self, me, program):
        task = await tale.spawn(self.task, me, program)
        self.tasks[task] = me
        return task

    async def join(self, task):
        try:
            result = await task.join()      # its result, or its own exception
        except BaseException as error:
            if not task.done() or error is not task.exception():
                raise                       # (the joiner itself was cancelled)
            assert self.outcome(task) == outcome_of(error)
        else:
            assert self.outcome(task) == ('ok', result)

    async def cancel(self, task):
        await task.cancel()

    def outcome(self, task):
        if task.cancelled():
            return ('cancelled',)
        error = task.exception()
        return outcome_of(error, None if error else task.result())

    def set_event(self):
        self.event.set()

    async def wait_event(self):
        await self.event.wait()

    async def put(self, item):
        await self.queue.put(item)

    async def get(self):
        return await self.queue.get()

    async def scope(self, kind, seconds, body):
        if kind == 'move_on':
            async with tale.move_on_after(seconds) as scope:
                await body
            return scope.expired
        try:
            async with tale.timeout_after(seconds):
                await body
        except TimeoutError:
            return True
        return False

    async def holding(self, kind, me, program, children):
        async with (self.lock if kind == 'lock' else self.sem):
            self.log(me, kind)
            await self.ops(me, program, children)

    async def group(self, me, members, body):
        try:
            async with tale.TaskGroup() as g:
                for label, program in members:
                    coro = self.task(label, program)
                    self.coros.append(coro)
                    self.tasks[await g.spawn(coro)] = label
                await body
        except BaseExceptionGroup as group:
            self.group_ended()
            return self.failures_in(me, group)
        self.group_ended()
        return []

    def group_ended(self):
        # tale's group wakes its task as each child ends (it joins them in
        # order); trio's and asyncio's wake it once, after the last.  Tasks
        # woken meanwhile are ready now, and would have run first there.
        if self.kernel._ready:
            self.diverged = 'tasks woken as the group ended run after it in tale'

    def run(self, program):
        self.tasks = {}                     # Task -> label
        self.coros = []                     # the coroutines given to groups
        self.event, self.lock, self.sem = tale.Event(), tale.Lock(), tale.Semaphore(2)
        self.queue, self.cond = tale.Queue(1), tale.Condition()
        k = self.kernel = kernel.Kernel(VirtualClock(), debug=True)

        async def main():
            root = await tale.spawn(self.task, 1, program)
            self.tasks[root] = 1
            await root.wait()
            index = 0
            while index < len(self.tasks):      # (children may outlive parents)
                task = list(self.tasks)[index]
                await task.wait()
                task.exception()                 # seen: no TaskFailureWarning
                index += 1
        with warnings.catch_warnings(record=True) as unjoined:
            warnings.simplefilter('always', tale.TaskFailureWarning)
            try:
                k.run(main)
            except tale.DeadlockError as deadlock:
                self.stuck = {self.tasks[t] for t in deadlock.tasks if t in self.tasks}
                assert self.stuck
        # Every coroutine handed to a group ran, or was closed: none is left
        # for Python to find never awaited, at some later collection.
        assert all(inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED
                   for coro in self.coros), 'a coroutine was never awaited'
        # Only a deadlock keeps main from seeing every failure; then tale
        # reports those nobody saw, each once.
        failed = [t for t in self.tasks if self.outcome(t)[0] == 'error']
        unjoined = [w for w in unjoined if w.category is tale.TaskFailureWarning]
        assert len(unjoined) <= (len(failed) if self.stuck else 0), [str(w.message) for w in unjoined]
        for task, label in self.tasks.items():
            assert task.done()
            self.outcomes[label] = self.outcome(task)
        self.check_left_nothing()
        return self.finish(program)

    def check_left_nothing(self):
        k = self.kernel
        assert not k._tasks and not k._ready and not k._live and not k._daemons
        assert not k._timers, 'a live timer outlived the run'
        assert not k._files and not k._io_waits and not k._stale_files
        assert k._selector is None or k._selector.get_map() is None    # closed
        for task in self.tasks:
            assert task._undo is None and not task._joiners
        queues = [self.event._waiters, self.lock._waiters, self.sem._waiters,
                  self.cond._waiters, self.cond._lock._waiters,
                  self.queue._getters, self.queue._putters]
        for waiters in queues:
            assert len(waiters) == 0 and not any(waiters._waiters) and not waiters._picked
        assert self.queue._reserved == 0 and self.queue._handed == 0
        assert not self.lock.locked() and not self.cond.locked() and self.sem.value == 2


# trio -----------------------------------------------------------------------

class _FifoRandom:
    """trio's scheduler, told never to shuffle: each batch runs first in,
    first out (trio reverses a batch when random() < 0.5, then pops)."""

    def random(self):
        return 0.0


def cancelled_at_start():
    """A trio task cancelled before it started: raise its `Cancelled` at once.

    tale throws a cancellation into a task that has not started, so its
    body never runs.  trio starts it, and it meets the cancellation at its
    first checkpoint, which costs one more trip through the run queue
    (``checkpoint_if_cancelled`` yields, then raises).  Raising here does
    what tale does, in the same step."""
    if trio.current_effective_deadline() == -math.inf:
        raise trio.Cancelled._create(source='unknown')


class Handle:
    def __init__(self):
        self.done = trio.Event()
        self.scope = None
        self.cancel_asked = False
        self.outcome = None

    def cancel(self):
        self.cancel_asked = True
        if self.scope is not None:
            self.scope.cancel()


class OnTrio(Interpreter):
    name = 'trio'

    def now(self):
        return trio.current_time()

    def sleep(self, seconds):
        return trio.sleep(seconds)

    async def spawn(self, me, program):
        handle = Handle()
        self.handles[me] = handle
        self.nursery.start_soon(self.run_task, me, program, handle)
        return handle

    async def run_task(self, me, program, handle):
        try:
            with trio.CancelScope() as scope:
                handle.scope = scope
                if handle.cancel_asked:
                    scope.cancel()
                cancelled_at_start()
                try:
                    handle.outcome = ('ok', await self.task(me, program))
                except Failure as failure:
                    handle.outcome = outcome_of(failure)
        finally:                        # (cancelled, by its scope or the watchdog)
            handle.outcome = handle.outcome or ('cancelled',)
            self.outcomes[me] = handle.outcome
            self.ended[me] = self.now()
            handle.done.set()

    async def join(self, handle):
        if not handle.done.is_set():    # (trio's wait() would yield even then)
            await handle.done.wait()
            await self.woken()

    async def cancel(self, handle):
        handle.cancel()
        await self.join(handle)

    def outcome(self, handle):
        return handle.outcome

    async def woken(self):
        # A task woken, then cancelled before it ran: tale and asyncio throw
        # the cancellation in instead of the answer; trio returns the answer.
        if trio.current_effective_deadline() == -math.inf:
            self.diverged = 'a task woken, then cancelled before it ran'

    def set_event(self):
        self.event.set()

    async def wait_event(self):
        if not self.event.is_set():
            await self.event.wait()

    # Each trio call is a checkpoint: it yields even when it need not wait.
    # tale and asyncio go on without yielding then, so the trio side tries
    # the call that does not wait first.
    # An item put while a getter waits: trio hands it over, and the place
    # stays free; tale and asyncio keep it in the queue, filling a place,
    # until the getter runs and takes it.
    async def put(self, item):
        if self.in_flight:
            self.diverged = 'an item handed to a getter does not fill a place in trio'
        handed = self.send.statistics().tasks_waiting_receive > 0
        if handed:
            self.diverged = 'an item handed to a getter does not fill a place in trio'
        try:
            self.send.send_nowait(item)
        except trio.WouldBlock:
            await self.send.send(item)
        else:
            self.in_flight += handed

    async def get(self):
        if self.send.statistics().tasks_waiting_send:
            # trio moves the item of a put waiting for a place into the
            # queue at once; in tale and asyncio it goes in when its putter runs.
            self.diverged = "a waiting put's item goes in at once in trio"
        try:
            return self.receive.receive_nowait()
        except trio.WouldBlock:
            try:
                return await self.receive.receive()
            finally:
                self.in_flight = max(0, self.in_flight - 1)

    async def acquire(self, lock, notifying=False):
        if notifying and self.notified:
            self.diverged = "trio hands the condition's lock to the notified tasks"
        try:
            lock.acquire_nowait()
        except trio.WouldBlock:
            await lock.acquire()
            await self.woken()

    # trio's notify moves the waiters straight into the line of the
    # condition's lock, which then goes to them in turn; in tale and asyncio
    # a notified task takes the lock again when it runs, and another task
    # may take it first.
    async def notify(self, n):
        await self.acquire(self.cond, notifying=True)
        try:
            waiting = self.cond.statistics().tasks_waiting
            if n:
                self.cond.notify(n)
            else:
                self.cond.notify_all()
            self.notified += min(waiting, n or waiting)
            if waiting:
                self.diverged = "trio hands the condition's lock to the notified tasks"
        finally:
            self.cond.release()

    async def cond_wait(self, me):
        await self.acquire(self.cond, notifying=True)
        try:
            try:
                await self.cond.wait()
            finally:
                if self.notified:
                    self.notified -= 1
            await self.woken()
            self.log(me, 'notified')
        finally:
            self.cond.release()

    async def scope(self, kind, seconds, body):
        if kind == 'move_on':
            with trio.move_on_after(seconds) as scope:
                await body
            return scope.cancelled_caught
        try:
            with trio.fail_after(seconds):
                await body
        except trio.TooSlowError:
            return True
        return False

    async def holding(self, kind, me, program, children):
        lock = self.lock if kind == 'lock' else self.sem
        await self.acquire(lock)
        try:
            self.log(me, kind)
            await self.ops(me, program, children)
        finally:
            lock.release()

    async def group(self, me, members, body):
        try:
            async with trio.open_nursery() as nursery:
                for label, program in members:
                    nursery.start_soon(self.member, label, program)
                await body
                if not nursery.child_tasks and trio._core._run.GLOBAL_RUN_CONTEXT.runner.runq:
                    # With no child left, a nursery's exit is still a
                    # schedule point in trio; tale's group goes on at once.
                    self.diverged = "a nursery's exit lets other tasks run"
        except BaseExceptionGroup as group:
            # A group that failed while its task was being cancelled carries
            # the cancellation along with the failures, in trio as in tale.
            await self.woken()
            return self.failures_in(me, group)
        await self.woken()
        return []

    async def member(self, me, program):
        self.outcomes[me] = ('cancelled',)
        try:
            cancelled_at_start()
            self.outcomes[me] = ('ok', await self.task(me, program))
        except Failure as failure:
            self.outcomes[me] = outcome_of(failure)
            raise
        finally:
            self.ended[me] = self.now()

    def run(self, program):
        self.handles = {}
        self.notified = 0                   # notified tasks that have not run yet
        self.in_flight = 0                  # items handed to getters that have not run
        self.event, self.lock, self.sem = trio.Event(), trio.Lock(), trio.Semaphore(2)
        self.send, self.receive = trio.open_memory_channel(1)
        self.cond = trio.Condition()

        async def main():
            with trio.move_on_after(WATCHDOG):
                async with trio.open_nursery() as nursery:
                    self.nursery = nursery
                    await self.spawn(1, program)
            self.stuck = {label for label, when in self.ended.items() if when == WATCHDOG}
        run = trio._core._run
        saved = run._r, run._ALLOW_DETERMINISTIC_SCHEDULING
        run._r, run._ALLOW_DETERMINISTIC_SCHEDULING = _FifoRandom(), False
        try:
            trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
        finally:
            run._r, run._ALLOW_DETERMINISTIC_SCHEDULING = saved
        return self.finish(program)


# asyncio --------------------------------------------------------------------

class OnAsyncio(Interpreter):
    name = 'asyncio'

    def now(self):
        return asyncio.get_running_loop().time()

    def sleep(self, seconds):
        return asyncio.sleep(seconds)

    # A join.  Awaiting the task itself would cancel it when the joiner is
    # cancelled, and asyncio.wait() hears of the end through one more
    # callback than tale's joiner: each joiner waits on a future of its own,
    # which the task sets as it ends (or, cancelled before it ran, when
    # asyncio runs its done callbacks).
    async def spawn(self, me, program):
        task = asyncio.create_task(self.run_task(me, program))
        self.tasks[task] = me
        self.joiners[task] = []
        task.add_done_callback(self.tell_joiners_late)
        return task

    def tell_joiners(self, task):
        for joiner in self.joiners[task]:
            if not joiner.done():
                joiner.set_result(None)

    def tell_joiners_late(self, task):
        if any(not joiner.done() for joiner in self.joiners[task]):
            self.diverged = 'a task cancelled before it ran tells its joiners a step later'
        self.tell_joiners(task)

    async def run_task(self, me, program):
        try:
            return await self.task(me, program)
        finally:
            self.tell_joiners(asyncio.current_task())

    async def join(self, task):
        if not task.done():
            joiner = asyncio.get_running_loop().create_future()
            self.joiners[task].append(joiner)
            await joiner

    async def cancel(self, task):
        task.cancel()
        await self.join(task)

    def outcome(self, task):
        if task.cancelled():
            return ('cancelled',)
        error = task.exception()
        return outcome_of(error, None if error else task.result())

    def set_event(self):
        self.event.set()

    async def wait_event(self):
        await self.event.wait()

    # asyncio's queue wakes the oldest waiter when a place or an item comes
    # free, but keeps it for nobody: the woken task looks again when it
    # runs, and a task that comes first takes it (tale and trio keep it).
    async def queue_call(self, kind, call, ready):
        """Make `call`, counting the tasks waiting in it (for `kind`)."""
        waiting, line = self.waiting, getattr(self.queue, f'_{kind}s')
        if ready and waiting[kind] > len(line):     # one was woken, has not run yet
            self.diverged = 'a task took the place or item kept for a woken one'
        if ready:
            return await call
        waiting[kind] += 1
        try:
            return await call
        finally:
            waiting[kind] -= 1

    async def put(self, item):
        await self.queue_call('putter', self.queue.put(item), not self.queue.full())

    async def get(self):
        return await self.queue_call('getter', self.queue.get(), not self.queue.empty())

    async def scope(self, kind, seconds, body):
        try:
            async with asyncio.timeout(seconds) as scope:
                await body
        except TimeoutError:
            if not scope.expired():
                raise
            return True
        if scope.expired():             # expired, yet the block ended normally
            self.diverged = 'asyncio.timeout lost its own expiry'
        return False

    async def holding(self, kind, me, program, children):
        async with (self.lock if kind == 'lock' else self.sem):
            self.log(me, kind)
            await self.ops(me, program, children)

    async def member(self, me, program):
        try:
            return await self.task(me, program)
        finally:
            # asyncio tells a TaskGroup of a child's end by a callback run
            # in the next loop iteration: whatever is ready runs first.
            if asyncio.get_running_loop()._ready:
                self.diverged = "a child's end reaches its TaskGroup a step later"

    async def group(self, me, members, body):
        task = asyncio.current_task()
        cancelling = task.cancelling()
        try:
            async with asyncio.TaskGroup() as g:
                for label, program in members:
                    self.tasks[g.create_task(self.member(label, program))] = label
                await body
        except BaseExceptionGroup as group:
            if task.cancelling() > cancelling:
                # The group failed while its task was being cancelled:
                # asyncio 3.11 raises the failures alone, and the
                # cancellation stays counted but is not raised again;
                # tale and trio carry it along in the group.
                self.diverged = "a TaskGroup's failures leave its cancellation out"
            return self.failures_in(me, group)
        finally:
            # Python 3.11: a child failing while the block waits at its end
            # leaves the group's cancellation of the parent counted (the
            # uncancel() came before); a later timeout then takes its own
            # expiry for a cancellation from outside.
            if task.cancelling() > cancelling:
                self.diverged = 'a TaskGroup left a cancellation counted (3.11)'
        return []

    def run(self, program):
        self.tasks = {}
        self.joiners = {}
        self.waiting = {'putter': 0, 'getter': 0}

        async def main():
            self.event, self.lock, self.sem = asyncio.Event(), asyncio.Lock(), asyncio.Semaphore(2)
            self.queue, self.cond = asyncio.Queue(1), asyncio.Condition()
            await self.spawn(1, program)
            while True:
                pending = [t for t in self.tasks if not t.done()]
                if not pending:
                    break
                await asyncio.wait(pending, timeout=WATCHDOG - self.now())
                if self.now() >= WATCHDOG:
                    stuck = [t for t in self.tasks if not t.done()]
                    self.stuck = {self.tasks[t] for t in stuck}
                    for _ in range(10):
                        for task in stuck:
                            if not task.done():
                                task.cancel()
                        await asyncio.wait(stuck, timeout=1.0)
                    if not all(task.done() for task in stuck):
                        # (seen with a TaskGroup nested in a failing one)
                        self.diverged = 'a task went on after its cancellation'
                        break
        virtual_asyncio.run(main())
        for task, label in self.tasks.items():
            self.outcomes[label] = self.outcome(task)
        return self.finish(program)


def note(event):
    """Count `event` in Hypothesis's statistics (--hypothesis-show-statistics)."""
    if hypothesis.control.currently_in_test_context():
        hypothesis.event(event)


def compare(program, peers=(OnTrio, OnAsyncio)):
    """Run `program` on tale and on each peer; the stories must agree."""
    numbered_program = numbered(program)
    if numbered_program is None:
        hypothesis.assume(False)        # too many timed operations for exact sums
    on_tale = OnTale()
    story = on_tale.run(numbered_program)
    if on_tale.diverged:                # no peer can be compared
        note(f'not compared ({on_tale.diverged})')
        return story, 0
    note('deadlock' if story['stuck'] else 'ran to the end')
    note(f"{len(story['logs'])} tasks")
    compared = 0
    for peer in peers:
        run = peer()
        other = run.run(numbered_program)
        if run.diverged:
            note(f'{run.name}: not compared ({run.diverged})')
            continue
        compared += 1
        assert story == other, (run.name, story, other)
    return story, compared


@SETTINGS
@hypothesis.given(programs)
# Programs the generator found: each met a difference, or a bug (see the
# docstring and book/reliability.md).
@hypothesis.example([('group', [[]], [('fail',)])])   # tale: a child's coroutine never awaited
@hypothesis.example([('group', [[('fail',)], []], [])])
@hypothesis.example([('move_on', 0.25, [('group', [[('fail',)]], []), ('wait',)])])
@hypothesis.example([('group', [[]], [('put',), ('fail',)])])
@hypothesis.example([('spawn', [('group', [[('notify', 0)]], [])]), ('cwait',), ('cancel', 0)])
@hypothesis.example([('group', [[('group', [[]], [('fail',)])], [('fail',)]], [])])
@hypothesis.example([('group', [[]], [('sleep', 0), ('spawn', [])]), ('cancel', 0)])
@hypothesis.example([('spawn', [('put',), ('put',)]), ('get',), ('put',)])
@hypothesis.example([('group', [[('wait',)]], [])])
@hypothesis.example([('spawn', [('group', [[]], []), ('notify', 0)]), ('group', [[]], [('fail',)]),
                     ('cwait',)])
@hypothesis.example([('spawn', [('group', [[]], [])]),
                     ('spawn', [('group', [[]], []), ('spawn', [('notify', 0)])]),
                     ('join', 0), ('cwait',)])
@hypothesis.example([('spawn', [('sleep', 0), ('spawn', [('fail',)])])])
@hypothesis.example([('spawn', []),      # an outer group's cancellation lost: a deadlock
                     ('group', [[('group', [[]], [('fail',)]), ('wait',)]], [('join', 0), ('fail',)])])
@hypothesis.example([('spawn', [('get',)]), ('sleep', 0.25), ('put',), ('cancel', 0), ('get',)])
@hypothesis.example([('spawn', [('lock', [])]), ('lock', [('sleep', 0.25)]), ('cancel', 0),
                     ('lock', [])])
@hypothesis.example([('spawn', [('cwait',)]), ('spawn', [('cwait',)]), ('sleep', 0.25),
                     ('notify', 1), ('sleep', 0.25), ('notify', 0)])   # one, then the rest
def test_tale_trio_and_asyncio_tell_the_same_story(program):
    compare(program)


@SETTINGS
@hypothesis.given(timing_programs)
def test_sleeps_joins_cancels_and_timeouts_alone(program):
    compare(program)


def test_a_known_program_tells_the_expected_story():
    """The comparison is not vacuous: all three loops give this exact story."""
    program = [('spawn', [('sleep', 1.0)]),
               ('move_on', 0.75, [('join', 0)]),
               ('cancel', 0)]
    deadline = numbered(program)[1][1]            # 0.75 and its tiny offset
    assert 0.75 < deadline < 0.76
    story, compared = compare(program)
    assert compared == 2
    assert story['logs'][1] == [('move_on', True, deadline),
                                ('cancel', 2, ('cancelled',), deadline),
                                ('done', deadline)]
    assert story['logs'][2] == []                 # cancelled in its sleep


def test_a_deadlock_is_the_same_deadlock_everywhere():
    program = [('spawn', [('get',)]), ('lock', [('sleep', 1.0), ('join', 0)])]
    story, compared = compare(program)
    assert compared == 2 and story['stuck'] == {1, 2}


def test_a_broken_loop_is_caught(monkeypatch):
    """Break tale's timeouts on purpose: the comparison must notice."""
    from tale import timeouts
    monkeypatch.setattr(timeouts.TimeoutScope, '__aexit__',
                        lambda self, *exc: _swallow_everything(self))
    program = [('spawn', [('sleep', 1.0)]), ('move_on', 0.75, [('join', 0)])]
    with pytest.raises(BaseException):
        compare(program)


async def _swallow_everything(scope):
    scope._task._scope_depth -= 1
    return False                        # never swallows its own expiry
