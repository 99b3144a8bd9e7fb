"""The package as a whole: its public names are documented, and it installs."""
import os
import subprocess
import sys
from pathlib import Path

import tale

ROOT = Path(__file__).resolve().parent.parent


def test_every_public_name_is_in_the_reference():
    reference = (ROOT / 'book' / 'reference.md').read_text()
    missing = [name for name in tale.__all__ if f'tale.{name}' not in reference]
    assert missing == []


def test_every_public_name_exists_and_has_a_docstring():
    for name in tale.__all__:
        value = getattr(tale, name)
        assert (value.__doc__ or '').strip(), name


def test_pip_installs_the_package_and_it_runs(tmp_path):
    target = tmp_path / 'site'
    result = subprocess.run(
        [sys.executable, '-m', 'pip', 'install', '--quiet', '--no-deps',
         '--no-build-isolation', '--no-index', '--target', str(target),
         str(ROOT / 'code')],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, 'PIP_DISABLE_PIP_VERSION_CHECK': '1'})
    assert result.returncode == 0, result.stdout + result.stderr
    assert (target / 'tale' / 'kernel.py').exists()
    assert not (target / 'stages').exists()          # only the library is installed
    check = subprocess.run(
        [sys.executable, '-c',
         'import tale; print(tale.__file__); '
         'print(tale.run(lambda: tale.sleep(0)))'],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={**os.environ, 'PYTHONPATH': str(target)})
    assert check.returncode == 0, check.stderr
    lines = check.stdout.splitlines()
    assert lines[0].startswith(str(target)) and lines[1] == 'None'


# The names the library promises, member by member: each exists, is in the
# reference page, and is used or introduced in a chapter of Part II.
PROMISED = {
    'run': [], 'spawn': [], 'sleep': [], 'clock': [], 'current_task': [],
    'wait_readable': [], 'wait_writable': [],
    'Task': ['join', 'wait', 'cancel', 'done', 'result', 'exception', 'cancelled'],
    'CancelledError': [],
    'timeout_after': [], 'move_on_after': [],
    'TaskGroup': ['spawn'],
    'Event': ['set', 'clear', 'is_set', 'wait'],
    'Lock': ['acquire', 'release', 'locked'],
    'Semaphore': ['acquire', 'release'],
    'BoundedSemaphore': ['acquire', 'release'],
    'Condition': ['wait', 'wait_for', 'notify', 'notify_all'],
    'Queue': ['put', 'get', 'qsize', 'empty', 'full', 'join', 'task_done'],
    'LifoQueue': [], 'PriorityQueue': [],
}


def chapters_text():
    return '\n'.join(p.read_text() for p in sorted((ROOT / 'book').glob('ch*.md')))


def test_every_promised_name_and_member_exists_and_is_documented():
    reference = (ROOT / 'book' / 'reference.md').read_text()
    chapters = chapters_text()
    problems = []
    for name, members in PROMISED.items():
        if name not in tale.__all__:
            problems.append(f'{name} not in tale.__all__')
        if f'tale.{name}' not in reference:
            problems.append(f'{name} not in the reference')
        if f'{name}' not in chapters:
            problems.append(f'{name} not in any chapter')
        for member in members:
            attr = getattr(getattr(tale, name), member, None)
            if attr is None or not (attr.__doc__ or '').strip():
                problems.append(f'{name}.{member} missing or undocumented')
            elif not any(form.format(member) in chapters
                         for form in ('.{}(', 'def {}(', '`{}`')):
                problems.append(f'{name}.{member} not in any chapter')
    # what the reference must show besides the names above
    for text in ('tale.timeouts.TimeoutScope', ':members: expired',
                 'tale.testing.VirtualClock'):
        if text not in reference:
            problems.append(f'{text} not in the reference')
    if 'daemon' not in tale.spawn.__doc__:
        problems.append('spawn(daemon=) not in the docstring the reference shows')
    assert problems == []


def test_cancelled_error_is_a_base_exception_not_an_exception():
    assert issubclass(tale.CancelledError, BaseException)
    assert not issubclass(tale.CancelledError, Exception)


def test_task_api_on_success_failure_and_cancellation():
    import pytest
    from tale.testing import VirtualClock
    boom = ValueError('boom')
    log = []

    async def ok():
        await tale.sleep(1)
        return 42

    async def bad():
        await tale.sleep(1)
        raise boom

    async def forever():
        await tale.sleep(1000)

    async def whoami(box):
        box.append(await tale.current_task())

    async def main():
        box = []
        me = await tale.spawn(whoami, box)
        t_ok, t_bad, t_for = (await tale.spawn(ok), await tale.spawn(bad),
                              await tale.spawn(forever))
        assert not t_ok.done()
        with pytest.raises(RuntimeError, match='not finished'):
            t_ok.result()                         # not finished yet
        assert await t_ok.join() == 42
        log.append(('ok', t_ok.done(), t_ok.result(), t_ok.exception(),
                    t_ok.cancelled()))
        try:
            await t_bad.join()
        except ValueError as error:
            log.append(('bad', error is boom, t_bad.exception() is boom,
                        t_bad.cancelled()))
        await t_for.cancel()
        log.append(('forever', t_for.done(), t_for.cancelled(),
                    type(t_for.exception()).__name__, tale.clock()))
        await t_for.wait()                        # wait never raises
        await t_bad.wait()
        with pytest.raises(tale.CancelledError):
            await t_for.join()
        await me.wait()
        log.append(('current_task is spawn\'s object', box == [me]))
    tale.run(main, clock=VirtualClock())
    assert log == [('ok', True, 42, None, False),
                   ('bad', True, True, False),
                   ('forever', True, True, 'CancelledError', 1.0),
                   ("current_task is spawn's object", True)]


def test_a_daemon_is_cancelled_when_the_other_tasks_end():
    from tale.testing import VirtualClock
    log = []

    async def heartbeat():
        try:
            while True:
                await tale.sleep(1)
                log.append(tale.clock())
        except tale.CancelledError:
            log.append('daemon cancelled')
            raise

    async def main():
        await tale.spawn(heartbeat, daemon=True)
        await tale.sleep(2.5)
        return 'main done'
    assert tale.run(main, clock=VirtualClock()) == 'main done'
    assert log == [1.0, 2.0, 'daemon cancelled']


def test_sleep_zero_lets_every_other_ready_task_run_first():
    log = []

    async def other(name):
        for i in range(2):
            log.append((name, i))
            await tale.sleep(0)

    async def main():
        for name in 'ab':
            await tale.spawn(other, name)
        for i in range(3):
            log.append(('main', i))
            await tale.sleep(0)
    tale.run(main)
    assert log == [('main', 0), ('a', 0), ('b', 0), ('main', 1), ('a', 1), ('b', 1),
                   ('main', 2)]
