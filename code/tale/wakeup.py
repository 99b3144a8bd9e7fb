"""The loop's wake-up socket: how other threads, and signals, reach a loop."""
import socket
import threading
from collections import deque


class Wakeup:
    """A socket pair that the kernel polls; a byte on it wakes the loop.

    Another thread hands the loop a function with `call_soon`; the loop runs
    it at its next poll.  While a signal receiver is open, the writing end
    is also the process's wake-up fd, and a signal arrives as a byte holding
    its number (a thread's byte is 0, which is no signal).
    """

    def __init__(self):
        self._rsock, self._wsock = socket.socketpair()
        self._rsock.setblocking(False)
        self._wsock.setblocking(False)
        self._calls = deque()           # functions to run in the loop, oldest first
        self._lock = threading.Lock()   # orders call_soon against close
        self.closed = False
        self.callers = set()            # calls that a thread still waits for
        self.receivers = []             # open signal receivers, innermost last
        self.listening = False          # a token was handed out: threads may call

    def fileno(self):
        """The reading end, which the kernel registers with its selector."""
        return self._rsock.fileno()

    def write_fd(self):
        """The writing end, for `signal.set_wakeup_fd`."""
        return self._wsock.fileno()

    def call_soon(self, fn):
        """Run ``fn()`` in the loop's thread at its next poll; from any thread."""
        with self._lock:
            if self.closed:
                raise RuntimeError('the loop has finished')
            self._calls.append(fn)
            try:
                self._wsock.send(b'\0')
            except BlockingIOError:
                pass            # the socket is full of wake-ups: one is enough

    def drain(self):
        """In the loop: read every byte, deliver the signals, run the calls."""
        try:
            while True:
                for signum in self._rsock.recv(4096).replace(b'\0', b''):
                    self._deliver(signum)
        except (BlockingIOError, InterruptedError):
            pass
        calls = self._calls
        for _ in range(len(calls)):     # those here now; later ones bring a byte
            calls.popleft()()

    def _deliver(self, signum):
        for receiver in reversed(self.receivers):     # the innermost that asked
            if signum in receiver.signums:
                receiver._deliver(signum)
                return

    def close(self):
        """In the loop, once it has finished: refuse new calls, fail pending ones."""
        with self._lock:
            self.closed = True
            left = list(self._calls)
            self._calls.clear()
        for fn in left + list(self.callers):
            abandon = getattr(fn, 'abandon', None)
            if abandon is not None:
                abandon()
        self._rsock.close()
        self._wsock.close()
