"""Streams: a connected socket read and written by tasks, and a TCP server.

`open_connection` dials, `serve_tcp` listens and runs a handler per client;
both hand out a `Stream`.  Every operation tries its system call first and
waits for the loop only when the kernel says it would block (``EAGAIN``),
except a read right after a send, which waits first: no answer is there yet.
"""
import contextlib
import errno
import os
import socket
import sys
import traceback

from .timeouts import move_on_after
from .kernel import notify_closing
from .traps import _cancel, current_task, sleep, spawn, wait_readable, wait_writable

#: How many bytes one `Stream.receive_some` asks the kernel for, by default.
RECEIVE_SIZE = 65536
#: How many operations in a row a stream may complete without waiting before
#: it lets the other tasks run (a peer that always has data cannot starve them).
FAIR_TURNS = 16
#: How long `serve_tcp` sleeps when accept fails for want of resources.
ACCEPT_RETRY = 0.1
#: accept() errors that mean "out of descriptors or memory": back off.
_OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
#: accept() errors about one client that died in the queue: skip it.
_CONNECTION_GONE = {errno.ECONNABORTED, errno.EPROTO}


class LineTooLong(ValueError):
    """`Stream.readline` found no newline within its limit.

    The bytes received stay in the stream's buffer: `Stream.receive_some`
    returns them, or the caller closes the connection.
    """


class IncompleteRead(EOFError):
    """The stream ended before `Stream.read_exactly` had all its bytes.

    ``partial`` holds the bytes that did arrive, ``expected`` how many
    were asked for.
    """

    def __init__(self, partial, expected):
        super().__init__(f'the stream ended after {len(partial)} of {expected} bytes')
        self.partial = partial
        self.expected = expected


