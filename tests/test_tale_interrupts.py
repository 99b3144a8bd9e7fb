"""Ctrl-C at every moment: the nastiest time to be interrupted.

Ctrl-C can come at any bytecode, the loop's own bookkeeping included.
These tests do not guess where that matters: a trace function sends the
process SIGINT at the n-th line the kernel executes, for every n
a small but busy program reaches (timers, I/O, a timeout scope, a task
group, a lock, a queue, cleanup that awaits), and each time checks what a
user is promised: `run()` raises `KeyboardInterrupt` promptly, and every
task that started has run its `finally` block by then, inside the loop.
"""
import os
import signal
import socket
import sys
import threading
import time
import weakref

import pytest

import bounded
import tale
import tale.kernel
import tale.task
import tale.timers

WATCHED = {os.path.realpath(module.__file__) for module in (tale.kernel, tale.task, tale.timers)}


def busy_program(a, b):
    """main() and what its tasks saw: (started, cleaned up, cleaned up in the loop).

    `a` and `b` are a connected pair of sockets; the caller closes them.
    """
    started, cleaned, in_loop = set(), set(), set()

    async def cleanup(name):
        cleaned.add(name)
        try:
            await tale.sleep(0)         # an await in a finally reaches the loop:
        except tale.CancelledError:     # it may be cancelled there (Ctrl-C came
            pass                        # after this task's own ending began),
        in_loop.add(name)               # but not closed by force nor run outside it

    async def sleeper(name, seconds):
        started.add(name)
        try:
            await tale.sleep(seconds)
        finally:
            await cleanup(name)

    async def reader(name, sock):
        started.add(name)
        try:
            await tale.wait_readable(sock)
            sock.recv(1)
        finally:
            await cleanup(name)

    async def locker(name, lock, queue):
        started.add(name)
        try:
            async with lock:
                await tale.sleep(0)
                await queue.put(name)
        finally:
            await cleanup(name)

    async def getter(name, queue):
        started.add(name)
        try:
            for _ in range(2):
                await queue.get()
        finally:
            await cleanup(name)

    async def main():
        started.add('main')
        try:
            lock, queue = tale.Lock(), tale.Queue(1)
            tasks = [await tale.spawn(sleeper, 's0', 0),
                     await tale.spawn(sleeper, 's1', 0.001),
                     await tale.spawn(reader, 'r', a),
                     await tale.spawn(getter, 'g', queue)]
            async with tale.TaskGroup() as group:
                await group.spawn(locker, 'l0', lock, queue)
                await group.spawn(locker, 'l1', lock, queue)
                async with tale.move_on_after(0.001):
                    await tale.sleep(1)
            b.send(b'x')
            for task in tasks:
                await task.join()
        finally:
            await cleanup('main')

    return main, (started, cleaned, in_loop)


def run_interrupted_at(n):
    """Run the program; at the n-th line the kernel executes, press Ctrl-C.

    A trace function counts the lines of the kernel's files and, at the n-th,
    sends this process SIGINT, as a terminal would.  Returns (where it
    struck or None, what run() did, the three sets).
    """
    count = 0
    struck = None

    def local(frame, event, arg):
        nonlocal count, struck
        if event == 'line' and struck is None:
            count += 1
            if count == n:
                struck = (frame.f_code.co_name, frame.f_lineno)
                signal.raise_signal(signal.SIGINT)
        return local

    def tracer(frame, event, arg):
        if os.path.realpath(frame.f_code.co_filename) in WATCHED:
            return local
        return None

    a, b = socket.socketpair()
    main, seen = busy_program(a, b)
    try:
        with bounded.deadline(10):
            sys.settrace(tracer)
            try:
                outcome = ('returned', tale.run(main, debug=False))
            except (KeyboardInterrupt, tale.DeadlockError, RuntimeError) as error:
                outcome = ('raised', error)
            finally:
                sys.settrace(None)
    finally:
        a.close()
        b.close()
    return struck, outcome, seen


def test_the_program_runs_to_the_end_when_nobody_interrupts_it():
    struck, outcome, (started, cleaned, in_loop) = run_interrupted_at(10 ** 9)
    assert struck is None and outcome == ('returned', None)
    assert started == cleaned == in_loop == {'main', 's0', 's1', 'r', 'g', 'l0', 'l1'}


# Ctrl-C in a task between making a coroutine and spawning it leaves that
# coroutine unawaited, as it would in any Python program: Python says so.
@pytest.mark.filterwarnings('ignore:coroutine .* was never awaited:RuntimeWarning')
def test_ctrl_c_at_any_line_of_the_kernel_ends_run_with_every_task_cleaned_up():
    checked, failures = 0, []
    n = 1
    while True:
        struck, (how, what), (started, cleaned, in_loop) = run_interrupted_at(n)
        if struck is None:              # the program ended before the n-th line
            break
        checked += 1
        if how != 'raised' or type(what) is not KeyboardInterrupt:
            failures.append((n, struck, f'run() {how} {what!r}'))
        elif cleaned != started:
            failures.append((n, struck, f'no finally for {sorted(started - cleaned)}'))
        elif in_loop != started:
            failures.append((n, struck, f'finally outside the loop: {sorted(started - in_loop)}'))
        n += 1
    assert checked > 500                 # the program is busy enough to matter
    assert not failures, failures[:10]


def test_ctrl_c_in_a_finalizer_is_held_for_the_loop_not_lost():
    """Python drops an exception raised in a finalizer ("Exception ignored"):
    a Ctrl-C there is held and raised by the loop's next tick instead."""
    after = []

    class Thing:
        pass

    async def main():
        thing = Thing()
        weakref.finalize(thing, signal.raise_signal, signal.SIGINT)
        del thing                       # the finalizer runs here, in the task
        after.append('the task went on')
        await tale.sleep(0)
        after.append('and was not interrupted at its next await')

    with bounded.deadline(5), pytest.raises(KeyboardInterrupt):
        tale.run(main, debug=False)
    assert after == ['the task went on']


def test_a_loop_asleep_until_its_next_timer_wakes_for_ctrl_c_at_once():
    main_thread = threading.get_ident()
    timer = threading.Timer(0.2, signal.pthread_kill, (main_thread, signal.SIGINT))

    async def main():
        timer.start()
        await tale.sleep(30)

    start = time.monotonic()
    with bounded.deadline(10), pytest.raises(KeyboardInterrupt):
        tale.run(main, debug=False)
    timer.join()
    assert time.monotonic() - start < 5
