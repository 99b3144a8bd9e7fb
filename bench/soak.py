"""A bounded soak: the example servers under load for a while, then checked.

    python bench/run.py --tool soak [--seconds 60] [--out book/results/soak.txt]

Each server runs as a user runs it (``python -m tale.examples.http_server``
and ``python -m tale.examples.redis_server``, without debug mode).  After a
short warm-up its descriptors and resident memory (VmRSS, from /proc) are
read; then it is loaded for `--seconds`:

* the HTTP server by ``wrk`` with a few connections (GET /), once, for the
  whole time;
* the Redis server by ``redis-benchmark -t ping,set,get``, without
  pipelining and with ``-P 16`` in turn, until the time is spent.

Then the load stops, and the same two numbers are read again once the
server's descriptors are back (at most `SETTLE` seconds).  The verdict
needs no error at all (wrk's socket errors and non-2xx responses, and
any error redis-benchmark reports or its exit status), the same number of
descriptors, and resident memory within `RSS_TOLERANCE` of where it was:
after the warm-up, the allocators hold what a loaded server needs; growth
beyond that, over a minute of requests, would be a leak.  The table goes
to `--out`; the exit status is 1 when a verdict fails.
"""
import argparse
import datetime
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETTLE = 5.0                    # seconds the descriptors have to come back
RSS_TOLERANCE = 2 << 20         # bytes of resident memory that may come and go
WARM_UP = 2                     # seconds of load before the first reading


class Server:
    """One example server in its own process, without debug mode."""

    def __init__(self, module):
        env = {k: v for k, v in os.environ.items() if k not in ('TALE_DEBUG', 'PYTHONDEVMODE')}
        env['PYTHONPATH'] = str(ROOT / 'code')
        self.process = subprocess.Popen(
            [sys.executable, '-m', module, '--host', '127.0.0.1', '--port', '0'],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
            start_new_session=True)
        line = self.process.stdout.readline()
        match = re.fullmatch(r'listening on 127\.0\.0\.1:(\d+)\n', line)
        if not match:
            self.process.kill()
            raise SystemExit(f'{module} did not start: {line!r} {self.process.stderr.read()}')
        self.port = int(match.group(1))

    def fds(self):
        return len(os.listdir(f'/proc/{self.process.pid}/fd'))

    def rss(self):
        with open(f'/proc/{self.process.pid}/status') as status:
            return next(int(line.split()[1]) * 1024 for line in status
                        if line.startswith('VmRSS:'))

    def settle(self, fds):
        """Wait (a bounded time) for the descriptors to come back to `fds`."""
        deadline = time.monotonic() + SETTLE
        while self.fds() > fds and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.fds()

    def stop(self):
        """Ctrl-C; (exit status, what it printed on standard error)."""
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        errors = self.process.stderr.read()
        self.process.stdout.close()
        self.process.stderr.close()
        return self.process.returncode, errors


def wrk(port, seconds, connections):
    """(requests, errors, summary) of one wrk run against GET /."""
    result = subprocess.run(
        ['wrk', '-t1', f'-c{connections}', f'-d{seconds}s', f'http://127.0.0.1:{port}/'],
        capture_output=True, text=True, timeout=seconds + 60)
    out = result.stdout
    requests = int(re.search(r'(\d+) requests in', out).group(1))
    errors = sum(int(n) for n in re.findall(r'(?:connect|read|write|timeout) (\d+)', out))
    non_2xx = re.search(r'Non-2xx or 3xx responses: (\d+)', out)
    errors += int(non_2xx.group(1)) if non_2xx else 0
    errors += result.returncode != 0
    return requests, errors, f'wrk -t1 -c{connections} -d{seconds}s, GET /'


