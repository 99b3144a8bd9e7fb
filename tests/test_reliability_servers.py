"""Hostile peers against the example servers, each server in its own process.

Every attack runs on real sockets on 127.0.0.1 against ``python -m
tale.examples.http_server`` or ``python -m tale.examples.redis_server``:
peers that reset in the middle of a request, half-close, send one byte at a
time, never finish their head (a hundred at once), send garbage, vanish
while a large response is being written, or take every descriptor the
server may open.  The same three things are checked each time:

* a well-behaved client is still served, and promptly: the latency of its
  requests during the attack is measured and bounded;
* the server's descriptors and memory come back once the attackers have
  left: the descriptor count exactly (polled until it does, for a bounded
  time), the resident memory (VmRSS) within `RSS_SLACK` of where it was;
* nothing acknowledged is lost: every Redis SET answered ``+OK`` is read
  back afterwards, also while other clients misbehave.

Memory is compared after a warm-up of the same attack: the first time a
server holds a large response, Python's allocator and the C library keep
some of the pages it used for the next time (glibc's heap only shrinks from
its top, and its mmap threshold rises after a large block is freed).  What
must not happen is growth with each round: that would be a leak.
"""
import os
import random
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEADER_TIMEOUT = 0.5            # the HTTP server's --header-timeout in these tests
SEND_TIMEOUT = 0.5              # and its --send-timeout
RSS_SLACK = 4 << 20             # bytes of resident memory allowed to stay (see above)
PROMPT = 1.0                    # seconds: the slowest answer a good client may get
BIG = 8 << 20                   # bytes of the large responses


# -- the server process -----------------------------------------------------------

