"""Chapter 19: instruments, the trace, the task tree, deadlocks, the mistakes reported."""
import gc
import inspect
import io
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import types
import warnings
import weakref
from pathlib import Path

import pytest

import tale
from tale import kernel, traps
from tale.instruments import (EVENTS, Instrument, SlowSteps, SlowStepWarning, Trace,
                              WatchedKernel)
from tale.testing import VirtualClock

ROOT = Path(__file__).resolve().parent.parent
CODE = ROOT / 'code'


def short(text):
    """Task names without the test function they are defined in."""
    return re.sub(r'\w+\.<locals>\.', '', text)


class Log(Instrument):
    """Records every event as a tuple of words."""

    def __init__(self):
        self.events = []

    def before_run(self):
        self.events.append(('before_run',))

    def after_run(self):
        self.events.append(('after_run',))

    def task_spawned(self, task):
        parent = task.parent
        self.events.append(('spawned', short(task.name), short(parent.name) if parent else None))

    def task_scheduled(self, task):
        self.events.append(('scheduled', short(task.name)))

    def before_task_step(self, task):
        self.events.append(('step', short(task.name)))

    def after_task_step(self, task):
        self.events.append(('end', short(task.name)))

    def task_suspended(self, task, waiting):
        self.events.append(('suspended', short(task.name), short(waiting)))

    def task_cancelled(self, task, exc):
        self.events.append(('cancelled', short(task.name), type(exc).__name__))

    def task_finished(self, task):
        self.events.append(('finished', short(task.name), task.state))

    def tick(self, tick):
        self.events.append(('tick', tick.number, tick.timeout, tick.io, tick.timers,
                            tick.batch))


# --- Every event, in order -------------------------------------------------------

def test_every_event_of_a_spawn_sleep_join_run_in_order():
    async def child():
        await tale.sleep(0.5)
        return 1

    async def main():
        task = await tale.spawn(child)
        return await task.join()

    log = Log()
    assert tale.run(main, clock=VirtualClock(), instruments=[log]) == 1
    assert log.events == [
        ('before_run',), ('spawned', 'main', None), ('scheduled', 'main'),
        ('tick', 1, 0, 0, 0, 1),
        ('step', 'main'), ('end', 'main'),                 # spawn: an instant answer
        ('spawned', 'child', 'main'), ('scheduled', 'child'),
        ('step', 'main'), ('end', 'main'), ('suspended', 'main', 'waiting to join child'),
        ('tick', 2, 0, 0, 0, 1),
        ('step', 'child'), ('end', 'child'),
        ('suspended', 'child', 'sleeping until 0.500'),
        ('tick', 3, 0.5, 0, 1, 1), ('scheduled', 'child'),  # woken by its timer
        ('step', 'child'), ('end', 'child'),
        ('finished', 'child', 'finished'), ('scheduled', 'main'),   # then the joiner
        ('tick', 4, 0, 0, 0, 1),
        ('step', 'main'), ('end', 'main'), ('finished', 'main', 'finished'),
        ('after_run',)]


def test_sleep_zero_is_a_step_then_a_scheduling_with_no_suspension():
    async def main():
        await tale.sleep(0)

    log = Log()
    tale.run(main, instruments=[log])
    assert log.events[4:8] == [('step', 'main'), ('end', 'main'), ('scheduled', 'main'),
                               ('tick', 2, 0, 0, 0, 1)]
    assert not [e for e in log.events if e[0] == 'suspended']


def test_cancellation_is_reported_before_the_task_it_makes_ready():
    async def sleeper():
        await tale.sleep(10)

    async def main():
        task = await tale.spawn(sleeper)
        await tale.sleep(0)
        await task.cancel()

    log = Log()
    tale.run(main, clock=VirtualClock(), instruments=[log])
    at = log.events.index(('cancelled', 'sleeper', 'CancelledError'))
    assert log.events[at + 1] == ('scheduled', 'sleeper')
    assert ('finished', 'sleeper', 'cancelled') in log.events


