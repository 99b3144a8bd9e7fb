"""What the chapters say about asyncio, curio and trio, checked against the
installed releases.

Each test names the chapter whose sentence it holds.  curio and trio are
pinned in requirements-bench.txt; where one is missing, or installed at
another release than the one the book names, its tests skip and say why.
asyncio is read from the running CPython 3.11.
"""
import asyncio
import errno
import asyncio.base_events
import asyncio.tasks
import inspect
import re
import sys
import types
from pathlib import Path

import pytest


def peer(name, version):
    """The installed package `name`, if it is the release the book describes."""
    module = pytest.importorskip(name, reason=f"{name} is not installed")
    installed = module.__version__
    if installed != version and not installed.startswith(version + "."):
        pytest.skip(f"{name} {installed} is installed; the book describes {version}")
    return module


def source(module, path):
    return (Path(module.__file__).parent / path).read_text()


# -- chapter 2: the trap at the bottom of every await --------------------------------

def test_ch02_curios_kernel_trap_raises_an_answer_that_is_an_exception():
    """curio's trap raises what it receives if it is an exception (lines 31 to 36)."""
    peer("curio", "1.6")
    from curio import traps
    lines = source(traps, "traps.py").splitlines()
    assert lines[30] == "def _kernel_trap(*request):"            # line 31
    assert "raise result" in "\n".join(lines[30:36])
    trap = traps._kernel_trap("trap_sleep", 0)
    assert trap.send(None) == ("trap_sleep", 0)
    with pytest.raises(KeyError):
        trap.send(KeyError("raised by the trap itself"))


def test_ch02_tales_trap_returns_an_exception_as_an_ordinary_answer():
    """tale does not do what curio does: its loop throws errors in."""
    from tale import traps
    trap = traps._trap(("now",))
    assert trap.send(None) == ("now",)
    answer = KeyError("only an answer")
    with pytest.raises(StopIteration) as stop:
        trap.send(answer)
    assert stop.value.value is answer


def test_ch02_trio_throws_an_unrecognised_yield_into_the_task():
    trio = peer("trio", "0.35")
    run = source(trio, "_core/_run.py")
    at = run.index("received unrecognized yield message")
    assert "task._next_send_fn = task.coro.throw" in run[at:at + 1500]


def test_ch02_asyncio_answers_a_bad_yield_with_a_runtime_error():
    assert "RuntimeError(f'Task got bad yield: {result!r}')" in \
        inspect.getsource(asyncio.tasks)


# -- chapter 5: timers ---------------------------------------------------------------

def test_ch05_asyncio_caps_the_select_timeout_at_a_day_and_sleep0_yields_none():
    assert asyncio.base_events.MAXIMUM_SELECT_TIMEOUT == 24 * 3600
    sleep0 = getattr(asyncio.tasks, "__sleep0")
    gen = sleep0()
    assert isinstance(gen, types.GeneratorType) and gen.send(None) is None


def test_ch05_curio_sends_a_zero_sleep_straight_back_and_splits_near_and_far():
    curio = peer("curio", "1.6")
    kernel = source(curio, "kernel.py")
    sleep = kernel[kernel.index("def trap_sleep(clock):"):]
    assert re.search(r"if clock <= 0:\s+reschedule_task\(current\)", sleep)
    assert "(current.id, sleep_type)" in kernel                  # tasks named by id
    from curio.timequeue import TimeQueue
    assert TimeQueue.cutoff == 1.0                                # "within a second"
    queue = TimeQueue()
    assert queue.near == [] and queue.far == {}


def test_ch05_ch14_trio_sleeps_in_a_cancel_scope_and_mock_clock_stands_still():
    trio = peer("trio", "0.35")
    body = inspect.getsource(trio.sleep_until)
    assert "with move_on_at(deadline):" in body and "await sleep_forever()" in body
    import trio.testing
    clock = trio.testing.MockClock()
    assert clock.rate == 0 and clock.autojump_threshold == float("inf")


# -- chapter 8: how the loop is written ----------------------------------------------

def test_ch08_trio_states_two_invariants_as_comments_and_asserts_in_reschedule():
    trio = peer("trio", "0.35")
    run = source(trio, "_core/_run.py")
    assert run.count("# Invariant:") == 2
    reschedule = run[run.index("    def reschedule("):]
    reschedule = reschedule[:reschedule.index("\n    def ", 10)]
    assert "assert task._next_send_fn is None" in reschedule


