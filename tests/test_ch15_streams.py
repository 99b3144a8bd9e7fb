"""Chapter 15: streams and servers, over real sockets on 127.0.0.1.

Every socket here is local (port 0, 127.0.0.1) and every wait is bounded:
by a socket timeout, a tale timeout, or a subprocess timeout.  The example
servers are started as a user starts them, ``python -m tale.examples.NAME``,
and stopped with SIGINT.
"""
import contextlib
import errno
import functools
import io
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

import tale
import tale.streams
from tale import IncompleteRead, LineTooLong, Stream
from tale.examples import echo_server

ROOT = Path(__file__).resolve().parent.parent
CODE = ROOT / "code"


# ---------------------------------------------------------------- helpers

def tcp_pair():
    """Two connected TCP sockets on 127.0.0.1 (blocking, plain)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        near = socket.create_connection(listener.getsockname())
        far, _ = listener.accept()
    return near, far


def open_fds():
    return len(os.listdir("/proc/self/fd"))


class Hung(KeyboardInterrupt):
    """Raised by the alarm of `run`: like Ctrl-C, it stops the loop itself."""


def run(main, *args, limit=10.0):
    """tale.run(main, *args); a test whose loop is still running after `limit`
    seconds fails (a SIGALRM stops the loop, whatever its tasks do)."""
    def alarm(signum, frame):
        raise Hung
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        return tale.run(main, *args)
    except Hung:
        pytest.fail(f"the loop was still running after {limit} s")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


async def start_server(handler, **options):
    """serve_tcp in a task; return (task, (host, port)) once it listens."""
    ready = []
    task = await tale.spawn(tale.serve_tcp(handler, on_ready=ready.append, **options))
    while not ready:
        await tale.sleep(0)
    return task, ready[0]


async def echo(stream):
    while data := await stream.receive_some():
        await stream.send_all(data)


def no_leaks(test):
    """Run `test` and check the process holds no more descriptors afterwards."""
    @functools.wraps(test)
    def wrapped(*args, **kwargs):
        before = open_fds()
        test(*args, **kwargs)
        assert open_fds() == before
    return wrapped


# ---------------------------------------------------------------- reading

@no_leaks
def test_readline_and_read_exactly_agree_with_split_however_the_bytes_arrive():
    rng = random.Random(15)
    lines = [bytes(rng.choice(b"ab\r ") for _ in range(rng.randrange(0, 300))) + b"\n"
             for _ in range(300)]
    data = b"".join(lines) + b"tail without newline"

    async def feeder(peer):
        view = memoryview(data)
        while view:
            size = rng.choice([1, 2, 7, 100, 4000, 70000])
            await peer.send_all(view[:size])
            view = view[size:]
            if rng.random() < 0.3:
                await tale.sleep(0.001)
        await peer.send_eof()

    async def main():
        near, far = tcp_pair()
        async with Stream(near) as stream, Stream(far) as peer:
            await tale.spawn(feeder, peer)
            got = []
            for line in lines[:100]:
                got.append(await stream.readline())
            for line in lines[100:200]:                 # counted reads, mixed in
                got.append(await stream.read_exactly(len(line)))
            while line := await stream.readline():
                got.append(line)
            return got
    assert run(main) == lines + [b"tail without newline"]


@no_leaks
def test_receive_some_returns_buffered_bytes_first_and_respects_max_bytes():
    async def main():
        near, far = tcp_pair()
        async with Stream(near) as stream, Stream(far) as peer:
            await peer.send_all(b"line\nrest of it")
            await tale.sleep(0.01)
            assert await stream.readline() == b"line\n"
            assert await stream.receive_some(4) == b"rest"
            assert await stream.receive_some() == b" of it"
            with pytest.raises(ValueError):
                await stream.receive_some(0)
            await peer.send_all(b"x" * 100)
            await tale.sleep(0.01)
            assert len(await stream.receive_some(10)) == 10
    run(main)


@no_leaks
def test_readline_limit_is_exact_keeps_the_bytes_and_bounds_the_buffer():
    async def main():
        near, far = tcp_pair()
        async with Stream(near) as stream, Stream(far) as peer:
            await peer.send_all(b"a" * 10 + b"\n")
            assert await stream.readline(limit=10) == b"a" * 10 + b"\n"   # just fits
            await peer.send_all(b"b" * 11 + b"\n")
            with pytest.raises(LineTooLong):
                await stream.readline(limit=10)
            assert await stream.readline(limit=100) == b"b" * 11 + b"\n"  # nothing lost
            # a peer that never sends a newline: the buffer stops growing
            sender = await tale.spawn(peer.send_all, b"c" * (4 << 20))
            with pytest.raises(LineTooLong) as error:
                await stream.readline(limit=1000)
            assert isinstance(error.value, ValueError)
            assert len(stream._buffer) <= 1000 + tale.streams.RECEIVE_SIZE
            await sender.cancel()
    run(main)


@no_leaks
def test_read_exactly_short_raises_incomplete_read_with_the_partial_bytes():
    async def main():
        near, far = tcp_pair()
        async with Stream(near) as stream:
            far.sendall(b"12345")
            far.close()
            assert await stream.read_exactly(0) == b""
            assert await stream.read_exactly(2) == b"12"
            with pytest.raises(IncompleteRead) as error:
                await stream.read_exactly(8)
            assert isinstance(error.value, EOFError)
            assert (error.value.partial, error.value.expected) == (b"345", 8)
            assert await stream.receive_some() == b""       # and the end stays
            assert await stream.readline() == b""
    run(main)


# ---------------------------------------------------------------- endings

@no_leaks
def test_end_of_stream_half_close_and_reset_are_three_different_outcomes():
    async def main():
        # half-close: the peer said it is done, and still reads our answer
        near, far = tcp_pair()
        async with Stream(near) as stream:
            far.sendall(b"question")
            far.shutdown(socket.SHUT_WR)
            assert await stream.read_exactly(8) == b"question"
            assert await stream.receive_some() == b""
            await stream.send_all(b"answer")
            far.settimeout(5)
            assert far.recv(100) == b"answer"
            far.close()
        # end of stream: the peer closed; writing soon fails with EPIPE
        near, far = tcp_pair()
        async with Stream(near) as stream:
            far.close()
            assert await stream.receive_some() == b""
            with pytest.raises((BrokenPipeError, ConnectionResetError)):
                for _ in range(100):
                    await stream.send_all(b"anyone?")
                    await tale.sleep(0.01)
        # reset: the next read raises
        near, far = tcp_pair()
        async with Stream(near) as stream:
            far.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            far.close()
            with pytest.raises(ConnectionResetError):
                await stream.receive_some()
    run(main)


@no_leaks
def test_send_eof_after_a_reset_is_a_connection_reset():
    """shutdown() on a reset socket fails with ENOTCONN; the stream says
    ConnectionResetError, like a read or a write (a server that caught
    ConnectionError printed a traceback for a peer that sent garbage and reset)."""
    async def main():
        near, far = tcp_pair()
        async with Stream(near) as stream:
            far.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            far.close()
            await tale.sleep(0.05)                  # the reset has arrived
            with pytest.raises(ConnectionResetError):
                await stream.send_eof()
    run(main)


@no_leaks
def test_aclose_is_idempotent_and_closes_the_socket():
    async def main():
        near, far = tcp_pair()
        stream = Stream(near)
        await stream.aclose()
        await stream.aclose()
        assert stream.fileno() == -1
        far.settimeout(5)
        assert far.recv(10) == b""
        far.close()
    run(main)


# ---------------------------------------------------------------- writing

@no_leaks
def test_send_all_to_a_peer_that_does_not_read_blocks_and_buffers_nothing():
    data = bytes(64 << 20)

    async def main():
        near, far = tcp_pair()
        with far:
            async with Stream(near) as stream:
                tracemalloc.start()
                try:
                    async with tale.move_on_after(0.3) as scope:
                        await stream.send_all(data)
                    _, peak = tracemalloc.get_traced_memory()
                finally:
                    tracemalloc.stop()
                assert scope.expired                    # held at send_all
                assert peak < 1 << 20                   # no copy of the 64 MiB
                far.setblocking(False)
                queued = 0
                with contextlib.suppress(BlockingIOError):
                    while True:
                        queued += len(far.recv(1 << 20))
                assert 0 < queued < 32 << 20            # only the kernel's buffers
    run(main)


@no_leaks
def test_send_all_accepts_any_bytes_like_object_and_sends_it_whole():
    async def main():
        near, far = tcp_pair()
        async with Stream(near) as stream, Stream(far) as peer:
            payload = bytes(range(256)) * 8000
            sender = await tale.spawn(stream.send_all, memoryview(bytearray(payload)))
            got = await peer.read_exactly(len(payload))
            await sender.join()
            await stream.send_all(b"")
            assert got == payload
    run(main)


@no_leaks
def test_a_second_reader_or_writer_is_refused():
    async def main():
        near, far = tcp_pair()
        async with Stream(near) as stream, Stream(far) as peer:
            reader = await tale.spawn(stream.readline)
            await tale.sleep(0)
            with pytest.raises(RuntimeError, match="already reading"):
                await stream.receive_some()
            with pytest.raises(RuntimeError, match="already reading"):
                await stream.read_exactly(1)
            await peer.send_all(b"one\n")
            assert await reader.join() == b"one\n"
            writer = await tale.spawn(stream.send_all, bytes(32 << 20))
            await tale.sleep(0.05)
            with pytest.raises(RuntimeError, match="already writing"):
                await stream.send_all(b"x")
            await writer.cancel()
    run(main)


def test_a_peer_that_never_stops_sending_does_not_starve_other_tasks():
    """The flood is fed by a thread, so the reader's recv never says EAGAIN."""
    near, far = tcp_pair()
    stop = threading.Event()

    def flood():
        chunk = b"x" * 65536
        with contextlib.suppress(OSError):
            while not stop.is_set():
                far.sendall(chunk)

    feeder = threading.Thread(target=flood)
    feeder.start()

    async def drain(stream):
        while True:
            await stream.receive_some()

    async def main():
        async with Stream(near) as stream:
            await tale.sleep(0.05)                      # let the data pile up
            reader = await tale.spawn(drain, stream)
            ticks = 0
            start = time.monotonic()
            while time.monotonic() - start < 0.3:
                await tale.sleep(0.005)
                ticks += 1
            await reader.cancel()
            return ticks
    try:
        ticks = run(main)
    finally:
        stop.set()
        far.close()
        feeder.join(5)
    # 60 at best; the feeder thread shares the interpreter's lock, so a loaded
    # machine sees far fewer, while a reader that never steps aside allows none
    assert ticks >= 8


