"""Signals, received by a task: ``async with open_signal_receiver(SIGTERM) as s``."""
import signal
import threading

from .kernel import running_kernel
from .sync import WaitQueue


def _wake_only(signum, frame):
    """The Python-level handler: nothing.  The C-level handler has already
    written the signal's number to the wake-up fd, which wakes the loop."""


class SignalReceiver:
    """The signals `open_signal_receiver` asked for, as an async iterator."""

    def __init__(self, signums):
        self.signums = frozenset(signal.Signals(s) for s in signums)
        self._pending = {}              # signal -> None: an ordered set
        self._waiters = WaitQueue(relay=lambda value: None, owner=self)
        self._old_handlers = {}
        self._old_fd = None
        self._kernel = None

    def __repr__(self):
        return f'<SignalReceiver {sorted(s.name for s in self.signums)}>'

    async def __aenter__(self):
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError('signals can be received only in the main thread')
        kernel = running_kernel()
        wakeup = kernel.wakeup()
        try:
            for signum in self.signums:
                self._old_handlers[signum] = signal.signal(signum, _wake_only)
            self._old_fd = signal.set_wakeup_fd(wakeup.write_fd(),
                                                warn_on_full_buffer=False)
        except BaseException:
            self._restore()
            raise
        self._kernel = kernel
        wakeup.receivers.append(self)
        kernel._expect(1)               # a signal may come: the loop listens
        return self

    async def __aexit__(self, *exc_info):
        self._kernel._wakeup.receivers.remove(self)
        self._kernel._expect(-1)
        self._restore()

    def _restore(self):
        if self._old_fd is not None:
            signal.set_wakeup_fd(self._old_fd)
            self._old_fd = None
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        self._old_handlers.clear()

    def _deliver(self, signum):
        """In the loop: `signum` arrived."""
        self._pending[signal.Signals(signum)] = None
        self._waiters.wake_all()

    def __aiter__(self):
        return self

    async def __anext__(self):
        while not self._pending:
            await self._waiters.wait()
        signum = next(iter(self._pending))
        del self._pending[signum]
        return signum


def open_signal_receiver(*signums):
    """Receive `signums` in a task: ``async with open_signal_receiver(SIGTERM) as s:``.

    ``async for signum in s`` yields each signal as it arrives (one that
    arrives twice before it is read is yielded once).  Main thread only; the
    previous handlers and wake-up fd come back when the block ends.
    """
    if not signums:
        raise TypeError('open_signal_receiver() needs at least one signal')
    return SignalReceiver(signums)
