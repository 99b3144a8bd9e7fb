"""The kernel at each step of chapter 14, to run and to measure.

Each class is the package's Kernel with part of it as it was before one of
the chapter's steps; `tale.run` never uses them, but
``ReadableTick().run(main)`` runs a program on chapter 9's kernel.  (A
Ctrl-C that strikes in their own methods is raised at once rather than held
for the next wait: chapter 18's rule knows the kernel's own file only.)
"""
import weakref

from tale.errors import CancelledError
from tale.kernel import MAX_WAIT, Kernel
from tale.traps import YIELD


class OwnContexts(Kernel):
    """After step 4: every task has a context of its own, the tick of step 3."""

    def _loop(self):
        """Tick until every task is done: first the others, then the daemons.

        The tick of chapter 9 in one method: its four steps, in order, are
        marked ``# Step``.  Discussion: everything here is for speed, and
        chapter 14 shows each change from chapter 9's tick with what it buys:
        the names a tick or a switch uses are locals, looked up once per run;
        _wake, resume and dispatch are written out where they are called; and
        sleep(0), the request YIELD, is answered before the table of handlers.
        """
        ready = self._ready
        popleft, append = ready.popleft, ready.append
        timers = self._timers
        heap, first, due = timers.heap, timers.first, timers.due
        traps = self._traps
        clock = self.clock
        debug = self.debug
        hooks = self._hooks
        send = type(self).step          # how a task's coroutine is sent its answer
        while self._live or self._daemons:
            if not self._live and not self._stopping:   # the last real task is done
                self._stopping = True
                for task in list(self._daemons):
                    self._cancel(task, CancelledError())
            self.ticks += 1

            # Step 1: how long may the poll block?  Not at all if tasks are
            # ready; else until the first live timer; else without limit.
            if ready:
                timeout = 0
            else:
                deadline = first()
                timeout = (None if deadline is None
                           else min(max(0.0, deadline - clock.now()), MAX_WAIT))

            # Step 2: poll for I/O, or wait for the first timer.
            if self._interrupted:           # a Ctrl-C held back (chapter 18)
                self._raise_held_interrupt()
            if self._stale_files:
                self._tidy_files()
            if self._io_waits:
                self._poll(timeout)
            elif timeout:
                self._idle = True           # a Ctrl-C now is raised at once (ch. 18)
                if self._interrupted:
                    self._raise_held_interrupt()
                clock.sleep(timeout)
                self._idle = False
            elif timeout is None and not ready:
                raise self._deadlock()
            if hooks is not None:
                hooks.polled(timeout)

            # Step 3: every task whose timer is due becomes ready, earliest first.
            if heap:                            # (no clock read if no timer is set)
                for task, exc in due(clock.now()):
                    if exc is None:             # a sleep is over: _wake, inlined
                        task._undo = None
                        task._value = None
                        append(task)
                    else:                       # a deadline has come (chapter 10)
                        self._cancel(task, exc)

            # Step 4: run the batch ready when the tick began; a task woken now waits.
            if hooks is not None:
                hooks.batch(len(ready))
            for _ in range(len(ready)):
                task = popleft()
                while True:             # resume, inlined: one call fewer per switch
                    try:
                        exc = task._exc
                        if exc is None:
                            request = task._context.run(send, task.coro, task._value)
                        else:
                            task._exc = None
                            request = task._context.run(task.coro.throw, exc)
                    except StopIteration as stop:
                        self._finish(task, stop.value, None)
                        break
                    except (KeyboardInterrupt, SystemExit) as error:
                        if task.coro.cr_frame is None:  # it came out of the task
                            self._finish(task, None, error)
                            task._mark_retrieved()  # run() raises it: delivered
                        # else Ctrl-C struck the loop around the step: the task
                        # is still alive, and _shutdown cancels it like the rest
                        raise           # Ctrl-C and exit() stop the loop (see run)
                    except BaseException as error:  # the task failed; the loop goes on
                        self._finish(task, None, error)
                        task = None     # (the traceback keeps this frame)
                        break
                    if request is YIELD:    # sleep(0), by identity: no table, no call
                        task._value = None      # its answer, not the last one
                        append(task)
                        break
                    try:                        # dispatch, inlined: another call fewer
                        handler = traps[request[0]] if type(request) is tuple else None
                    except (KeyError, IndexError, TypeError):
                        handler = None
                    if handler is None:
                        task._exc = TypeError(
                            f'{task.name} yielded {request!r}, which is not a tale '
                            'request; is it awaiting something made for another loop?')
                        continue            # an instant answer: the error, thrown in
                    try:
                        if not handler(task, request):
                            break               # the task waits, or is queued
                    except Exception as error:  # the kernel's fault, not the task's
                        raise RuntimeError(f'tale: internal error answering '
                                           f'{request[0]!r} for {task!r}') from error
            if debug:                       # and, when debugging, check
                self.check_invariants()

    def trap_spawn(self, task, request):
        _, coro, daemon = request
        task._value = self._new_task(coro, daemon, task._context.copy())
        task._value._parent = weakref.ref(task)
        return True


