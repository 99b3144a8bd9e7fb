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

        def test_leaves_an_asyncio_task_pending():
            import asyncio
            loop = asyncio.new_event_loop()
            loop.create_task(asyncio.sleep(10))
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

        def test_never_looks_at_an_asyncio_failure():
            import asyncio

            async def fail():
                raise ValueError('nobody saw this')

            async def main():
                asyncio.create_task(fail())
                await asyncio.sleep(0.01)
            asyncio.run(main())

        def test_clean_asyncio():
            import asyncio

            async def fail():
                raise ValueError('seen')

            async def main():
                task = asyncio.create_task(fail())
                await asyncio.wait([task])
                return task.exception()
            asyncio.run(main())
    """)
    result = pytester.runpytest_subprocess('-p', 'no:cacheprovider')
    # the guard runs after the test body: a leak is an error of the test that made it
    result.assert_outcomes(passed=6, errors=4)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_leaks_a_socket*",
                                 "*left 1 descriptor(s) open: ?'socket'?*",
                                 "*ERROR at teardown of test_leaves_a_thread*",
                                 "*left threads running*"])
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_leaves_an_asyncio_task_pending*",
                                 "*asyncio reported: ?'Task was destroyed but it is pending!'?*"])
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_never_looks_at_an_asyncio_failure*",
                                 "*asyncio reported: ?'Task exception was never retrieved'?*"])
