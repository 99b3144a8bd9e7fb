"""Calling into a loop from another thread: ``tale.from_thread.run(f, x)``."""
import contextvars
import threading

from .kernel import _running, running_kernel
from .threads import _worker
from .traps import _coroutine


def token():
    """The running loop's token, for a thread that `run` did not start.

    Call it in a task and pass the token to the thread.  From then on the
    loop listens for calls from threads until it ends, and is never
    reported as deadlocked.
    """
    kernel = running_kernel()
    wakeup = kernel.wakeup()
    if not wakeup.listening:
        wakeup.listening = True
        kernel._expect(1)           # for the rest of the run: a thread may call
    return wakeup


def run(corofunc, *args, token=None):
    """From a thread, run ``corofunc(*args)`` as a task in a loop; return its result.

    Blocks the calling thread until the task ends; its exception is raised
    here.  The loop is the one of the `run_in_thread` job running in this
    thread, or the one whose `token` is given.
    """
    wakeup = getattr(_worker, 'wakeup', None) if token is None else token
    if wakeup is None:
        raise RuntimeError('this thread was not started by tale.run_in_thread: '
                           'pass token=tale.from_thread.token(), taken in the loop')
    if _running.kernel is not None:
        raise RuntimeError('from_thread.run() would block the loop running in '
                           'this thread; await the function instead')
    call = _Call(corofunc, args, wakeup)
    wakeup.call_soon(call)
    call.finished.wait()
    if call.error is not None:
        raise call.error
    return call.result


class _Call:
    """A call from a thread: started as a task in the loop, answered by an Event."""

    def __init__(self, corofunc, args, wakeup):
        self.corofunc, self.args, self.wakeup = corofunc, args, wakeup
        self.context = contextvars.copy_context()   # the calling thread's
        self.finished = threading.Event()
        self.result = self.error = None

    def __call__(self):
        """In the loop: start the task."""
        self.wakeup.callers.add(self)
        running_kernel()._new_task(self._main(), False, self.context)

    async def _main(self):
        try:
            self.result = await _coroutine(self.corofunc, self.args,
                                           'from_thread.run()')
        except BaseException as error:
            self.error = error
            if isinstance(error, (KeyboardInterrupt, SystemExit)):
                raise                   # they stop the loop, as in any task
        finally:
            self.wakeup.callers.discard(self)
            self.finished.set()

    def abandon(self):
        """The loop ended before the task could run."""
        if not self.finished.is_set():
            self.error = RuntimeError('the loop ended before it ran '
                                      f'{self.corofunc!r}')
            self.finished.set()
