"""Chapter 6: waiting for I/O, with real sockets over 127.0.0.1.

Each test runs against every stage that has I/O (tests/stagelist.py).  The
sockets are real and local (ephemeral ports on 127.0.0.1, or socketpairs);
every wait is bounded by a socket timeout or by the test's own data.
"""
import os
import shutil
import socket
import struct
import subprocess
import threading
import time

import pytest

from stagelist import stages_with
from solutions.ch06_ex1 import recv_line
from solutions.ch06_ex2 import read_pipe

IO_STAGES = stages_with("io")


def listening(stage):
    """A stage Socket listening on 127.0.0.1 at a port the system picks."""
    return stage.Socket(socket.create_server(("127.0.0.1", 0)))


def echo_server(stage):
    """The chapter's echo server, built from the stage's primitives."""
    async def echo(conn):
        total = 0
        with conn:
            while data := await conn.recv(65536):
                await conn.send(data)
                total += len(data)
        return total

    async def serve(listener, clients):
        handlers = []
        for _ in range(clients):
            conn, _address = await listener.accept()
            handlers.append(await stage.spawn(echo(conn)))
        outcomes = []
        for handler in handlers:
            try:
                outcomes.append(await stage.join(handler))
            except OSError as exc:
                outcomes.append(type(exc).__name__)
        return outcomes
    return serve


async def talk(stage, port, messages):
    """Connect, send each message, read back as many bytes as were sent."""
    with stage.Socket(socket.socket()) as sock:
        await sock.connect(("127.0.0.1", port))
        replies = []
        for message in messages:
            await sock.send(message)
            data = b""
            while len(data) < len(message):
                data += await sock.recv(1024)
            replies.append(data)
        return replies


@pytest.mark.parametrize("stage", IO_STAGES)
def test_echo_server_with_clients_in_the_same_loop(stage):
    serve = echo_server(stage)

    async def main(listener):
        port = listener.getsockname()[1]
        server = await stage.spawn(serve(listener, 3))
        clients = [await stage.spawn(talk(stage, port, [f"{n}-{i}".encode()
                                                        for i in range(3)]))
                   for n in range(3)]
        return [await stage.join(c) for c in clients], await stage.join(server)

    loop = stage.Loop()
    with listening(stage) as listener:
        replies, outcomes = loop.run(main(listener))
    assert replies == [[b"0-0", b"0-1", b"0-2"], [b"1-0", b"1-1", b"1-2"],
                       [b"2-0", b"2-1", b"2-2"]]
    assert outcomes == [9, 9, 9]
    assert len(loop.selector.get_map()) == 0


def blocking_client(port, payload, out):
    """A plain blocking client, for a thread: send all, then read all."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        data = bytearray()
        while chunk := sock.recv(65536):
            data += chunk
        out.append(bytes(data))


@pytest.mark.parametrize("stage", IO_STAGES)
def test_echo_a_megabyte_to_a_plain_client_in_a_thread(stage):
    """More data than the socket buffers hold: send must wait for room."""
    serve = echo_server(stage)
    payload = bytes(range(256)) * 4096             # 1 MiB
    out = []

    async def main(listener):
        port = listener.getsockname()[1]
        thread = threading.Thread(target=blocking_client, args=(port, payload, out))
        thread.start()
        outcomes = await serve(listener, 1)
        return outcomes, thread

    loop = stage.Loop()
    with listening(stage) as listener:
        outcomes, thread = loop.run(main(listener))
    thread.join(10)
    assert outcomes == [len(payload)]
    assert out == [payload]
    assert len(loop.selector.get_map()) == 0


@pytest.mark.skipif(shutil.which("nc") is None, reason="netcat is not installed")
@pytest.mark.parametrize("stage", IO_STAGES)
def test_echo_server_answers_netcat(stage):
    serve = echo_server(stage)
    result = {}

    def netcat(port):
        # -N: shut the connection down for writing at the end of stdin, so
        # the server sees the end of the stream and closes; -w: give up if idle.
        proc = subprocess.run(["nc", "-N", "-w", "5", "127.0.0.1", str(port)],
                              input=b"hello from nc\n", capture_output=True, timeout=10)
        result["out"] = proc.stdout

    async def main(listener):
        thread = threading.Thread(target=netcat, args=(listener.getsockname()[1],))
        thread.start()
        return await serve(listener, 1), thread

    with listening(stage) as listener:
        outcomes, thread = stage.Loop().run(main(listener))
    thread.join(10)
    assert result["out"] == b"hello from nc\n"
    assert outcomes == [14]


def reset(sock):
    """Close so that the peer sees a connection reset (RST), not an end."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.mark.parametrize("stage", IO_STAGES)
