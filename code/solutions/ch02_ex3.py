"""Chapter 2, exercise 3: a trap that raises an answer that is an exception."""
import types


@types.coroutine
def ask_or_raise(*request):
    """Yield `request`; raise the answer if it is an exception, else return it."""
    answer = yield request
    if isinstance(answer, BaseException):
        raise answer
    return answer