class Stream:
    """A connected socket that tasks read and write: ``async with stream:``.

    Made by `open_connection` and `serve_tcp`, or from any connected socket.
    `receive_some` returns ``b''`` once the peer has closed its sending side
    (end of stream); a peer that reset the connection makes the next read
    raise `ConnectionResetError`; writing to a peer that has gone raises
    `BrokenPipeError` or `ConnectionResetError`.  One task at a time may
    read, and one may write.
    """

    __slots__ = ('socket', '_buffer', '_turns', '_reading', '_writing', '_sent')

    def __init__(self, sock):
        sock.setblocking(False)
        with contextlib.suppress(OSError):      # not TCP (a Unix socket): no matter
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.socket = sock
        self._buffer = bytearray()   # received, not yet returned
        self._turns = 0              # calls since this stream last waited
        self._reading = False        # True while a task is inside a read
        self._writing = False        # True while a task is inside send_all
        self._sent = False           # True from a send_all to the next recv

    def __repr__(self):
        return f'<Stream fd={self.socket.fileno()}>'

    def getpeername(self):
        """The address of the other end."""
        return self.socket.getpeername()

    def fileno(self):
        """The socket's file descriptor (-1 once closed)."""
        return self.socket.fileno()

    def _busy(self, doing):
        raise RuntimeError(f'another task is already {doing} {self!r}')

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        await self.aclose()

    async def aclose(self):
        """Close the connection; closing it again does nothing.

        It never waits, so it also works in the ``finally`` of a task that
        is being torn down.
        """
        self._buffer.clear()
        if self.socket.fileno() >= 0:
            with contextlib.suppress(RuntimeError):     # no loop running: nobody waits
                notify_closing(self.socket)
        self.socket.close()

    async def _recv(self, max_bytes):
        """Receive up to `max_bytes`: try first, wait only on EAGAIN."""
        if self._sent:                      # right after a send: the answer is not here
            self._sent = False
            self._turns = 0
            await wait_readable(self.socket)
        while True:
            try:
                return self.socket.recv(max_bytes)
            except BlockingIOError:         # nothing there yet
                self._turns = 0
                await wait_readable(self.socket)

    async def _step_aside(self):
        """Let every other ready task run once: this stream has had its turns."""
        self._turns = 0
        await sleep(0)

    async def receive_some(self, max_bytes=RECEIVE_SIZE):
        """Return up to `max_bytes` bytes, as soon as there are some.

        ``b''`` means the end of the stream: the peer closed its sending
        side (it may still be reading).  Bytes buffered by `readline` or
        `read_exactly` come first.
        """
        if max_bytes < 1:
            raise ValueError(f'max_bytes must be at least 1, not {max_bytes!r}')
        if self._reading:
            self._busy('reading')
        self._turns += 1
        buffer = self._buffer
        if not buffer or self._turns >= FAIR_TURNS:
            self._reading = True
            try:
                if self._turns >= FAIR_TURNS:
                    await self._step_aside()
                if not buffer:
                    return await self._recv(max_bytes)
            finally:
                self._reading = False
        data = bytes(buffer[:max_bytes])
        del buffer[:max_bytes]
        return data

    async def readline(self, limit=65536):
        """Return the next line, with its ``b'\\n'``; at the end of the stream,
        what is left (``b''`` if nothing).

        A line longer than `limit` bytes (newline excluded) raises
        `LineTooLong`, and what was received stays buffered.
        """
        if limit < 0:
            raise ValueError(f'limit must be at least 0, not {limit!r}')
        if self._reading:
            self._busy('reading')
        self._turns += 1
        buffer = self._buffer
        end = buffer.find(b'\n', 0, limit + 1)
        if end < 0 or self._turns >= FAIR_TURNS:
            self._reading = True
            try:
                if self._turns >= FAIR_TURNS:
                    await self._step_aside()
                while (end := buffer.find(b'\n', 0, limit + 1)) < 0:
                    if len(buffer) > limit:
                        raise LineTooLong(f'no end of line in the first {limit} bytes')
                    data = await self._recv(RECEIVE_SIZE)
                    if not data:                # end of stream: the rest
                        line = bytes(buffer)
                        buffer.clear()
                        return line
                    buffer += data
            finally:
                self._reading = False
        line = bytes(buffer[:end + 1])
        del buffer[:end + 1]
        return line

    async def read_exactly(self, n):
        """Return exactly `n` bytes; `IncompleteRead` if the stream ends first."""
        if n < 0:
            raise ValueError(f'cannot read {n!r} bytes')
        if self._reading:
            self._busy('reading')
        self._turns += 1
        buffer = self._buffer
        if len(buffer) < n or self._turns >= FAIR_TURNS:
            self._reading = True
            try:
                if self._turns >= FAIR_TURNS:
                    await self._step_aside()
                while len(buffer) < n:
                    data = await self._recv(RECEIVE_SIZE)
                    if not data:
                        partial = bytes(buffer)
                        buffer.clear()
                        raise IncompleteRead(partial, n)
                    buffer += data
            finally:
                self._reading = False
        data = bytes(buffer[:n])
        del buffer[:n]
        return data

    async def send_all(self, data):
        """Send all of `data`, waiting while the kernel's buffer is full.

        Nothing is buffered here: a peer that does not read holds the
        sender at this call (backpressure).
        """
        if self._writing:
            self._busy('writing to')
        view = memoryview(data).cast('B')
        self._turns += 1
        self._writing = True
        try:
            if self._turns >= FAIR_TURNS:
                await self._step_aside()
            send = self.socket.send
            while view:
                try:
                    view = view[send(view):]    # a slice of a view copies nothing
                except BlockingIOError:         # the kernel's buffer is full
                    self._turns = 0
                    await wait_writable(self.socket)
            self._sent = True
        finally:
            self._writing = False

    async def send_eof(self):
        """Close the sending side (``shutdown(SHUT_WR)``); reading goes on.

        A peer that has reset the connection makes it raise
        `ConnectionResetError`, as a write would.
        """
        try:
            self.socket.shutdown(socket.SHUT_WR)
        except OSError as exc:
            if exc.errno != errno.ENOTCONN:     # what Linux says after a reset
                raise
            raise ConnectionResetError(errno.ECONNRESET, 'reset by the peer') from None


