"""tale: a small event loop for async/await, built in the book *Tale*."""
from .errors import CancelledError
from .kernel import clock, run
from .task import Task
from .traps import current_task, sleep, spawn, wait_readable, wait_writable
from .timeouts import move_on_after, timeout_after
from .taskgroup import TaskGroup
from .sync import BoundedSemaphore, Condition, Event, Lock, Semaphore
from .queues import LifoQueue, PriorityQueue, Queue
from . import testing

#: The public names, the ones `book/reference.md` documents.
__all__ = [
    'run', 'spawn', 'sleep', 'clock', 'current_task', 'Task', 'CancelledError',
    'wait_readable', 'wait_writable',
    'timeout_after', 'move_on_after',
    'TaskGroup',
    'Event', 'Lock', 'Semaphore', 'BoundedSemaphore', 'Condition',
    'Queue', 'LifoQueue', 'PriorityQueue',
]
from .streams import IncompleteRead, LineTooLong, Stream, open_connection, serve_tcp

__all__ += ['Stream', 'open_connection', 'serve_tcp', 'LineTooLong', 'IncompleteRead']