def test_a_timeout_is_counted_as_a_timer_and_reported_as_a_cancellation():
    async def main():
        async with tale.move_on_after(1):
            await tale.Event().wait()

    log = Log()
    tale.run(main, clock=VirtualClock(), instruments=[log])
    ticks = [e for e in log.events if e[0] == 'tick']
    assert ticks[1] == ('tick', 2, 1.0, 0, 1, 1)
    at = log.events.index(ticks[1])
    assert log.events[at + 1:at + 3] == [('cancelled', 'main', 'TaskTimeout'),
                                         ('scheduled', 'main')]


def test_tasks_woken_by_io_are_counted_and_listed_under_their_tick():
    a, b = socket.socketpair()

    async def reader():
        await tale.wait_readable(a)

    async def main():
        task = await tale.spawn(reader)
        await tale.sleep(0)
        await tale.sleep(0)
        b.send(b'x')
        await task.join()

    log = Log()
    with a, b:
        fd = a.fileno()
        tale.run(main, instruments=[log])
    io_ticks = [e for e in log.events if e[0] == 'tick' and e[3]]
    assert len(io_ticks) == 1 and io_ticks[0][3] == 1
    at = log.events.index(io_ticks[0])
    assert log.events[at + 1] == ('scheduled', 'reader')
    assert ('suspended', 'reader', f'waiting to read socket fd {fd}') in log.events


def test_a_failure_and_a_run_that_raises_are_reported():
    async def main():
        raise ValueError('no')

    log = Log()
    with pytest.raises(ValueError):
        tale.run(main, instruments=[log])
    assert log.events[-2:] == [('finished', 'main', 'failed'), ('after_run',)]


def test_a_poll_interrupted_by_ctrl_c_still_reports_the_shutdown_and_the_end():
    """Ctrl-C in the poll, then again in the poll of the cleanup: main is closed
    by force, and its end is still reported, before after_run."""
    a, b = socket.socketpair()

    async def main():
        try:
            await tale.wait_readable(a)
        finally:
            await tale.wait_readable(a)         # a cleanup that waits for ever

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    log = Log()
    old = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)
    try:
        with a, b, pytest.raises(KeyboardInterrupt):
            tale.run(main, instruments=[log])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert log.events[-2:] == [('finished', 'main', 'cancelled'), ('after_run',)]


def test_several_instruments_see_the_same_events_and_an_object_needs_no_base_class():
    class Steps:                         # not an Instrument: a plain object
        def __init__(self):
            self.steps = 0

        def before_task_step(self, task):
            self.steps += 1

    async def main():
        for _ in range(3):
            await tale.sleep(0)

    one, two, steps = Log(), Log(), Steps()
    tale.run(main, instruments=[one, steps, two])
    assert one.events == two.events and steps.steps == 4


def test_an_instrument_that_raises_is_removed_and_the_task_does_not_hear_of_it():
    class Broken(Instrument):
        calls = 0

        def before_task_step(self, task):
            Broken.calls += 1
            raise ZeroDivisionError

    async def main():
        await tale.sleep(0)
        return 'fine'

    log = Log()
    with pytest.warns(RuntimeWarning, match='Broken.*ZeroDivisionError.*removed'):
        assert tale.run(main, instruments=[Broken(), log]) == 'fine'
    assert Broken.calls == 1
    assert log.events.count(('step', 'main')) == 2      # the others go on


def test_only_the_events_an_instrument_defines_are_called():
    class OnlyTicks(Instrument):
        def tick(self, tick):
            pass

    async def main():
        await tale.sleep(0)

    k = WatchedKernel(None, False, [OnlyTicks()])
    seen = {event for event, calls in k._calls.items() if calls}
    assert seen == {'tick'}
    k.run(main)


def test_without_instruments_the_plain_kernel_runs_and_nothing_is_wrapped():
    kinds = []

    async def main():
        me = await tale.current_task()
        k = kernel.running_kernel()
        kinds.append((type(k), k._hooks, type(me.coro), type(k._ready)))

    tale.run(main)
    tale.run(main, instruments=[])
    from collections import deque
    assert kinds == [(kernel.Kernel, None, types.CoroutineType, deque)] * 2


def test_the_events_are_the_methods_of_instrument():
    assert set(EVENTS) == {'before_run', 'after_run', 'task_spawned', 'task_scheduled',
                           'before_task_step', 'after_task_step', 'task_suspended',
                           'task_cancelled', 'task_finished', 'tick'}