@no_leaks
def test_reading_buffered_lines_steps_aside_every_so_often():
    """A thousand lines from one recv: readline must not hold the loop for all of them."""
    async def other(log):
        while True:
            log.append("other")
            await tale.sleep(0)

    async def main():
        near, far = tcp_pair()
        async with Stream(near) as stream:
            far.sendall(b"x\n" * 1000)
            far.close()
            await tale.sleep(0.01)
            log = []
            task = await tale.spawn(other, log)
            count = 0
            while await stream.readline():
                count += 1
            await task.cancel()
            return count, len(log)
    count, others = run(main)
    assert count == 1000
    assert others >= 30                         # (every 16 lines: 62 times)


@no_leaks
def test_the_echo_server_survives_random_hostile_clients():
    """Clients that send random bytes, stop halfway, reset, or half-close at random."""
    rng = random.Random(1515)

    async def hostile(port, n):
        sock = socket.create_connection(("127.0.0.1", port))
        stream = Stream(sock)
        try:
            payload = rng.randbytes(rng.choice([0, 1, 100, 70000, 300000]))
            action = rng.choice(["echo", "reset", "half-close", "leave"])
            if action == "reset":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                await stream.send_all(payload[:1000])
                return "reset"
            if action == "leave":
                await stream.send_all(payload[:1000])
                return "left"
            sender = await tale.spawn(stream.send_all, payload)
            got = await stream.read_exactly(len(payload))
            await sender.join()
            if action == "half-close":
                await stream.send_eof()
                assert await stream.receive_some() == b""
            return got == payload
        finally:
            await stream.aclose()

    async def main():
        server, (_, port) = await start_server(echo_server.echo)   # quiet on resets
        outcomes = []
        for round_ in range(4):
            tasks = [await tale.spawn(hostile, port, n) for n in range(25)]
            outcomes += [await task.join() for task in tasks]
        # and after all that, an ordinary client is served
        async with await tale.open_connection("127.0.0.1", port) as stream:
            await stream.send_all(b"still here")
            assert await stream.read_exactly(10) == b"still here"
        await server.cancel()
        return outcomes
    with contextlib.redirect_stderr(io.StringIO()) as err:
        outcomes = run(main, limit=30)
    assert False not in outcomes and True in outcomes
    assert "Traceback" not in err.getvalue()


