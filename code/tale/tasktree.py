"""The task tree: every unfinished task under the task that spawned it, and its wait."""
import contextlib
import signal
import socket
import sys

from . import kernel as _kernel
from .task import Task
from .traps import wait_readable


def dump_tasks():
    """The running loop's tasks, as text: a tree of who spawned whom, and their waits."""
    kernel = _kernel.running_kernel()
    lines = task_tree(kernel)
    head = f'{len(lines)} tasks at {kernel.clock.now():.3f}:'
    return '\n'.join([head, *lines])


def task_tree(kernel, indent=''):
    """One line per unfinished task of `kernel`, each under its parent, in spawn order."""
    tasks = kernel._tasks
    children, roots = {}, []
    for task in tasks:
        parent = task.parent
        if parent in tasks:
            children.setdefault(parent, []).append(task)
        else:
            roots.append(task)
    deadlines = {task: deadline     # a sleeper's deadline: its sleep timer's
                 for deadline, task, exc in kernel._timers.live() if exc is None}
    now, queued = kernel.clock.now(), set(kernel._ready)
    lines = []

    def draw(task, lead, branch, below):
        lines.append(f'{indent}{lead}{branch}{describe(task, deadlines, now, queued)}')
        kids = children.get(task, ())
        for i, kid in enumerate(kids):
            last = i == len(kids) - 1
            draw(kid, lead + below, '└── ' if last else '├── ',
                 '    ' if last else '│   ')

    for root in roots:
        draw(root, '', '', '')
    return lines


def describe(task, deadlines=None, now=None, queued=None):
    """``name: what it is doing``, for people: ready, or the wait, in words."""
    name = task.name + (' (daemon)' if task.daemon else '')
    parent = task.parent
    if parent is not None and parent._done:
        name += f' (spawned by {parent.name}, which has finished)'
    return f'{name}: {doing(task, deadlines, now, queued)}'


def doing(task, deadlines=None, now=None, queued=None):
    """What `task` is doing, in words: running, ready, or what it waits on.

    `deadlines` maps sleeping tasks to their deadlines; `queued` is the set of tasks
    in the ready queue (a task neither queued nor waiting is the one running).
    """
    if task._done:
        return task.state
    if task._undo is None:
        if queued is not None and task not in queued:
            return 'running'
        return 'ready' if task._exc is None else f'ready, to hear {task._exc!r}'
    what = task._waiting
    if what == 'sleep':
        deadline = (deadlines or {}).get(task)
        if deadline is None:
            return 'sleeping for ever'
        left = f' ({deadline - now:.3f} s from now)' if now is not None else ''
        return f'sleeping until {deadline:.3f}{left}'
    if isinstance(what, Task):
        return f'waiting to join {what.name}'
    if isinstance(what, _kernel._File):
        direction = 'read' if task is what.reader else 'write'
        return f'waiting to {direction} {_file_name(what.fileobj, what.fd)}'
    owner, verb = getattr(what, '_owner', None), getattr(what, '_verb', None)
    if verb is not None:                # a WaitQueue: a lock, an event, a queue...
        thing = f'{type(owner).__name__} at {id(owner):#x}'
        if verb == 'wait on':
            return f'waiting on {thing}'
        return f'waiting to {verb} {thing}'
    return f'waiting: {task.waiting_on()}'


def _file_name(fileobj, fd):
    if isinstance(fileobj, socket.socket):
        try:
            peer = fileobj.getpeername()
        except OSError:
            peer = None
        try:
            here = fileobj.getsockname()
        except OSError:
            here = None
        ends = ' '.join(f'{label} {_address(a)}' for label, a in
                        (('on', here), ('from', peer)) if a)
        return f'socket fd {fd}' + (f' ({ends})' if ends else '')
    return f'fd {fd}' if isinstance(fileobj, int) else f'{type(fileobj).__name__} fd {fd}'


def _address(address):
    if isinstance(address, tuple):
        return f'{address[0]}:{address[1]}'
    return str(address) or None


async def dump_tasks_on(signum, file=None):
    """Print `dump_tasks()` to `file` (stderr) each time the process receives `signum`.

    A task to spawn as a daemon in the main thread:
    ``await tale.spawn(tale.dump_tasks_on, signal.SIGUSR1, daemon=True)``.
    The signal handler only writes a byte to a socket that this task waits
    on, so the tree is drawn in the loop, between two steps, never halfway
    through one.
    """
    receive, send = socket.socketpair()
    receive.setblocking(False)
    send.setblocking(False)

    def handler(signum, frame):
        with contextlib.suppress(OSError):      # full: a dump is already due
            send.send(b'!')

    previous = signal.signal(signum, handler)
    try:
        while True:
            await wait_readable(receive)
            with contextlib.suppress(BlockingIOError):
                receive.recv(512)
            print(dump_tasks(), file=file if file is not None else sys.stderr, flush=True)
    finally:
        signal.signal(signum, previous)
        _kernel.notify_closing(receive)
        receive.close()
        send.close()
