#!/usr/bin/env python3
"""redis-benchmark against tale's Redis server and minimal RESP servers on other loops.

    python bench/run.py --tool redis [--rounds 3] [--requests 200000] [--clients 50]
                                  [--out book/results/redis_servers.txt]

Each server runs in its own process pinned to CPU 0 (``taskset -c 0``);
redis-benchmark runs pinned to CPU 1 and measures PING (inline and as an
array), SET and GET, one test per run, without pipelining and with ``-P 16``.
The measure is the server's processor time per request (from /proc), which
other programs on a shared machine disturb far less than the requests per
second (also given).  The servers are

* ``tale``: chapter 17's server, ``python -m tale.examples.redis_server``;
* minimal servers that answer PING, SET and GET (and the CONFIG GET that
  redis-benchmark asks first):

  - ``asyncio-streams``, the yardstick, written as asyncio streams usually
    are: ``readline`` for each line, ``readexactly`` for each argument, one
    ``write`` and ``drain`` per reply;
  - on asyncio streams, an asyncio Protocol, a uvloop Protocol, trio, curio
    and tale's streams, servers that all parse with the same sans-I/O parser
    (``tale.resp.Parser``) and answer a whole batch with one write, so that
    they differ only in their loop and its I/O path (and tale's full server
    also in its command engine).
A round runs every server once, in a new order each round; the table gives
the median over the rounds, and the median over rounds of each server's ratio
to asyncio streams measured in the same round.

``--server NAME --port P`` runs one minimal server (used by the main program):
it prints ``listening on HOST:PORT`` and stops on SIGINT.
"""
import argparse
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'code'))

from tale.resp import OK, NULL, Parser, ProtocolError, array, bulk  # noqa: E402

PONG = b'+PONG\r\n'
SERVERS = ['asyncio-streams', 'asyncio-streams-parser', 'asyncio-protocol', 'uvloop-protocol', 'trio', 'curio',
           'tale-minimal', 'tale']
BASELINE = 'asyncio-streams'
TESTS = ['PING_INLINE', 'PING_MBULK', 'SET', 'GET']


# -- the minimal servers -------------------------------------------------------

STORE = {}


def answer(command):
    """The reply to one command: PING, SET, GET and CONFIG GET only."""
    name = command[0].upper()
    if name == b'GET' and len(command) == 2:
        value = STORE.get(command[1])
        return NULL if value is None else bulk(value)
    if name == b'SET' and len(command) == 3:
        STORE[command[1]] = command[2]
        return OK
    if name == b'PING':
        return PONG
    if name == b'CONFIG' and len(command) == 3:
        return array([bulk(command[2]), bulk(b'')])
    return b'-ERR unknown command\r\n'


def answers(parser, data):
    """The replies to the commands `data` completes, joined; None to hang up."""
    try:
        return b''.join([answer(c) for c in parser.feed(data)])
    except ProtocolError:
        return None


def ready(address):
    print(f'listening on {address[0]}:{address[1]}', flush=True)