async def open_connection(host, port):
    """Connect to `host`:`port` over TCP; return a `Stream`.

    Each address the name resolves to is tried in turn; the last error is
    raised if none answers.  (Resolving a name that is not a number blocks
    the loop while the system looks it up.)
    """
    error = OSError(f'{host!r} resolves to no address')
    for family, kind, proto, _, address in socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM):
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            code = sock.connect_ex(address)
            if code in (errno.EINPROGRESS, errno.EWOULDBLOCK):
                await wait_writable(sock)   # writable: connected, or failed
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                raise OSError(code, f'connect to {address}: {os.strerror(code)}')
        except OSError as exc:
            sock.close()
            error = exc
            continue
        except BaseException:
            sock.close()
            raise
        return Stream(sock)
    raise error


async def serve_tcp(handler, host='127.0.0.1', port=0, *, backlog=128,
                    on_ready=None, grace=0.0):
    """Accept TCP connections for ever; run ``await handler(stream)`` for each.

    Each connection is served by a task of its own, and its `Stream` is
    closed when the handler returns or fails.  A handler's error is printed
    to standard error with its traceback and closes only its connection.
    ``on_ready((host, port))`` is called once the socket listens (port 0
    picks a free port).  Cancelling the task that runs `serve_tcp` closes
    the listening socket at once, gives the handlers `grace` seconds to
    finish, then cancels those still running and waits for them.  When
    accept fails for want of descriptors or memory (``EMFILE``...), it
    sleeps `ACCEPT_RETRY` seconds and tries again.
    """
    if not callable(handler):
        raise TypeError(f'serve_tcp needs a function to call with each stream, '
                        f'not {handler!r}')
    listener = socket.create_server((host, port), backlog=backlog)
    handlers = {}                       # task -> the stream it serves
    try:
        listener.setblocking(False)
        if on_ready is not None:
            on_ready(listener.getsockname()[:2])
        starved = False                 # True while accept lacks resources
        while True:
            try:
                conn, address = listener.accept()
            except BlockingIOError:
                await wait_readable(listener)
                continue
            except OSError as exc:
                if exc.errno in _CONNECTION_GONE:
                    continue
                if exc.errno not in _OUT_OF_RESOURCES:
                    raise
                if not starved:
                    print(f'tale.serve_tcp: accept failed ({exc}); retrying every '
                          f'{ACCEPT_RETRY} s', file=sys.stderr)
                    starved = True
                await sleep(ACCEPT_RETRY)
                continue
            starved = False
            stream = Stream(conn)
            task = await spawn(_serve_one, handler, stream, address, handlers)
            handlers[task] = stream
    except GeneratorExit:               # the loop itself is gone: no waiting
        listener.close()
        raise
    except BaseException:
        listener.close()
        await _stop(handlers, grace)
        raise


async def _serve_one(handler, stream, address, handlers):
    me = await current_task()
    try:
        await handler(stream)
    except Exception:
        name = getattr(handler, '__qualname__', repr(handler))
        print(f'tale.serve_tcp: {name} failed serving {address}:', file=sys.stderr)
        traceback.print_exc()
    finally:
        await stream.aclose()
        del handlers[me]


async def _stop(handlers, grace):
    """Give the handlers `grace` seconds, cancel the rest, wait for them all."""
    try:
        if grace > 0:
            async with move_on_after(grace):
                for task in list(handlers):
                    await task.wait()
    finally:
        for task in list(handlers):
            await _cancel(task)
        for task in list(handlers):
            await task.wait()
        for stream in handlers.values():    # a task cancelled before it began
            await stream.aclose()
        handlers.clear()
