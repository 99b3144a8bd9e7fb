"""An echo server: every byte a client sends comes back to it.

    python -m tale.examples.echo_server --host 127.0.0.1 --port 0

prints ``listening on HOST:PORT`` once it accepts connections, and stops on
Ctrl-C (SIGINT) with exit status 0.
"""
from tale.examples.command_line import main


async def echo(stream):
    """Send back all that `stream` sends, until its end."""
    try:
        while data := await stream.receive_some():
            await stream.send_all(data)
    except ConnectionError:         # reset by the client: nothing to report
        pass


if __name__ == '__main__':
    raise SystemExit(main(echo, __doc__, __spec__))