async def asyncio_streams(host, port):
    """asyncio streams as they are usually used: a line, then exactly n bytes."""
    import asyncio

    async def client(reader, writer):
        try:
            while line := await reader.readline():
                if line[:1] != b'*':                    # an inline command
                    command = line.split()
                    if not command:
                        continue
                else:
                    command = []
                    for _ in range(int(line[1:])):
                        size = int((await reader.readline())[1:])
                        command.append((await reader.readexactly(size + 2))[:-2])
                writer.write(answer(command))
                await writer.drain()
        except (ConnectionError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(client, host, port)
    ready(server.sockets[0].getsockname())
    await server.serve_forever()


async def asyncio_streams_parser(host, port):
    """asyncio streams with the sans-I/O parser: read what came, answer the batch."""
    import asyncio

    async def client(reader, writer):
        parser = Parser()
        try:
            while data := await reader.read(65536):
                reply = answers(parser, data)
                if reply is None:
                    break
                if reply:
                    writer.write(reply)
                    await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(client, host, port)
    ready(server.sockets[0].getsockname())
    await server.serve_forever()


def protocol_server(host, port, loop_factory=None):
    import asyncio

    class Resp(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport, self.parser = transport, Parser()

        def data_received(self, data):
            reply = answers(self.parser, data)
            if reply is None:
                self.transport.close()
            elif reply:
                self.transport.write(reply)

    async def main():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Resp, host, port)
        ready(server.sockets[0].getsockname())
        await server.serve_forever()

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(main())


async def trio_server(host, port):
    import trio

    async def client(stream):
        parser = Parser()
        try:
            while data := await stream.receive_some(65536):
                reply = answers(parser, data)
                if reply is None:
                    break
                if reply:
                    await stream.send_all(reply)
        except trio.BrokenResourceError:
            pass

    listeners = await trio.open_tcp_listeners(port, host=host)
    ready(listeners[0].socket.getsockname())
    await trio.serve_listeners(client, listeners)


async def curio_server(host, port):
    import socket
    import curio
    from curio.network import run_server, tcp_server_socket

    async def client(sock, address):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        parser = Parser()
        try:
            while data := await sock.recv(65536):
                reply = answers(parser, data)
                if reply is None:
                    break
                if reply:
                    await sock.sendall(reply)
        except ConnectionError:
            pass

    sock = tcp_server_socket(host, port)
    ready(sock.getsockname())
    await run_server(sock, client)


async def tale_minimal(host, port):
    import tale

    async def client(stream):
        parser = Parser()
        while data := await stream.receive_some(65536):
            reply = answers(parser, data)
            if reply is None:
                break
            if reply:
                await stream.send_all(reply)

    await tale.serve_tcp(client, host, port, on_ready=ready)


def run_minimal(name, host, port):
    if name == 'asyncio-streams':
        import asyncio
        asyncio.run(asyncio_streams(host, port))
    elif name == 'asyncio-streams-parser':
        import asyncio
        asyncio.run(asyncio_streams_parser(host, port))
    elif name == 'asyncio-protocol':
        protocol_server(host, port)
    elif name == 'uvloop-protocol':
        import uvloop
        protocol_server(host, port, uvloop.new_event_loop)
    elif name == 'trio':
        import trio
        trio.run(trio_server, host, port)
    elif name == 'curio':
        import curio
        curio.run(curio_server, host, port)
    elif name == 'tale-minimal':
        import tale
        tale.run(tale_minimal, host, port)
    else:
        raise SystemExit(f'no such server: {name}')


# -- the measurement -----------------------------------------------------------

def start(name):
    """Start server `name` pinned to CPU 0; return (process, port)."""
    if name == 'tale':
        command = [sys.executable, '-m', 'tale.examples.redis_server', '--port', '0']
    else:
        here = str(Path(__file__).resolve().parent)
        command = [sys.executable, '-c', f'import sys; sys.path.insert(0, {here!r}); '
                   f'import redis_servers; redis_servers.main(sys.argv[1:])',
                   '--server', name, '--port', '0']
    env = {**os.environ, 'PYTHONPATH': str(ROOT / 'code')}
    process = subprocess.Popen(['taskset', '-c', '0', *command], stdout=subprocess.PIPE,
                               text=True, env=env, cwd=ROOT)
    line = process.stdout.readline()
    match = re.fullmatch(r'listening on (\S+):(\d+)\n', line)
    if not match:
        process.kill()
        raise SystemExit(f'{name} did not start: {line!r}')
    return process, int(match.group(2))


def stop(process):
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def cpu_seconds(pid):
    """The processor time the main thread of process `pid` has used so far.

    /proc/PID/schedstat counts nanoseconds (/proc/PID/stat counts ticks of
    10 ms); every server here runs in one thread.
    """
    with open(f'/proc/{pid}/schedstat') as f:
        return int(f.read().split()[0]) / 1e9


def benchmark(process, port, test, requests, clients, pipeline):
    """(requests per second, server CPU µs per request) for one redis-benchmark test."""
    command = ['taskset', '-c', '1', 'redis-benchmark', '-h', '127.0.0.1', '-p', str(port),
               '-t', test.lower(), '-n', str(requests), '-c', str(clients), '-q']
    if pipeline > 1:
        command += ['-P', str(pipeline)]
    before = cpu_seconds(process.pid)
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    cpu = cpu_seconds(process.pid) - before
    rates = dict(re.findall(r'(\w+): ([\d.]+) requests per second', result.stdout))
    if result.returncode != 0 or set(rates) != {test} or 'rror' in result.stderr:
        raise SystemExit(f'redis-benchmark failed: {result.stdout[-500:]} {result.stderr[-500:]}')
    return float(rates[test]), cpu / requests * 1e6


def measure(rounds, requests, clients, servers):
    samples = []                    # (round, server, pipeline, test, rate, cpu µs)
    for round_number in range(rounds):
        order = random.Random(round_number).sample(servers, len(servers))
        for name in order:
            for pipeline in (1, 16):
                process, port = start(name)
                try:
                    for test in TESTS:
                        rate, cpu = benchmark(process, port, test, requests, clients, pipeline)
                        samples.append((round_number, name, pipeline, test, rate, cpu))
                finally:
                    stop(process)
                print(f'round {round_number + 1}: {name:22} -P {pipeline:<2} ' + '  '.join(
                    f'{t} {r:7.0f}/s {c:5.1f} µs' for _, _, _, t, r, c in samples[-len(TESTS):]),
                    file=sys.stderr, flush=True)
    return samples


def table(samples, servers, rounds):
    cpu = {(r, s, p, t): c for r, s, p, t, _, c in samples}
    rate = {(r, s, p, t): x for r, s, p, t, x, _ in samples}
    lines = []
    for pipeline in (1, 16):
        title = 'no pipelining' if pipeline == 1 else f'pipelining, -P {pipeline}'
        lines += [f'**{title}**: the server\'s processor time per request in µs, median of '
                  f'{rounds} rounds; in brackets, how many times as many requests per '
                  f'processor second as {BASELINE} (the median of the ratios within each '
                  f'round); last, requests per second, thousands, the median of the four tests',
                  '', '| server | ' + ' | '.join(TESTS) + ' | req/s |',
                  '|---|' + '---|' * (len(TESTS) + 1)]
        for name in servers:
            cells = []
            for test in TESTS:
                times = [cpu[r, name, pipeline, test] for r in range(rounds)]
                ratios = [cpu[r, BASELINE, pipeline, test] / cpu[r, name, pipeline, test]
                          for r in range(rounds)]
                cells.append(f'{statistics.median(times):.1f} ({statistics.median(ratios):.2f})')
            rates = statistics.median(statistics.median(rate[r, name, pipeline, t]
                                                        for r in range(rounds)) for t in TESTS)
            lines.append(f'| {name} | ' + ' | '.join(cells) + f' | {rates / 1000:.0f} |')
        lines.append('')
    return '\n'.join(lines)


def speedup(samples, rounds, name, pipeline):
    """The median over the tests of `name`'s median per-round speed-up on BASELINE."""
    cpu = {(r, s, p, t): c for r, s, p, t, _, c in samples}
    return statistics.median(
        statistics.median(cpu[r, BASELINE, pipeline, t] / cpu[r, name, pipeline, t]
                          for r in range(rounds)) for t in TESTS)


def verdicts(samples, rounds):
    """The targets: tale >= 1.2x asyncio streams with -P 16, and not behind it plain."""
    piped, plain = speedup(samples, rounds, 'tale', 16), speedup(samples, rounds, 'tale', 1)
    return [f'- tale against {BASELINE}, -P 16: {piped:.2f}× (target ≥ 1.2×: '
            f'{"met" if piped >= 1.2 else "missed"})',
            f'- tale against {BASELINE}, no pipelining: {plain:.2f}× (target ≥ 1.0×: '
            f'{"met" if plain >= 1.0 else "missed"})']


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--server', help='run one minimal server (internal)')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=0)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--requests', type=int, default=200_000)
    parser.add_argument('--clients', type=int, default=50)
    parser.add_argument('--servers', default=','.join(SERVERS))
    parser.add_argument('--out', type=Path, default=ROOT / 'book' / 'results' / 'redis_servers.txt')
    args = parser.parse_args(argv)
    if args.server:
        try:
            run_minimal(args.server, args.host, args.port)
        except* KeyboardInterrupt:          # trio gathers it in a group
            pass
        return
    for tool in ('redis-benchmark', 'taskset'):
        if shutil.which(tool) is None:
            raise SystemExit(f'{tool} is missing (apt-get install redis-tools util-linux)')
    servers = args.servers.split(',')
    if BASELINE not in servers or 'tale' not in servers:
        raise SystemExit(f'--servers must include {BASELINE} and tale')
    started = time.time()
    samples = measure(args.rounds, args.requests, args.clients, servers)
    load = os.getloadavg()[0]
    header = [f'redis-benchmark -n {args.requests} -c {args.clients} -q, one test a run, '
              f'server on CPU 0, client on CPU 1; {platform.python_implementation()} '
              f'{platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, '
              f'{time.strftime("%Y-%m-%d", time.gmtime(started))}, '
              f'{time.time() - started:.0f} s in all, load average {load:.1f} at the end', '']
    text = '\n'.join(header) + '\n' + table(samples, servers, args.rounds) + '\n' + \
        '\n'.join(verdicts(samples, args.rounds)) + '\n'
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    args.out.with_suffix('.json').write_text(json.dumps(
        {'requests': args.requests, 'clients': args.clients, 'rounds': args.rounds,
         'samples': samples}, indent=1) + '\n')
    print(text)
