"""A bound on a block of a test, so that a regression that hangs fails instead."""
import contextlib
import signal


@contextlib.contextmanager
def deadline(seconds=10.0):
    """Fail (instead of hanging) if the block takes longer than `seconds`."""
    def expired(signum, frame):
        raise TimeoutError(f'still running after {seconds} s')
    old = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
