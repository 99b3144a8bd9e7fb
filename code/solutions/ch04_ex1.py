"""Chapter 4, exercise 1: a loop that lets no exception go unobserved."""
from stages.ch04_spawn import Loop


class StrictLoop(Loop):
    def run(self, coro):
        self.lost = []
        try:
            result = super().run(coro)
        except BaseException as main_error:
            if self.lost:
                raise ExceptionGroup("the main task and others failed",
                                     [main_error, *self.lost]) from None
            raise
        if self.lost:
            raise ExceptionGroup("tasks failed and nobody joined them", self.lost)
        return result

    def report_unretrieved(self):
        self.lost = [task.exception for task in self.unretrieved]