def test_ch08_ch14_trio_reverses_its_batch_at_random_and_shuffles_only_for_tests():
    trio = peer("trio", "0.35")
    run = source(trio, "_core/_run.py")
    batch = run[run.index("batch = list(runner.runq)"):]
    batch = batch[:batch.index("while batch:")]
    deterministic, normal = batch.split("else:")
    assert "_r.shuffle(batch)" in deterministic and "_ALLOW_DETERMINISTIC" in deterministic
    assert "batch.reverse()" in normal and "shuffle" not in normal


# -- chapter 11: task groups ---------------------------------------------------------

def test_ch11_curio_taskgroup_wait_strategies():
    curio = peer("curio", "1.6")
    doc = curio.TaskGroup.__doc__
    for strategy in ("wait=all", "wait=any", "wait=object", "wait=None"):
        assert strategy in doc


def test_ch11_trio_nurseries_raise_exception_groups_by_default():
    trio = peer("trio", "0.35")
    default = inspect.signature(trio.run).parameters["strict_exception_groups"].default
    assert default is True


def test_ch11_asyncio_taskgroup_uncancels_its_parent():
    import asyncio.taskgroups
    assert ".uncancel()" in inspect.getsource(asyncio.taskgroups)


# -- chapter 13 and 14: curio's kernel ----------------------------------------------

def test_ch13_ch14_curio_reads_the_monotonic_clock_and_collects_its_handlers_by_name():
    curio = peer("curio", "1.6")
    kernel = source(curio, "kernel.py")
    assert "time_monotonic = time.monotonic" in kernel
    assert "clock" not in str(inspect.signature(curio.Kernel.__init__))
    assert re.search(r"locals\(\)\.items\(\)\s+if key\.startswith\('trap_'\)", kernel)


# -- chapter 18: threads, signals, Ctrl-C, contexts and shields ----------------------

def test_ch18_cpython_writes_the_wakeup_byte_only_for_a_python_handler():
    """A signal whose handler is SIG_IGN never reaches the C handler that writes
    to the wake-up fd; one with a Python handler does."""
    import os
    import signal
    import socket
    r, w = socket.socketpair()
    r.setblocking(False)
    w.setblocking(False)
    old_handler = signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    old_fd = signal.set_wakeup_fd(w.fileno(), warn_on_full_buffer=False)
    try:
        os.kill(os.getpid(), signal.SIGUSR2)
        with pytest.raises(BlockingIOError):
            r.recv(16)
        signal.signal(signal.SIGUSR2, lambda signum, frame: None)
        os.kill(os.getpid(), signal.SIGUSR2)
        assert r.recv(16) == bytes([signal.SIGUSR2])
    finally:
        signal.set_wakeup_fd(old_fd)
        signal.signal(signal.SIGUSR2, old_handler)
        r.close()
        w.close()


def test_ch18_asyncio_wakes_its_loop_and_receives_signals_through_one_socketpair():
    import asyncio.selector_events
    import asyncio.unix_events
    selector = inspect.getsource(asyncio.selector_events.BaseSelectorEventLoop)
    assert "self._ssock, self._csock = socket.socketpair()" in selector
    assert "def _write_to_self(self):" in selector
    threadsafe = inspect.getsource(asyncio.base_events.BaseEventLoop.call_soon_threadsafe)
    assert "self._write_to_self()" in threadsafe
    unix = inspect.getsource(asyncio.unix_events._UnixSelectorEventLoop)
    assert "signal.set_wakeup_fd(self._csock.fileno())" in unix
    assert "def _process_self_data(self, data):" in unix


def test_ch18_asyncio_threads_and_calls_from_threads():
    import asyncio.threads
    import concurrent.futures.thread
    pool = inspect.getsource(concurrent.futures.thread.ThreadPoolExecutor.__init__)
    assert "max_workers = min(32, (os.cpu_count() or 1) + 4)" in pool
    assert "loop.run_in_executor(None, func_call)" in inspect.getsource(asyncio.threads)
    threadsafe = inspect.getsource(asyncio.run_coroutine_threadsafe)
    assert "future = concurrent.futures.Future()" in threadsafe