class Server:
    """``python -m MODULE --port 0 ARGS`` in a process of its own, as a user runs it.

    With `spare_fds`, the process may open only that many descriptors more
    than it has when the server module starts (RLIMIT_NOFILE, set by a
    small ``-c`` wrapper before the server runs).
    """

    def __init__(self, module, *args, spare_fds=None):
        command = [sys.executable, '-m', module]
        if spare_fds is not None:
            command = [sys.executable, '-c',
                       'import os, resource, runpy, sys\n'
                       'used = len(os.listdir("/proc/self/fd"))\n'
                       '_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n'
                       f'resource.setrlimit(resource.RLIMIT_NOFILE, (used + {spare_fds}, hard))\n'
                       f'sys.argv[0] = {module!r}\n'
                       f'runpy.run_module({module!r}, run_name="__main__", alter_sys=True)\n']
        self.process = subprocess.Popen(
            [*command, '--host', '127.0.0.1', '--port', '0', *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, 'PYTHONPATH': str(ROOT / 'code')},
            start_new_session=True)                 # Ctrl-C in a terminal is not for it
        ready, _, _ = select.select([self.process.stdout], [], [], 10)
        line = self.process.stdout.readline() if ready else ''
        match = re.fullmatch(r'listening on 127\.0\.0\.1:(\d+)\n', line)
        if not match:
            self.process.kill()
            self.process.wait()
            pytest.fail(f'no listening line: {line!r} {self.process.stderr.read()}')
        self.port = int(match.group(1))
        self.address = ('127.0.0.1', self.port)

    @property
    def pid(self):
        return self.process.pid

    def fds(self):
        """How many descriptors the server has open."""
        return len(os.listdir(f'/proc/{self.pid}/fd'))

    def rss(self):
        """The server's resident memory, in bytes (VmRSS)."""
        with open(f'/proc/{self.pid}/status') as status:
            for line in status:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) * 1024
        raise AssertionError('no VmRSS')

    def cpu(self):
        """Processor seconds the server has used (user + system)."""
        with open(f'/proc/{self.pid}/stat') as stat:
            fields = stat.read().rpartition(')')[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')

    def settle(self, fds, limit=5.0):
        """Wait until the server is back to `fds` descriptors; fail after `limit` s."""
        deadline = time.monotonic() + limit
        while (now := self.fds()) > fds:
            if time.monotonic() > deadline:
                pytest.fail(f'the server keeps {now - fds} descriptor(s) more than '
                            f'before the attack ({now} > {fds})')
            time.sleep(0.02)

    def stop(self):
        """SIGINT, as Ctrl-C; the server must stop with status 0 and no traceback."""
        self.process.send_signal(signal.SIGINT)
        try:
            status = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail('the server did not stop on SIGINT')
        finally:
            self.process.stdout.close()
        errors = self.process.stderr.read()
        self.process.stderr.close()
        return status, errors


@pytest.fixture
def http(tmp_path):
    """The HTTP server, with a large file under its --root."""
    (tmp_path / 'big.bin').write_bytes(os.urandom(1024) * (BIG // 1024))
    server = Server('tale.examples.http_server', '--root', str(tmp_path),
                    '--header-timeout', str(HEADER_TIMEOUT),
                    '--send-timeout', str(SEND_TIMEOUT))
    yield server
    status, errors = server.stop()
    assert status == 0 and 'Traceback' not in errors, errors


@pytest.fixture
def redis():
    server = Server('tale.examples.redis_server')
    yield server
    status, errors = server.stop()
    assert status == 0 and 'Traceback' not in errors, errors


# -- peers ---------------------------------------------------------------------------

_open_peers = []


@pytest.fixture(autouse=True)
def close_peers():
    """Every peer a test opened is closed at its end, also when the test fails."""
    yield
    while _open_peers:
        _open_peers.pop().close()


def connect(address, timeout=5.0):
    sock = socket.create_connection(address, timeout=timeout)
    _open_peers.append(sock)
    return sock


def reset(sock):
    """Close with SO_LINGER 0: the peer gets a RST, not a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    sock.close()


def receive_all(sock, limit=BIG * 2):
    """Everything the server sends until it closes (or resets)."""
    chunks, size = [], 0
    while size < limit:
        try:
            chunk = sock.recv(1 << 16)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b''.join(chunks)


GET_HELLO = b'GET / HTTP/1.1\r\nHost: t\r\n\r\n'
HELLO_REPLY = b'Hello from tale!\n'


class GoodHTTPClient:
    """A keep-alive client that times each request it makes."""

    def __init__(self, address):
        self.sock = connect(address)
        self.times = []

    def get(self):
        start = time.monotonic()
        self.sock.sendall(GET_HELLO)
        reply = b''
        while not reply.endswith(HELLO_REPLY):
            chunk = self.sock.recv(4096)
            assert chunk, f'the server closed a good connection after {reply!r}'
            reply += chunk
        assert reply.startswith(b'HTTP/1.1 200 '), reply
        self.times.append(time.monotonic() - start)

    def close(self):
        self.sock.close()
        assert self.times and max(self.times) < PROMPT, \
            f'a good client waited {max(self.times):.3f} s'
        print(f'good: {len(self.times)} requests, max {max(self.times)*1000:.1f} ms')
        return max(self.times)


def http_get_fresh(address):
    """One request on a new connection (the server must accept it): its latency."""
    start = time.monotonic()
    with connect(address) as sock:
        sock.sendall(b'GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n')
        reply = receive_all(sock)
    assert reply.startswith(b'HTTP/1.1 200 ') and reply.endswith(HELLO_REPLY), reply
    return time.monotonic() - start


def baseline(server, warm_up):
    """Descriptors and memory of the idle server, after one round of `warm_up`."""
    warm_up()
    time.sleep(0.05)
    return server.fds(), server.rss()


def check_memory(server, rss_before):
    rss = server.rss()
    print(f'RSS {rss_before/1e6:.1f} -> {rss/1e6:.1f} MB, fds {server.fds()}')
    assert rss - rss_before < RSS_SLACK, \
        f'resident memory grew by {(rss - rss_before) / 1e6:.1f} MB'


# -- HTTP ----------------------------------------------------------------------------

def test_http_peers_that_reset_in_the_middle_of_a_request(http):
    requests = [GET_HELLO[:n] for n in (1, 10, len(GET_HELLO) - 1)] + [
        b'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n' + b'x' * 500]

    def attack(rounds=20):
        for _ in range(rounds):
            for data in requests:
                sock = connect(http.address)
                sock.sendall(data)
                reset(sock)

    fds, rss = baseline(http, attack)
    good = GoodHTTPClient(http.address)
    for _ in range(10):
        attack(rounds=5)
        good.get()
    good.close()
    http.settle(fds)
    check_memory(http, rss)


def test_http_half_close_still_gets_every_answer(http):
    fds, rss = baseline(http, lambda: None)
    for data in (GET_HELLO, GET_HELLO * 3):
        with connect(http.address) as sock:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            reply = receive_all(sock)
        assert reply.count(b'HTTP/1.1 200 ') == data.count(b'GET'), reply
    with connect(http.address) as sock:        # half a request, then the end
        sock.sendall(GET_HELLO[:20])
        sock.shutdown(socket.SHUT_WR)
        reply = receive_all(sock)
    assert reply.startswith(b'HTTP/1.1 400 '), reply
    http.settle(fds)
    check_memory(http, rss)


def test_http_one_byte_at_a_time_beside_a_good_client(http):
    fds, rss = baseline(http, lambda: None)
    slow = [connect(http.address) for _ in range(20)]
    good = GoodHTTPClient(http.address)
    for i in range(len(GET_HELLO)):
        for sock in slow:
            sock.sendall(GET_HELLO[i:i + 1])
        good.get()
    for sock in slow:
        sock.shutdown(socket.SHUT_WR)
        reply = receive_all(sock)
        assert reply.startswith(b'HTTP/1.1 200 ') and reply.endswith(HELLO_REPLY), reply
        sock.close()
    good.close()
    http.settle(fds)
    check_memory(http, rss)


def test_http_slowloris_a_hundred_heads_never_finished(http):
    def attack():
        socks = [connect(http.address) for _ in range(100)]
        for sock in socks:
            sock.sendall(b'GET / HTTP/1.1\r\nHost: t\r\n')
        return socks

    def warm_up():
        for sock in attack():
            reset(sock)

    fds, rss = baseline(http, warm_up)
    started = time.monotonic()
    socks = attack()
    good = GoodHTTPClient(http.address)
    while time.monotonic() - started < HEADER_TIMEOUT * 0.8:
        for sock in socks:                      # a header line, now and then
            sock.sendall(b'X-a: b\r\n')
        good.get()
        time.sleep(0.05)
    for sock in socks:                          # the head deadline ends them all
        sock.settimeout(HEADER_TIMEOUT + 5)
        assert receive_all(sock).startswith(b'HTTP/1.1 408 ')
        sock.close()
    waited = time.monotonic() - started
    assert waited < HEADER_TIMEOUT + 2.0, f'the slow heads lasted {waited:.2f} s'
    good.get()
    good.close()
    http.settle(fds)
    check_memory(http, rss)


def test_http_garbage_gets_400_and_harms_no_one(http):
    rng = random.Random(16)

    def attack(rounds=30):
        for _ in range(rounds):
            with connect(http.address) as sock:
                sock.sendall(bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 3000))))
                sock.shutdown(socket.SHUT_WR)
                reply = receive_all(sock)
            assert reply == b'' or reply.startswith((b'HTTP/1.1 4', b'HTTP/1.1 5')), reply[:80]

    fds, rss = baseline(http, attack)
    good = GoodHTTPClient(http.address)
    for _ in range(5):
        attack(rounds=6)
        good.get()
    good.close()
    http.settle(fds)
    check_memory(http, rss)


def test_http_clients_that_vanish_while_a_large_file_is_sent(http):
    request = b'GET /static/big.bin HTTP/1.1\r\nHost: t\r\n\r\n'

    def attack(clients=8):
        socks = []
        for _ in range(clients):
            sock = connect(http.address)
            sock.sendall(request)
            socks.append(sock)
        for sock in socks:                      # read a little, then go
            sock.recv(1000)
        for i, sock in enumerate(socks):
            reset(sock) if i % 2 else sock.close()

    with connect(http.address) as sock:         # the file, whole, to a reader
        sock.sendall(request.replace(b'\r\n\r\n', b'\r\nConnection: close\r\n\r\n'))
        reply = receive_all(sock)
    assert reply.startswith(b'HTTP/1.1 200 ') and len(reply) > BIG
    fds, rss = baseline(http, attack)
    good = GoodHTTPClient(http.address)
    for _ in range(4):
        attack()
        good.get()
    good.close()
    http.settle(fds)
    check_memory(http, rss)


def test_http_clients_that_stop_reading_a_large_file_are_dropped(http):
    """A reader that takes nothing (or a peer gone without a word) cannot hold
    the response in the server's memory for ever: the send deadline drops it."""
    request = b'GET /static/big.bin HTTP/1.1\r\nHost: t\r\n\r\n'
    fds, rss = baseline(http, lambda: None)
    socks = []
    for _ in range(8):
        sock = connect(http.address)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(request)
        socks.append(sock)
    good = GoodHTTPClient(http.address)
    good.get()
    while http.rss() - rss < 8 * BIG:           # each is held its response
        time.sleep(0.01)
    print(f'held: {(http.rss() - rss) / 1e6:.0f} MB, {http.fds() - fds} fds')
    started = time.monotonic()
    while http.fds() > fds + 1:                 # the good client's connection stays
        assert time.monotonic() - started < SEND_TIMEOUT + 3, \
            f'{http.fds() - fds - 1} readers that read nothing are still held'
        good.get()
        time.sleep(0.05)
    check_memory(http, rss)
    for sock in socks:
        sock.close()
    good.close()
    http.settle(fds)


def test_http_a_slow_reader_of_a_large_file_is_served_to_the_end(http):
    """The send deadline is on progress: a reader slower than the deadline
    for the whole file, but steady, gets all of it."""
    with connect(http.address) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
        sock.sendall(b'GET /static/big.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n')
        started, size = time.monotonic(), 0
        while chunk := sock.recv(1 << 20):
            size += len(chunk)
            time.sleep(0.01)
        took = time.monotonic() - started
    assert size > BIG and took > SEND_TIMEOUT, (size, took)


def test_http_a_descriptor_limit_on_accept_and_on_open(tmp_path):
    """EMFILE: a server with few descriptors, and more clients than that.
    It neither spins nor crashes; a file it cannot open is a 503; when the
    clients leave, it serves again."""
    (tmp_path / 'small.txt').write_bytes(b'small\n')
    server = Server('tale.examples.http_server', '--root', str(tmp_path),
                    '--header-timeout', '30', spare_fds=8)
    try:
        http_get_fresh(server.address)         # the selector exists from here on
        fds = server.fds()
        waiting = connect(server.address)      # accepted while there is room
        waiting.sendall(b'GET /static/small.txt HTTP/1.1\r\nHost: t\r\n')
        crowd = [connect(server.address) for _ in range(30)]
        deadline = time.monotonic() + 5
        while server.fds() < fds + 7 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)                        # accept has failed by now
        cpu = server.cpu()
        time.sleep(1.0)
        assert server.cpu() - cpu < 0.3, 'the server spun while out of descriptors'
        waiting.sendall(b'\r\n')              # the file cannot be opened now
        waiting.shutdown(socket.SHUT_WR)
        reply = receive_all(waiting)
        assert reply.startswith(b'HTTP/1.1 503 '), reply
        for sock in crowd:
            sock.close()
        assert http_get_fresh(server.address) < PROMPT
        server.settle(fds)
    finally:
        status, errors = server.stop()
    assert status == 0, errors
    assert 'Traceback' not in errors, errors
    assert 1 <= errors.count('accept failed') <= 30, errors   # once per spell


# -- Redis ---------------------------------------------------------------------------

def command(*args):
    """One command as a RESP array of bulk strings."""
    out = [b'*%d\r\n' % len(args)]
    for arg in args:
        arg = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b'$%d\r\n%s\r\n' % (len(arg), arg))
    return b''.join(out)


def read_replies(sock, count):
    """`count` simple replies (+OK, +PONG, -ERR..., :n) or bulk replies, parsed."""
    buffer, replies = b'', []
    while len(replies) < count:
        while True:                             # one whole reply in the buffer?
            line, sep, rest = buffer.partition(b'\r\n')
            if sep and line[:1] == b'$' and int(line[1:]) >= 0:
                size = int(line[1:])
                if len(rest) >= size + 2:
                    replies.append(rest[:size])
                    buffer = rest[size + 2:]
                    break
            elif sep:
                replies.append(None if line == b'$-1' else line)
                buffer = rest
                break
            chunk = sock.recv(1 << 20)
            assert chunk, f'the server closed after {replies!r}'
            buffer += chunk
    assert not buffer, buffer
    return replies


class GoodRedisClient:
    """A client that sets keys and times each answer; `acked` holds what got +OK."""

    def __init__(self, address):
        self.sock = connect(address)
        self.times = []
        self.acked = {}

    def set(self, key, value):
        value = value if isinstance(value, bytes) else str(value).encode()
        start = time.monotonic()
        self.sock.sendall(command('SET', key, value))
        assert read_replies(self.sock, 1) == [b'+OK']
        self.times.append(time.monotonic() - start)
        self.acked[key] = value

    def close(self):
        self.sock.close()
        print(f'good: {len(self.times)} SETs, max {max(self.times) * 1000:.1f} ms')
        assert max(self.times) < PROMPT, f'a good client waited {max(self.times):.3f} s'


def check_acked(address, acked):
    """Every acknowledged write reads back, in one pipeline on a new connection."""
    keys = list(acked)
    with connect(address) as sock:
        sock.sendall(b''.join(command('GET', key) for key in keys))
        values = read_replies(sock, len(keys))
    lost = [k for k, v in zip(keys, values) if v != acked[k]]
    assert not lost, f'{len(lost)} acknowledged writes lost: {lost[:5]}'


def test_redis_acknowledged_writes_survive_peers_that_misbehave(redis):
    """While a good client writes, others reset in the middle of a command,
    send garbage, pipeline and reset, pipeline and half-close, send commands
    and then garbage, dribble a command a byte at a time, and ask for a large
    value and vanish."""
    rng = random.Random(17)
    big = os.urandom(1024) * (BIG // 1024)
    with connect(redis.address) as sock:
        sock.sendall(command('SET', 'big', big))
        assert read_replies(sock, 1) == [b'+OK']
    good = GoodRedisClient(redis.address)
    extra = {}                                  # acknowledged to the misbehaving peers

    def reset_mid_command(i):
        sock = connect(redis.address)
        sock.sendall(command('SET', f'never:{i}', 'x' * 100)[:rng.randrange(1, 30)])
        reset(sock)

    def garbage(i):
        sock = connect(redis.address)
        sock.sendall(bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 2000))))
        reset(sock) if i % 2 else sock.close()

    def pipeline_and_reset(i):                  # these may or may not be applied
        sock = connect(redis.address)
        sock.sendall(b''.join(command('SET', f'maybe:{i}:{n}', n) for n in range(50)))
        reset(sock)

    def pipeline_and_half_close(i):             # every one of these is answered
        sock = connect(redis.address)
        batch = {f'half:{i}:{n}': str(rng.random()).encode() for n in range(50)}
        sock.sendall(b''.join(command('SET', k, v) for k, v in batch.items()))
        sock.shutdown(socket.SHUT_WR)
        assert read_replies(sock, len(batch)) == [b'+OK'] * len(batch)
        assert receive_all(sock) == b''
        sock.close()
        extra.update(batch)

    def sets_then_garbage(i):                   # those before the garbage are answered
        sock = connect(redis.address)
        batch = {f'before:{i}:{n}': str(rng.random()).encode() for n in range(20)}
        sock.sendall(b''.join(command('SET', k, v) for k, v in batch.items())
                     + b'*1\r\n$x\r\n')
        replies = read_replies(sock, len(batch) + 1)
        assert replies[:-1] == [b'+OK'] * len(batch) and replies[-1].startswith(b'-ERR')
        sock.close()
        extra.update(batch)

    def byte_at_a_time(i):
        sock = connect(redis.address)
        value = str(rng.random()).encode()
        for byte in command('SET', f'slow:{i}', value):
            sock.sendall(bytes([byte]))
        assert read_replies(sock, 1) == [b'+OK']
        sock.close()
        extra[f'slow:{i}'] = value

    def big_get_and_vanish(i):
        socks = [connect(redis.address) for _ in range(4)]
        for sock in socks:
            sock.sendall(command('GET', 'big'))
        for sock in socks:
            sock.recv(1000)
            reset(sock) if i % 2 else sock.close()

    attacks = [reset_mid_command, garbage, pipeline_and_reset, pipeline_and_half_close,
               sets_then_garbage, byte_at_a_time, big_get_and_vanish]

    def one_round(i):
        for attack in attacks:
            attack(i)
            good.set(f'good:{i}:{attack.__name__}', str(rng.random()))

    fds, rss = baseline(redis, lambda: one_round(0))
    for i in range(1, 8):
        one_round(i)
    good.close()
    redis.settle(fds)
    check_memory(redis, rss)
    check_acked(redis.address, {**good.acked, **extra})


