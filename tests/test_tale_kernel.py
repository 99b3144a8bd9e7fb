"""The kernel of tale: running, spawning, joining, requests, ticks, I/O."""
import inspect
import math
import selectors
import socket
from pathlib import Path

import pytest

import tale
from tale import kernel, traps
from tale.testing import VirtualClock

#: Lines of code in kernel.py, not counting comments, docstrings and blank lines.
KERNEL_TARGET_CODE_LINES = 600


def live_timers(k):
    return len(k._timers)


def test_run_returns_the_result_and_passes_arguments():
    async def main(a, b):
        return a + b
    assert tale.run(main, 2, 3) == 5


def test_run_accepts_a_coroutine_object():
    async def main():
        return 'coro'
    assert tale.run(main()) == 'coro'


def test_an_exception_escapes_run_as_itself(capsys):
    error = KeyError('lost')

    async def main():
        raise error
    with pytest.raises(KeyError) as info:
        tale.run(main)
    assert info.value is error
    assert capsys.readouterr().err == ''     # raised, so not reported as well


def test_join_returns_the_result_and_reraises_the_same_exception():
    error = ValueError('child')

    async def good():
        return 42

    async def bad():
        raise error

    async def main():
        g = await tale.spawn(good)
        b = await tale.spawn(bad)
        assert await g.join() == 42
        with pytest.raises(ValueError) as info:
            await b.join()
        assert info.value is error and b.exception() is error
        return g.exception(), g.result(), b.done(), b.cancelled()
    assert tale.run(main) == (None, 42, True, False)


def test_join_a_task_that_already_finished():
    async def quick():
        return 'done'

    async def main():
        task = await tale.spawn(quick)
        await tale.sleep(0)
        await tale.sleep(0)
        assert task.done()
        return await task.join()
    assert tale.run(main) == 'done'


def test_joining_yourself_is_a_clear_error():
    async def main():
        me = await tale.current_task()
        with pytest.raises(RuntimeError, match='cannot join itself'):
            await me.join()
        return 'survived'
    assert tale.run(main) == 'survived'


def test_current_task_is_the_object_spawn_returned():
    seen = []

    async def child():
        seen.append(await tale.current_task())

    async def main():
        task = await tale.spawn(child)
        await task.join()
        return task
    task = tale.run(main)
    assert seen == [task]


def test_a_bad_yield_gets_a_type_error_and_the_loop_goes_on():
    import types
    log = []

    @types.coroutine
    def rogue(value):
        yield value

    async def confused(value):
        try:
            await rogue(value)
        except TypeError as error:
            log.append(str(error))

    async def bystander():
        for i in range(3):
            log.append(i)
            await tale.sleep(0)

    async def main():
        tasks = [await tale.spawn(bystander)]
        for value in ['sleep', None, ('no_such_trap', 1), ()]:
            tasks.append(await tale.spawn(confused, value))
        for task in tasks:
            await task.join()
    tale.run(main)
    assert log[0] == 0
    messages = [m for m in log if isinstance(m, str)]
    assert [m.split('yielded ')[1].split(',')[0] for m in messages] == [
        "'sleep'", 'None', "('no_such_trap'", '()']
    assert all('not a tale request' in m for m in messages)
    assert [m for m in log if isinstance(m, int)] == [0, 1, 2]


def test_a_refused_request_is_thrown_into_its_task_and_the_loop_goes_on():
    log = []

    async def reader(name, sock):
        try:
            await tale.wait_readable(sock)
            log.append((name, sock.recv(10)))
        except RuntimeError as error:
            log.append((name, 'already waits' in str(error)))

    async def main():
        a, b = socket.socketpair()
        with a, b:
            first = await tale.spawn(reader, 'first', a)
            await tale.sleep(0)
            second = await tale.spawn(reader, 'second', a)
            await tale.sleep(0)
            b.send(b'data')
            await first.join()
            await second.join()
    tale.run(main)
    assert log == [('second', True), ('first', b'data')]


