"""Chapter 18: threads, the wake-up socket, signals, Ctrl-C, contexts and shields.

Everything that waits runs under `deadline`, so a regression that hangs fails.
The Ctrl-C tests run real child processes and interrupt them with SIGINT.
"""
import contextvars
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from bounded import deadline
import tale
from tale import kernel, threads
from tale.testing import VirtualClock

ROOT = Path(__file__).resolve().parent.parent




def outside_counts():
    k = kernel.running_kernel()
    return k._outside, k._io_waits


# -- run_in_thread -------------------------------------------------------------------

def test_run_in_thread_returns_raises_and_lets_others_run():
    async def ticker(ticks):
        while True:
            ticks.append(None)
            await tale.sleep(0.005)

    async def main():
        ticks = []
        await tale.spawn(ticker, ticks, daemon=True)
        assert await tale.run_in_thread(lambda x, y: x * y, 6, 7) == 42
        error = ValueError('from the thread')
        with pytest.raises(ValueError) as caught:
            await tale.run_in_thread(_raise, error)
        assert caught.value is error
        start = len(ticks)
        await tale.run_in_thread(time.sleep, 0.1)
        assert len(ticks) - start >= 5          # the loop went on meanwhile
        assert outside_counts() == (0, 0)       # nothing expected any more
    with deadline():
        tale.run(main)


def _raise(error):
    raise error


def test_the_pool_runs_at_most_max_threads_at_once():
    pool = threads.ThreadPool(max_threads=2, idle_seconds=0.2)
    running, most = [0], [0]
    lock = threading.Lock()

    def job():
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return threading.current_thread().name

    async def main():
        async with tale.TaskGroup() as group:
            tasks = [await group.spawn(tale.run_in_thread(job, pool=pool)) for _ in range(6)]
        return [t.result() for t in tasks]
    with deadline():
        start = time.monotonic()
        names = tale.run(main)
        assert time.monotonic() - start >= 0.15      # three rounds of two
    assert most[0] == 2 and set(names) == {'tale worker'}
    assert pool._threads == 2
    time.sleep(0.5)                                  # idle workers end
    assert pool._threads == 0
    with pytest.raises(ValueError, match='at least one thread'):
        threads.ThreadPool(max_threads=0)


def test_a_pool_under_a_burst_loses_no_job():
    pool = threads.ThreadPool(max_threads=3, idle_seconds=0.01)   # workers come and go
    results = []

    def job(i):
        time.sleep(random.random() / 1000)
        results.append(i)

    with deadline():
        for burst in range(20):
            done = threading.Semaphore(0)
            for i in range(10):
                pool.submit(lambda i=i: (job(burst * 10 + i), done.release()))
            for _ in range(10):
                assert done.acquire(timeout=5)
            time.sleep(random.random() / 50)
    assert sorted(results) == list(range(200))


def test_a_cancelled_call_waits_for_its_thread_by_default():
    finished = []

    def work():
        time.sleep(0.2)
        finished.append(time.monotonic())

    async def caller():
        await tale.run_in_thread(work)

    async def main():
        task = await tale.spawn(caller)
        await tale.sleep(0.05)
        await task.cancel()
        assert task.cancelled() and finished        # the thread was done first
        assert time.monotonic() >= finished[0]
        assert outside_counts() == (0, 0)
    with deadline():
        tale.run(main)


def test_a_cancellable_call_returns_at_once_and_its_result_is_dropped():
    release = threading.Event()

    async def caller():
        await tale.run_in_thread(release.wait, cancellable=True)

    async def main():
        task = await tale.spawn(caller)
        await tale.sleep(0.05)
        start = time.monotonic()
        await task.cancel()
        assert task.cancelled() and time.monotonic() - start < 0.1
        assert outside_counts() == (0, 0)           # the loop no longer waits for it
        release.set()
        await tale.sleep(0.05)                      # the late result comes and goes
        assert outside_counts() == (0, 0)
    with deadline():
        tale.run(main)