def test_a_watched_task_that_failed_is_reported_when_released_as_without_instruments():
    async def crash():
        raise KeyError('nobody listens')

    async def main():
        await tale.spawn(crash)
        await tale.sleep(0)
        await tale.sleep(0)
        return len(caught)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        assert tale.run(main, instruments=[Log(), Trace(file=io.StringIO())]) == 1


@pytest.mark.parametrize('debug_env', ['', '1'])
def test_tale_own_tests_pass_with_every_run_watched(debug_env):
    """An oracle that knows nothing of the instruments: tale's tests, run watched.

    With ``TALE_DEBUG=1`` in the environment at import, ``sleep`` is also the
    checked one, so the same tests cover the debug wrapper.
    """
    env = {**os.environ, 'TALE_DEBUG': debug_env}
    tests = [f'tests/{name}' for name in (
        'test_tale_kernel.py', 'test_tale_regressions.py', 'test_tale_sync.py',
        'test_tale_queues.py', 'test_tale_taskgroup.py', 'test_tale_timeouts.py',
        'test_tale_combinations.py')]
    result = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-x', '-p',
                             'watch_everything', *tests], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert ' passed' in result.stdout


# --- The trace ---------------------------------------------------------------------

def test_trace_prints_cancellations_failures_and_ticks_with_times():
    async def doomed():
        await tale.sleep(1)

    async def fails():
        raise ValueError('bad')

    async def main():
        d = await tale.spawn(doomed)
        f = await tale.spawn(fails)
        await tale.sleep(0.5)
        await d.cancel()
        with pytest.raises(ValueError):
            await f.join()

    out = io.StringIO()
    tale.run(main, clock=VirtualClock(start=100), instruments=[Trace(out)])
    lines = [' '.join(line.split()) for line in short(out.getvalue()).splitlines()]
    assert lines[0] == '100.000 run() spawns main'
    assert '100.000 main spawns doomed' in lines
    assert "100.000 fails fails: ValueError('bad')" in lines
    assert '100.500 tick 3 waited up to 0.500 s, 1 woken by timers, 1 ready' in lines
    assert lines.index('100.500 doomed cancelled') < lines.index('100.500 doomed ends cancelled')
    assert lines[-1] == '100.500 main returns None'


# --- The task tree -----------------------------------------------------------------

def test_dump_tasks_draws_who_spawned_whom_and_each_kind_of_wait():
    listener = socket.create_server(('127.0.0.1', 0))
    writer, peer = socket.socketpair()
    lock, event, queue = tale.Lock(), tale.Event(), tale.Queue(maxsize=1)
    condition, semaphore = tale.Condition(), tale.Semaphore(0)
    out = []

    async def grandchild():
        await tale.sleep(3)

    async def child():
        await tale.spawn(grandchild)
        await tale.sleep(2)

    async def put_twice():
        await queue.put(1)
        await queue.put(2)

    async def cond():
        async with condition:
            await condition.wait()

    async def fill(sock):
        while True:
            try:
                sock.send(b'x' * 65536)
            except BlockingIOError:
                await tale.wait_writable(sock)

    async def main():
        await lock.acquire()
        tasks = [await tale.spawn(child), await tale.spawn(lock.acquire),
                 await tale.spawn(event.wait), await tale.spawn(put_twice),
                 await tale.spawn(cond), await tale.spawn(semaphore.acquire),
                 await tale.spawn(tale.wait_readable, listener),
                 await tale.spawn(fill, writer), await tale.spawn(tale.sleep, math_inf),
                 await tale.spawn(tale.sleep, 5, daemon=True)]
        tasks.append(await tale.spawn(tasks[0].join))
        await tale.sleep(1)
        out.append(tale.dump_tasks())
        for task in tasks:
            await task.cancel()
        lock.release()

    math_inf = float('inf')
    writer.setblocking(False)
    with listener, writer, peer:
        tale.run(main, clock=VirtualClock())
        port = listener.getsockname()[1]
        text = short(out[0])
    lines = text.splitlines()
    assert lines[0] == '13 tasks at 1.000:'
    assert lines[1] == 'main: running'
    assert lines[2] == '├── child: sleeping until 2.000 (1.000 s from now)'
    assert lines[3] == '│   └── grandchild: sleeping until 3.000 (2.000 s from now)'
    assert re.fullmatch(r'├── Lock.acquire: waiting to acquire Lock at 0x[0-9a-f]+', lines[4])
    assert re.fullmatch(r'├── Event.wait: waiting on Event at 0x[0-9a-f]+', lines[5])
    assert re.fullmatch(r'├── put_twice: waiting to put to Queue at 0x[0-9a-f]+', lines[6])
    assert re.fullmatch(r'├── cond: waiting on Condition at 0x[0-9a-f]+', lines[7])
    assert re.fullmatch(r'├── Semaphore.acquire: waiting to acquire Semaphore at 0x[0-9a-f]+',
                        lines[8])
    assert lines[9] == (f'├── wait_readable: waiting to read socket fd {listener.fileno()} '
                        f'(on 127.0.0.1:{port})') or 'waiting to read socket fd' in lines[9]
    assert lines[10].startswith('├── fill: waiting to write socket fd')
    assert lines[11] == '├── sleep: sleeping for ever'
    assert lines[12] == '├── sleep (daemon): sleeping until 5.000 (4.000 s from now)'
    assert lines[13] == '└── Task.join: waiting to join child'
    assert f'0x{id(lock):x}' in lines[4]


