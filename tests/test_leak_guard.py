"""The leak guard of tests/conftest.py fails the tests that leak, and only them."""
from pathlib import Path


def test_the_guard_fails_a_test_that_leaks(pytester, monkeypatch):
    monkeypatch.setenv('PYTHONPATH', str(Path(__file__).parents[1] / 'code'))
    pytester.makeconftest((Path(__file__).parent / 'conftest.py').read_text())
    pytester.makepyfile("""
        import socket, threading, time
        kept = []

        def test_leaks_a_socket():
            kept.append(socket.socket())

        def test_leaves_a_thread():
            threading.Thread(target=time.sleep, args=(3,), daemon=True).start()

        def test_clean():
            with socket.socket():
                pass
    """)
    result = pytester.runpytest_subprocess('-p', 'no:cacheprovider')
    # the guard runs after the test body: a leak is an error of the test that made it
    result.assert_outcomes(passed=3, errors=2)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_leaks_a_socket*",
                                 "*left 1 descriptor(s) open: ?'socket'?*",
                                 "*ERROR at teardown of test_leaves_a_thread*",
                                 "*left threads running*"])