def test_a_fault_in_a_handler_stops_the_loop_as_an_internal_error():
    """A handler's own bug is not thrown into the task as if its request were bad."""
    cleaned = []

    class Broken(kernel.Kernel):
        def trap_current(self, task, request):
            raise KeyError('a kernel bug')

    async def bystander():
        try:
            await tale.sleep(10)
        finally:
            cleaned.append('bystander')

    async def main():
        await tale.spawn(bystander)
        await tale.sleep(0)
        try:
            await tale.current_task()
        except KeyError:
            cleaned.append('main saw the bug as its own')
            raise
    with pytest.raises(RuntimeError, match="internal error answering 'current'") as info:
        Broken(VirtualClock()).run(main)
    assert isinstance(info.value.__cause__, KeyError)
    assert cleaned == ['bystander']          # run() finished every task on its way out


def test_not_a_file_is_refused_at_the_await():
    async def main():
        with pytest.raises(AttributeError):
            await tale.wait_readable('not a file')
        with pytest.raises(ValueError):
            await tale.sleep(float('nan'))
        return 'the loop goes on'
    assert tale.run(main) == 'the loop goes on'


def test_sleep_zero_is_fifo_round_robin():
    log = []

    async def worker(name):
        for i in range(3):
            log.append(f'{name}{i}')
            await tale.sleep(0)

    async def main():
        for name in 'abc':
            await tale.spawn(worker, name)
    tale.run(main)
    assert log == ['a0', 'b0', 'c0', 'a1', 'b1', 'c1', 'a2', 'b2', 'c2']


def test_fast_path_and_generic_sleep_zero_agree():
    log = []

    async def worker(name, request):
        for i in range(2):
            log.append(f'{name}{i}')
            await traps._trap(request)

    generic = ('sleep', 0)
    assert generic == traps.YIELD and generic is not traps.YIELD   # the slow path

    async def main():
        await tale.spawn(worker, 'f', traps.YIELD)
        await tale.spawn(worker, 'g', generic)
    tale.run(main)
    assert log == ['f0', 'g0', 'f1', 'g1']


def test_sleep_zero_answers_none_even_after_an_instant_answer():
    # current_task() is answered on the spot, leaving the Task as the task's
    # last answer; the fast path of sleep(0) must not hand it back again.
    # (tale.sleep drops its answer, so the fast path's request is awaited bare.)
    async def main():
        me = await tale.current_task()
        fast = await traps._trap(traps.YIELD)
        await tale.spawn(tale.sleep, 0)
        generic = await traps._trap(('sleep', 0))
        return me, fast, generic

    me, fast, generic = tale.run(main)
    assert isinstance(me, tale.Task)
    assert (fast, generic) == (None, None)


def test_a_task_woken_during_a_tick_runs_in_the_next_one():
    # main spawns a child and waits to join it; the child is started in the
    # next tick; when it ends, main wakes, but the task that was ready
    # alongside the child (the ticker) runs before main does.
    log = []
    k = kernel.Kernel()

    async def child():
        log.append('child ends')

    async def ticker():
        for i in range(3):
            log.append(f'tick {i}')
            await tale.sleep(0)

    async def main():
        await tale.spawn(ticker)
        task = await tale.spawn(child)
        await task.join()
        log.append('main wakes')
    k.run(main)
    assert log == ['tick 0', 'child ends', 'tick 1', 'main wakes', 'tick 2']


def test_every_request_has_a_handler_and_is_made_somewhere():
    """One route per request: the table, the handlers and the requests made agree,
    and no private wrapper is left without a caller."""
    import ast
    handlers = {name[len('trap_'):] for name, _ in
                inspect.getmembers(kernel.Kernel, inspect.isfunction)
                if name.startswith('trap_')}
    table = set(kernel.Kernel()._traps)
    package = Path(traps.__file__).parent
    made, names_used = set(), set()
    for module in package.glob('*.py'):
        tree = ast.parse(module.read_text())
        for node in ast.walk(tree):
            if (isinstance(node, ast.Tuple) and node.elts
                    and isinstance(node.elts[0], ast.Constant)
                    and node.elts[0].value in table):
                made.add(node.elts[0].value)
            if isinstance(node, ast.Name):
                names_used.add(node.id)
    assert handlers == table == made
    wrappers = {name for name, value in vars(traps).items()
                if name.startswith('_') and not name.startswith('__')
                and inspect.isfunction(value) and name not in ('_trap', '_coroutine')}
    assert wrappers >= {'_join', '_cancel', '_current', '_timeout', '_untimeout', '_park'}
    assert wrappers <= names_used, wrappers - names_used