def test_a_client_that_vanishes_affects_only_its_own_task(stage):
    serve = echo_server(stage)

    async def rude(port):
        sock = stage.Socket(socket.socket())
        await sock.connect(("127.0.0.1", port))
        await sock.send(b"abc")
        assert await sock.recv(10) == b"abc"   # the handler now waits to read
        reset(sock.sock)

    async def half_closer(port):
        with stage.Socket(socket.socket()) as sock:
            await sock.connect(("127.0.0.1", port))
            await sock.send(b"12345")
            sock.shutdown(socket.SHUT_WR)      # end of stream, mid-conversation
            data = b""
            while chunk := await sock.recv(100):
                data += chunk
            return data

    async def main(listener):
        port = listener.getsockname()[1]
        server = await stage.spawn(serve(listener, 3))
        await stage.join(await stage.spawn(rude(port)))
        polite = await stage.spawn(talk(stage, port, [b"still", b"fine"]))
        await stage.join(polite)
        early = await stage.spawn(half_closer(port))
        return await stage.join(polite), await stage.join(early), await stage.join(server)

    loop = stage.Loop()
    with listening(stage) as listener:
        replies, echoed, outcomes = loop.run(main(listener))
    assert replies == [b"still", b"fine"]
    assert echoed == b"12345"
    assert outcomes == ["ConnectionResetError", 9, 5]
    assert len(loop.selector.get_map()) == 0


@pytest.mark.parametrize("stage", IO_STAGES)
def test_a_second_reader_of_one_socket_is_refused(stage):
    a, b = socket.socketpair()
    reader, writer = stage.Socket(a), stage.Socket(b)
    log = []

    async def read(name):
        try:
            log.append((name, await reader.recv(100)))
        except stage.ResourceBusyError as exc:
            log.append((name, type(exc).__name__, "already waits" in str(exc)))

    async def main():
        first = await stage.spawn(read("first"))
        second = await stage.spawn(read("second"))
        await stage.join(second)                # refused at once...
        await writer.send(b"data")
        await stage.join(first)                 # ...while the first still waits

    loop = stage.Loop()
    with reader, writer:
        loop.run(main())
    assert log == [("second", "ResourceBusyError", True), ("first", b"data")]
    assert len(loop.selector.get_map()) == 0


@pytest.mark.parametrize("stage", IO_STAGES)
def test_a_reader_and_a_writer_share_one_registration(stage):
    a, b = socket.socketpair()
    a.setblocking(False)
    filled = 0                                  # fill a's buffers: writing must wait
    try:
        while True:
            filled += a.send(b"x" * 65536)
    except BlockingIOError:
        pass
    log = []
    loop = stage.Loop()

    async def writer():
        await stage.write_wait(a)
        log.append("a writable")

    async def reader():
        await stage.read_wait(a)
        log.append("a readable")

    async def other_end():
        await stage.sleep(0)                    # both waits are registered now
        key = loop.selector.get_key(a)
        log.append(("one key, both events", key.events ==
                    stage.selectors.EVENT_READ | stage.selectors.EVENT_WRITE))
        peer = stage.Socket(b)
        total = 0
        while total < filled:
            total += len(await peer.recv(1 << 20))
        await peer.send(b"!")

    async def main():
        tasks = [await stage.spawn(f()) for f in (writer, reader, other_end)]
        for task in tasks:
            await stage.join(task)

    with a, b:
        loop.run(main())
    assert log[0] == ("one key, both events", True)
    assert sorted(log[1:]) == ["a readable", "a writable"]
    assert len(loop.selector.get_map()) == 0


@pytest.mark.parametrize("stage", IO_STAGES)
def test_timers_and_io_wait_together(stage):
    """A reader and a sleeper: the timer ends one poll, the data another."""
    a, b = socket.socketpair()
    reader, writer = stage.Socket(a), stage.Socket(b)
    log = []

    async def read():
        log.append(("got", await reader.recv(10), await stage.now()))

    async def late_writer():
        await stage.sleep(5)
        log.append(("writing", await stage.now()))
        await writer.send(b"late")

    async def main():
        r = await stage.spawn(read())
        w = await stage.spawn(late_writer())
        await stage.join(w)
        await stage.join(r)

    with reader, writer:
        stage.run(main(), clock=stage.VirtualClock())
    assert log == [("writing", 5.0), ("got", b"late", 5.0)]


@pytest.mark.parametrize("stage", IO_STAGES)
def test_the_poll_timeout_rule(stage):
    loop = stage.Loop(stage.VirtualClock())
    a, b = socket.socketpair()

    async def nap():
        await stage.sleep(5)

    async def wait_for_a():
        await stage.read_wait(a)

    with a, b:
        loop.spawn_task(wait_for_a())
        assert loop.poll_timeout() == 0         # a task is ready
        loop.run_batch()
        assert loop.poll_timeout() == stage.MAX_POLL  # only a file: wait for it
        loop.spawn_task(nap())
        loop.run_batch()
        assert loop.poll_timeout() == 5         # a file and a timer: the timer
        b.send(b"x")
        loop.tick()                             # the file is ready: no waiting
        assert loop.clock.now() == 0.0 and loop.tasks and not loop.selector.get_map()


