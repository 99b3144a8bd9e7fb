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