def test_only_the_traps_yield_requests():
    """Principle 1: the only yields of the package are `_trap`'s and `sleep`'s."""
    import ast
    found = []
    for module in Path(traps.__file__).parent.glob('*.py'):
        tree = ast.parse(module.read_text())
        for func in ast.walk(tree):
            if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found += [(module.name, func.name) for node in ast.walk(func)
                          if isinstance(node, ast.Yield)]   # (yield from delegates)
    # (TimerQueue.due is a plain generator that the kernel itself iterates)
    assert sorted(found) == [('timers.py', 'due'), ('traps.py', '_trap'), ('traps.py', 'sleep')]


def test_sleep_is_a_trap_of_its_own():
    """`sleep` yields its request itself: YIELD for zero or less, a tuple otherwise."""
    assert traps.sleep(0).send(None) is traps.YIELD
    assert traps.sleep(-1).send(None) is traps.YIELD
    assert traps.sleep(1.5).send(None) == ('sleep', 1.5)


def test_an_exception_nobody_retrieved_is_reported():
    async def doomed():
        raise ZeroDivisionError('nobody listens')

    async def fine():
        raise OSError('somebody listens')

    async def main():
        await tale.spawn(doomed)
        task = await tale.spawn(fine)
        await task.wait()
        assert isinstance(task.exception(), OSError)
    with pytest.warns(tale.TaskFailureWarning) as reports:
        tale.run(main)
    texts = [str(r.message) for r in reports]
    assert len(texts) == 1
    assert 'doomed' in texts[0] and 'nobody joined it' in texts[0]
    assert 'ZeroDivisionError: nobody listens' in texts[0]
    assert reports[0].filename == __file__            # where doomed is defined


def test_an_unjoined_failure_fails_the_test_that_caused_it(pytester, monkeypatch):
    """pytest.ini turns the report into an error, even when it comes from a finalizer."""
    monkeypatch.setenv('PYTHONPATH', str(Path(tale.__file__).parent.parent))
    pytester.makeini("""
        [pytest]
        filterwarnings =
            error::tale.TaskFailureWarning
            error::pytest.PytestUnraisableExceptionWarning
    """)
    pytester.makepyfile("""
        import tale

        async def crash():
            raise KeyError('lost')

        async def main():
            await tale.spawn(crash)
            await tale.sleep(0)

        def test_careless():
            tale.run(main)

        def test_careful():
            async def joined():
                t = await tale.spawn(crash)
                try:
                    await t.join()
                except KeyError:
                    pass
            tale.run(joined)
    """)
    result = pytester.runpytest_subprocess('-p', 'no:cacheprovider')
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(['*test_careless*'])


def test_a_daemon_spawned_during_shutdown_is_cancelled():
    log = []

    async def late():
        log.append('late ran')
        await tale.sleep(3600)

    async def daemon():
        try:
            await tale.sleep(3600)
        except tale.CancelledError:
            task = await tale.spawn(late, daemon=True)
            await task.wait()
            log.append(task.state)
            raise

    async def main():
        await tale.spawn(daemon, daemon=True)
        await tale.sleep(0)
    clock = VirtualClock()
    tale.run(main, clock=clock)
    assert log == ['cancelled']
    assert clock.now() == 0             # nobody slept: shutdown took no time