def test_a_socket_wait_names_both_ends_on_127_0_0_1():
    async def main():
        listener = socket.create_server(('127.0.0.1', 0))
        client = socket.create_connection(listener.getsockname())
        conn, _ = listener.accept()
        with listener, client, conn:
            conn.setblocking(False)
            task = await tale.spawn(tale.wait_readable, conn)
            await tale.sleep(0)
            text = tale.dump_tasks()
            await task.cancel()
            here, there = conn.getsockname(), conn.getpeername()
        return text, here, there

    text, here, there = tale.run(main)
    assert (f'waiting to read socket fd ' in text
            and f'(on 127.0.0.1:{here[1]} from 127.0.0.1:{there[1]})' in text)


def test_a_task_whose_parent_finished_is_drawn_at_the_top_with_a_note():
    async def orphan():
        await tale.sleep(5)

    async def parent():
        return await tale.spawn(orphan)

    async def main():
        p = await tale.spawn(parent)
        o = await p.join()
        text = tale.dump_tasks()
        await o.cancel()
        return text

    text = short(tale.run(main, clock=VirtualClock()))
    assert text.splitlines()[1:] == [
        'main: running',
        'orphan (spawned by parent, which has finished): sleeping until 5.000 '
        '(5.000 s from now)']


def test_the_parent_link_does_not_keep_a_finished_parent_alive():
    async def child():
        await tale.sleep(1)

    async def parent():
        await tale.spawn(child)
        return bytearray(10)

    async def main():
        p = await tale.spawn(parent)
        await tale.sleep(0.5)               # (not join: a joiner holds what it waited on)
        assert p.done()
        gone = weakref.ref(p)
        kid = next(t for t in kernel.running_kernel()._tasks if short(t.name) == 'child')
        del p
        gc.collect()
        assert gone() is None and kid.parent is None
        await kid.cancel()
        return (await tale.current_task()).parent

    assert tale.run(main, clock=VirtualClock()) is None      # main has no parent


def test_dump_tasks_outside_a_loop_is_an_error():
    with pytest.raises(RuntimeError, match='no tale loop'):
        tale.dump_tasks()


def test_dump_tasks_on_a_signal_prints_the_tree_and_cleans_up():
    before = signal.getsignal(signal.SIGUSR1)
    fds = len(os.listdir('/proc/self/fd'))

    async def main():
        out = io.StringIO()
        dumper = await tale.spawn(tale.dump_tasks_on, signal.SIGUSR1, out, daemon=True)
        await tale.sleep(0.01)
        for _ in range(2):
            os.kill(os.getpid(), signal.SIGUSR1)
            await tale.sleep(0.05)
        await dumper.cancel()
        return out.getvalue()

    text = tale.run(main)
    assert text.count('2 tasks at ') == 2
    assert '└── dump_tasks_on (daemon): running' in text
    assert signal.getsignal(signal.SIGUSR1) is before
    assert len(os.listdir('/proc/self/fd')) == fds


# --- Deadlocks -----------------------------------------------------------------------

