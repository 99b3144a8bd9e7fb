"""A chat server: every line a client sends goes to every other client.

    python -m tale.examples.chat_server --host 127.0.0.1 --port 0

prints ``listening on HOST:PORT`` once it accepts connections, and stops on
Ctrl-C (SIGINT) with exit status 0.  A client that does not read its lines
fast enough is disconnected, rather than slowing the others down.
"""
import contextlib
import socket

import tale
from tale.examples.command_line import main

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


if __name__ == '__main__':
    raise SystemExit(main(chat, __doc__, __spec__))