# ---------------------------------------------------------------- dialing

@no_leaks
def test_open_connection_refused_and_name_resolution():
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]        # a port nobody listens on, once closed

    async def main():
        with pytest.raises(ConnectionRefusedError):
            await tale.open_connection("127.0.0.1", port)
        server, (host, live) = await start_server(echo)
        async with await tale.open_connection("localhost", live) as stream:
            await stream.send_all(b"by name")
            assert await stream.read_exactly(7) == b"by name"
            assert stream.getpeername()[1] == live
            nodelay = stream.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            assert nodelay
        await server.cancel()
    run(main)


# ---------------------------------------------------------------- serving

@no_leaks
def test_many_clients_at_once_each_get_their_own_bytes_back():
    async def client(port, n):
        async with await tale.open_connection("127.0.0.1", port) as stream:
            message = (b"%d," % n) * (n * 500 + 1)
            sender = await tale.spawn(stream.send_all, message)
            got = await stream.read_exactly(len(message))
            await sender.join()
            return got == message

    async def main():
        server, (_, port) = await start_server(echo)
        clients = [await tale.spawn(client, port, n) for n in range(30)]
        results = [await c.join() for c in clients]
        await server.cancel()
        return results
    assert run(main) == [True] * 30


@no_leaks
def test_a_handler_crash_is_reported_closes_its_connection_and_the_server_goes_on(capfd):
    async def picky(stream):
        line = await stream.readline()
        if line.startswith(b"bad"):
            raise KeyError("no such thing: " + line.decode().strip())
        await stream.send_all(b"ok " + line)

    async def main():
        server, (_, port) = await start_server(picky)
        replies = []
        for word in (b"good\n", b"bad one\n", b"good again\n", b"bad two\n", b"fine\n"):
            async with await tale.open_connection("127.0.0.1", port) as stream:
                await stream.send_all(word)
                replies.append(await stream.receive_some())
        await server.cancel()
        return replies
    assert run(main) == [b"ok good\n", b"", b"ok good again\n", b"", b"ok fine\n"]
    err = capfd.readouterr().err
    assert err.count("tale.serve_tcp: ") == 2
    assert "picky failed serving ('127.0.0.1'" in err
    assert "KeyError: 'no such thing: bad one'" in err and "Traceback" in err
    assert "nobody joined" not in err           # the handler's task did not fail


