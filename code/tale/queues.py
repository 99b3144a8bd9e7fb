"""Queues between tasks, with backpressure, built on `WaitQueue`."""
import heapq
from collections import deque

from .sync import Event, WaitQueue


class Queue:
    """A first-in, first-out queue of items between tasks.

    With ``maxsize > 0``, `put` waits while the queue is full: a fast
    producer is slowed to the pace of its consumers (backpressure).  Getters
    and putters are served in the order they came.  `task_done` and `join`
    let a producer wait until every item has been processed.
    """

    def __init__(self, maxsize=0):
        self.maxsize = maxsize
        self._items = self._make()
        self._reserved = 0            # free places promised to woken putters
        self._handed = 0              # items handed to woken getters, not yet taken
        self._getters = WaitQueue(relay=self._put_back)
        self._putters = WaitQueue(relay=self._release_place)
        self._unfinished = 0          # items put but not yet task_done()
        self._all_done = Event()
        self._all_done.set()

    # How items are stored; LifoQueue and PriorityQueue change only these.
    def _make(self):
        return deque()

    def _push(self, item):
        self._items.append(item)

    def _pop(self):
        return self._items.popleft()

    def _unget(self, item):           # back where the next _pop finds it first
        self._items.appendleft(item)

    def qsize(self):
        """The number of items in the queue."""
        return len(self._items)

    def empty(self):
        """True if the queue holds no item."""
        return not self._items

    def full(self):
        """True if `put` would wait."""
        taken = len(self._items) + self._reserved + self._handed
        return 0 < self.maxsize <= taken

    async def put(self, item):
        """Put `item` in the queue, waiting while it is full."""
        if self.full():
            await self._putters.wait()    # a get() has kept a place for us
            self._reserved -= 1
        self._deliver(item)

    def put_nowait(self, item):
        """Put `item` in the queue, or raise `RuntimeError` if it is full."""
        if self.full():
            raise RuntimeError('the queue is full')
        self._deliver(item)

    async def get(self):
        """Remove and return the next item, waiting for one if the queue is empty."""
        if self._items:
            return self._take()
        item = await self._getters.wait()     # put() handed us the item
        self._handed -= 1
        self._free_place()
        return item

    def get_nowait(self):
        """Remove and return the next item, or raise `RuntimeError` if there is none."""
        if not self._items:
            raise RuntimeError('the queue is empty')
        return self._take()

    def task_done(self):
        """Say that one item taken from the queue has been fully processed."""
        if self._unfinished <= 0:
            raise ValueError('task_done() called more times than there were items')
        self._unfinished -= 1
        if self._unfinished == 0:
            self._all_done.set()

    async def join(self):
        """Wait until every item put has been marked with `task_done`."""
        await self._all_done.wait()

    def _deliver(self, item):
        self._unfinished += 1
        self._all_done.clear()
        self._store(item)

    def _store(self, item):
        # A waiting getter takes the item straight from our hands.
        if self._getters.wake(1, item):
            self._handed += 1
        else:
            self._push(item)

    def _take(self):
        item = self._pop()
        self._free_place()
        return item

    def _free_place(self):
        if self._putters.wake(1):      # keep the freed place for the oldest putter
            self._reserved += 1

    def _put_back(self, item):
        # A getter was handed `item` but was cancelled before it ran.
        self._handed -= 1
        if self._getters.wake(1, item):
            self._handed += 1
        else:
            self._unget(item)

    def _release_place(self, value):
        # A putter was promised a place but was cancelled before it ran.
        self._reserved -= 1
        if self._putters.wake(1):
            self._reserved += 1


class LifoQueue(Queue):
    """A queue that gives back the most recently put item first."""

    def _pop(self):
        return self._items.pop()


class PriorityQueue(Queue):
    """A queue that gives back the smallest item first, ordered as by `heapq`."""

    def _make(self):
        return []

    def _push(self, item):
        heapq.heappush(self._items, item)

    def _pop(self):
        return heapq.heappop(self._items)

    def _unget(self, item):
        heapq.heappush(self._items, item)
