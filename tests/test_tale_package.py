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