@no_leaks
def test_cancelling_the_server_closes_the_listener_and_every_connection():
    async def main():
        server, (host, port) = await start_server(echo)
        streams = [await tale.open_connection(host, port) for _ in range(5)]
        for stream in streams:
            await stream.send_all(b"hi")
            assert await stream.read_exactly(2) == b"hi"
        await server.cancel()
        assert server.cancelled()
        with pytest.raises(ConnectionRefusedError):
            await tale.open_connection(host, port)
        for stream in streams:
            assert await stream.receive_some() == b""     # the handler closed it
            await stream.aclose()
    run(main)


@no_leaks
def test_grace_lets_handlers_finish_and_then_cancels_the_rest():
    log = []

    async def slow(stream):
        seconds = float((await stream.readline()).decode())
        try:
            await tale.sleep(seconds)
            await stream.send_all(b"done\n")
            log.append(("done", seconds))
        except tale.CancelledError:
            log.append(("cancelled", seconds))
            raise

    async def main():
        server, (host, port) = await start_server(slow, grace=0.3)
        quick = await tale.open_connection(host, port)
        late = await tale.open_connection(host, port)
        await quick.send_all(b"0.1\n")
        await late.send_all(b"3\n")
        await tale.sleep(0.02)
        start = tale.clock()
        await server.cancel()
        took = tale.clock() - start
        assert await quick.readline() == b"done\n"
        assert await late.readline() == b""
        await quick.aclose()
        await late.aclose()
        return took
    took = run(main)
    assert 0.25 < took < 1.0
    assert sorted(log) == [("cancelled", 3.0), ("done", 0.1)]


