"""Failures a hostile review found in tale, one test each, and their classes.

Each test here failed (or hung, or crashed) before the fix it guards.  They
run under an alarm, so a regression that hangs fails instead of stopping the
suite.
"""
import contextlib
import gc
import math
import os
import resource
import socket
import threading
import tracemalloc
import warnings

import pytest

import bounded
import tale
from tale.testing import VirtualClock


def deadline(seconds=5.0):
    """Fail (instead of hanging) if the block takes longer than `seconds`."""
    return bounded.deadline(seconds)


# 1. A task may close its own descriptors: the loop survives, and a task
#    left waiting on a closed descriptor hears of it at its await.

def test_closing_a_socket_another_task_waits_on_does_not_crash_the_loop():
    a, b = socket.socketpair()
    a.setblocking(False)
    outcome = []

    async def reader():
        try:
            await tale.wait_readable(a)
            outcome.append('readable')
        except OSError as error:
            outcome.append(error)

    async def writer():
        await tale.wait_writable(a)
        a.send(b'x')
        a.close()

    async def main():
        r = await tale.spawn(reader)
        w = await tale.spawn(writer)
        await w.join()
        await r.join()

    with deadline():
        tale.run(main)
    b.close()
    assert len(outcome) == 1 and isinstance(outcome[0], tale.ClosedResourceError)
    assert 'closed' in str(outcome[0])


def test_a_waiter_on_a_socket_closed_by_another_task_is_woken_with_an_error():
    a, b = socket.socketpair()

    async def reader():
        await tale.wait_readable(a)

    async def main():
        r = await tale.spawn(reader)
        await tale.sleep(0.01)
        a.close()                       # under the reader's feet
        with pytest.raises(tale.ClosedResourceError):
            await r.join()

    with deadline():
        tale.run(main)
    b.close()


def test_notify_closing_wakes_every_waiter_of_a_socket_at_once():
    a, b = socket.socketpair()
    seen = []

    async def wait(how):
        try:
            await how(a)
        except tale.ClosedResourceError as error:
            seen.append(error)

    async def main():
        a.setblocking(False)
        while True:                     # fill a's send buffer: a is not writable
            try:
                a.send(b'x' * 65536)
            except BlockingIOError:
                break
        r = await tale.spawn(wait, tale.wait_readable)
        w = await tale.spawn(wait, tale.wait_writable)
        await tale.sleep(0)
        tale.notify_closing(a)
        a.close()
        await r.join()
        await w.join()

    with deadline():
        tale.run(main)
    b.close()
    assert len(seen) == 2


def test_a_descriptor_closed_and_reused_wakes_the_old_waiter_and_serves_the_new():
    a, b = socket.socketpair()
    fd = a.fileno()
    got = []

    async def old_reader():
        try:
            await tale.wait_readable(a)
        except tale.ClosedResourceError:
            got.append('old woken with an error')

    async def main():
        old = await tale.spawn(old_reader)
        await tale.sleep(0)
        a.close()
        c, d = socket.socketpair()      # very likely gets fd back
        try:
            d.send(b'!')
            await tale.wait_readable(c)
            got.append(('new readable', c.fileno() == fd))
            await old.join()
        finally:
            c.close()
            d.close()

    with deadline():
        tale.run(main)
    b.close()
    assert got[-1] == 'old woken with an error' or got[0] == 'old woken with an error'
    assert any(isinstance(g, tuple) for g in got)


def test_a_file_the_os_cannot_poll_is_refused_with_the_os_error():
    import tempfile

    async def main():
        with tempfile.TemporaryFile() as f:
            with pytest.raises(PermissionError):     # epoll: EPERM for a regular file
                await tale.wait_readable(f)
        a, b = socket.socketpair()
        with a, b:
            b.send(b'x')
            await tale.wait_readable(a)              # and the loop goes on
        return 'fine'

    if not hasattr(__import__('select'), 'epoll'):
        pytest.skip('the rule for regular files is epoll\'s (Linux)')
    assert tale.run(main) == 'fine'


def test_a_number_reused_behind_the_kernels_back_serves_the_new_file():
    # Waiters that pass bare numbers cannot tell a closed descriptor from an
    # open one; the OS can, when the kernel next changes the registration.
    a, b = socket.socketpair()
    fd = a.fileno()
    seen = []

    async def old_reader():
        try:
            await tale.wait_readable(fd)
            seen.append('old woken as readable')
        except tale.ClosedResourceError:
            seen.append('old hears it was closed')

    async def main():
        old = await tale.spawn(old_reader)
        await tale.sleep(0)
        a.close()
        c, d = socket.socketpair()
        with c, d:
            if c.fileno() != fd:
                c, d = d, c
            if c.fileno() != fd:
                pytest.skip('the OS did not hand the number back')
            await tale.wait_writable(fd)             # the new socket, by number
            seen.append('new writable')
            await old.join()

    with deadline():
        tale.run(main)
    b.close()
    assert sorted(seen) == ['new writable', 'old hears it was closed']


