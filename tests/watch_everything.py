"""A pytest plugin: every ``tale.run`` of the session runs watched by instruments.

``python -m pytest -p watch_everything tests/test_tale_kernel.py ...`` runs
tale's own tests with an instrument that defines every event (and one that
checks their order) added to every run, so the watched kernel must behave
exactly as the plain one does, failure reports and all.
"""
import tale
import tale.kernel
from tale.instruments import EVENTS


class Every:
    """Defines every event; checks that steps nest and tasks are announced first."""

    def __init__(self):
        self.known, self.stepping = set(), None
        for event in EVENTS:
            if not hasattr(type(self), event):
                setattr(self, event, lambda *args: None)

    def task_spawned(self, task):
        assert task not in self.known
        self.known.add(task)

    def before_task_step(self, task):
        assert task in self.known and self.stepping is None, (task, self.stepping)
        self.stepping = task

    def after_task_step(self, task):
        assert self.stepping is task
        self.stepping = None

    def task_finished(self, task):
        assert task.done() and self.stepping is None
        self.known.discard(task)


_plain = tale.kernel.run


def watched_run(corofunc, *args, instruments=(), **options):
    return _plain(corofunc, *args, instruments=[*instruments, Every()], **options)


def pytest_configure(config):
    tale.run = tale.kernel.run = watched_run