def test_redis_a_descriptor_limit_on_accept():
    """EMFILE: more clients than descriptors.  Those that wait in the queue
    are served when others leave; every SET answered +OK reads back."""
    server = Server('tale.examples.redis_server', spare_fds=8)
    try:
        with connect(server.address) as sock:      # the selector exists from here on
            sock.sendall(command('PING'))
            assert read_replies(sock, 1) == [b'+PONG']
        fds = server.fds()
        # eight spare descriptors: the listener, the selector and the Ctrl-C
        # socket pair take four, so four clients surely fit (five do here)
        held = [connect(server.address) for _ in range(4)]
        for n, sock in enumerate(held):
            sock.sendall(command('SET', f'held:{n}', n))
            assert read_replies(sock, 1) == [b'+OK']
        queued = [connect(server.address) for _ in range(20)]
        for n, sock in enumerate(queued):       # sent, but not yet accepted
            sock.sendall(command('SET', f'queued:{n}', n))
        time.sleep(0.3)
        cpu = server.cpu()
        time.sleep(1.0)
        assert server.cpu() - cpu < 0.3, 'the server spun while out of descriptors'
        for sock in held:
            sock.close()
        for sock in queued:
            assert read_replies(sock, 1) == [b'+OK']
            sock.close()
        check_acked(server.address, {**{f'held:{n}': str(n).encode() for n in range(4)},
                                     **{f'queued:{n}': str(n).encode() for n in range(20)}})
        server.settle(fds)
    finally:
        status, errors = server.stop()
    assert status == 0 and 'Traceback' not in errors, errors
    assert 1 <= errors.count('accept failed') <= 30, errors   # once per spell


# -- the soak, short ---------------------------------------------------------------

def test_the_soak_runs_briefly_and_writes_its_table(tmp_path):
    """make soak runs a minute per server; two seconds here check the machinery."""
    for tool in ('wrk', 'redis-benchmark'):
        if shutil.which(tool) is None:
            message = f'{tool} is not installed (apt-get install wrk redis-tools)'
            if os.environ.get('CI') == 'true':
                pytest.fail(message)
            pytest.skip(message)
    out = tmp_path / 'soak.txt'
    result = subprocess.run([sys.executable, str(ROOT / 'bench' / 'run.py'), '--tool', 'soak',
                             '--seconds', '2', '--requests', '2000', '--out', str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line.split() for line in out.read_text().splitlines()
            if line.split()[:1] in (['http_server'], ['redis_server'])]
    assert [row[0] for row in rows] == ['http_server', 'redis_server']
    for row in rows:
        assert int(row[1].replace(',', '')) > 0 and row[2] == '0' and row[9] == 'ok', row