# 2. An outside cancellation wins over a scope's own deadline.

@pytest.mark.parametrize('scope', [tale.move_on_after, tale.timeout_after])
def test_an_outside_cancel_is_not_swallowed_by_a_deadline_in_cleanup(scope):
    rounds = []

    async def worker():
        while True:
            rounds.append(tale.clock())
            async with scope(0.2):
                try:
                    await tale.sleep(1)
                finally:
                    await tale.sleep(0.3)

    async def main():
        t = await tale.spawn(worker)
        await tale.sleep(0.1)
        await t.cancel()
        return t

    with deadline():
        t = tale.run(main, clock=VirtualClock())
    assert t.cancelled(), t.state
    assert rounds == [0.0]


def test_a_cleanup_deadline_opened_after_the_cancel_still_works():
    # The opposite case: a scope entered *after* the outside cancel arrived
    # bounds the cleanup, as asyncio.timeout does.
    log = []

    async def worker():
        try:
            await tale.sleep(10)
        finally:
            async with tale.move_on_after(1) as cleanup:
                await tale.sleep(5)
            log.append((cleanup.expired, tale.clock()))

    async def main():
        t = await tale.spawn(worker)
        await tale.sleep(0.5)
        await t.cancel()
        return t

    t = tale.run(main, clock=VirtualClock())
    assert t.cancelled()
    assert log == [(True, 1.5)]


def test_an_outside_cancel_wins_over_a_task_groups_own_stop():
    async def fail():
        await tale.sleep(0.1)
        raise ValueError('child')

    async def body():
        async with tale.TaskGroup() as g:
            await g.spawn(fail)
            try:
                await tale.sleep(1)
            finally:
                await tale.sleep(0.5)

    async def main():
        t = await tale.spawn(body)
        await tale.sleep(0.2)           # the group is stopping its body now
        await t.cancel()
        return t.exception()

    with deadline():
        error = tale.run(main, clock=VirtualClock())
    # the child's failure is still reported, the cancellation goes on beside
    # it, and the task did not carry on
    assert isinstance(error, BaseExceptionGroup)
    assert [type(e) for e in error.exceptions] == [ValueError, tale.CancelledError]


# 3. When run() ends, every task it started has ended too.

def test_tasks_of_a_dead_loop_never_wake_in_the_next_one():
    lock_box = []

    async def holder():
        lock = tale.Lock()
        lock_box.append(lock)
        async with lock:
            await tale.Event().wait()    # never set: a deadlock

    async def waiter():
        await tale.sleep(0)
        await lock_box[0].acquire()

    async def first():
        await tale.spawn(holder)
        await tale.spawn(waiter)

    with pytest.raises(tale.DeadlockError):
        tale.run(first)
    gc.collect()

    async def second():
        await tale.sleep(0.01)
        return 'second ran alone'

    assert tale.run(second) == 'second ran alone'


def test_run_finishes_every_task_on_deadlock_and_their_finally_blocks_may_await():
    cleaned = []

    async def stuck(n):
        try:
            await tale.Event().wait()
        finally:
            await tale.sleep(0)
            cleaned.append(n)

    async def main():
        tasks = [await tale.spawn(stuck, n) for n in range(3)]
        await tasks[0].join()

    with pytest.raises(tale.DeadlockError):
        tale.run(main)
    assert sorted(cleaned) == [0, 1, 2]


# 4. One descriptor named two ways is one file.

@pytest.mark.parametrize('name_it', ['int-and-socket', 'equal-big-ints'])
def test_a_reader_and_a_writer_naming_one_fd_differently_are_both_woken(name_it):
    a, b = socket.socketpair()
    fds = []
    while len(fds) < 300:               # push the descriptor numbers past 256
        fds.append(socket.socket())
    c, d = socket.socketpair()
    for s in fds:
        s.close()
    woken = []

    async def reader(obj):
        await tale.wait_readable(obj)
        woken.append('reader')

    async def writer(obj):
        await tale.wait_writable(obj)
        woken.append('writer')
        d.send(b'x')

    async def main():
        if name_it == 'int-and-socket':
            r_obj, w_obj = c.fileno(), c
        else:
            r_obj, w_obj = int(str(c.fileno())), int(str(c.fileno()))
            assert r_obj is not w_obj and r_obj > 256
        r = await tale.spawn(reader, r_obj)
        await tale.sleep(0)
        w = await tale.spawn(writer, w_obj)
        await w.join()
        await r.join()

    with deadline():
        tale.run(main)
    for s in (a, b, c, d):
        s.close()
    assert woken == ['writer', 'reader']


