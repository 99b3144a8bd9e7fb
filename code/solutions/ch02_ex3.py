"""Chapter 2, exercise 3: a trap that raises an answer that is an exception."""
import types


@types.coroutine
def ask_or_raise(*request):
    """Yield `request`; return the answer, or raise it if it is an exception.

    A trap in the manner of curio's `_kernel_trap`.
    """
    answer = yield request
    if isinstance(answer, BaseException):
        raise answer
    return answer
