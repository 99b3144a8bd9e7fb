"""A small Redis server on tale's streams.

    python -m tale.examples.redis_server --host 127.0.0.1 --port 6379

prints ``listening on HOST:PORT`` once it accepts clients (``--port 0``
picks a free port), and stops on Ctrl-C (SIGINT) with exit status 0.
"""
import argparse
import contextlib
import functools
import signal
import socket
import sys

import tale
from tale.examples.command_line import announce
from tale.examples.redis_engine import Engine
from tale.resp import MAX_BULK, Parser, ProtocolError, error

PURGE_EVERY = 0.1       # seconds between two purges of expired keys
REPLY_BUFFER = 1 << 16  # bytes of replies held at most before they are sent
LINGER = 1.0            # seconds a client has to read our last words


async def serve_client(engine, stream, max_bulk=MAX_BULK):
    """Serve one connection: read, parse, run, and reply, a batch at a time."""
    parser = Parser(max_bulk=max_bulk)
    session = {}                                    # CLIENT SETNAME's name lives here
    execute = engine.execute
    try:
        while True:
            await tale.wait_readable(stream.socket)     # see below
            if not (data := await stream.receive_some()):
                return                                  # the client is done
            try:
                commands = parser.feed(data)
            except ProtocolError as exc:    # reply to what came before, then hang up
                await reply(stream, execute, exc.commands, session)
                await stream.send_all(error(f'ERR {exc}'))
                await hang_up(stream)
                return
            await reply(stream, execute, commands, session)
    except ConnectionError:                         # the client reset the connection
        pass


async def reply(stream, execute, commands, session):
    """Run `commands` in order and send their replies: all in one send_all,
    unless they add up to more than REPLY_BUFFER bytes."""
    replies, held = [], 0
    for command in commands:
        replies.append(answer := execute(command, session))
        held += len(answer)
        if held > REPLY_BUFFER:             # a big batch: send what we have
            await stream.send_all(b''.join(replies))
            replies, held = [], 0
    if replies:
        await stream.send_all(b''.join(replies))


async def hang_up(stream):
    """End a connection so that the client can read what we sent before."""
    try:
        await stream.send_eof()
        async with tale.move_on_after(LINGER):
            while await stream.receive_some():
                pass
    except ConnectionError:
        pass


async def purge_forever(engine):
    """Remove expired keys that nobody reads, every PURGE_EVERY seconds."""
    while True:
        await tale.sleep(PURGE_EVERY)
        engine.purge()


async def serve(host='127.0.0.1', port=0, *, max_bulk=MAX_BULK, on_ready=None):
    """Run a Redis server on `host`:`port` until cancelled."""
    engine = Engine(clock=tale.clock)
    handler = functools.partial(serve_client, engine, max_bulk=max_bulk)
    async with tale.TaskGroup() as group:
        await group.spawn(purge_forever, engine)
        await tale.serve_tcp(handler, host, port, on_ready=on_ready)


@contextlib.contextmanager
def interrupt_socket():
    """A socket that becomes readable when the process gets SIGINT (Ctrl-C)."""
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    old_fd = signal.set_wakeup_fd(writer.fileno())
    old_handler = signal.signal(signal.SIGINT, lambda signum, frame: None)
    try:
        yield reader
    finally:
        signal.signal(signal.SIGINT, old_handler)
        signal.set_wakeup_fd(old_fd)
        reader.close()
        writer.close()


async def serve_until(interrupted, *args, **options):
    """Run `serve(*args, **options)` until the socket `interrupted` is readable."""
    async with tale.TaskGroup() as group:
        server = await group.spawn(functools.partial(serve, *args, **options))
        await tale.wait_readable(interrupted)
        await server.cancel()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--host', default='127.0.0.1', help='address to listen on')
    parser.add_argument('--port', type=int, default=6379, help='0: any free port')
    parser.add_argument('--max-bulk', type=int, default=MAX_BULK, metavar='BYTES',
                        help='the longest argument a client may send')
    args = parser.parse_args(argv)
    status = 0
    try:
        with interrupt_socket() as interrupted:
            tale.run(functools.partial(serve_until, interrupted, args.host, args.port,
                                       max_bulk=args.max_bulk, on_ready=announce))
    except* OSError as failure:         # the address is taken, or not ours
        while isinstance(failure, BaseExceptionGroup):  # a group in a group...
            failure = failure.exceptions[0]
        print(f'redis_server: {failure}', file=sys.stderr)
        status = 1
    return status


if __name__ == '__main__':
    raise SystemExit(main())
