"""tale: a small event loop for async/await, built in the book *Tale*."""
from .errors import (CancelledError, ClosedResourceError, DeadlockError,
                     TaskFailureWarning)
from .kernel import clock, notify_closing, run
from .task import Task
from .traps import current_task, sleep, spawn, wait_readable, wait_writable
from .timeouts import move_on_after, timeout_after
from .taskgroup import TaskGroup
from .sync import BoundedSemaphore, Condition, Event, Lock, Semaphore
from .queues import LifoQueue, PriorityQueue, Queue
from . import testing
from .threads import ThreadQueue, run_in_thread
from .signals import open_signal_receiver
from .shield import shield
from . import from_thread
from .tasktree import dump_tasks, dump_tasks_on
from . import instruments

#: The public names, the ones `book/reference.md` documents.
__all__ = [
    'run', 'spawn', 'sleep', 'clock', 'current_task', 'Task', 'CancelledError',
    'wait_readable', 'wait_writable', 'notify_closing',
    'ClosedResourceError', 'DeadlockError', 'TaskFailureWarning',
    'timeout_after', 'move_on_after',
    'TaskGroup',
    'Event', 'Lock', 'Semaphore', 'BoundedSemaphore', 'Condition',
    'Queue', 'LifoQueue', 'PriorityQueue',
]
from .streams import IncompleteRead, LineTooLong, Stream, open_connection, serve_tcp

__all__ += ['Stream', 'open_connection', 'serve_tcp', 'LineTooLong', 'IncompleteRead']
__all__ += ['run_in_thread', 'from_thread', 'ThreadQueue', 'open_signal_receiver',
            'shield']
__all__ += ['dump_tasks', 'dump_tasks_on']