@no_leaks
def test_a_server_inside_a_timeout_stops_cleanly_too():
    async def client(ready):
        while not ready:
            await tale.sleep(0.01)
        async with await tale.open_connection(*ready[0]) as stream:
            await stream.send_all(b"x")
            assert await stream.read_exactly(1) == b"x"
            return await stream.receive_some()         # until the server stops

    async def main():
        ready = []
        talker = await tale.spawn(client, ready)
        start = tale.clock()
        async with tale.move_on_after(0.2) as scope:
            await tale.serve_tcp(echo, on_ready=ready.append, grace=0.2)
        took = tale.clock() - start
        return scope.expired, await talker.join(), took
    expired, last, took = run(main)
    assert expired and last == b"" and 0.35 < took < 1.0


@no_leaks
def test_a_handler_that_is_not_callable_is_refused_before_listening():
    async def main():
        with pytest.raises(TypeError, match="serve_tcp needs a function"):
            await tale.serve_tcp(b"not a function")
    run(main)


def test_on_ready_failing_closes_the_listener():
    before = open_fds()

    def broken(address):
        raise OSError("cannot announce")

    async def main():
        with pytest.raises(OSError, match="cannot announce"):
            await tale.serve_tcp(echo, on_ready=broken)
    run(main)
    assert open_fds() == before


@no_leaks
def test_accept_out_of_descriptors_backs_off_instead_of_spinning(monkeypatch, capfd):
    real_accept = socket.socket.accept
    calls = []

    def failing_accept(self):
        calls.append(time.monotonic())
        if len(calls) <= 5:
            raise OSError(errno.EMFILE, "Too many open files")
        return real_accept(self)

    async def main():
        server, (host, port) = await start_server(echo)
        monkeypatch.setattr(socket.socket, "accept", failing_accept)
        start = time.monotonic()
        async with await tale.open_connection(host, port) as stream:
            await stream.send_all(b"served at last")
            assert await stream.read_exactly(14) == b"served at last"
        took = time.monotonic() - start
        monkeypatch.setattr(socket.socket, "accept", real_accept)
        await server.cancel()
        return took
    took = run(main)
    assert 6 <= len(calls) <= 7            # five failures, a success (and EAGAIN)
    gaps = [b - a for a, b in zip(calls, calls[1:6])]
    assert min(gaps) >= 0.09               # slept between attempts
    assert took >= 0.45
    err = capfd.readouterr().err
    assert err.count("accept failed") == 1  # said once, not every 0.1 s