# 5. A joined failure is released at once; memory stays flat.

def test_failed_tasks_are_released_once_joined():
    async def handler():
        payload = bytearray(100_000)          # noqa: F841  (kept alive by the frame)
        raise ConnectionResetError('peer went away')

    async def main():
        for _ in range(300):
            t = await tale.spawn(handler)
            with contextlib.suppress(ConnectionResetError):
                await t.join()
        gc.collect()
        current, _ = tracemalloc.get_traced_memory()
        return current

    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        during = tale.run(main)
    finally:
        tracemalloc.stop()
    assert during - before < 3_000_000, during - before   # 300 x 100 kB = 30 MB if kept


def test_an_unjoined_failure_is_reported_when_its_task_is_released():
    async def crash():
        raise KeyError('nobody listens')

    async def main():
        await tale.spawn(crash)
        await tale.sleep(0)
        await tale.sleep(0)
        # the task is finished and the kernel let go of it: reported already
        return [str(w.message) for w in caught]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        seen = tale.run(main)
    assert len(seen) == 1 and 'nobody listens' in seen[0] and 'crash' in seen[0]
    assert all(issubclass(w.category, tale.TaskFailureWarning) for w in caught)


# 6. A deadlock names its stuck tasks, what each waits on, and the failures
#    nobody joined.

def test_a_deadlock_names_the_stuck_tasks_and_what_they_wait_on():
    a, b = socket.socketpair()
    lock, queue, event = tale.Lock(), tale.Queue(), tale.Event()

    async def crash():
        raise ValueError('the producer died')

    async def on_lock():
        await lock.acquire()

    async def on_queue():
        await queue.get()

    async def on_event():
        await event.wait()

    async def main():
        await lock.acquire()
        await tale.spawn(crash)
        await tale.spawn(on_lock)
        await tale.spawn(on_queue)
        e = await tale.spawn(on_event)
        await e.join()

    with warnings.catch_warnings():
        warnings.simplefilter('ignore', tale.TaskFailureWarning)
        with pytest.raises(tale.DeadlockError) as info:
            tale.run(main)
    text = str(info.value)
    assert 'main' in text and 'join' in text and 'on_event' in text
    assert 'on_lock' in text and 'Lock' in text
    assert 'on_queue' in text and 'Queue' in text
    assert 'Event' in text
    assert 'the producer died' in text               # the likely cause
    assert {t.name.rsplit('.', 1)[-1] for t in info.value.tasks} >= {
        'main', 'on_lock', 'on_queue', 'on_event'}
    a.close()
    b.close()


# 7. A group that is aborting starts no new child that could outlive it.

def test_a_child_spawned_into_an_aborting_group_is_cancelled_before_it_runs():
    started = []

    async def late():
        started.append('late')
        await tale.sleep(3600)

    async def sibling(g):
        try:
            await tale.sleep(10)
        finally:
            await g.spawn(late)

    async def fail():
        await tale.sleep(0.1)
        raise ValueError('first')

    async def main():
        async with tale.TaskGroup() as g:
            await g.spawn(sibling, g)
            await g.spawn(fail)

    with deadline():
        with pytest.raises(BaseExceptionGroup) as info:
            tale.run(main, clock=VirtualClock())
    assert [type(e) for e in info.value.exceptions] == [ValueError]
    assert started == []


# 8. SystemExit and KeyboardInterrupt: every task's finally runs in the loop.

@pytest.mark.parametrize('exc_type', [SystemExit, KeyboardInterrupt])
def test_a_process_ending_exception_cancels_every_task_inside_the_loop(exc_type):
    cleaned = []

    async def worker(n):
        try:
            await tale.sleep(60)
        finally:
            await tale.sleep(0)             # an await in cleanup works
            cleaned.append(n)

    async def quitter():
        await tale.sleep(0.01)
        raise exc_type(3)

    async def main():
        for n in range(3):
            await tale.spawn(worker, n)
        await tale.spawn(quitter)
        await tale.sleep(60)

    with pytest.raises(exc_type):
        tale.run(main)
    assert sorted(cleaned) == [0, 1, 2]


# 9. A queue keeps its order when a getter handed an item is cancelled.