def test_a_second_cancellation_while_waiting_for_the_thread_keeps_the_strongest():
    async def caller():
        async with tale.move_on_after(0.05):
            await tale.run_in_thread(time.sleep, 0.2)
        return 'moved on?!'

    async def main():
        task = await tale.spawn(caller)
        await tale.sleep(0.01)
        await task.cancel()                 # rank 0, then the deadline at 0.05
        assert task.cancelled()
    with deadline():
        tale.run(main)


def test_a_pending_thread_job_is_not_a_deadlock_and_none_is():
    async def waiter(event):
        await event.wait()

    async def main():
        event = tale.Event()
        await tale.spawn(waiter, event)
        await tale.run_in_thread(time.sleep, 0.1)   # only the thread can go on
        event.set()
        stuck = tale.Event()
        await stuck.wait()                          # now nothing can: a deadlock
    with deadline():
        with pytest.raises(tale.DeadlockError, match='main'):
            tale.run(main)


def test_the_wake_up_socket_is_made_only_when_needed_and_closed_after():
    seen = {}

    async def plain():
        await tale.sleep(0)
        seen['plain'] = kernel.running_kernel()._wakeup

    async def threaded():
        await tale.run_in_thread(int, '1')
        seen['threaded'] = kernel.running_kernel()._wakeup
    tale.run(plain)
    tale.run(threaded)
    assert seen['plain'] is None
    assert seen['threaded'].closed
    with pytest.raises(RuntimeError, match='finished'):
        seen['threaded'].call_soon(print)


def test_an_idle_loop_waiting_for_a_thread_uses_no_cpu():
    sys.path.insert(0, str(ROOT / 'bench'))
    try:
        import thread_wait
    finally:
        sys.path.remove(str(ROOT / 'bench'))
    with deadline():
        cpu, wall = thread_wait.measure('wakeup', 0.5)
        busy, _ = thread_wait.measure('poll-sleep0', 0.2)
    assert wall >= 0.5 and cpu < 0.05
    assert busy > 4 * cpu                   # the measurement can tell (on a busy machine too)


def test_one_loop_per_thread_each_with_its_own_wake_up_socket():
    wakeups, errors = [], []

    async def main(n):
        total = 0
        for i in range(20):
            total += await tale.run_in_thread(lambda: i)
            await tale.sleep(0)
        wakeups.append(kernel.running_kernel()._wakeup)
        return total

    def loop_thread(n):
        try:
            assert tale.run(main, n) == sum(range(20))
        except BaseException as error:
            errors.append(error)
    with deadline():
        loops = [threading.Thread(target=loop_thread, args=(n,)) for n in range(4)]
        for t in loops:
            t.start()
        for t in loops:
            t.join()
    assert errors == [] and len(set(map(id, wakeups))) == 4


# -- from_thread ---------------------------------------------------------------------

def test_worker_threads_call_back_into_the_loop_all_at_once():
    async def bump(state, lock):
        async with lock:
            value = state['n']
            await tale.sleep(0.001)             # a race, without the lock
            state['n'] = value + 1
            return threading.current_thread() is threading.main_thread()

    def in_thread(state, lock, times):
        return [tale.from_thread.run(bump, state, lock) for _ in range(times)]

    async def main():
        state, lock = {'n': 0}, tale.Lock()
        async with tale.TaskGroup() as group:
            tasks = [await group.spawn(tale.run_in_thread, in_thread, state, lock, 10)
                     for _ in range(6)]
        assert all(all(t.result()) for t in tasks)  # each ran in the loop's thread
        return state['n']
    with deadline():
        assert tale.run(main) == 60


def test_from_thread_errors_reach_the_thread_as_themselves():
    error = KeyError('in the loop')

    async def fail():
        raise error

    def in_thread():
        with pytest.raises(KeyError) as caught:
            tale.from_thread.run(fail)
        return caught.value

    async def main():
        return await tale.run_in_thread(in_thread)
    with deadline():
        assert tale.run(main) is error


