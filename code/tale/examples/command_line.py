"""What the example servers share: the line that says they listen, and a
command line for a server that needs nothing but an address."""
import argparse

import tale


def announce(address):
    """Print the line a caller waits for: the server now accepts clients."""
    host, port = address
    print(f'listening on {host}:{port}', flush=True)


def main(handler, doc, spec, argv=None):
    """Serve `handler` on the address of the command line, until Ctrl-C.

    `doc` and `spec` are the server module's ``__doc__`` and ``__spec__``,
    for ``--help``: its first line, and its name (no spec: run as a file).
    """
    parser = argparse.ArgumentParser(prog=f'python -m {spec.name}' if spec else None,
                                     description=doc.splitlines()[0])
    parser.add_argument('--host', default='127.0.0.1', help='address to listen on')
    parser.add_argument('--port', type=int, default=0, help='0: any free port')
    args = parser.parse_args(argv)
    try:
        tale.run(tale.serve_tcp(handler, args.host, args.port, on_ready=announce))
    except KeyboardInterrupt:
        pass
    return 0