def test_ch18_asyncio_run_cancels_the_main_task_on_the_first_ctrl_c():
    import asyncio.runners
    on_sigint = inspect.getsource(asyncio.runners.Runner._on_sigint)
    first, second = on_sigint.split("return", 1)
    assert "main_task.cancel()" in first and "raise KeyboardInterrupt()" in second


def test_ch18_asyncio_steps_each_task_in_a_context_copied_when_it_is_made():
    import asyncio.events
    assert "self._context = contextvars.copy_context()" in \
        inspect.getsource(asyncio.tasks._PyTask.__init__)   # the C Task mirrors it
    assert "self._context.run(self._callback, *self._args)" in \
        inspect.getsource(asyncio.events.Handle._run)


def test_ch18_curio_threads_queue_shield_and_no_signals():
    curio = peer("curio", "1.6")
    from curio import task, thread, workers
    assert list(inspect.signature(workers.run_in_thread).parameters) == [
        "callable", "args", "call_on_cancel"]
    assert callable(thread.AWAIT) and hasattr(curio, "UniversalQueue")
    package = Path(curio.__file__).parent
    assert not (package / "signal.py").exists()
    assert not any("set_wakeup_fd" in path.read_text() for path in package.glob("*.py"))
    # disable_cancellation keeps a cancellation pending; the kernel raises it at the
    # next blocking call once cancellation is allowed again.
    kernel = source(curio, "kernel.py")
    assert "if current.allow_cancel and current.cancel_pending:" in kernel
    assert "self.task.allow_cancel = False" in inspect.getsource(task._CancellationManager)
    assert hasattr(curio, "check_cancellation")
    # A context per task only on request.
    assert inspect.signature(curio.Kernel.__init__).parameters["taskcls"].default is task.Task
    assert "contextvars.copy_context()" in inspect.getsource(task.ContextTask)


def test_ch18_trio_to_thread_defaults():
    trio = peer("trio", "0.35")
    from trio import _threads
    from trio._core import _thread_cache
    parameters = inspect.signature(trio.to_thread.run_sync).parameters
    assert parameters["abandon_on_cancel"].default is False
    assert parameters["limiter"].default is None
    assert _threads.DEFAULT_LIMIT == 40
    assert _thread_cache.IDLE_TIMEOUT == 10
    # A thread it starts finds its run in a thread-local; any other passes a token.
    assert issubclass(_threads._ParentTaskData, __import__("threading").local)
    assert inspect.signature(trio.from_thread.run).parameters["trio_token"].default is None
    assert callable(trio.lowlevel.current_trio_token)


def test_ch18_trio_every_run_has_a_wakeup_socketpair_the_main_thread_s_gets_signals():
    trio = peer("trio", "0.35")
    wakeup = source(trio, "_core/_wakeup_socketpair.py")
    assert "self.wakeup_sock, self.write_sock = socket.socketpair()" in wakeup
    on_signals = wakeup[wakeup.index("def wakeup_on_signals"):]
    assert on_signals.index("if not is_main_thread():") < on_signals.index("set_wakeup_fd")
    assert "wakeup: WakeupSocketpair = attrs.Factory(WakeupSocketpair)" in \
        source(trio, "_core/_entry_queue.py")
    signals = source(trio, "_signals.py")
    assert "token.run_sync_soon(queue._add, signum, idempotent=True)" in signals


def test_ch18_trio_ctrl_c_is_raised_in_user_code_and_deferred_in_protected_code():
    trio = peer("trio", "0.35")
    ki = source(trio, "_core/_ki.py")
    handler = ki[ki.index("        def handler(signum"):]
    handler = handler[:handler.index("self.handler = handler")]
    assert "protection_enabled = ki_protection_enabled(frame)" in handler
    assert "deliver_cb()" in handler.split("else:")[0]
    assert "raise KeyboardInterrupt" in handler.split("else:")[1]
    # Protected code is marked by a decorator that records its code object;
    # any frame of a __del__ method counts as protected; weakref.finalize does not.
    assert "_CODE_KI_PROTECTION_STATUS_WMAP[f.__code__] = True" in ki
    assert 'if frame.f_code.co_name == "__del__":\n            return True' in ki
    assert "finalize" not in ki
    assert "self.entry_queue.run_sync_soon(self._deliver_ki_cb)" in source(trio, "_core/_run.py")