def test_foreign_threads_need_a_token_and_may_not_block_a_loop():
    async def answer():
        return 42

    with pytest.raises(RuntimeError, match='token'):
        tale.from_thread.run(answer)

    async def main():
        token = tale.from_thread.token()
        assert tale.from_thread.token() is token
        with pytest.raises(RuntimeError, match='would block the loop'):
            tale.from_thread.run(answer, token=token)
        results = []
        threads_ = [threading.Thread(
            target=lambda: results.append(tale.from_thread.run(answer, token=token)))
            for _ in range(5)]
        for t in threads_:
            t.start()
        for t in threads_:
            await tale.run_in_thread(t.join)
        return results, token
    with deadline():
        results, token = tale.run(main)
    assert results == [42] * 5
    with pytest.raises(RuntimeError, match='finished'):
        tale.from_thread.run(answer, token=token)


def test_a_call_the_loop_never_ran_fails_in_its_thread():
    outcome = []

    async def answer():
        return 42

    async def main():
        token = tale.from_thread.token()
        call = threading.Thread(target=lambda: outcome.append(
            _catch(tale.from_thread.run, answer, token=token)))
        main.thread = call
        call.start()
        time.sleep(0.1)             # block the loop: the call is queued, not run
    with deadline():
        tale.run(main)
        main.thread.join()
    assert isinstance(outcome[0], RuntimeError) and 'ended' in str(outcome[0])