def test_a_deadlock_draws_the_stuck_tasks_as_the_tree():
    async def leaf(event):
        await event.wait()

    async def middle(event):
        task = await tale.spawn(leaf, event)
        await task.join()

    async def main():
        event = tale.Event()
        task = await tale.spawn(middle, event)
        await task.join()

    with pytest.raises(tale.DeadlockError) as info:
        tale.run(main)
    lines = short(str(info.value)).splitlines()
    assert lines[1:3] == ['  main: waiting to join middle',
                          '  └── middle: waiting to join leaf']
    assert re.fullmatch(r'      └── leaf: waiting on Event at 0x[0-9a-f]+', lines[3])
    assert [short(t.name) for t in info.value.tasks] == ['main', 'middle', 'leaf']


# --- Mistakes reported -----------------------------------------------------------------

def run_program(source, debug):
    env = {k: v for k, v in os.environ.items() if k not in ('TALE_DEBUG', 'PYTHONDEVMODE')}
    env['PYTHONPATH'] = str(CODE)
    if debug:
        env['TALE_DEBUG'] = '1'
    return subprocess.run([sys.executable, '-c', textwrap.dedent(source)], env=env,
                          capture_output=True, text=True, timeout=60)


FORGOTTEN = """
    import tale
    async def main():
        tale.sleep(1)
        await tale.sleep(0)
        task = await tale.spawn(tale.sleep, 0.001)
        await task.join()
        return 'done'
    print(tale.run(main))
"""


def test_a_sleep_never_awaited_is_reported_in_debug_mode_with_its_line():
    result = run_program(FORGOTTEN, debug=True)
    assert result.stdout == 'done\n'
    warned = [line for line in result.stderr.splitlines() if 'never awaited' in line]
    assert warned == ['<string>:4: RuntimeWarning: tale.sleep(1) was never awaited'], \
        result.stderr


def test_without_debug_mode_sleep_is_the_plain_generator_and_says_nothing():
    result = run_program(FORGOTTEN + """
    import inspect
    print(inspect.isgeneratorfunction(tale.sleep), tale.sleep is tale.traps.sleep)
    """, debug=False)
    assert result.stdout == 'done\nTrue True\n' and result.stderr == ''


def test_the_checked_sleep_keeps_the_fast_path_and_works_as_a_task():
    checked = traps._checked(traps.sleep)
    gen = checked(0)
    assert gen.send(None) is traps.YIELD
    gen.close()
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        checked(1).close()                   # closed: never awaited, but let go of

    async def main():
        task = await tale.spawn(checked, 0.01)
        await checked(0)
        await task.join()
        return task.name

    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert tale.run(main, clock=VirtualClock()) == 'sleep'
        gc.collect()


def test_the_checked_sleep_warns_once_for_each_forgotten_call():
    checked = traps._checked(traps.sleep)
    with pytest.warns(RuntimeWarning, match=r'tale.sleep\(2\) was never awaited') as caught:
        checked(2)
        gc.collect()
    assert len([w for w in caught if 'never awaited' in str(w.message)]) == 1
    assert caught[0].filename == __file__


def test_a_slow_step_is_reported_with_its_task_and_lines():
    async def helper():
        time.sleep(0.06)                   # the blocking call, in a nested coroutine
        await tale.sleep(0)

    async def careless():
        await tale.sleep(0)
        await helper()

    async def quick():
        await tale.sleep(0)

    async def main():
        await tale.spawn(quick)
        await careless()

    with pytest.warns(SlowStepWarning) as caught:
        tale.run(main, instruments=[SlowSteps(threshold=0.03)], debug=False)
    assert len(caught) == 1
    message = short(str(caught[0].message))
    lines = inspect.getsourcelines(careless)[1], inspect.getsourcelines(helper)[1]
    assert message.startswith('main held the loop for 0.0')
    assert f'from line {lines[0] + 1} to line {lines[1] + 2} of {__file__}' in message
    assert caught[0].filename == __file__ and caught[0].lineno == lines[0] + 1


def test_fast_steps_are_not_reported():
    async def main():
        for _ in range(100):
            await tale.sleep(0)

    with warnings.catch_warnings():
        warnings.simplefilter('error')
        tale.run(main, instruments=[SlowSteps(threshold=0.05)])
