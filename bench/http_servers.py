"""HTTP hello servers under wrk: tale's example server against minimal servers on the other loops.

    python bench/run.py --tool http [--rounds 5] [--duration 2] [--connections 50] [--json FILE]

Each server runs in its own process pinned to core 0 (``taskset -c 0``);
wrk runs pinned to core 1 (``taskset -c 1 wrk -t1 -cN -dDs``), against
``GET /`` on a keep-alive connection per wrk connection.  The rounds visit
the servers in a rotating order, so that drift of the machine spreads over
all of them.  Printed: requests per second, the median over the rounds,
the median of the per-round ratios to asyncio streams, and the server's
processor time per request (user and system, from /proc/PID/stat, over the
wrk run), which depends much less than the rate on what else the machine
is doing.

tale's server is the real one (``python -m tale.examples.http_server``):
a strict HTTP/1.1 parser, routing, a head deadline per request.  The others
are *minimal*: they cut the input at each blank line and answer each head
with the same bytes, parsing nothing; "tale minimal" is that same server on
tale's streams, so that the loop and the HTTP work can be told apart.

Needs wrk and taskset; uvloop, trio and curio from requirements-bench.txt.
Self-contained: it imports nothing from the bench harness.
"""
import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from email.utils import formatdate
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BODY = b'Hello from tale!\n'


def response():
    """The bytes every minimal server sends (the same as tale's answer to GET /)."""
    return (b'HTTP/1.1 200 OK\r\nDate: %s\r\nContent-Type: text/plain; charset=utf-8\r\n'
            b'Content-Length: %d\r\n\r\n%s' % (formatdate(usegmt=True).encode(), len(BODY), BODY))


def heads(buffer):
    """Split complete request heads off `buffer`; return (count, rest)."""
    count = buffer.count(b'\r\n\r\n')
    if count:
        buffer = buffer[buffer.rfind(b'\r\n\r\n') + 4:]
    return count, buffer


def announce(port):
    print(f'listening on 127.0.0.1:{port}', flush=True)


# -- the minimal servers, one function each, run with --serve NAME ------------