def test_ch18_trio_copies_the_spawning_task_s_context_and_shields_with_a_scope():
    trio = peer("trio", "0.35")
    run = source(trio, "_core/_run.py")
    assert "context = self.system_context.copy() if system_task else copy_context()" in run
    assert inspect.signature(trio.CancelScope).parameters["shield"].default is False


# -- chapter 15: streams and servers -------------------------------------------------

def test_ch15_asyncio_streams_buffer_and_drain_above_64_kib_and_set_nodelay():
    import asyncio.selector_events
    import asyncio.streams
    import asyncio.transports
    assert "high = 64 * 1024" in inspect.getsource(
        asyncio.transports._FlowControlMixin._set_write_buffer_limits)
    assert "base_events._set_nodelay(self._sock)" in inspect.getsource(
        asyncio.selector_events._SelectorSocketTransport.__init__)
    assert issubclass(asyncio.IncompleteReadError, EOFError)
    readline = inspect.getsource(asyncio.StreamReader.readline)
    assert "except exceptions.LimitOverrunError" in readline and "raise ValueError" in readline
    # start_server runs the callback as a task; since 3.11.7 a failure goes to the
    # loop's exception handler and closes the connection (gh-110894)
    made = inspect.getsource(asyncio.streams.StreamReaderProtocol.connection_made)
    assert "self._task = self._loop.create_task(res)" in made
    if sys.version_info >= (3, 11, 7):
        assert "Unhandled exception in client_connected_cb" in made
        assert "transport.close()" in made


def test_ch15_asyncio_stops_accepting_for_a_second_when_out_of_resources():
    import asyncio.constants
    import asyncio.selector_events
    assert asyncio.constants.ACCEPT_RETRY_DELAY == 1
    accept = inspect.getsource(asyncio.selector_events.BaseSelectorEventLoop._accept_connection)
    for name in ("EMFILE", "ENFILE", "ENOBUFS", "ENOMEM"):
        assert f"errno.{name}" in accept
    assert "self._remove_reader(sock.fileno())" in accept


def test_ch15_curio_sockets_try_first_record_bytes_sent_and_ignore_readlines_limit():
    curio = peer("curio", "1.6")
    import curio.io
    import curio.network
    recv = inspect.getsource(curio.io.Socket.recv)
    assert "return self._socket_recv(" in recv and "await _read_wait" in recv
    assert "e.bytes_sent = total_sent" in inspect.getsource(curio.io.Socket.sendall)
    readline = inspect.getsource(curio.io.StreamBase.readline)
    assert "maxlen=None" in readline and readline.count("maxlen") == 1   # never used
    assert "NODELAY" not in source(curio, "network.py") + source(curio, "io.py")
    assert list(inspect.signature(curio.network.tcp_server).parameters)[:3] == \
        ["host", "port", "client_connected_task"]
    assert "async with client:" in inspect.getsource(curio.network.run_server)


def test_ch15_trio_tries_first_then_checkpoints_and_backs_off_a_tenth_of_a_second():
    trio = peer("trio", "0.35")
    import trio._highlevel_serve_listeners as serve
    import trio._highlevel_socket as hs
    import trio._socket as ts
    assert "cancel_shielded_checkpoint()" in inspect.getsource(ts._try_sync.__aexit__)
    assert "async with _try_sync():" in inspect.getsource(ts._SocketType._nonblocking_helper)
    assert serve.SLEEP_TIME == 0.1
    assert serve.ACCEPT_CAPACITY_ERRNOS == {errno.EMFILE, errno.ENFILE, errno.ENOMEM,
                                             errno.ENOBUFS}
    assert "doesn't do\n       anything special to catch it" in trio.serve_listeners.__doc__
    init = inspect.getsource(hs.SocketStream.__init__)
    assert "TCP_NODELAY" in init and "_send_conflict_detector" in init
    assert "conflict" not in inspect.getsource(hs.SocketStream.receive_some)
    aclose = inspect.getsource(hs.SocketStream.aclose)
    assert aclose.index("self.socket.close()") < aclose.index("checkpoint()")
    assert hs.DEFAULT_RECEIVE_SIZE == 65536


