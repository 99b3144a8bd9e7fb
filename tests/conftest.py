"""Shared test set-up, and a summary of what ran."""
import collections
import logging
import os

import pytest

# Every loop the tests run checks the kernel's invariants after every tick.
os.environ.setdefault("TALE_DEBUG", "1")


def pytest_terminal_summary(terminalreporter):
    counts = collections.Counter()
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "call") != "call" and outcome != "error":
                continue
            kind = "chapter examples" if report.nodeid.startswith("book/") else "tests"
            counts[kind, outcome] += 1
    terminalreporter.write_sep("=", "what ran")
    for kind in ("chapter examples", "tests"):
        parts = [f"{counts[kind, o]} {o}" for o in ("passed", "failed", "error", "skipped")
                 if counts[kind, o]]
        terminalreporter.write_line(f"{kind}: {', '.join(parts) or 'none'}")



@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI a skipped test fails: .ci/run installs every tool the tests use."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") == "true" and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped in CI ({reason}); .ci/run must install what it needs"
pytest_plugins = ["pytester"]


def _open_descriptors():
    """{descriptor: what it is}, without the one that lists the directory."""
    found = {}
    for fd in os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else ():
        try:
            what = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:                 # the listing's own, closed already
            continue
        if not what.endswith("/fd"):
            found[fd] = what
    return found


def _pool_is_idle():
    """True if every worker of tale's default thread pool waits for a job: a
    pool kept for the whole process, whose idle workers end by themselves."""
    import sys
    threads = sys.modules.get("tale.threads")
    if threads is None:
        return False
    pool = threads.default_pool
    return pool._idle._value == pool._threads


class _AsyncioComplaints(logging.Handler):
    """Collects what asyncio reports when an object is collected: a task
    destroyed while still pending, a task's exception never retrieved."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage().splitlines()[0])


@pytest.fixture(autouse=True)
def leak_guard(request):
    """Fail the test that leaves a file descriptor open, a thread running,
    or an asyncio task pending or failed unseen.

    (A tale task cannot outlive its run: `tale.run` finishes every task and
    closes its selector, its timers go with it, and a failure nobody joined
    is already an error, by pytest.ini.)  Descriptors are counted from the
    process, so a socket, a pipe or a selector (its registrations with it)
    that a test forgets is caught whoever made it.  asyncio says only when
    the collector meets them that a task was left pending or its failure
    unseen, and only in its log: the guard listens to that log.
    """
    import gc
    import threading
    fds_before = _open_descriptors()
    threads_before = set(threading.enumerate())
    complaints = _AsyncioComplaints()
    asyncio_log = logging.getLogger("asyncio")
    asyncio_log.addHandler(complaints)
    try:
        yield
        gc.collect()                   # what is only waiting for the collector
    finally:
        asyncio_log.removeHandler(complaints)
    if complaints.messages:
        pytest.fail(f"asyncio reported: {complaints.messages}")
    if request.node.get_closest_marker("leaks_descriptors"):
        return
    leaked = set(_open_descriptors().items()) - set(fds_before.items())
    if leaked:
        kinds = sorted({what.split(":")[0] for _, what in leaked})
        pytest.fail(f"the test left {len(leaked)} descriptor(s) open: {kinds}")
    if request.node.get_closest_marker("keeps_threads"):
        return
    for _ in range(50):                # give finishing threads a moment
        stray = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
        if stray and all(t.name == "tale worker" for t in stray) and _pool_is_idle():
            stray = []                  # the process-wide pool's idle workers (chapter 18)
        if not stray:
            break
        threading.Event().wait(0.02)
    else:
        pytest.fail(f"the test left threads running: {[t.name for t in stray]}")


def pytest_configure(config):
    config.addinivalue_line("markers", "leaks_descriptors(reason): the test keeps "
                            "descriptors open on purpose (say why)")
    config.addinivalue_line("markers", "keeps_threads(reason): the test starts threads "
                            "that a fixture owns and ends later (say why)")