def serve_asyncio_streams():
    import asyncio

    async def handle(reader, writer):
        answer = response()
        try:
            while True:
                await reader.readuntil(b'\r\n\r\n')
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main():
        server = await asyncio.start_server(handle, '127.0.0.1', 0)
        announce(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


def _protocol_server(loop_factory):
    import asyncio

    class Hello(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport, self.buffer, self.answer = transport, b'', response()

        def data_received(self, data):
            count, self.buffer = heads(self.buffer + data)
            if count:
                self.transport.write(self.answer * count)

    async def main():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Hello, '127.0.0.1', 0)
        announce(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    loop_factory(main())


def serve_asyncio_protocol():
    import asyncio
    _protocol_server(asyncio.run)


def serve_uvloop_protocol():
    import uvloop
    _protocol_server(uvloop.run)


def serve_trio():
    import trio

    async def handle(stream):
        buffer, answer = b'', response()
        try:
            while data := await stream.receive_some(65536):
                count, buffer = heads(buffer + data)
                if count:
                    await stream.send_all(answer * count)
        except (trio.BrokenResourceError, ConnectionError):
            pass

    async def main():
        listeners = await trio.open_tcp_listeners(0, host='127.0.0.1')
        announce(listeners[0].socket.getsockname()[1])
        await trio.serve_listeners(handle, listeners)

    trio.run(main)


def serve_curio():
    import curio
    from curio import socket as csocket

    async def handle(client, address):
        buffer, answer = b'', response()
        try:
            while data := await client.recv(65536):
                count, buffer = heads(buffer + data)
                if count:
                    await client.sendall(answer * count)
        except ConnectionError:
            pass

    async def main():
        sock = csocket.socket(csocket.AF_INET, csocket.SOCK_STREAM)
        sock.setsockopt(csocket.SOL_SOCKET, csocket.SO_REUSEADDR, 1)
        sock.bind(('127.0.0.1', 0))
        sock.listen(128)
        announce(sock.getsockname()[1])
        async with sock:
            async with curio.TaskGroup(wait=any) as group:
                while True:
                    client, address = await sock.accept()
                    await group.spawn(handle, client, address, daemon=True)

    curio.run(main)


def serve_tale_minimal():
    sys.path.insert(0, str(ROOT / 'code'))
    import tale

    async def handle(stream):
        buffer, answer = b'', response()
        try:
            while data := await stream.receive_some(65536):
                count, buffer = heads(buffer + data)
                if count:
                    await stream.send_all(answer * count)
        except ConnectionError:
            pass

    tale.run(tale.serve_tcp(handle, '127.0.0.1', 0, on_ready=lambda address: announce(address[1])))


SERVERS = {
    'tale': None,                       # the example server of chapter 16
    'tale minimal': serve_tale_minimal,
    'asyncio streams': serve_asyncio_streams,
    'asyncio Protocol': serve_asyncio_protocol,
    'uvloop Protocol': serve_uvloop_protocol,
    'trio': serve_trio,
    'curio': serve_curio,
}


# -- the runner ---------------------------------------------------------------------

def server_command(name):
    if name == 'tale':
        return [sys.executable, '-m', 'tale.examples.http_server', '--host', '127.0.0.1', '--port', '0']
    here = str(Path(__file__).resolve().parent)
    return [sys.executable, '-c', f'import sys; sys.path.insert(0, {here!r}); '
            f'import http_servers; http_servers.serve({name!r})']


def serve(name):
    """Run the minimal server `name` until Ctrl-C (the process of one server)."""
    try:
        SERVERS[name]()
    except KeyboardInterrupt:
        pass


def cpu_seconds(pid):
    """User and system time of process `pid` so far, in seconds."""
    with open(f'/proc/{pid}/stat') as stat:
        fields = stat.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def measure(name, duration, connections):
    """Start server `name` on core 0, run wrk on core 1; return requests per
    second, and the server's processor time per request in µs."""
    env = {**os.environ, 'PYTHONPATH': str(ROOT / 'code')}
    proc = subprocess.Popen(['taskset', '-c', '0', *server_command(name)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        port = re.fullmatch(r'listening on 127\.0\.0\.1:(\d+)\n', line)
        if not port:
            raise RuntimeError(f'{name}: no listening line, got {line!r}')
        before = cpu_seconds(proc.pid)          # taskset execs: the same process
        out = subprocess.run(['taskset', '-c', '1', 'wrk', '-t1', f'-c{connections}', f'-d{duration}s',
                              f'http://127.0.0.1:{port.group(1)}/'],
                             capture_output=True, text=True, timeout=duration + 30).stdout
        used = cpu_seconds(proc.pid) - before
        if 'Non-2xx' in out or 'Socket errors' in out:
            raise RuntimeError(f'{name}: wrk saw errors:\n{out}')
        requests = int(re.search(r'(\d+) requests in', out).group(1))
        return float(re.search(r'Requests/sec:\s+([\d.]+)', out).group(1)), used / requests * 1e6
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--duration', type=int, default=2, help='seconds of wrk per sample')
    parser.add_argument('--connections', type=int, default=50)
    parser.add_argument('--only', nargs='*', choices=list(SERVERS), help='measure only these')
    parser.add_argument('--json', help='also write the samples to this file')
    args = parser.parse_args(argv)
    names = args.only or list(SERVERS)
    samples = {name: [] for name in names}
    cpu = {name: [] for name in names}
    for round_ in range(args.rounds):
        order = names[round_ % len(names):] + names[:round_ % len(names)]
        for name in order:
            rate, us = measure(name, args.duration, args.connections)
            samples[name].append(rate)
            cpu[name].append(us)
            print(f'round {round_ + 1}: {name:17} {rate:9.0f} req/s {us:6.1f} µs/req',
                  file=sys.stderr)
    base = 'asyncio streams'
    print(f'| server | requests/s (median of {args.rounds}) | vs asyncio streams '
          f'| processor µs per request |')
    print('|---|---:|---:|---:|')
    for name in names:
        median = statistics.median(samples[name])
        ratio = (statistics.median(a / b for a, b in zip(samples[name], samples[base]))
                 if base in samples else float('nan'))
        print(f'| {name} | {median:,.0f} | {ratio:.2f}x | {statistics.median(cpu[name]):.1f} |')
    if args.json:
        Path(args.json).write_text(json.dumps({
            'wrk': f'-t1 -c{args.connections} -d{args.duration}s', 'rounds': args.rounds,
            'python': sys.version.split()[0], 'date': time.strftime('%Y-%m-%d'),
            'samples': samples, 'cpu_us_per_request': cpu}, indent=1) + '\n')
    return 0