def test_a_nan_delay_is_refused_and_the_loop_goes_on():
    log = []

    async def other():
        await tale.sleep(2)
        log.append(('other woke at', tale.clock()))

    async def main():
        await tale.spawn(other)
        for wait in (lambda: tale.sleep(math.nan),
                     lambda: tale.move_on_after(math.nan).__aenter__()):
            with pytest.raises(ValueError, match='nan'):
                await wait()
        async with tale.move_on_after(math.inf):
            await tale.sleep(1)
        log.append(('main slept at', tale.clock()))
    tale.run(main, clock=VirtualClock())
    assert log == [('main slept at', 1), ('other woke at', 2)]


def test_spawning_a_plain_function_is_refused_where_it_is_called():
    def plain(x):
        return x + 1

    async def main():
        with pytest.raises(TypeError, match=r'plain.* returned 2'):
            await tale.spawn(plain, 1)
        sleeper = await tale.spawn(tale.sleep, 1)      # a generator-based coroutine
        await sleeper.join()
        return 'went on'
    assert tale.run(main, clock=VirtualClock()) == 'went on'


def test_running_a_plain_function_is_refused_with_its_name():
    def plain():
        return 3
    with pytest.raises(TypeError, match=r'tale.run\(\) runs async functions.*plain.*3'):
        tale.run(plain)
    assert kernel._running.kernel is None

    async def fine():
        return 'ok'
    assert tale.run(fine) == 'ok'


def test_daemons_are_cancelled_when_the_other_tasks_end():
    log = []

    async def daemon():
        try:
            while True:
                await tale.sleep(10)
        except tale.CancelledError:
            log.append('daemon cancelled')
            raise

    async def worker():
        await tale.sleep(25)
        log.append('worker done')

    async def main():
        await tale.spawn(daemon, daemon=True)
        await tale.spawn(worker)
        log.append('main done')
    tale.run(main, clock=VirtualClock())
    assert log == ['main done', 'worker done', 'daemon cancelled']


def test_cancel_a_sleeping_task_and_its_timer_goes():
    k = kernel.Kernel(VirtualClock())

    async def sleeper():
        await tale.sleep(100)

    async def main():
        task = await tale.spawn(sleeper)
        await tale.sleep(1)
        assert task.state == 'waiting (sleep)'
        await task.cancel()
        assert task.cancelled() and task.state == 'cancelled'
        k.check_invariants(from_task=True)
        return tale.clock(), live_timers(k)
    assert k.run(main) == (1.0, 0)


def test_cancel_a_task_blocked_in_join():
    async def forever():
        await tale.sleep(1000)

    async def joiner(task):
        await task.join()

    async def main():
        long = await tale.spawn(forever)
        waiting = await tale.spawn(joiner, long)
        await tale.sleep(0)
        await waiting.cancel()
        assert waiting.cancelled() and not long.done()
        assert long._joiners == []
        await long.cancel()
        return long.state
    assert tale.run(main, clock=VirtualClock()) == 'cancelled'


def test_cancel_does_not_mark_an_error_retrieved_twice_over():
    async def stubborn():
        try:
            await tale.sleep(5)
        finally:
            raise RuntimeError('cleanup failed')

    async def main():
        task = await tale.spawn(stubborn)
        await tale.sleep(0)
        await task.cancel()
    with pytest.warns(tale.TaskFailureWarning, match='cleanup failed'):
        tale.run(main, clock=VirtualClock())


def test_cancelling_yourself_is_an_error():
    async def main():
        me = await tale.current_task()
        with pytest.raises(RuntimeError, match='cannot cancel itself'):
            await me.cancel()
        return 'ok'
    assert tale.run(main) == 'ok'


def test_wait_readable_and_writable_on_a_socketpair():
    log = []

    async def reader(sock):
        await tale.wait_readable(sock)
        log.append(('read', sock.recv(100)))

    async def writer(sock):
        await tale.sleep(0)
        await tale.wait_writable(sock)
        log.append('write')
        sock.send(b'hello')

    async def main():
        a, b = socket.socketpair()
        with a, b:
            a.setblocking(False)
            b.setblocking(False)
            r = await tale.spawn(reader, a)
            w = await tale.spawn(writer, b)
            await r.join()
            await w.join()
    tale.run(main)
    assert log == ['write', ('read', b'hello')]


