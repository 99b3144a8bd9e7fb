"""The timer queue: deadlines in a heap, each killed by its number."""
import heapq

#: Rebuild the heap when over this many of its entries, and over half, are dead.
COMPACT_AT = 100
_NEVER = float('inf')


class TimerQueue:
    """Timers, each a deadline with a task and an `exc` for the kernel.

    The heap holds ``(deadline, number, exc)``, numbers only, so that the
    collector soon stops watching its tuples; `armed` maps the number of
    every live timer to its task.  A number missing from `armed` is a dead
    entry, dropped when it reaches the top or swept out by `_compact`.
    """

    __slots__ = ('heap', 'armed', 'last')

    def __init__(self):
        self.heap = []
        self.armed = {}             # Invariant: its keys are numbers in heap
        self.last = 0               # the number of the last timer added

    def __len__(self):
        """How many timers are alive."""
        return len(self.armed)

    def add(self, deadline, task, exc=None):
        """Arm a timer; answer its number, for `kill` (no nan here)."""
        number = self.last = self.last + 1
        if deadline != _NEVER:      # an infinite deadline is no timer at all
            heapq.heappush(self.heap, (deadline, number, exc))
            self.armed[number] = task
        return number

    def kill(self, number):
        """Disarm timer `number`, if it is still alive."""
        if self.armed.pop(number, None) is not None:
            dead = len(self.heap) - len(self.armed)
            if dead > COMPACT_AT and 2 * dead > len(self.heap):
                self._compact()

    def first(self):
        """The earliest live deadline, or None; drops dead entries on top."""
        heap, armed = self.heap, self.armed
        while heap and heap[0][1] not in armed:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def due(self, now):
        """Take out each live timer whose deadline is `now` or earlier,
        earliest first: yields ``(task, exc)``."""
        heap, armed = self.heap, self.armed
        while heap and heap[0][0] <= now:
            _, number, exc = heapq.heappop(heap)
            task = armed.pop(number, None)
            if task is not None:    # else a dead entry
                yield task, exc

    def live(self):
        """Every live timer, as ``(deadline, task, exc)``, in no order."""
        armed = self.armed
        return [(deadline, armed[number], exc)
                for deadline, number, exc in self.heap if number in armed]

    def _compact(self):
        self.heap[:] = [entry for entry in self.heap if entry[1] in self.armed]
        heapq.heapify(self.heap)    # (in place: the kernel may hold the list)

    def check(self):
        """Assert the invariant (the kernel's debug mode)."""
        assert set(self.armed) <= {number for _, number, _ in self.heap}
