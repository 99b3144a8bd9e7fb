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
        self._handed = 0              # items claimed by woken getters, not yet taken
        self._getters = WaitQueue(relay=self._pass_claim, owner=self, verb='get from')
        self._putters = WaitQueue(relay=self._release_place, owner=self, verb='put to')
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

    def qsize(self):
        """The number of items in the queue that no woken getter has claimed."""
        return len(self._items) - self._handed

    def empty(self):
        """True if `get` would wait."""
        return len(self._items) == self._handed

    def full(self):
        """True if `put` would wait."""
        return 0 < self.maxsize <= len(self._items) + self._reserved

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
        if not self.empty():
            return self._take()
        await self._getters.wait()            # put() stored an item and woke us
        self._handed -= 1                     # our claim: the next item is ours
        return self._take()

    def get_nowait(self):
        """Remove and return the next item, or raise `RuntimeError` if there is none."""
        if self.empty():
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
        self._push(item)
        if self._getters.wake(1):       # the oldest waiting getter claims an item
            self._handed += 1

    def _take(self):
        item = self._pop()
        if self._putters.wake(1):       # keep the freed place for the oldest putter
            self._reserved += 1
        return item

    def _pass_claim(self, value):
        # A getter was woken with a claim but was cancelled before it ran.
        self._handed -= 1
        if self._getters.wake(1):
            self._handed += 1

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