def test_reader_and_writer_share_a_socket_and_cancel_unregisters():
    k = kernel.Kernel()

    async def main():
        a, b = socket.socketpair()
        with a, b:
            a.setblocking(False)
            r = await tale.spawn(tale.wait_readable, a)
            await tale.sleep(0)
            await tale.wait_writable(a)        # same socket, other direction
            k.check_invariants(from_task=True)
            assert r.state.startswith('waiting (read on <socket')
            await r.cancel()
            k.check_invariants(from_task=True)
            return len(k._selector.get_map())
    assert k.run(main) == 0


def test_invariants_hold_after_every_tick():
    k = kernel.Kernel(VirtualClock())
    checks = []

    async def watcher():
        while True:
            k.check_invariants(from_task=True)
            checks.append(tale.clock())
            await tale.sleep(0.5)

    async def napper(seconds):
        await tale.sleep(seconds)

    async def main():
        await tale.spawn(watcher, daemon=True)
        tasks = [await tale.spawn(napper, s) for s in (3, 1, 2)]
        await tasks[0].cancel()
        for task in tasks[1:]:
            await task.join()
    k.run(main)
    assert checks == [0.0, 0.5, 1.0, 1.5, 2.0]


def test_deadlock_is_reported():
    async def main():
        me = await tale.current_task()
        await tale.spawn(me.join)
        await tale.Event().wait()
    with pytest.raises(RuntimeError, match='deadlock'):
        tale.run(main)


def test_clock_outside_a_loop_and_nested_run_are_errors():
    with pytest.raises(RuntimeError, match='no tale loop'):
        tale.clock()

    async def inner():
        pass

    async def main():
        with pytest.raises(RuntimeError, match='inside a running loop'):
            tale.run(inner)
        return tale.clock()
    assert tale.run(main, clock=VirtualClock(start=7)) == 7.0


def test_timers_with_equal_deadlines_wake_in_order():
    log = []

    async def napper(name):
        await tale.sleep(1)
        log.append((name, tale.clock()))

    async def main():
        for name in 'xyz':
            await tale.spawn(napper, name)
    tale.run(main, clock=VirtualClock())
    assert log == [('x', 1.0), ('y', 1.0), ('z', 1.0)]


def test_check_invariants_catches_a_broken_rule():
    """The checker is not vacuous: break each rule by hand and it objects."""
    k = kernel.Kernel(VirtualClock())
    caught = []

    async def sleeper():
        await tale.sleep(10)

    async def main():
        task = await tale.spawn(sleeper)
        await tale.sleep(0)
        k.check_invariants(from_task=True)                 # a sleeping task: all is well
        breakages = [
            ('sleep', lambda: setattr(task, '_waiting', 'something else'),
             lambda: setattr(task, '_waiting', 'sleep')),
            ('armed', lambda: k._timers.armed.__setitem__(-1, task),
             lambda: k._timers.armed.pop(-1)),
            ('io_waits', lambda: setattr(k, '_io_waits', 1),
             lambda: setattr(k, '_io_waits', 0)),
        ]
        for name, spoil, mend in breakages:
            spoil()
            try:
                k.check_invariants(from_task=True)
            except AssertionError:
                caught.append(name)
            mend()
        k.check_invariants(from_task=True)
        await task.cancel()
    k.run(main)
    assert caught == ['sleep', 'armed', 'io_waits']


def code_lines(source):
    """The lines that hold code: no blank line, comment or docstring counts."""
    import ast
    import io
    import tokenize
    docstrings = set()
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, 'body', None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            docstrings.update(range(body[0].lineno, body[0].end_lineno + 1))
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
            tokenize.DEDENT, tokenize.ENDMARKER}
    lines = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in skip:
            lines.update(range(token.start[0], token.end[0] + 1))
    return len(lines - docstrings)


def test_code_lines_ignores_comments_docstrings_and_blanks():
    source = 'def f():\n    """Doc,\n    two lines."""\n\n    # a comment\n    return 1  # trailing\n'
    assert code_lines(source) == 2