@pytest.mark.parametrize('kind, expected', [
    (tale.Queue, ['a', 'b']), (tale.LifoQueue, ['b', 'a']),
    (tale.PriorityQueue, ['a', 'b'])])
def test_queue_order_survives_a_cancelled_getter(kind, expected):
    q = kind()
    got = []

    async def getter():
        got.append(await q.get())

    async def main():
        g0 = await tale.spawn(getter)
        g1 = await tale.spawn(getter)
        await tale.sleep(0)
        await q.put('a')
        await q.put('b')
        await g0.cancel()
        g2 = await tale.spawn(getter)
        await g1.join()
        await g2.join()

    with deadline():
        tale.run(main)
    assert got == expected
    assert q.empty()


# 10. An infinite deadline is no deadline.

def test_an_infinite_deadline_under_the_virtual_clock_is_a_deadlock():
    async def main():
        async with tale.move_on_after(math.inf):
            await tale.Event().wait()

    clock = VirtualClock()
    with deadline(), pytest.raises(tale.DeadlockError):
        tale.run(main, clock=clock)
    assert clock.jumps == []


@pytest.mark.parametrize('scope', [tale.move_on_after, tale.timeout_after])
def test_none_means_no_deadline(scope):
    async def main():
        async with scope(None) as s:
            await tale.sleep(5)
        return s.expired, tale.clock()

    assert tale.run(main, clock=VirtualClock()) == (False, 5.0)


# 11. TaskGroup.spawn checks what it is given, as tale.spawn does.

def test_task_group_spawn_refuses_a_plain_function_at_the_call():
    def plain():
        return 1

    async def main():
        async with tale.TaskGroup() as g:
            with pytest.raises(TypeError, match='plain'):
                await g.spawn(plain)
            return 'the group lives'

    assert tale.run(main) == 'the group lives'


def test_task_group_spawn_accepts_a_coroutine_object():
    async def child(x):
        return x * 2

    async def main():
        async with tale.TaskGroup() as g:
            t = await g.spawn(child(21))
        return t.result(), t.name

    result, name = tale.run(main)
    assert result == 42 and 'child' in name


# 12. One loop per thread.

def test_two_threads_each_run_their_own_loop():
    results = {}
    barrier = threading.Barrier(2)

    async def main(name):
        barrier.wait(timeout=5)           # both loops are running now
        for _ in range(20):
            await tale.sleep(0.001)
        return name

    def run(name):
        results[name] = tale.run(main, name)

    threads = [threading.Thread(target=run, args=(n,)) for n in ('one', 'two')]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == {'one': 'one', 'two': 'two'}


# Cancelling many parked waiters is linear, not quadratic.

def test_cancelling_parked_waiters_newest_first_is_linear():
    import time

    def cost(n):
        lock = tale.Lock()

        async def waiter():
            await lock.acquire()

        async def main():
            await lock.acquire()
            tasks = [await tale.spawn(waiter) for _ in range(n)]
            await tale.sleep(0)
            start = time.perf_counter()
            for t in reversed(tasks):
                await t.cancel()
            return time.perf_counter() - start

        return tale.run(main, debug=False)      # (debug mode's checks are O(n) a tick)

    gc.disable()                # the collector's own cost is not the point here
    try:
        small, large = cost(2000), cost(16000)
    finally:
        gc.enable()
    # linear: about 8x; quadratic (a search of the line per cancel): about 64x
    assert large < 20 * small, (small, large)


def test_a_joined_task_is_not_kept_alive_by_its_joiner():
    import weakref

    async def child():
        return 'done'

    async def main():
        task = await tale.spawn(child)
        await task.join()
        ref = weakref.ref(task)
        del task
        await tale.sleep(0)             # (the loop's last request names it until the next)
        return ref() is None            # the joiner no longer points at it

    gc.disable()
    try:
        assert tale.run(main, debug=False)
    finally:
        gc.enable()


# A program that uses up its descriptors must still be able to wait on the
# files it already has: the loop's own descriptor (its selector) is taken
# when run() starts, not at the first wait, when none may be left.

def test_a_loop_out_of_descriptors_still_waits_on_the_files_it_has():
    a, b = socket.socketpair()
    a.setblocking(False)
    hogs = []
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)

    async def main():
        # every free descriptor is taken, then a peer writes: the wait works
        try:
            while True:
                hogs.append(socket.socket())
        except OSError:
            pass
        b.send(b'x')
        await tale.wait_readable(a)
        return a.recv(1)

    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir('/proc/self/fd')) + 16, hard))
        with deadline():
            assert tale.run(main) == b'x'
    finally:
        for sock in hogs:
            sock.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        a.close()
        b.close()
    assert len(hogs) > 0