class ClosureUndo(OwnContexts):
    """After step 3: and the undo of a sleep or of a file wait is a closure."""

    def trap_sleep(self, task, request):
        seconds = request[1]
        if seconds <= 0:                # sleep(0): behind every task ready now
            task._value = None
            self._ready.append(task)
            return
        if seconds != seconds:          # nan: it would never fire, and break the heap
            return self._refuse(task, ValueError(f'cannot sleep {seconds!r} seconds'))
        number = self._timers.add(self.clock.now() + seconds, task)
        task._waiting = 'sleep'
        task._undo = lambda: self._timers.kill(number)

    # Files: one _File per descriptor, registered lazily, tidied before each poll.
    def _wait_file(self, task, fileobj, event):
        try:
            fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
            file = self._files.get(fd)
            if file is None or file.fileobj is not fileobj:   # not the same object
                file = self._file(fileobj)                    # as last time: look closer
        except (AttributeError, TypeError, ValueError, OSError) as error:
            return self._refuse(task, error)    # not a file, or a closed one
        waiter = file.reader if event == READ else file.writer
        if waiter is not None:
            return self._refuse(task, RuntimeError(
                f'{waiter!r} already waits on {fileobj!r} for that'))
        if not file.events & event:         # not registered for it yet: tell the OS
            known = file.events
            refused = self._register(file, known | event)
            if refused is not None and known:
                file = self._file(fileobj)      # the OS had forgotten it: afresh
                refused = self._register(file, event)
            if refused is not None:         # closed, or not a file the OS can poll
                return self._refuse(task, refused)
        if event == READ:
            file.reader = task
        else:
            file.writer = task
        self._io_waits += 1
        task._waiting = file
        task._undo = lambda: self._file_done(file, event)

    def _undo_wait(self, task):
        undo = task._undo
        if undo is not None:
            task._undo = None
            undo()


class ReadableTick(ClosureUndo):
    """Chapter 9's kernel: a method per step, a call per task and per request."""

    def _loop(self):
        """Tick until every task is done: first the others, then the daemons."""
        while self._live or self._daemons:
            if not self._live and not self._stopping:   # the last real task is done
                self._stopping = True
                for task in list(self._daemons):
                    self._cancel(task, CancelledError())
            self.tick()

    def tick(self):
        """One turn of the loop: timeout, poll, expire, run."""
        self.ticks += 1
        timeout = self.poll_timeout()
        self.poll(timeout)
        self.expire_timers()
        self.run_batch()
        if self.debug:                      # and, when debugging, check
            self.check_invariants()

    def poll_timeout(self):
        """Step 1: how long the poll may block (None: without limit)."""
        if self._ready:
            return 0
        deadline = self._timers.first()
        if deadline is None:
            return None
        return min(max(0.0, deadline - self.clock.now()), MAX_WAIT)

    def poll(self, timeout):
        """Step 2: wait for files, or for the first timer; nothing to wait for
        and nobody ready is a deadlock."""
        if self._interrupted:               # a Ctrl-C held back (chapter 18)
            self._raise_held_interrupt()
        if self._stale_files:
            self._tidy_files()
        if self._io_waits:
            self._poll(timeout)
        elif timeout:
            self._idle = True               # a Ctrl-C now is raised at once (ch. 18)
            if self._interrupted:
                self._raise_held_interrupt()
            self.clock.sleep(timeout)
            self._idle = False
        elif timeout is None and not self._ready:
            raise self._deadlock()
        if self._hooks is not None:
            self._hooks.polled(timeout)

    def expire_timers(self):
        """Step 3: every task whose timer is due becomes ready, earliest first."""
        for task, exc in self._timers.due(self.clock.now()):
            if exc is None:                 # a sleep is over
                self._wake(task, None)
            else:                           # a deadline has come (chapter 10)
                self._cancel(task, exc)

    def run_batch(self):
        """Step 4: resume each task that was ready when the tick began, once,
        oldest first; a task woken meanwhile waits for the next tick."""
        ready = self._ready
        if self._hooks is not None:
            self._hooks.batch(len(ready))
        for _ in range(len(ready)):
            self.resume(ready.popleft())

    def resume(self, task):
        """Resume `task` until its next request, and handle that request;
        an instant answer is sent in at once."""
        send = type(self).step          # how a task's coroutine is sent its answer
        while True:
            try:
                exc = task._exc
                if exc is None:
                    request = task._context.run(send, task.coro, task._value)
                else:
                    task._exc = None
                    request = task._context.run(task.coro.throw, exc)
            except StopIteration as stop:
                self._finish(task, stop.value, None)
                return
            except (KeyboardInterrupt, SystemExit) as error:
                if task.coro.cr_frame is None:  # it came out of the task
                    self._finish(task, None, error)
                    task._mark_retrieved()  # run() raises it: delivered
                # else Ctrl-C struck the loop around the step: the task
                # is still alive, and _shutdown cancels it like the rest
                raise           # Ctrl-C and exit() stop the loop (see run)
            except BaseException as error:  # the task failed; the loop goes on
                self._finish(task, None, error)
                task = None     # (the traceback keeps this frame)
                return
            if not self.dispatch(task, request):
                return                      # the task waits, or is queued

    def dispatch(self, task, request):
        """Hand `request` to its handler; True if the task has its answer now."""
        try:
            handler = self._traps[request[0]] if type(request) is tuple else None
        except (KeyError, IndexError, TypeError):
            handler = None
        if handler is None:
            task._exc = TypeError(
                f'{task.name} yielded {request!r}, which is not a tale '
                'request; is it awaiting something made for another loop?')
            return True
        try:
            return handler(task, request)
        except Exception as error:      # the kernel's fault, not the task's
            raise RuntimeError(f'tale: internal error answering '
                               f'{request[0]!r} for {task!r}') from error