def test_the_kernel_stays_small():
    count = code_lines(Path(kernel.__file__).read_text())
    assert count <= KERNEL_TARGET_CODE_LINES, f'kernel.py has {count} lines of code'


def test_a_reader_that_waits_again_keeps_its_registration():
    k = kernel.Kernel()
    got = []

    async def reader(sock):
        for _ in range(3):
            await tale.wait_readable(sock)
            got.append(sock.recv(10))       # then waits again at once

    async def writer(sock):
        for message in (b'one', b'two', b'three'):
            await tale.sleep(0.001)
            sock.send(message)
            k.check_invariants(from_task=True)

    async def main():
        a, b = socket.socketpair()
        with a, b:
            a.setblocking(False)
            r = await tale.spawn(reader, a)
            await tale.spawn(writer, b)
            await r.join()
            await tale.sleep(0)             # the next poll forgets the file
            return len(k._selector.get_map())
    original = selectors.DefaultSelector
    registered = []

    class Counting(original):
        def register(self, fileobj, events, data=None):
            registered.append(fileobj)
            return super().register(fileobj, events, data)
    kernel.selectors.DefaultSelector = Counting
    try:
        assert k.run(main) == 0
    finally:
        kernel.selectors.DefaultSelector = original
    assert got == [b'one', b'two', b'three']
    assert len(registered) == 1


def test_a_reused_descriptor_does_not_inherit_a_stale_registration():
    async def reader(sock):
        await tale.wait_readable(sock)
        return sock.recv(10)

    async def main():
        results = []
        for round_ in range(3):
            a, b = socket.socketpair()
            a.setblocking(False)
            task = await tale.spawn(reader, a)
            await tale.sleep(0)
            b.send(b'round %d' % round_)
            results.append((a.fileno(), await task.join()))
            a.close()                       # closed before the next poll
            b.close()
        return results
    results = tale.run(main)
    assert [data for _, data in results] == [b'round 0', b'round 1', b'round 2']
    assert len({fd for fd, _ in results}) == 1     # the same number each time


def test_the_seldom_used_fields_live_in_one_object_made_when_first_set():
    """A task that never uses its rare fields has no _Rare; the fields read as
    their defaults, and once set they are the task's own."""
    seen = {}

    async def sleeper():
        await tale.sleep(0.01)

    async def careful():
        me = await tale.current_task()
        seen['before'] = me._rare, me._scope_depth, me._cancelled_by, me._shield
        async with tale.move_on_after(10):
            seen['inside'] = me._scope_depth
        seen['after'] = me._scope_depth, me._rare is not None

    async def main():
        plain = await tale.spawn(sleeper)
        other = await tale.spawn(careful)
        await plain.join()
        await other.join()
        other.name = 'careful one'
        assert plain._rare is None and plain.name.endswith('<locals>.sleeper')
        assert other._rare is not plain._rare and other.name == 'careful one'
        assert plain._report is None and plain._name is None
    tale.run(main)
    assert seen == {'before': (None, 0, None, None), 'inside': 1, 'after': (0, True)}


def test_spawn_refuses_and_wraps_what_run_does():
    """spawn makes _coroutine's tests itself: it accepts and refuses the same things."""
    class Awaitable:
        def __await__(self):
            yield from tale.sleep(0)
            return 'awaited'

    async def main():
        with pytest.raises(TypeError, match=r"spawn\(\) runs async functions, but .* "
                                            r"returned 42, which cannot be awaited"):
            await tale.spawn(lambda: 42)
        wrapped = await tale.spawn(Awaitable)
        assert await wrapped.join() == 'awaited' and 'Awaitable object' in wrapped.name
        slept = await tale.spawn(tale.sleep, 0)         # a generator-based trap, wrapped
        assert await slept.join() is None
        native = child()
        task = await tale.spawn(native)                 # a coroutine object, as it is
        assert await task.join() == 'child'

    async def child():
        return 'child'
    with pytest.raises(TypeError, match=r"tale.run\(\) runs async functions"):
        tale.run(lambda: 42)
    tale.run(main)
