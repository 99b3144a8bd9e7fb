"""A chat server: every line a client sends goes to every other client.

    python -m tale.examples.chat_server --host 127.0.0.1 --port 0

prints ``listening on HOST:PORT`` once it accepts connections, and stops on
Ctrl-C (SIGINT) with exit status 0.  A client that does not read its lines
fast enough is disconnected, rather than slowing the others down.
"""
import argparse
import contextlib
import socket

import tale

#: Lines waiting for one client before it is dropped as too slow.
OUTBOX_LINES = 256
#: The longest line accepted, in bytes.
LINE_LIMIT = 4096

#: Every connected client: its stream -> its outbox.
clients = {}


async def chat(stream):
    """Serve one client: relay its lines to the others, and theirs to it."""
    outbox = tale.Queue(maxsize=OUTBOX_LINES)
    writer = await tale.spawn(deliver, stream, outbox)
    clients[stream] = outbox
    try:
        while line := await stream.readline(LINE_LIMIT):
            for other, box in list(clients.items()):
                if other is stream:
                    continue
                if box.full():
                    drop(other)             # it stopped reading
                else:
                    box.put_nowait(line)
    except (ConnectionError, tale.LineTooLong):
        pass                                # a reset, or a line over the limit
    finally:
        clients.pop(stream, None)
        await writer.cancel()


async def deliver(stream, outbox):
    """Send the lines put in `outbox`, one after the other."""
    with contextlib.suppress(OSError):      # dropped, or gone: the reader ends it
        while True:
            await stream.send_all(await outbox.get())


def drop(stream):
    """Disconnect a client: its reader sees the end, its writer an error."""
    del clients[stream]
    with contextlib.suppress(OSError):
        stream.socket.shutdown(socket.SHUT_RDWR)


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
    raise SystemExit(main(chat))
