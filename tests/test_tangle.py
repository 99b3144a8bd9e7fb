"""The chapters and code/ agree, and the tangle step fails loudly when they cannot."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TANGLE = ["tools/tangle.py"]


def run_tangle(cwd, *args):
    return subprocess.run([sys.executable, *TANGLE, *args], cwd=cwd,
                          capture_output=True, text=True)


@pytest.fixture
def copy_of_project(tmp_path):
    """The chapters, the tangle driver and code/, copied somewhere we may break them."""
    for name in ("book", "tools", "code"):
        shutil.copytree(ROOT / name, tmp_path / name,
                        ignore=shutil.ignore_patterns("__pycache__", "_build"))
    shutil.copy(ROOT / "entangled.toml", tmp_path)
    return tmp_path


def test_committed_code_is_a_fresh_tangle():
    result = run_tangle(ROOT, "--check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "matches a fresh tangle" in result.stdout


def test_hand_edit_in_code_is_caught(copy_of_project):
    victim = copy_of_project / "code" / "stages" / "ch03_loop.py"
    victim.write_text(victim.read_text() + "# a quiet fix made by hand\n")
    result = run_tangle(copy_of_project, "--check")
    assert result.returncode != 0
    assert "differs from the chapters: code/stages/ch03_loop.py" in result.stdout


def test_stale_file_in_code_is_caught(copy_of_project):
    (copy_of_project / "code" / "stray.py").write_text("x = 1\n")
    result = run_tangle(copy_of_project, "--check")
    assert result.returncode != 0
    assert "not produced by any chapter: code/stray.py" in result.stdout


def test_missing_reference_fails_the_tangle(copy_of_project):
    chapter = copy_of_project / "book" / "ch03-loop.md"
    text = chapter.read_text()
    assert "<<ch03-run>>" in text
    chapter.write_text(text.replace("<<ch03-run>>", "<<ch03-no-such-block>>", 1))
    for args in ((), ("--check",)):
        result = run_tangle(copy_of_project, *args)
        assert result.returncode != 0
        assert "ch03-no-such-block" in result.stderr


def test_tangled_files_are_ordinary():
    for path in (ROOT / "code").rglob("*"):
        if not path.is_file() or "__pycache__" in path.parts or ".egg-info" in str(path):
            continue
        data = path.read_bytes()
        assert data.endswith(b"\n") and not data.endswith(b"\n\n"), path
        assert path.stat().st_mode & 0o777 == 0o644, path
        assert b"~/~" not in data, f"entangled marker left in {path}"


def test_every_chapter_with_code_is_tangled():
    import tomllib
    listed = set(tomllib.loads((ROOT / "entangled.toml").read_text())["watch_list"])
    for chapter in (ROOT / "book").glob("*.md"):
        if "```{." in chapter.read_text():
            assert f"book/{chapter.name}" in listed, f"{chapter.name} is not in entangled.toml"