@no_leaks
def test_a_client_that_aborts_in_the_accept_queue_is_skipped(monkeypatch, capfd):
    real_accept = socket.socket.accept
    calls = []

    def aborting_accept(self):
        calls.append(None)
        if len(calls) == 1:
            raise ConnectionAbortedError(errno.ECONNABORTED, "Software caused connection abort")
        return real_accept(self)

    async def main():
        server, (host, port) = await start_server(echo)
        monkeypatch.setattr(socket.socket, "accept", aborting_accept)
        async with await tale.open_connection(host, port) as stream:
            await stream.send_all(b"next")
            assert await stream.read_exactly(4) == b"next"
        monkeypatch.setattr(socket.socket, "accept", real_accept)
        await server.cancel()
    run(main)
    assert len(calls) >= 2 and capfd.readouterr().err == ""


def test_accept_at_the_descriptor_limit_sleeps_then_serves_again():
    """A real EMFILE: a server with few descriptors, clients that hold them."""
    script = (
        "import os, resource, tale\n"
        "from tale.examples.echo_server import echo\n"
        "from tale.examples.command_line import announce\n"
        "used = len(os.listdir('/proc/self/fd'))\n"
        "_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (used + 6, hard))\n"
        "tale.run(tale.serve_tcp(echo, on_ready=announce))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(CODE)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    clients = []
    try:
        host, port = read_listening_line(proc)
        for _ in range(12):                  # more than the server can accept
            sock = socket.create_connection((host, port), timeout=5)
            clients.append(sock)
        # the first clients are served; the later ones wait in the queue
        clients[0].sendall(b"ping")
        assert clients[0].recv(10) == b"ping"
        cpu_before = process_cpu(proc.pid)
        time.sleep(1.0)
        cpu = process_cpu(proc.pid) - cpu_before
        assert cpu < 0.3, f"the server spun: {cpu:.2f} s of CPU in 1 s"
        for sock in clients[:-1]:            # free descriptors in the server
            sock.close()
        last = clients[-1]
        last.sendall(b"still there")
        assert last.recv(20) == b"still there"
    finally:
        for sock in clients:
            sock.close()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    assert "accept failed" in err and "Too many open files" in err


def process_cpu(pid):
    """User plus system CPU seconds of process `pid`, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@no_leaks
def test_nothing_leaks_after_crashes_resets_and_a_cancel():
    async def handler(stream):
        line = await stream.readline()
        if line == b"crash\n":
            raise RuntimeError("crash")
        await stream.send_all(line)
        await tale.sleep(60)

    async def main():
        server, (host, port) = await start_server(handler)
        for i in range(20):
            sock = socket.create_connection((host, port))
            if i % 3 == 0:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif i % 3 == 1:
                sock.sendall(b"crash\n")
            else:
                sock.sendall(b"stay\n")
            await tale.sleep(0.01)
            sock.close()
        await tale.sleep(0.05)
        await server.cancel()
    with contextlib.redirect_stderr(io.StringIO()):
        run(main)


# ---------------------------------------------------------------- the example servers

def read_listening_line(proc, timeout=10):
    """Read the server's first line, ``listening on HOST:PORT``; return (host, port)."""
    result = []
    reader = threading.Thread(target=lambda: result.append(proc.stdout.readline()))
    reader.start()
    reader.join(timeout)
    assert result, "the server printed nothing"
    line = result[0]
    assert line.startswith("listening on "), line
    host, port = line.split()[-1].rsplit(":", 1)
    return host, int(port)


@contextlib.contextmanager
def example_server(name, *args):
    """Start ``python -m tale.examples.NAME --port 0``; SIGINT it at the end."""
    proc = subprocess.Popen(
        [sys.executable, "-m", f"tale.examples.{name}", "--host", "127.0.0.1",
         "--port", "0", *args],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(CODE)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield proc, read_listening_line(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def interrupt(proc, clients=()):
    """SIGINT the server; return (exit status, seconds it took, its stderr)."""
    start = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    took = time.monotonic() - start
    for sock in clients:                     # the connections were closed
        sock.settimeout(5)
        with contextlib.suppress(ConnectionResetError):
            while sock.recv(65536):
                pass
    return proc.returncode, took, out + err


def test_echo_server_as_a_user_runs_it():
    with example_server("echo_server") as (proc, (host, port)):
        assert host == "127.0.0.1"
        clients = []
        for n in range(3):
            sock = socket.create_connection((host, port), timeout=5)
            clients.append(sock)
            message = b"hello %d\n" % n * 1000
            sock.sendall(message)
            got = b""
            while len(got) < len(message):
                got += sock.recv(65536)
            assert got == message
        status, took, output = interrupt(proc, clients)
        for sock in clients:
            sock.close()
    assert status == 0 and took < 1.0, output
    assert output == ""


def test_echo_server_with_nc():
    if not shutil.which("nc"):
        missing = "nc (netcat) is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(missing)
        pytest.skip(missing)
    with example_server("echo_server") as (proc, (host, port)):
        reply = subprocess.run(["nc", "-N", host, str(port)], input=b"hello nc\n",
                               capture_output=True, timeout=10)
        assert reply.stdout == b"hello nc\n"
        status, took, output = interrupt(proc)
    assert status == 0 and took < 1.0, output


def test_echo_server_stops_on_sigint_with_no_client():
    with example_server("echo_server") as (proc, _):
        status, took, output = interrupt(proc)
    assert (status, output) == (0, "") and took < 1.0


def lines_from(sock, count, timeout=10):
    sock.settimeout(timeout)
    data = b""
    while data.count(b"\n") < count:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.splitlines(keepends=True)


def test_chat_server_broadcasts_to_every_other_client():
    with example_server("chat_server") as (proc, (host, port)):
        ann, bob, cy = (socket.create_connection((host, port), timeout=5) for _ in range(3))
        time.sleep(0.1)                       # all three have joined
        ann.sendall(b"hi from ann\n")
        assert lines_from(bob, 1) == [b"hi from ann\n"]
        assert lines_from(cy, 1) == [b"hi from ann\n"]
        bob.sendall(b"bob here\nand again\n")
        assert lines_from(ann, 2) == [b"bob here\n", b"and again\n"]
        assert lines_from(cy, 2) == [b"bob here\n", b"and again\n"]
        ann.settimeout(0.2)
        with pytest.raises(TimeoutError):    # nobody hears their own lines
            ann.recv(100)
        status, took, output = interrupt(proc, [ann, bob, cy])
        for sock in (ann, bob, cy):
            sock.close()
    assert status == 0 and took < 1.0, output
    assert output == ""          # every handler's finally ran inside the loop


def test_chat_a_client_that_never_reads_is_dropped_and_stalls_nobody():
    """Two clients chat, in batches the listener keeps up with; a third never reads.

    The talker sends 8.4 MB in all, more than the kernel's buffers can hold
    for the silent client, so its outbox fills and the server drops it;
    the listener must hear every line, batch after batch, all along.
    """
    batches, size = 80, 500
    with example_server("chat_server") as (proc, (host, port)):
        silent = socket.socket()
        silent.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        silent.connect((host, port))
        talker = socket.create_connection((host, port), timeout=10)
        listener = socket.create_connection((host, port), timeout=10)
        time.sleep(0.1)
        start = time.monotonic()
        for batch in range(batches):
            lines = [b"line %05d %s\n" % (batch * size + n, b"x" * 200) for n in range(size)]
            talker.sendall(b"".join(lines))
            assert lines_from(listener, size, timeout=10) == lines, f"batch {batch}"
        took = time.monotonic() - start
        assert took < 20
        # the silent client was dropped: after what was queued for it, the end
        silent.settimeout(10)
        received = 0
        with contextlib.suppress(ConnectionResetError):
            while chunk := silent.recv(1 << 20):
                received += len(chunk)
        assert received < batches * size * 210
        status, took, output = interrupt(proc, [talker, listener])
        for sock in (silent, talker, listener):
            sock.close()
    assert status == 0 and took < 1.0, output
    assert output == ""          # every handler's finally ran inside the loop


def test_chat_a_line_over_the_limit_ends_only_that_client():
    with example_server("chat_server") as (proc, (host, port)):
        rude = socket.create_connection((host, port), timeout=5)
        polite = socket.create_connection((host, port), timeout=5)
        other = socket.create_connection((host, port), timeout=5)
        time.sleep(0.1)
        rude.sendall(b"y" * 10000)
        rude.settimeout(5)
        assert rude.recv(100) == b""
        polite.sendall(b"still fine\n")
        assert lines_from(other, 1) == [b"still fine\n"]
        status, took, output = interrupt(proc, [polite, other])
        for sock in (rude, polite, other):
            sock.close()
    assert status == 0 and took < 1.0, output
    assert output == ""          # every handler's finally ran inside the loop


# ---------------------------------------------------------------- packaging

def test_pip_install_includes_the_examples(tmp_path):
    target = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
         "--no-build-isolation", "--no-index", "--target", str(target), str(CODE)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("streams.py", "examples/__init__.py", "examples/echo_server.py",
                 "examples/chat_server.py"):
        assert (target / "tale" / name).exists(), name
    proc = subprocess.Popen(
        [sys.executable, "-m", "tale.examples.echo_server", "--port", "0"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(target)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        host, port = read_listening_line(proc)
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(b"installed")
            assert sock.recv(20) == b"installed"
        status, _, output = interrupt(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert status == 0, output


# ---------------------------------------------------------------- exercises

from solutions.ch15_ex1 import at_most  # noqa: E402
from solutions.ch15_ex2 import readline_within  # noqa: E402


@no_leaks
def test_at_most_serves_n_clients_and_turns_the_rest_away():
    served = []

    async def hold(stream):
        served.append(await stream.readline())
        await stream.readline()                 # until the client leaves

    async def main():
        server, (host, port) = await start_server(at_most(2, hold))
        first = [await tale.open_connection(host, port) for _ in range(2)]
        for stream in first:
            await stream.send_all(b"hello\n")
        await tale.sleep(0.05)
        async with await tale.open_connection(host, port) as third:
            assert await third.readline() == b"busy\n"
            assert await third.receive_some() == b""
        await first[0].aclose()                 # a place frees up
        await tale.sleep(0.05)
        async with await tale.open_connection(host, port) as fourth:
            await fourth.send_all(b"my turn\n")
            await tale.sleep(0.05)
        await first[1].aclose()
        await server.cancel()
    run(main)
    assert served == [b"hello\n", b"hello\n", b"my turn\n"]


@no_leaks
def test_readline_within_times_out_and_loses_nothing():
    async def main():
        near, far = tcp_pair()
        async with Stream(near) as stream, Stream(far) as peer:
            await peer.send_all(b"half a li")
            start = tale.clock()
            assert await readline_within(stream, 0.1) is None
            assert 0.09 < tale.clock() - start < 1.0
            await peer.send_all(b"ne\nnext")
            assert await readline_within(stream, 1) == b"half a line\n"
            await peer.send_eof()
            assert await readline_within(stream, 1) == b"next"
    run(main)


def test_closing_a_stream_wakes_a_task_waiting_on_it():
    import socket as _socket
    import tale
    a, b = _socket.socketpair()

    async def main():
        stream = tale.Stream(a)
        reader = await tale.spawn(stream.receive_some)
        await tale.sleep(0.01)              # the reader waits for bytes
        await stream.aclose()
        try:
            await reader.join()
        except tale.ClosedResourceError:
            return 'woken', tale.clock()
        return 'not woken'

    start = __import__('time').monotonic()
    result = tale.run(main)
    b.close()
    assert result[0] == 'woken' and result[1] - start < 0.3