def _catch(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except BaseException as error:
        return error


def test_contexts_cross_into_threads_and_back():
    var = contextvars.ContextVar('var', default='unset')

    async def read():
        return var.get()

    def in_thread():
        seen = var.get()
        var.set('thread')
        return seen, tale.from_thread.run(read)

    async def main():
        var.set('task')
        return await tale.run_in_thread(in_thread), var.get()
    assert tale.run(main) == (('task', 'thread'), 'task')


# -- ThreadQueue ---------------------------------------------------------------------

@pytest.mark.parametrize('maxsize', [0, 1, 3])
def test_thread_queue_threads_to_tasks_and_back(maxsize):
    n_threads, per_thread = 4, 50
    rng = random.Random(maxsize)

    def producer(q, name):
        for i in range(per_thread):
            q.put_from_thread((name, i), timeout=5)
            if rng.random() < 0.1:
                time.sleep(0.001)

    def consumer(q, got):
        while (item := q.get_from_thread(timeout=5)) is not None:
            got.append(item)

    async def task_consumer(q, got, n):
        for _ in range(n):
            got.append(await q.get())
            if rng.random() < 0.3:
                await tale.sleep(0)

    async def task_producer(q, items):
        for item in items:
            await q.put(item)

    async def main():
        inbox, outbox = tale.ThreadQueue(maxsize), tale.ThreadQueue(maxsize)
        got_tasks, got_threads = [], [[] for _ in range(3)]
        producers = [threading.Thread(target=producer, args=(inbox, n))
                     for n in range(n_threads)]
        consumers = [threading.Thread(target=consumer, args=(outbox, got))
                     for got in got_threads]
        for t in producers + consumers:
            t.start()
        total = n_threads * per_thread
        async with tale.TaskGroup() as group:
            for share in (total // 2, total - total // 2):
                await group.spawn(task_consumer, inbox, got_tasks, share)
            await group.spawn(task_producer, outbox, range(300))
        await task_producer(outbox, [None] * 3)
        for t in producers + consumers:
            await tale.run_in_thread(t.join)
        assert outside_counts() == (0, 0)
        return got_tasks, got_threads
    with deadline(20):
        got_tasks, got_threads = tale.run(main)
    assert sorted(got_tasks) == sorted((n, i) for n in range(n_threads)
                                       for i in range(per_thread))
    for n in range(n_threads):            # one producer's items stay in order
        assert [i for name, i in got_tasks if name == n] == list(range(per_thread))
    assert sorted(x for got in got_threads for x in got) == list(range(300))


def test_thread_queue_rules():
    q = tale.ThreadQueue(maxsize=1)
    with pytest.raises(TimeoutError):
        q.get_from_thread(timeout=0.01)
    q.put_from_thread('a')
    with pytest.raises(TimeoutError):
        q.put_from_thread('b', timeout=0.01)

    async def main():
        with pytest.raises(RuntimeError, match='would block'):
            q.get_from_thread()
        assert await q.get() == 'a'
        waiter = await tale.spawn(q.get)           # cancelled while waiting
        await tale.sleep(0.01)
        await waiter.cancel()
        assert outside_counts() == (0, 0) and q._waiting == 0
        await q.put('b')
        return q.qsize()
    with deadline():
        assert tale.run(main) == 1

    async def other_loop():
        await q.put('c')
    with pytest.raises(RuntimeError, match='one loop'):
        tale.run(other_loop)


def test_a_task_waiting_on_a_thread_queue_is_not_deadlocked():
    q = tale.ThreadQueue()

    async def main():
        timer = threading.Timer(0.1, q.put_from_thread, args=('late',))
        timer.start()
        try:
            return await q.get()
        finally:
            timer.join()
    with deadline():
        assert tale.run(main) == 'late'


# -- signals -------------------------------------------------------------------------

def current_wakeup_fd():
    fd = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(fd)
    return fd


def test_a_signal_receiver_receives_and_restores_everything():
    before = signal.getsignal(signal.SIGUSR1), current_wakeup_fd()

    def handler(signum, frame):
        pass
    signal.signal(signal.SIGUSR2, handler)

    async def main():
        got = []
        async with tale.open_signal_receiver(signal.SIGUSR1, signal.SIGUSR2) as signals:
            assert current_wakeup_fd() != before[1]
            timer = threading.Timer(0.05, os.kill, args=(os.getpid(), signal.SIGUSR2))
            timer.start()               # from another thread, while the loop waits
            async for signum in signals:
                got.append(signum)
                if len(got) == 1:
                    os.kill(os.getpid(), signal.SIGUSR1)
                else:
                    break
            timer.join()
        return got
    try:
        with deadline():
            assert tale.run(main) == [signal.SIGUSR2, signal.SIGUSR1]
        assert (signal.getsignal(signal.SIGUSR1), current_wakeup_fd()) == before
        assert signal.getsignal(signal.SIGUSR2) is handler
    finally:
        signal.signal(signal.SIGUSR2, signal.SIG_DFL)


def test_nested_receivers_the_innermost_gets_the_signal():
    async def main():
        async with tale.open_signal_receiver(signal.SIGUSR1) as outer:
            async with tale.open_signal_receiver(signal.SIGUSR1) as inner:
                os.kill(os.getpid(), signal.SIGUSR1)
                assert await inner.__anext__() == signal.SIGUSR1
            assert not outer._pending
            os.kill(os.getpid(), signal.SIGUSR1)
            return await outer.__anext__()
    with deadline():
        assert tale.run(main) == signal.SIGUSR1
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL


def test_a_receiver_refuses_other_threads_and_bad_signals_cleanly():
    before = signal.getsignal(signal.SIGUSR1), current_wakeup_fd()

    async def main():
        with pytest.raises(OSError):
            async with tale.open_signal_receiver(signal.SIGUSR1, signal.SIGKILL):
                pass
        with pytest.raises(TypeError):
            tale.open_signal_receiver()
        return 'ok'
    assert tale.run(main) == 'ok'
    assert (signal.getsignal(signal.SIGUSR1), current_wakeup_fd()) == before

    errors = []

    async def in_thread():
        async with tale.open_signal_receiver(signal.SIGUSR1):
            pass
    thread = threading.Thread(target=lambda: errors.append(_catch(tale.run, in_thread)))
    thread.start()
    thread.join()
    assert isinstance(errors[0], RuntimeError) and 'main thread' in str(errors[0])


# -- Ctrl-C and SystemExit, in real child processes -------------------------------------

CHILD = textwrap.dedent('''
    import signal, socket, sys, time
    signal.signal(signal.SIGINT, signal.default_int_handler)   # even if we inherit SIG_IGN
    import tale

    def say(*words):
        print(*words, flush=True)

    async def worker():
        try:
            await tale.sleep(100)
        finally:
            say('worker finally')
            await tale.sleep(0)
            say('worker cleaned')

    async def main(moment):
        await tale.spawn(worker)
        await tale.sleep(0)
        a, b = socket.socketpair()
        try:
            if moment == 'selector':
                say('ready')
                await tale.wait_readable(a)
            elif moment == 'timer':
                say('ready')
                await tale.sleep(100)
            elif moment == 'task':
                say('ready')
                while True:
                    pass
            elif moment == 'thread':
                say('ready')
                await tale.run_in_thread(time.sleep, 1.0)
            elif moment == 'thread-cancellable':
                say('ready')
                await tale.run_in_thread(time.sleep, 30, cancellable=True)
            elif moment == 'exit':
                await tale.sleep(0.01)
                sys.exit(3)
            elif moment == 'stuck':
                say('ready')
                await tale.sleep(100)
        finally:
            say('main finally')
            if moment == 'stuck':
                say('cleaning')
                await tale.sleep(100)           # a cleanup that never ends
            await tale.sleep(0)
            a.close(); b.close()
            say('main cleaned')

    tale.run(main, sys.argv[1])
''')


def run_child(moment, interrupts=1, timeout=15):
    env = dict(os.environ, PYTHONPATH=str(ROOT / 'code'))
    child = subprocess.Popen([sys.executable, '-c', CHILD, moment], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        if interrupts:
            lines.append(child.stdout.readline().strip())
            assert lines == ['ready']
            time.sleep(0.3)                     # let it get there
            child.send_signal(signal.SIGINT)
            if interrupts == 2:         # once main's cleanup hangs, and the worker's is over
                while not {'cleaning', 'worker cleaned'} <= set(lines):
                    line = child.stdout.readline()
                    assert line, (lines, child.stderr.read())
                    lines.append(line.strip())
                time.sleep(0.2)
                child.send_signal(signal.SIGINT)
        start = time.monotonic()
        out, err = child.communicate(timeout=timeout)
        return child.returncode, lines + out.split(), err, time.monotonic() - start
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


@pytest.mark.parametrize('moment', ['selector', 'timer', 'task', 'thread',
                                    'thread-cancellable'])
def test_ctrl_c_at_each_moment_runs_every_finally_in_the_loop(moment):
    code, out, err, seconds = run_child(moment)
    assert code == -signal.SIGINT, err          # Python dies of SIGINT after the traceback
    assert err.rstrip().endswith('KeyboardInterrupt'), err
    words = ' '.join(out)
    for line in ('main finally', 'main cleaned', 'worker finally', 'worker cleaned'):
        assert line in words, (line, out)       # 'cleaned': they awaited in the loop
    assert seconds < (5 if moment != 'thread' else 6)


def test_a_second_ctrl_c_stops_a_cleanup_at_once():
    code, out, err, seconds = run_child('stuck', interrupts=2)
    assert code == -signal.SIGINT and err.rstrip().endswith('KeyboardInterrupt'), err
    words = ' '.join(out)
    assert 'cleaning' in words and 'main cleaned' not in words
    assert 'worker cleaned' in words            # its cleanup had finished already
    assert seconds < 5


def test_sys_exit_in_a_task_cleans_up_then_exits_with_its_status():
    code, out, err, seconds = run_child('exit', interrupts=0)
    words = ' '.join(out)
    assert code == 3 and 'main cleaned' in words and 'worker cleaned' in words, err


BUSY_CHILD = textwrap.dedent('''
    import signal, sys
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import tale

    async def spinner(n):
        try:
            while True:
                child = await tale.spawn(tale.sleep, 0)
                await child.join()
                async with tale.move_on_after(0.001):
                    await tale.sleep(0.002 * (n % 2))
        finally:
            print('spinner finally', flush=True)

    async def main():
        async with tale.TaskGroup() as group:
            for n in range(20):
                await group.spawn(spinner, n)
            print('ready', flush=True)

    tale.run(main, debug=False)
''')


def test_ctrl_c_at_random_moments_of_a_busy_loop_always_stops_it():
    # Not in debug mode: its check of every sleep is a finalizer, and a
    # KeyboardInterrupt raised inside a finalizer is lost (chapter 18 says why).
    env = dict(os.environ, PYTHONPATH=str(ROOT / 'code'))
    env.pop('TALE_DEBUG', None)
    rng = random.Random(int(os.environ.get('SEED', 18)))
    for _ in range(int(os.environ.get('ROUNDS', 8))):
        child = subprocess.Popen([sys.executable, '-c', BUSY_CHILD], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline().strip() == 'ready'
            time.sleep(rng.random() * 0.2)
            child.send_signal(signal.SIGINT)
            out, err = child.communicate(timeout=10)
        finally:
            if child.poll() is None:
                child.kill()
                child.communicate()         # and its pipes closed
        assert child.returncode == -signal.SIGINT, err
        # A Ctrl-C between making a coroutine and awaiting it leaves Python's
        # own warning; anything else after the traceback is a failure.
        last = [line for line in err.splitlines()
                if line.strip() and 'was never awaited' not in line][-1]
        assert last == 'KeyboardInterrupt' and 'Exception ignored' not in err, err
        assert out.split('\n').count('spinner finally') == 20


# -- contexts ------------------------------------------------------------------------

def test_each_task_has_a_copy_of_its_spawners_context():
    var = contextvars.ContextVar('var', default='root')

    async def child(log, name):
        log.append((name, var.get()))
        var.set(name)                       # seen by nobody else
        await tale.sleep(0)
        log.append((name, var.get()))

    async def main():
        log = []
        var.set('main')
        a = await tale.spawn(child, log, 'a')
        var.set('main2')                    # after a's spawn: a does not see it
        b = await tale.spawn(child, log, 'b')
        await a.join()
        await b.join()
        async with tale.TaskGroup() as group:
            await group.spawn(child, log, 'c')
        return log, var.get()
    log, last = tale.run(main)
    assert last == 'main2'
    assert log == [('a', 'main'), ('b', 'main2'), ('a', 'a'), ('b', 'b'),
                   ('c', 'main2'), ('c', 'c')]
    assert var.get() == 'root'              # run() leaves the caller's context alone


def test_tasks_that_share_the_blank_context_never_see_each_others_variables():
    # Spawned from an empty context, tasks share one until one sets a variable.
    var = contextvars.ContextVar('var', default='-')

    async def reader(log, name):
        for _ in range(3):
            log.append((name, var.get()))
            await tale.sleep(0)

    async def setter(log, name, then):
        var.set(name)
        if then == 'spawn':
            child = await tale.spawn(reader, log, name + '/child')
            await child.join()
        elif then == 'sleep':
            await tale.sleep(0)
        log.append((name, var.get()))       # 'end': sets it and finishes

    async def main():
        log = []
        tasks = [await tale.spawn(reader, log, 'r1'),
                 await tale.spawn(setter, log, 's1', 'end'),
                 await tale.spawn(reader, log, 'r2'),
                 await tale.spawn(setter, log, 's2', 'sleep'),
                 await tale.spawn(setter, log, 's3', 'spawn'),
                 await tale.spawn(reader, log, 'r3')]
        for task in tasks:
            await task.join()
        late = await tale.spawn(reader, log, 'late')
        await late.join()
        return log, var.get()
    # From an empty context (pytest's own has decimal's variable in it).
    log, last = contextvars.Context().run(tale.run, main)
    assert last == '-'
    seen = {}
    for name, value in log:
        seen.setdefault(name, set()).add(value)
    assert seen == {'r1': {'-'}, 'r2': {'-'}, 'r3': {'-'}, 'late': {'-'},
                    's1': {'s1'}, 's2': {'s2'}, 's3': {'s3'}, 's3/child': {'s3'}}


def test_a_variable_set_just_before_ctrl_c_stays_with_its_task_during_cleanup():
    # The step that set it raised KeyboardInterrupt out of the tick: the others'
    # cleanup runs in a new blank context, not in the one the setter wrote to.
    var = contextvars.ContextVar('var', default='-')
    seen = []

    async def spinner():
        try:
            while True:
                await tale.sleep(0)
        finally:
            seen.append(('spinner', var.get()))

    async def setter():
        var.set('mine')
        raise KeyboardInterrupt

    async def main():
        await tale.spawn(spinner)
        await tale.spawn(setter)
        try:
            await tale.sleep(1)
        finally:
            seen.append(('main', var.get()))
    with pytest.raises(KeyboardInterrupt):
        contextvars.Context().run(tale.run, main, debug=False)
    assert seen == [('spinner', '-'), ('main', '-')]


def test_generator_based_coroutines_still_spawn_under_their_own_name():
    async def main():
        task = await tale.spawn(tale.sleep, 0)
        assert task.name == 'sleep'
        await task.join()
        with pytest.raises(TypeError, match='cannot be awaited'):
            await tale.spawn(lambda: iter([1]))
    tale.run(main)


# -- shields -------------------------------------------------------------------------

def test_a_shield_holds_an_outside_cancel_until_it_ends():
    log = []

    async def worker():
        async with tale.shield() as shield:
            await tale.sleep(1)
            log.append(('held', type(shield.held).__name__))
        log.append('after?!')

    async def main():
        task = await tale.spawn(worker)
        await tale.sleep(0.5)
        await task.cancel()
        return tale.clock(), task.cancelled()
    assert tale.run(main, clock=VirtualClock()) == (1.0, True)
    assert log == [('held', 'CancelledError')]


def test_a_deadline_inside_a_shield_works_and_one_outside_is_held():
    async def main():
        async with tale.move_on_after(1) as outer:
            async with tale.shield():
                async with tale.move_on_after(0.5) as inner:
                    await tale.sleep(10)
                assert inner.expired and tale.clock() == 0.5
                await tale.sleep(1)             # past the outer deadline: held
                reached = tale.clock()
        return reached, tale.clock(), outer.expired
    assert tale.run(main, clock=VirtualClock()) == (1.5, 1.5, True)


def test_nested_shields_pass_a_held_cancel_outwards():
    log = []

    async def worker():
        async with tale.shield():
            async with tale.shield():
                await tale.sleep(1)
            log.append('between the shields')
            await tale.sleep(1)
            log.append('end of the outer shield')
        log.append('after?!')

    async def main():
        task = await tale.spawn(worker)
        await tale.sleep(0.5)
        await task.cancel()
        return tale.clock()
    assert tale.run(main, clock=VirtualClock()) == 2.0
    assert log == ['between the shields', 'end of the outer shield']


def test_a_shield_without_a_cancel_changes_nothing_and_shutdown_waits_for_it():
    log = []

    async def daemon():
        async with tale.shield():
            await tale.sleep(2)
            log.append(('shielded daemon done', tale.clock()))

    async def main():
        await tale.spawn(daemon, daemon=True)
        async with tale.shield():
            await tale.sleep(1)
        return tale.clock()
    assert tale.run(main, clock=VirtualClock()) == 1.0
    assert log == [('shielded daemon done', 2.0)]
