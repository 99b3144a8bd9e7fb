"""Run pytest with chapter 9's readable kernel as ``tale.kernel``.

``python tests/readable_kernel.py PYTEST-ARGS...`` makes
code/stages/ch09_kernel.py the module ``tale.kernel`` before anything
imports tale (pytest itself imports it, to read the warning filters of
pytest.ini), then runs pytest: every module of the package, and every test,
runs on chapter 9's tick instead of chapter 14's.  Nothing in the library
knows: the swap is an import hook, here.  tests/test_readable_kernel.py
runs it.
"""
import importlib.abc
import importlib.util
import sys
from pathlib import Path

READABLE = Path(__file__).resolve().parent.parent / "code" / "stages" / "ch09_kernel.py"


class _ReadableKernelFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname == "tale.kernel":
            return importlib.util.spec_from_file_location(fullname, READABLE)
        return None


class _Header:
    """Says, at the top of the run, which file ``tale.kernel`` is."""

    def pytest_report_header(self, config):
        import tale.kernel
        return f"tale.kernel is {tale.kernel.__file__}"


def main(args):
    if "tale" in sys.modules:
        raise RuntimeError("the readable kernel must be in place before tale is imported")
    sys.meta_path.insert(0, _ReadableKernelFinder())
    import pytest
    return pytest.main(args, plugins=[_Header()])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