def redis_benchmark(port, seconds, clients, per_run):
    """(requests, errors, summary) of redis-benchmark runs for `seconds` (two at least).

    A run makes `per_run` requests of each kind, four times as many with -P 16.
    """
    requests = errors = runs = 0
    started = time.monotonic()
    while runs < 2 or time.monotonic() - started < seconds:
        pipeline = 16 if runs % 2 else 1
        n = per_run * (4 if pipeline > 1 else 1)
        result = subprocess.run(
            ['redis-benchmark', '-h', '127.0.0.1', '-p', str(port), '-t', 'ping,set,get',
             '-n', str(n), '-c', str(clients), '-P', str(pipeline), '-q'],
            capture_output=True, text=True, timeout=600)
        tests = re.findall(r'(\w+): [\d.]+ requests per second', result.stdout)
        requests += n * len(tests)
        bad = result.returncode != 0 or len(tests) != 4 or 'rror' in result.stdout + result.stderr
        errors += bad
        runs += 1
        if bad:
            print(result.stdout[-500:], result.stderr[-500:], file=sys.stderr)
    return requests, errors, (f'redis-benchmark -t ping,set,get -c{clients}, '
                              f'plain and -P 16 in turn, {runs} runs')


def soak(module, load, seconds, log):
    """Warm up, read, load, read again: one row of the table."""
    server = Server(module)
    try:
        load(server.port, min(WARM_UP, seconds))
        time.sleep(0.2)
        fds, rss = server.fds(), server.rss()
        log(f'  {module}: warm, {fds} descriptors, {rss / 1e6:.1f} MB; loading for {seconds} s')
        requests, errors, summary = load(server.port, seconds)
        fds_after = server.settle(fds)
        rss_after = server.rss()
    finally:
        status, stderr = server.stop()
    if status != 0 or 'Traceback' in stderr:
        errors += 1
        log(f'  {module} stopped with status {status}: {stderr[-500:]}')
    flat = fds_after == fds and abs(rss_after - rss) <= RSS_TOLERANCE
    return {'server': module.rsplit('.', 1)[1], 'load': summary, 'requests': requests,
            'errors': errors, 'fds': (fds, fds_after), 'rss': (rss, rss_after),
            'ok': errors == 0 and flat}


def table(rows, seconds):
    """The text of book/results/soak.txt (no line over 90 columns)."""
    lines = [f'Soak: {seconds} s of load per server, then its descriptors and resident memory',
             f'({datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}, '
             f'Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average '
             f'{os.getloadavg()[0]:.1f}).',
             f'Verdict: no error, the same descriptors, memory within '
             f'{RSS_TOLERANCE >> 20} MiB.',
             '',
             f'{"server":13} {"requests":>10} {"errors":>6}  {"descriptors":>12}  '
             f'{"RSS (MB)":>12}  verdict',
             f'{"":32}  {"before/after":>12}  {"before/after":>12}']
    for r in rows:
        lines.append(f'{r["server"]:13} {r["requests"]:>10,} {r["errors"]:>6}  '
                     f'{"%d / %d" % r["fds"]:>12}  '
                     f'{"%.1f / %.1f" % (r["rss"][0] / 1e6, r["rss"][1] / 1e6):>12}  '
                     f'{"ok" if r["ok"] else "FAILED"}')
    lines.append('')
    lines += [f'{r["server"] + ":":14}{r["load"]}' for r in rows]
    return '\n'.join(lines) + '\n'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=int, default=60, help='load per server')
    parser.add_argument('--connections', type=int, default=4, help="wrk's connections")
    parser.add_argument('--clients', type=int, default=20, help="redis-benchmark's clients")
    parser.add_argument('--requests', type=int, default=20000,
                        help='requests of each kind in a run of redis-benchmark')
    parser.add_argument('--out', default=str(ROOT / 'book' / 'results' / 'soak.txt'))
    args = parser.parse_args(argv)
    for tool in ('wrk', 'redis-benchmark'):
        if shutil.which(tool) is None:
            raise SystemExit(f'soak: {tool} is missing (apt-get install wrk redis-tools)')
    log = lambda message: print(message, flush=True)  # noqa: E731

    def http(port, seconds):
        return wrk(port, seconds, args.connections)

    def redis(port, seconds):
        return redis_benchmark(port, seconds, args.clients, args.requests)

    rows = [soak('tale.examples.http_server', http, args.seconds, log),
            soak('tale.examples.redis_server', redis, args.seconds, log)]
    text = table(rows, args.seconds)
    Path(args.out).write_text(text)
    print(text, end='')
    return 0 if all(r['ok'] for r in rows) else 1