# -- chapter 16: the standard library's HTTP server ---------------------------------

def test_ch16_http_server_is_lenient_where_the_chapters_parser_is_strict():
    import http.client
    import http.server
    import io
    assert "words = requestline.split()" in inspect.getsource(
        http.server.BaseHTTPRequestHandler.parse_request)
    assert issubclass(http.server.HTTPServer, __import__("socketserver").TCPServer)
    head = io.BytesIO(b"Host: a\nX-Folded: one\n two\n\nbody")      # bare LFs, a fold
    message = http.client.parse_headers(head)
    assert message["Host"] == "a" and message["X-Folded"].split() == ["one", "two"]
    assert head.read() == b"body"


# -- chapter 17: redis-py and signals ------------------------------------------------

def test_ch17_redis_py_asks_for_resp3_and_falls_back_to_resp2_with_a_warning():
    redis = pytest.importorskip("redis", reason="redis-py is not installed")
    import redis.connection
    assert redis.connection.DEFAULT_RESP_VERSION == 3, redis.__version__
    fallback = inspect.getsource(redis.connection.AbstractConnection._fallback_to_resp2)
    assert "logger.warning(" in fallback and "Falling back to RESP2" in fallback
    assert "_protocol_specified_explicitly" in fallback      # protocol=2: no HELLO 3


def test_ch17_signals_through_a_wakeup_descriptor_in_asyncio_and_trio_none_in_curio():
    import asyncio.unix_events
    assert "signal.set_wakeup_fd(" in inspect.getsource(
        asyncio.unix_events._UnixSelectorEventLoop.add_signal_handler)
    trio = peer("trio", "0.35")
    assert "signal.set_wakeup_fd(" in source(trio, "_core/_wakeup_socketpair.py")
    assert callable(trio.open_signal_receiver)
    curio = peer("curio", "1.6")
    assert not (Path(curio.__file__).parent / "signal.py").exists()
    assert not [name for name in dir(curio) if "signal" in name.lower()]


# -- chapter 19: instruments ---------------------------------------------------------

def test_ch19_trio_instruments_their_names_the_step_guard_and_removal():
    trio = peer("trio", "0.35")
    names = {name for name in vars(trio.abc.Instrument) if not name.startswith("_")}
    assert names == {"before_run", "after_run", "task_spawned", "task_scheduled",
                     "before_task_step", "after_task_step", "task_exited",
                     "before_io_wait", "after_io_wait"}
    assert 'if "before_task_step" in runner.instruments:' in source(trio, "_core/_run.py")
    assert "self.remove_instrument(instrument)" in source(trio, "_core/_instrumentation.py")
    assert callable(trio.lowlevel.add_instrument) and callable(trio.lowlevel.current_root_task)
    assert hasattr(trio.lowlevel.Task, "child_nurseries")
    assert inspect.iscoroutinefunction(trio.sleep)


def test_ch19_curio_activations_around_every_step_and_its_debuggers():
    curio = peer("curio", "1.6")
    import curio.debug
    import curio.kernel
    methods = {name for name in vars(curio.kernel.Activation) if not name.startswith("_")}
    assert methods == {"activate", "created", "running", "suspended", "terminated"}
    assert "suspended(self, task, trap)" in source(curio, "kernel.py")
    assert re.search(r"for a in _activations:\s+a\.running\(active\)", source(curio, "kernel.py"))
    for name in ("schedtrace", "traptrace", "longblock", "logcrash"):
        assert issubclass(getattr(curio.debug, name), curio.kernel.Activation)
    assert (Path(curio.__file__).parent / "monitor.py").exists()
    assert inspect.iscoroutinefunction(curio.sleep)


def test_ch19_asyncio_debug_mode_and_its_sleep():
    import asyncio.futures
    loop = asyncio.new_event_loop()
    try:
        assert loop.slow_callback_duration == 0.1
    finally:
        loop.close()
    assert "exception was never retrieved" in inspect.getsource(asyncio.futures)
    assert inspect.iscoroutinefunction(asyncio.sleep)
    assert not hasattr(asyncio.Task, "parent")
