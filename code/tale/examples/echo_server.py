"""An echo server: every byte a client sends comes back to it.

    python -m tale.examples.echo_server --host 127.0.0.1 --port 0

prints ``listening on HOST:PORT`` once it accepts connections, and stops on
Ctrl-C (SIGINT) with exit status 0.
"""
import argparse

import tale


async def echo(stream):
    """Send back all that `stream` sends, until its end."""
    try:
        while data := await stream.receive_some():
            await stream.send_all(data)
    except ConnectionError:         # reset by the client: nothing to report
        pass


def announce(address):
    """Print the line a caller waits for: the server now accepts clients."""
    host, port = address
    print(f'listening on {host}:{port}', flush=True)


def main(handler, argv=None):
    """Serve `handler` on the address of the command line, until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog=f'python -m {__spec__.name}' if __spec__ else None,   # None: a file
        description=__doc__.splitlines()[0])
    parser.add_argument('--host', default='127.0.0.1', help='address to listen on')
    parser.add_argument('--port', type=int, default=0, help='0: any free port')
    args = parser.parse_args(argv)
    try:
        tale.run(tale.serve_tcp(handler, args.host, args.port, on_ready=announce))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == '__main__':
    raise SystemExit(main(echo))
