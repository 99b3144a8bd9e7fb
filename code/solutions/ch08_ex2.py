"""Chapter 8, exercise 2: a transcript of every request."""
from stages.ch08_one_loop import Loop


class TracingLoop(Loop):
    def __init__(self, clock=None, debug=None):
        super().__init__(clock, debug)
        self.trace = []                 # (tick, task number, tag)

    def dispatch(self, task, request):
        tag = request[0] if isinstance(request, tuple) and request else None
        self.trace.append((self.ticks, task.number, tag))
        super().dispatch(task, request)
