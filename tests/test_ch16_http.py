"""The example HTTP server of chapter 16, started as a user would, with real clients as the oracle.

curl, Python's http.client and wrk decide whether the server speaks HTTP;
raw sockets play the hostile peers: every malformed-request rule of the
parser gets its status on the wire and a closed connection, never a 2xx and
never a hang.  Everything runs on 127.0.0.1, on a free port, bounded in time.
"""
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_ch16_http_parser import BAD, parse

ROOT = Path(__file__).resolve().parent.parent
HEADER_TIMEOUT = 1.0


def start_server(*args):
    """`python -m tale.examples.http_server` in its own process; returns (process, port)."""
    env = {**os.environ, 'PYTHONPATH': str(ROOT / 'code')}
    proc = subprocess.Popen([sys.executable, '-m', 'tale.examples.http_server',
                             '--host', '127.0.0.1', '--port', '0', *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    line = proc.stdout.readline()
    match = re.fullmatch(r'listening on 127\.0\.0\.1:(\d+)\n', line)
    if not match:
        proc.kill()
        pytest.fail(f'no listening line: {line!r} {proc.communicate()[1]}')
    return proc, int(match.group(1))


def stop_server(proc):
    """Ctrl-C; the server must be gone, with status 0, within a second."""
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail('the server did not stop on SIGINT')
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, err
    assert elapsed < 1.0, f'SIGINT took {elapsed:.2f} s'
    return out, err


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    """A root directory with files, a subdirectory and symlinks, and a secret beside it."""
    base = tmp_path_factory.mktemp('site')
    root = base / 'root'
    (root / 'sub').mkdir(parents=True)
    (root / 'hello.txt').write_bytes(b'hello, file\n')
    (root / 'sub' / 'inner.html').write_bytes(b'<p>inner</p>\n')
    (base / 'secret.txt').write_bytes(b'SECRET\n')
    (root / 'escape').symlink_to(base / 'secret.txt')
    (root / 'escape-dir').symlink_to(base)
    (root / 'alias.txt').symlink_to(root / 'hello.txt')
    return root


@pytest.fixture(scope='module')
def server(site):
    proc, port = start_server('--root', str(site), '--header-timeout', str(HEADER_TIMEOUT),
                              '--max-body', '100000')
    yield port
    out, err = stop_server(proc)
    assert 'Traceback' not in err, err          # no handler crashed


def need(tool):
    if shutil.which(tool) is None:
        pytest.skip(f'{tool} is not installed')


def curl(port, *args):
    need('curl')
    result = subprocess.run(['curl', '--silent', '--show-error', '--max-time', '5', *args],
                            capture_output=True, timeout=10)
    assert result.returncode == 0, result.stderr
    return result.stdout


# -- raw sockets ---------------------------------------------------------------

def talk(port, data, *, shut=False, timeout=5.0):
    """Send `data`, optionally half-close, and read until the server closes; returns all it sent."""
    with socket.create_connection(('127.0.0.1', port), timeout=timeout) as sock:
        sock.sendall(data)
        if shut:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        else:
            pytest.fail('the server did not close the connection')
        return b''.join(chunks)


def responses(data, heads=()):
    """Cut what a server sent into (status, headers, body) triples.

    `heads`: the positions of responses to HEAD, which have a length and no body.
    """
    result = []
    while data:
        head, sep, data = data.partition(b'\r\n\r\n')
        assert sep, f'incomplete response head {head!r}'
        lines = head.decode('latin-1').split('\r\n')
        status = int(lines[0].split(' ')[1])
        headers = {k.lower(): v for k, v in (line.split(': ', 1) for line in lines[1:])}
        length = 0 if len(result) in heads else int(headers.get('content-length', 0))
        body, data = data[:length], data[length:]
        result.append((status, headers, body))
    return result


# -- curl ----------------------------------------------------------------------

def test_curl_get_says_hello(server):
    assert curl(server, f'http://127.0.0.1:{server}/') == b'Hello from tale!\n'


def test_curl_head_has_the_length_and_no_body(server):
    out = curl(server, '--head', f'http://127.0.0.1:{server}/')
    assert out.startswith(b'HTTP/1.1 200 OK\r\n')
    assert b'Content-Length: 17\r\n' in out and out.endswith(b'\r\n\r\n')


def test_curl_post_with_content_length_echoes(server):
    body = bytes(range(256)) * 40
    path = Path(os.environ.get('TMPDIR', '/tmp')) / f'tale-echo-{os.getpid()}.bin'
    path.write_bytes(body)
    try:
        assert curl(server, '--data-binary', f'@{path}', f'http://127.0.0.1:{server}/echo') == body
        assert curl(server, '-H', 'Transfer-Encoding: chunked', '--data-binary', f'@{path}',
                    f'http://127.0.0.1:{server}/echo') == body
    finally:
        path.unlink()


def test_curl_keeps_the_connection_for_two_urls(server):
    out = curl(server, '-w', ' connects=%{num_connects}\n', f'http://127.0.0.1:{server}/',
               f'http://127.0.0.1:{server}/static/hello.txt')
    assert out == b'Hello from tale!\n connects=1\nhello, file\n connects=0\n'


def test_curl_static_files_and_escapes(server):
    base = f'http://127.0.0.1:{server}/static/'
    assert curl(server, base + 'sub/inner.html') == b'<p>inner</p>\n'
    assert curl(server, base + 'alias.txt') == b'hello, file\n'          # a link inside the root
    for path in ['../secret.txt', '%2e%2e/secret.txt', '%2E%2E/secret.txt', '..%2fsecret.txt',
                 'sub/../../secret.txt', 'escape', 'escape-dir/secret.txt', '%2fetc%2fpasswd',
                 '/etc/passwd', './hello.txt', 'sub/', 'nothing', '%00', '..\\secret.txt',
                 '%c0%ae%c0%ae/secret.txt', '%252e%252e/secret.txt']:
        out = curl(server, '--path-as-is', '-w', '%{http_code}', base + path)
        assert out == b'not found\n404', path


# -- http.client ---------------------------------------------------------------

def test_http_client_keep_alive(server):
    conn = http.client.HTTPConnection('127.0.0.1', server, timeout=5)
    try:
        conn.request('GET', '/')
        first = conn.getresponse()
        assert (first.status, first.read()) == (200, b'Hello from tale!\n')
        sock = conn.sock
        conn.request('POST', '/echo', body=b'x' * 5000)
        second = conn.getresponse()
        assert (second.status, second.read()) == (200, b'x' * 5000)
        conn.request('GET', '/missing')
        third = conn.getresponse()
        assert third.status == 404 and third.read() == b'not found\n'
        conn.request('PUT', '/echo', body=b'')
        fourth = conn.getresponse()
        assert fourth.status == 405 and fourth.getheader('Allow') == 'POST'
        fourth.read()
        assert conn.sock is sock                  # one connection for all four
    finally:
        conn.close()


def test_pipelined_requests_are_answered_in_order(server):
    data = (b'GET / HTTP/1.1\r\nHost: a\r\n\r\n'
            b'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\none'
            b'POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n'
            b'HEAD / HTTP/1.1\r\nHost: a\r\n\r\n'
            b'GET /static/hello.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'
            b'GET / HTTP/1.1\r\nHost: a\r\n\r\n')              # after close: never answered
    got = responses(talk(server, data), heads={3})
    assert [(s, b) for s, h, b in got] == [(200, b'Hello from tale!\n'), (200, b'one'), (200, b'two'),
                                           (200, b''), (200, b'hello, file\n')]
    assert got[-1][1]['connection'] == 'close'


def test_http_1_0_closes_unless_keep_alive(server):
    got = responses(talk(server, b'GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n'))
    assert len(got) == 1 and got[0][1]['connection'] == 'close'
    got = responses(talk(server, b'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'
                                 b'GET / HTTP/1.0\r\n\r\n'))
    assert [h['connection'] for s, h, b in got] == ['keep-alive', 'close']


def test_expect_100_continue(server):
    with socket.create_connection(('127.0.0.1', server), timeout=5) as sock:
        sock.sendall(b'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n'
                     b'Expect: 100-continue\r\n\r\n')
        assert sock.recv(100) == b'HTTP/1.1 100 Continue\r\n\r\n'
        sock.sendall(b'body')
        sock.shutdown(socket.SHUT_WR)
        data = b''
        while chunk := sock.recv(65536):
            data += chunk
    assert [(s, b) for s, h, b in responses(data)] == [(200, b'body')]


# -- hostile peers ---------------------------------------------------------------

@pytest.mark.parametrize('data, status, reason', [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_malformed_request_gets_its_status_and_a_closed_connection(server, data, status, reason):
    needs_eof = parse(data, eof=False)[1] is None     # some rules are broken only by the end
    got = responses(talk(server, data, shut=needs_eof))
    assert [(s, h['connection']) for s, h, b in got] == [(status, 'close')]
    assert reason in got[0][2].decode('latin-1')
    # after a good request on the same connection: its answer, then the error
    got = responses(talk(server, b'GET / HTTP/1.1\r\nHost: a\r\n\r\n' + data, shut=needs_eof))
    assert [s for s, h, b in got] == [200, status]


def test_after_an_error_the_server_half_closes_and_keeps_reading(server):
    """Lingering close: closing with unread input would reset the connection, which can
    destroy a response the client has not read; so the server sends its end, then drains."""
    with socket.create_connection(('127.0.0.1', server), timeout=5) as sock:
        sock.sendall(b'GET / HTTP/1.1\r\nHost: a\r\nX : y\r\n\r\n')
        data = b''
        while chunk := sock.recv(65536):          # the response, then the server's end
            data += chunk
        assert [s for s, h, b in responses(data)] == [400]
        for _ in range(3):                        # still read by the server: no reset
            sock.sendall(b'x' * 10000)
            time.sleep(0.05)


def test_body_over_the_limit_gets_413(server):
    got = responses(talk(server, b'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100001\r\n\r\n'))
    assert [(s, h['connection']) for s, h, b in got] == [(413, 'close')]


def test_a_slow_head_is_timed_out(server):
    started = time.monotonic()
    with socket.create_connection(('127.0.0.1', server), timeout=5) as sock:
        sock.sendall(b'GET / HTTP/1.1\r\nHost: a\r\n')
        for _ in range(3):                    # a byte now and then does not extend the deadline
            time.sleep(HEADER_TIMEOUT / 4)
            sock.sendall(b'X')
        data = b''
        while chunk := sock.recv(65536):
            data += chunk
    elapsed = time.monotonic() - started
    assert [s for s, h, b in responses(data)] == [408]
    assert HEADER_TIMEOUT * 0.9 < elapsed < HEADER_TIMEOUT + 1.5


def test_an_idle_connection_is_closed(server):
    started = time.monotonic()
    data = talk(server, b'')
    assert [s for s, h, b in responses(data)] == [408]
    assert time.monotonic() - started < HEADER_TIMEOUT + 1.5


def test_absolute_form_and_bad_targets(server):
    got = responses(talk(server, b'GET http://a/ HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'))
    assert [(s, b) for s, h, b in got] == [(200, b'Hello from tale!\n')]
    got = responses(talk(server, b'OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n'))
    assert [(s, h['connection']) for s, h, b in got] == [(400, 'close')]


def test_a_reset_client_does_not_disturb_the_server(server):
    for _ in range(20):
        sock = socket.create_connection(('127.0.0.1', server))
        sock.sendall(b'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc')
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\1\0\0\0\0\0\0\0')
        sock.close()                            # RST
    assert curl(server, f'http://127.0.0.1:{server}/') == b'Hello from tale!\n'


# -- load ---------------------------------------------------------------------------

def test_wrk_gets_only_2xx(server):
    need('wrk')
    result = subprocess.run(['wrk', '-t1', '-c10', '-d1s', f'http://127.0.0.1:{server}/'],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    total = int(re.search(r'(\d+) requests in', out).group(1))
    assert total > 100, out
    assert 'Non-2xx' not in out and 'Socket errors' not in out, out


# -- the process ------------------------------------------------------------------------

def test_sigint_stops_the_server_with_open_connections(site):
    proc, port = start_server('--root', str(site))
    idle = socket.create_connection(('127.0.0.1', port), timeout=5)
    half = socket.create_connection(('127.0.0.1', port), timeout=5)
    try:
        idle.sendall(b'GET / HTTP/1.1\r\nHost: a\r\n\r\n')
        assert idle.recv(65536).startswith(b'HTTP/1.1 200 OK')
        half.sendall(b'GET / HTTP/1.1\r\nHost:')
        time.sleep(0.1)
        out, err = stop_server(proc)
        for sock in (idle, half):               # both connections were closed
            try:
                assert sock.recv(65536) == b''
            except ConnectionResetError:
                pass
    finally:
        idle.close()
        half.close()
    assert err == ''            # every task's finally ran inside the loop


def test_bad_command_line():
    env = {**os.environ, 'PYTHONPATH': str(ROOT / 'code')}
    result = subprocess.run([sys.executable, '-m', 'tale.examples.http_server', '--root', '/no/such/dir'],
                            capture_output=True, text=True, env=env, timeout=10)
    assert result.returncode == 2 and 'is not a directory' in result.stderr


# -- in one process: the watchdog, and the read after a send ----------------------

def run_with_server(server, client):
    """Serve `server` on a free port in a tale loop, run ``await client(host, port)``,
    then stop the server; returns what the client returned."""
    import tale
    from bounded import deadline

    async def main():
        ready = []
        task = await tale.spawn(tale.serve_tcp(server, on_ready=ready.append))
        while not ready:
            await tale.sleep(0)
        try:
            return await client(*ready[0])
        finally:
            await task.cancel()

    with deadline(20):
        return tale.run(main, debug=False)


def test_one_watchdog_keeps_a_slow_head_on_time_while_another_client_is_busy():
    """Every deadline is a line in one table, watched by one task: the busy client's
    deadlines, set again at every request, do not push back the slow one's."""
    import tale
    from tale.examples.http_server import HTTPServer
    server = HTTPServer(header_timeout=0.4, send_timeout=1.5)

    async def client(host, port):
        busy = await tale.open_connection(host, port)
        slow = await tale.open_connection(host, port)
        started = tale.clock()
        await slow.send_all(b'GET / HTTP/1.1\r\nHost: a\r\n')     # never finished
        answered = 0
        while tale.clock() - started < 0.6:
            await busy.send_all(b'GET / HTTP/1.1\r\nHost: a\r\n\r\n')
            assert (await busy.receive_some()).startswith(b'HTTP/1.1 200 ')
            answered += 1
        reply = b''
        while chunk := await slow.receive_some():
            reply += chunk
        elapsed = tale.clock() - started
        await busy.aclose()
        await slow.aclose()
        while server._watchdog is not None:     # it ends with the last connection
            await tale.sleep(0.05)
        return answered, reply, elapsed

    answered, reply, elapsed = run_with_server(server, client)
    assert answered > 10
    assert [s for s, h, b in responses(reply)] == [408]
    assert 0.35 < elapsed < 0.4 + 0.3 + 0.6, elapsed     # the busy loop ends at 0.6 s
    assert not server._deadlines and not server._late and not server._connections


def test_a_read_right_after_a_send_waits_instead_of_failing():
    """Stream: after send_all, the next read does not try recv first (the
    answer cannot be there yet); an answer that is there already still comes."""
    import tale

    class Counted:                      # a socket whose failed recv calls are counted
        def __init__(self, sock):
            self.sock, self.eagain = sock, 0

        def __getattr__(self, name):
            return getattr(self.sock, name)

        def recv(self, n):
            try:
                return self.sock.recv(n)
            except BlockingIOError:
                self.eagain += 1
                raise

    async def main():
        near, far = socket.socketpair()
        with far:
            counted = Counted(near)
            stream = tale.Stream(counted)
            peer = tale.Stream(far)

            async def answer():
                while await peer.receive_some() == b'ping':
                    await peer.send_all(b'pong')

            task = await tale.spawn(answer)
            for _ in range(20):
                await stream.send_all(b'ping')
                assert await stream.receive_some() == b'pong'
            await stream.send_all(b'stop')
            await task.wait()
            await peer.send_all(b'early')           # here before we even send
            await stream.send_all(b'ping')
            assert await stream.receive_some() == b'early'
            await stream.aclose()
            await peer.aclose()
        return counted.eagain

    assert tale.run(main, debug=False) == 0


def test_the_cost_table_of_a_request_runs():
    """bench/http_costs.py, at a small size: every piece is timed (the scope's
    cost is a difference of two timings, which a busy machine may upset)."""
    result = subprocess.run([sys.executable, str(ROOT / 'bench' / 'run.py'), '--tool', 'http-costs',
                             '--runs', '3', '--number', '300'],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    costs = {line.rsplit(None, 1)[0]: float(line.rsplit(None, 1)[1])
             for line in result.stdout.splitlines()[1:]}
    assert len(costs) == 8, result.stdout
    assert all(us > 0 for name, us in costs.items() if 'scope' not in name), result.stdout