class BatchInOnePiece(ReadableTick):
    """After step 1: the batch in one piece, its hot names in locals."""

    def run_batch(self):
        """Step 4: resume each task that was ready when the tick began, once,
        oldest first; a task woken meanwhile waits for the next tick."""
        ready = self._ready
        popleft = ready.popleft         # the names every switch uses, looked up
        traps = self._traps             # once per batch: a local is an index,
        send = type(self).step          # an attribute a dictionary lookup
        if self._hooks is not None:
            self._hooks.batch(len(ready))
        for _ in range(len(ready)):
            task = popleft()
            while True:             # resume, inlined: one call fewer per switch
                try:
                    exc = task._exc
                    if exc is None:
                        request = task._context.run(send, task.coro, task._value)
                    else:
                        task._exc = None
                        request = task._context.run(task.coro.throw, exc)
                except StopIteration as stop:
                    self._finish(task, stop.value, None)
                    break
                except (KeyboardInterrupt, SystemExit) as error:
                    if task.coro.cr_frame is None:  # it came out of the task
                        self._finish(task, None, error)
                        task._mark_retrieved()  # run() raises it: delivered
                    # else Ctrl-C struck the loop around the step: the task
                    # is still alive, and _shutdown cancels it like the rest
                    raise           # Ctrl-C and exit() stop the loop (see run)
                except BaseException as error:  # the task failed; the loop goes on
                    self._finish(task, None, error)
                    task = None     # (the traceback keeps this frame)
                    break
                try:                        # dispatch, inlined: another call fewer
                    handler = traps[request[0]] if type(request) is tuple else None
                except (KeyError, IndexError, TypeError):
                    handler = None
                if handler is None:
                    task._exc = TypeError(
                        f'{task.name} yielded {request!r}, which is not a tale '
                        'request; is it awaiting something made for another loop?')
                    continue            # an instant answer: the error, thrown in
                try:
                    if not handler(task, request):
                        break               # the task waits, or is queued
                except Exception as error:  # the kernel's fault, not the task's
                    raise RuntimeError(f'tale: internal error answering '
                                       f'{request[0]!r} for {task!r}') from error


class FastPath(ReadableTick):
    """After step 2: and the fast path for ``sleep(0)``."""

    def run_batch(self):
        """Step 4: resume each task that was ready when the tick began, once,
        oldest first; a task woken meanwhile waits for the next tick."""
        ready = self._ready
        popleft, append = ready.popleft, ready.append   # the names every switch uses,
        traps = self._traps             # looked up once per batch: a local is an
        send = type(self).step          # index, an attribute a dictionary lookup
        if self._hooks is not None:
            self._hooks.batch(len(ready))
        for _ in range(len(ready)):
            task = popleft()
            while True:             # resume, inlined: one call fewer per switch
                try:
                    exc = task._exc
                    if exc is None:
                        request = task._context.run(send, task.coro, task._value)
                    else:
                        task._exc = None
                        request = task._context.run(task.coro.throw, exc)
                except StopIteration as stop:
                    self._finish(task, stop.value, None)
                    break
                except (KeyboardInterrupt, SystemExit) as error:
                    if task.coro.cr_frame is None:  # it came out of the task
                        self._finish(task, None, error)
                        task._mark_retrieved()  # run() raises it: delivered
                    # else Ctrl-C struck the loop around the step: the task
                    # is still alive, and _shutdown cancels it like the rest
                    raise           # Ctrl-C and exit() stop the loop (see run)
                except BaseException as error:  # the task failed; the loop goes on
                    self._finish(task, None, error)
                    task = None     # (the traceback keeps this frame)
                    break
                if request is YIELD:    # sleep(0), by identity: no table, no call
                    task._value = None      # its answer, not the last one
                    append(task)
                    break
                try:                        # dispatch, inlined: another call fewer
                    handler = traps[request[0]] if type(request) is tuple else None
                except (KeyError, IndexError, TypeError):
                    handler = None
                if handler is None:
                    task._exc = TypeError(
                        f'{task.name} yielded {request!r}, which is not a tale '
                        'request; is it awaiting something made for another loop?')
                    continue            # an instant answer: the error, thrown in
                try:
                    if not handler(task, request):
                        break               # the task waits, or is queued
                except Exception as error:  # the kernel's fault, not the task's
                    raise RuntimeError(f'tale: internal error answering '
                                       f'{request[0]!r} for {task!r}') from error


# After step 5, it is the package's Kernel itself (steps 6 and 7 change
# task.py and traps.py, not the kernel).
