"""Chapter 17's Redis server, judged by real clients: redis-cli, redis-benchmark,
redis-py, and raw sockets that send what no client would.

Every server here is started as a user starts it (a subprocess of
``python -m tale.examples.redis_server --port 0``), listens on 127.0.0.1, and
every load is bounded in count and time.  A missing tool skips its test,
unless CI=true: then it fails.
"""
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tale
from tale.examples.redis_engine import Engine
from tale.examples.redis_server import serve_client

ROOT = Path(__file__).resolve().parent.parent
CI = os.environ.get('CI') == 'true'


def need(tool):
    """Skip (or, under CI, fail) when a command-line tool is missing."""
    if shutil.which(tool) is None:
        message = f'{tool} is not installed (apt-get install redis-tools)'
        if CI:
            pytest.fail(message)
        pytest.skip(message)


def need_redis_py():
    try:
        import redis
    except ImportError:
        if CI:
            pytest.fail('the redis package is not installed (pip install -r requirements.txt)')
        pytest.skip('the redis package is not installed')
    return redis


class Server:
    """``python -m tale.examples.redis_server`` in a subprocess, as a user runs it."""

    def __init__(self, *args):
        env = {**os.environ, 'PYTHONPATH': str(ROOT / 'code')}
        self.process = subprocess.Popen(
            [sys.executable, '-m', 'tale.examples.redis_server', '--port', '0', *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
            start_new_session=True)     # Ctrl-C in the terminal is not for it
        ready, _, _ = select.select([self.process.stdout], [], [], 10)
        line = self.process.stdout.readline() if ready else ''
        match = re.fullmatch(r'listening on 127\.0\.0\.1:(\d+)\n', line)
        if not match:
            self.process.kill()
            raise AssertionError(f'no listening line: {line!r} {self.process.stderr.read()}')
        self.port = int(match.group(1))

    def stop(self):
        """SIGINT, as Ctrl-C sends; return (exit status, seconds it took, stderr)."""
        start = time.monotonic()
        self.process.send_signal(signal.SIGINT)
        try:
            status = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        took = time.monotonic() - start
        return status, took, self.process.stderr.read()


@pytest.fixture(scope='module')
def server():
    server = Server()
    yield server
    status, took, errors = server.stop()
    assert status == 0 and 'Traceback' not in errors, errors


def connect(port):
    sock = socket.create_connection(('127.0.0.1', port), timeout=5)
    return sock


def read_until_closed(sock, limit=1 << 20):
    data = b''
    while len(data) < limit:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    raise AssertionError('the server did not close the connection')


def exchange(sock, data, expected_length):
    sock.sendall(data)
    reply = b''
    while len(reply) < expected_length:
        chunk = sock.recv(65536)
        assert chunk, f'closed after {reply!r}'
        reply += chunk
    return reply


# -- started as a user starts it --------------------------------------------------

@pytest.mark.parametrize('attempt', range(3))
def test_the_server_starts_listens_and_stops_on_ctrl_c_with_status_0(attempt):
    server = Server()
    with connect(server.port) as sock:
        assert exchange(sock, b'PING\r\n', 7) == b'+PONG\r\n'
    idle = connect(server.port)                      # a client still connected...
    busy = connect(server.port)
    busy.sendall(b'PING\r\n' * 1000)                # ...and one being served
    status, took, errors = server.stop()
    idle.close()
    busy.close()
    assert status == 0 and took < 1.0 and 'Traceback' not in errors, errors


def test_an_address_in_use_is_reported_in_one_line():
    server = Server()
    env = {**os.environ, 'PYTHONPATH': str(ROOT / 'code')}
    second = subprocess.run(
        [sys.executable, '-m', 'tale.examples.redis_server', '--port', str(server.port)],
        capture_output=True, text=True, env=env, timeout=30)
    server.stop()
    assert second.returncode == 1 and second.stdout == ''
    assert second.stderr.startswith('redis_server: [Errno 98] Address already in use')
    assert 'Traceback' not in second.stderr


def test_the_command_line_has_help_and_refuses_bad_options():
    env = {**os.environ, 'PYTHONPATH': str(ROOT / 'code')}
    command = [sys.executable, '-m', 'tale.examples.redis_server']
    usage = subprocess.run(command + ['--help'], capture_output=True, text=True, env=env,
                           timeout=30)
    assert usage.returncode == 0 and '--max-bulk' in usage.stdout
    bad = subprocess.run(command + ['--port', 'x'], capture_output=True, text=True, env=env,
                         timeout=30)
    assert bad.returncode == 2 and 'invalid int value' in bad.stderr


# -- raw sockets ----------------------------------------------------------------------

def test_inline_commands_as_nc_sends_them(server):
    with connect(server.port) as sock:
        assert exchange(sock, b'PING\r\n', 7) == b'+PONG\r\n'
        assert exchange(sock, b'set raw "two words"\n', 5) == b'+OK\r\n'
        assert exchange(sock, b'GET raw\r\n', 15) == b'$9\r\ntwo words\r\n'
        assert exchange(sock, b'\r\n\r\nECHO\t x \r\n', 7) == b'$1\r\nx\r\n'


def test_a_pipeline_sent_byte_by_byte_and_at_once_gets_the_same_replies(server):
    batch = b''.join(b'*3\r\n$3\r\nSET\r\n$4\r\nbyte\r\n$%d\r\n%d\r\n' % (len(b'%d' % i), i)
                     for i in range(50)) + b'*2\r\n$3\r\nGET\r\n$4\r\nbyte\r\n'
    expected = b'+OK\r\n' * 50 + b'$2\r\n49\r\n'
    with connect(server.port) as sock:
        assert exchange(sock, batch, len(expected)) == expected
    with connect(server.port) as sock:
        for i in range(len(batch)):
            sock.send(batch[i:i + 1])
        reply = b''
        while len(reply) < len(expected):
            reply += sock.recv(65536)
        assert reply == expected


MALFORMED = [
    (b'*1\r\n$x\r\n', b'-ERR Protocol error: invalid bulk length\r\n'),
    (b'*x\r\n', b'-ERR Protocol error: invalid multibulk length\r\n'),
    (b'*1\r\nPING\r\n', b"-ERR Protocol error: expected '$', got 'P'\r\n"),
    (b'ECHO "open\r\n', b'-ERR Protocol error: unbalanced quotes in request\r\n'),
    (b'x' * 70000, b'-ERR Protocol error: too big inline request\r\n'),
    (b'*1\r\n$16777217\r\n', b'-ERR Protocol error: invalid bulk length\r\n'),
]


@pytest.mark.parametrize('frame, reply', MALFORMED)
def test_a_malformed_frame_gets_the_error_and_closes_that_connection_only(server, frame, reply):
    with connect(server.port) as bystander, connect(server.port) as offender:
        assert exchange(bystander, b'SET bystander 1\r\n', 5) == b'+OK\r\n'
        offender.sendall(b'PING\r\n' + frame + b'PING\r\n' * 100)
        assert read_until_closed(offender) == b'+PONG\r\n' + reply
        assert exchange(bystander, b'GET bystander\r\n', 7) == b'$1\r\n1\r\n'


def test_after_a_protocol_error_the_connection_ends_in_order_not_with_a_reset(server):
    # Bytes still unread when a socket closes make the kernel send a reset,
    # and a reset can destroy the error reply: the server must drain them.
    for _ in range(5):
        with connect(server.port) as sock:
            sock.sendall(b'*x\r\n' + b'y' * 200_000)
            time.sleep(0.05)
            assert read_until_closed(sock) == b'-ERR Protocol error: invalid multibulk length\r\n'


def resident_bytes(pid):
    with open(f'/proc/{pid}/status') as status:
        line = next(line for line in status if line.startswith('VmRSS:'))
    return int(line.split()[1]) * 1024


def test_a_client_that_asks_for_much_and_does_not_read_costs_little_memory(server):
    """Eight bytes fetch a megabyte: 100 GETs sent at once, unread, must not make
    the server hold 100 replies (it sends them as it goes, held back by the client)."""
    value = b'v' * (1 << 20)
    with connect(server.port) as sock:
        command = b'*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n%s\r\n' % (len(value), value)
        assert exchange(sock, command, 5) == b'+OK\r\n'
    before = resident_bytes(server.process.pid)
    reply = b'$%d\r\n%s\r\n' % (len(value), value)
    with connect(server.port) as greedy:
        greedy.sendall(b'GET big\r\n' * 100)       # 900 bytes that ask for 100 MB
        time.sleep(0.5)                             # the server does what it can
        grown = resident_bytes(server.process.pid) - before
        with connect(server.port) as other:         # and serves the others meanwhile
            assert exchange(other, b'PING\r\n', 7) == b'+PONG\r\n'
        assert grown < 32 << 20, f'the server grew by {grown >> 20} MiB'
        received = 0
        while received < 100 * len(reply):          # every reply comes, whole
            chunk = greedy.recv(1 << 20)
            assert chunk, f'closed after {received} bytes'
            start = received % len(reply)
            head = len(reply) - start               # what is left of this reply
            assert reply.startswith(chunk[:head], start) and reply.startswith(chunk[head:])
            received += len(chunk)


def test_a_client_that_resets_or_vanishes_harms_no_one(server):
    for _ in range(20):
        sock = connect(server.port)
        sock.sendall(b'*3\r\n$3\r\nSET\r\n$4\r\ngone\r\n$100\r\n' + b'x' * 50)   # half a command
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\x01\x00\x00\x00\x00\x00\x00\x00')
        sock.close()                                  # a reset
    with connect(server.port) as sock:
        assert exchange(sock, b'EXISTS gone\r\n', 4) == b':0\r\n'


def test_a_batch_is_answered_with_one_send():
    class FakeStream:
        def __init__(self, chunks):
            self.chunks, self.sent = list(chunks), []

        async def receive_some(self, max_bytes=65536):
            return self.chunks.pop(0) if self.chunks else b''

        async def send_all(self, data):
            self.sent.append(data)

    stream = FakeStream([b'PING\r\n' * 16 + b'*1\r\n$4\r\nPI', b'NG\r\n'])
    stream.socket, other = socket.socketpair()
    with stream.socket, other:
        other.send(b'!')                            # the socket is always readable
        tale.run(serve_client, Engine(), stream)
    assert stream.sent == [b'+PONG\r\n' * 16, b'+PONG\r\n']


# -- redis-cli -----------------------------------------------------------------------

def cli(port, *args, stdin=None):
    result = subprocess.run(['redis-cli', '-p', str(port), *args], input=stdin,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_redis_cli(server):
    need('redis-cli')
    assert cli(server.port, 'ping') == 'PONG\n'
    assert cli(server.port, 'set', 'cli:k', 'hello world') == 'OK\n'
    assert cli(server.port, 'get', 'cli:k') == 'hello world\n'
    assert cli(server.port, '--no-raw', 'get', 'cli:k') == '"hello world"\n'
    assert cli(server.port, '--no-raw', 'get', 'cli:missing') == '(nil)\n'
    assert cli(server.port, '--no-raw', 'incr', 'cli:n') == '(integer) 1\n'
    assert cli(server.port, '--no-raw', 'mget', 'cli:k', 'cli:missing') == \
        '1) "hello world"\n2) (nil)\n'
    assert cli(server.port, '--no-raw', 'frobnicate', 'x') == \
        "(error) ERR unknown command 'frobnicate', with args beginning with: 'x' \n"
    assert cli(server.port, '--no-raw', 'get') == \
        "(error) ERR wrong number of arguments for 'get' command\n"
    assert cli(server.port, '--no-raw', 'set', 'cli:k', 'v', 'ex', '0') == \
        "(error) ERR invalid expire time in 'set' command\n"


def test_redis_cli_interactive_session_through_stdin(server):
    need('redis-cli')
    out = cli(server.port, stdin='SET cli:s "a b"\nGET cli:s\nKEYS cli:s*\nTTL cli:s\n')
    assert out == 'OK\na b\ncli:s\n-1\n'


def test_redis_cli_pipe_mode(server):
    need('redis-cli')
    commands = ''.join(f'SET pipe:{i} {i}\r\n' for i in range(2000))
    out = cli(server.port, '--pipe', stdin=commands)
    assert 'errors: 0, replies: 2000' in out
    assert cli(server.port, 'get', 'pipe:1999') == '1999\n'
    assert cli(server.port, 'eval', 'return 1', '0').startswith('ERR unknown command')


# -- redis-py ------------------------------------------------------------------------

def test_redis_py(server):
    redis = need_redis_py()
    client = redis.Redis(port=server.port, socket_timeout=5, protocol=2)
    try:
        assert client.ping() is True
        assert client.set('py:k', b'\x00\xffbytes\r\n') is True
        assert client.get('py:k') == b'\x00\xffbytes\r\n'
        assert client.set('py:k', 'other', nx=True) is None
        assert client.mset({'py:a': 1, 'py:b': 2}) is True
        assert client.mget('py:a', 'py:b', 'py:none') == [b'1', b'2', None]
        assert client.incrby('py:a', 41) == 42 and client.decr('py:a') == 41
        assert client.exists('py:a', 'py:b', 'py:none') == 2
        assert client.expire('py:a', 100) is True and client.ttl('py:a') == 100
        assert client.ttl('py:b') == -1 and client.ttl('py:none') == -2
        assert sorted(client.keys('py:[ab]')) == [b'py:a', b'py:b']
        assert client.delete('py:a', 'py:none') == 1
        assert client.client_setname('tester') is True and client.client_getname() == 'tester'
        assert client.echo('hi') == b'hi'
        assert client.config_get('save') == {'save': ''}
        with pytest.raises(redis.ResponseError, match='not an integer or out of range'):
            client.incr('py:k')
        with pytest.raises(redis.ResponseError, match="unknown command 'HGET'"):
            client.hget('h', 'f')
    finally:
        client.close()


def test_redis_py_pipelines_and_many_connections(server):
    redis = need_redis_py()
    clients = [redis.Redis(port=server.port, socket_timeout=5, protocol=2) for _ in range(10)]
    try:
        for n, client in enumerate(clients):
            with client.pipeline(transaction=False) as pipe:
                for i in range(500):
                    pipe.set(f'pp:{n}:{i}', i)
                    pipe.incr(f'pp:{n}')
                replies = pipe.execute()
            assert replies[-2:] == [True, 500]
        assert all(c.get(f'pp:{n}') == b'500' for n, c in enumerate(clients))
        assert len(clients[0].keys('pp:*')) == 10 * 501
    finally:
        for client in clients:
            client.close()


def test_expiry_for_real(server):
    redis = need_redis_py()
    client = redis.Redis(port=server.port, socket_timeout=5, protocol=2)
    try:
        client.set('real:short', 'v', px=200)
        for i in range(50):
            client.set(f'real:purged:{i}', 'v', px=100)
        assert client.get('real:short') == b'v'
        assert 0 < client.pttl('real:short') <= 200
        time.sleep(0.5)
        assert client.get('real:short') is None
        info = client.info()            # no one read the others: the purge removed them
        assert info['db0']['expires'] == 0
    finally:
        client.close()


# -- redis-benchmark -----------------------------------------------------------------

@pytest.mark.parametrize('pipeline', [1, 16])
def test_redis_benchmark_runs_without_errors_and_every_set_is_readable(server, pipeline):
    need('redis-benchmark')
    redis = need_redis_py()
    client = redis.Redis(port=server.port, socket_timeout=5, protocol=2)
    client.flushall()
    result = subprocess.run(
        ['redis-benchmark', '-h', '127.0.0.1', '-p', str(server.port), '-t', 'ping,set,get',
         '-n', '20000', '-c', '20', '-r', '100000', '-d', '8', '-q', '-P', str(pipeline)],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rates = dict(re.findall(r'(\w+): ([\d.]+) requests per second', result.stdout))
    assert set(rates) == {'PING_INLINE', 'PING_MBULK', 'SET', 'GET'}, result.stdout
    assert 'rror' not in result.stdout + result.stderr, result.stdout + result.stderr
    try:
        keys = client.keys('key:*')
        assert 1000 < len(keys) <= 20000
        values = client.mget(keys)
        assert len(set(values)) == 1 and len(values[0]) == 8    # one random value
    finally:
        client.close()


def test_the_benchmark_script_runs_and_writes_its_table(tmp_path):
    need('redis-benchmark')
    need('taskset')
    out = tmp_path / 'redis_servers.txt'
    result = subprocess.run(
        [sys.executable, str(ROOT / 'bench' / 'run.py'), '--tool', 'redis', '--rounds', '1',
         '--requests', '2000', '--clients', '5', '--servers', 'asyncio-streams,tale-minimal,tale',
         '--out', str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert text.count('| tale |') == 2 and text.count('| tale-minimal |') == 2
    assert '- tale against asyncio-streams, -P 16: ' in text
    assert 'Traceback' not in result.stderr
