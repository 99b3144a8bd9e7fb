"""Chapter 2, exercise 1: a trap written as a class with __await__."""


class Ask:
    """`await Ask(*request)` hands the request over, returns the answer."""

    def __init__(self, *request):
        self.request = request

    def __await__(self):
        answer = yield self.request
        return answer
