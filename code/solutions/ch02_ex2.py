"""Chapter 2, exercise 2: a driver that answers requests from a script."""


def replay(coro, answers):
    """Drive `coro`, answering its requests with `answers` in order.

    An answer that is an exception is thrown in.  Returns
    (requests, result).  Raises LookupError if the answers run out.
    """
    requests = []
    script = iter(answers)
    answer = None
    while True:
        try:
            if isinstance(answer, BaseException):
                request = coro.throw(answer)
            else:
                request = coro.send(answer)
        except StopIteration as stop:
            return requests, stop.value
        requests.append(request)
        try:
            answer = next(script)
        except StopIteration:
            coro.close()
            raise LookupError(f"no answer for request {request!r}") from None
