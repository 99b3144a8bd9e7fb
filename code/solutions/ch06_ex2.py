"""Chapter 6, exercise 2: waiting for a pipe, not a socket."""
import os

from stages.ch06_io import read_wait


class Fd:
    """A bare file descriptor, dressed for the selector."""

    def __init__(self, fd):
        self.fd = fd

    def fileno(self):
        return self.fd

    def __repr__(self):
        return f"<Fd {self.fd}>"


async def read_pipe(fd, maxsize):
    """Up to `maxsize` bytes from the pipe's read end `fd`; b"" at its end."""
    os.set_blocking(fd, False)
    while True:
        try:
            return os.read(fd, maxsize)
        except BlockingIOError:
            await read_wait(Fd(fd))