@pytest.mark.parametrize("stage", IO_STAGES)
def test_waiting_for_a_socket_does_not_spin_real_clock(stage):
    a, b = socket.socketpair()
    reader = stage.Socket(a)
    feeder = threading.Timer(0.3, b.send, args=(b"wake",))

    async def main():
        feeder.start()
        return await reader.recv(10)

    loop = stage.Loop()
    with a, b:
        cpu = time.process_time()
        result = loop.run(main())
        used = time.process_time() - cpu
    feeder.join()
    assert result == b"wake"
    assert used < 0.05, f"waiting 0.3 s for a socket used {used:.3f} s of CPU"
    assert loop.ticks == 2


@pytest.mark.parametrize("stage", IO_STAGES)
def test_connect_to_a_closed_port_raises_in_the_task(stage):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()                               # nobody listens there now

    async def main():
        with stage.Socket(socket.socket()) as sock:
            try:
                await sock.connect(("127.0.0.1", port))
            except ConnectionRefusedError:
                return "refused"

    loop = stage.Loop()
    assert loop.run(main()) == "refused"
    assert len(loop.selector.get_map()) == 0


@pytest.mark.parametrize("stage", IO_STAGES)
def test_waiting_on_a_closed_socket_fails_in_that_task_only(stage):
    sock = socket.socket()
    sock.close()

    async def bad():
        await stage.read_wait(sock)

    async def main():
        task = await stage.spawn(bad())
        try:
            await stage.join(task)
        except ValueError:
            return "ValueError"

    assert stage.run(main()) == "ValueError"


@pytest.mark.parametrize("stage", IO_STAGES)
def test_tasks_waiting_for_files_are_not_a_deadlock(stage):
    a, b = socket.socketpair()
    threading.Timer(0.05, b.send, args=(b"x",)).start()

    async def main():
        await stage.read_wait(a)
        return "woken"

    with a, b:
        assert stage.run(main()) == "woken"

    async def truly_stuck():
        other = await stage.spawn(stage.join(await stage.current()))
        await stage.join(other)

    with pytest.raises(RuntimeError, match="deadlock"):
        stage.run(truly_stuck())


# ------------------------------------------------------------ exercises

def test_exercise_1_recv_line_splits_and_joins_chunks():
    from stages.ch06_io import Socket, join, run, sleep, spawn
    a, b = socket.socketpair()
    reader, writer = Socket(a), Socket(b)

    async def feed():
        for chunk in (b"one\ntw", b"o\n", b"thr", b"ee\nfour"):
            await writer.send(chunk)
            await sleep(0)
        writer.shutdown(socket.SHUT_WR)

    async def main():
        feeder = await spawn(feed())
        buffer = bytearray()
        lines = []
        while line := await recv_line(reader, buffer):
            lines.append(line)
        await join(feeder)
        return lines

    with reader, writer:
        assert run(main()) == [b"one\n", b"two\n", b"three\n", b"four"]


def test_exercise_2_read_pipe_does_not_block_the_loop():
    from stages.ch06_io import Loop, sleep, spawn, join
    r, w = os.pipe()
    log = []

    async def writer():
        for word in (b"pipes", b"work"):
            await sleep(0.01)
            log.append(("write", word))
            os.write(w, word)
        os.close(w)

    async def main():
        task = await spawn(writer())
        while data := await read_pipe(r, 100):
            log.append(("read", data))
        await join(task)

    loop = Loop()
    try:
        loop.run(main())
    finally:
        os.close(r)
    assert log == [("write", b"pipes"), ("read", b"pipes"),
                   ("write", b"work"), ("read", b"work")]
    assert len(loop.selector.get_map()) == 0


def test_the_stage_demo_runs_an_echo_server():
    import pathlib
    import sys
    stage = pathlib.Path(__file__).parent.parent / "code" / "stages" / "ch06_io.py"
    out = subprocess.run([sys.executable, str(stage)], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    assert out.count("server: a client from port") == 3
    assert sorted(line for line in out.splitlines() if line.startswith("client")) == [
        "client got 'one'", "client got 'three'", "client got 'two'"]


@pytest.mark.parametrize("stage", IO_STAGES)
def test_a_second_writer_of_one_socket_is_refused(stage):
    a, b = socket.socketpair()
    a.setblocking(False)
    try:                                        # fill the buffers: writers must wait
        while True:
            a.send(b"x" * 65536)
    except BlockingIOError:
        pass
    log = []

    async def writer(name):
        try:
            await stage.write_wait(a)
            log.append((name, "may write"))
        except stage.ResourceBusyError:
            log.append((name, "refused"))

    async def main():
        first = await stage.spawn(writer("first"))
        second = await stage.spawn(writer("second"))
        await stage.join(second)
        b.setblocking(False)
        try:                                    # empty the pipe: room to write
            while b.recv(1 << 20):
                pass
        except BlockingIOError:
            pass
        await stage.join(first)

    loop = stage.Loop()
    with a, b:
        loop.run(main())
    assert log == [("second", "refused"), ("first", "may write")]
    assert len(loop.selector.get_map()) == 0
