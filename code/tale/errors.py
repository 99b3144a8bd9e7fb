"""The exceptions of tale."""


class CancelledError(BaseException):
    """Raised inside a task that is being cancelled.

    It derives from `BaseException`, not `Exception`, so that a broad
    ``except Exception`` in the task does not swallow its own cancellation.
    """

    #: How strong this cancellation is when several race to reach one task:
    #: the kernel replaces a pending cancellation only by one of lower rank.
    #: 0 is a cancellation from outside, which nothing overrides.
    _rank = 0


class ClosedResourceError(OSError):
    """Raised in a task that waited on a file descriptor closed under it."""


class DeadlockError(RuntimeError):
    """Raised by `run` when no task can ever run again.

    Its message names every stuck task and what it waits on; `tasks` holds
    them, and `failures` the tasks that failed without anyone joining them,
    the likeliest cause.
    """

    def __init__(self, message, tasks=(), failures=()):
        super().__init__(message)
        self.tasks = list(tasks)
        self.failures = list(failures)


class TaskFailureWarning(RuntimeWarning):
    """A task failed and nobody joined it: its error would be lost."""
