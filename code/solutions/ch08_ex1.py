"""Chapter 8, exercise 1: how many tasks are in each state."""
import collections

from stages.ch08_one_loop import PLACES, Loop


class CensusLoop(Loop):
    def statistics(self):
        """{state: number of live tasks in it}, in the order of PLACES."""
        counts = collections.Counter(task.state for task in self.tasks)
        return {state: counts[state] for state in PLACES if counts[state]}
