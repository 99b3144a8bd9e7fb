"""What the tests of the rendered book share: the chapter list, fresh builds, tools.

The tests of the PDF and of the website check the book a reader gets.  They
need the chapters in book order (read from the toctrees of ``book/index.md``),
a build that matches the sources, and a way to say that a tool is missing:
locally such a test is skipped with the reason, in CI (``CI=true``) it fails,
because ``.ci/run`` installs every tool.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
sys.path.insert(0, str(ROOT / "tools"))   # tale_sphinx: how listings are recognised
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

TOCTREE = re.compile(r"^```\{toctree\}\n(?P<body>.*?)^```", re.S | re.M)
CAPTION = re.compile(r'^:caption:\s*"?(?P<caption>[^"\n]*)"?\s*$', re.M)
# Any fence that shows code: ``` or ~~~ with an info string, up to its closing twin.
CODE_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})(?P<info>[^\n]*)\n(?P<body>.*?)^(?P=fence)[ \t]*$",
                        re.S | re.M)
GRAPHVIZ = re.compile(r"^:{3,}\{graphviz\}", re.M)
TIMELINE = re.compile(r"^:{3,}\{timeline\} (\S+) (\w+)", re.M)   # chapter 19's figures
DROPDOWN = re.compile(r"^(:{3,})\{admonition\}[^\n]*\n(?::[^\n]*\n)*?:class:[^\n]*\bdropdown\b",
                      re.M)


def missing(reason: str):
    """Skip locally, fail in CI: a tool the book's tests need is not installed."""
    if IN_CI:
        pytest.fail(f"{reason} (.ci/run should have installed it)")
    pytest.skip(reason)


@dataclass(frozen=True)
class Chapter:
    docname: str          # "ch03-loop"
    title: str            # "The smallest loop"
    part: str             # caption of its toctree: "Part I: a loop from scratch"

    @property
    def source(self) -> Path:
        return BOOK / f"{self.docname}.md"

    @property
    def text(self) -> str:
        return self.source.read_text()


def title_of(path: Path) -> str:
    for line in path.read_text().splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    raise AssertionError(f"{path.name} has no '# ' title")


def chapters() -> list[Chapter]:
    """Every page of the book listed in index.md's toctrees, in book order."""
    found = []
    for match in TOCTREE.finditer((BOOK / "index.md").read_text()):
        body = match["body"]
        caption = CAPTION.search(body)
        for line in body.splitlines():
            name = line.strip()
            if name and not name.startswith(":"):
                found.append(Chapter(name, title_of(BOOK / f"{name}.md"),
                                     caption["caption"] if caption else ""))
    assert found, "index.md lists no chapters"
    return found


def sources_mtime() -> float:
    """The newest modification time among the files that make the book."""
    paths = [ROOT / "conf.py", *BOOK.rglob("*.md"), *(ROOT / "tools").glob("*.py"),
             *(ROOT / "code").rglob("*.py")]
    return max(p.stat().st_mtime for p in paths if p.exists())


def sphinx(builder: str, out: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-c", str(ROOT),
         "-b", builder, str(BOOK), str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"sphinx -b {builder} failed:\n{result.stdout}{result.stderr}"


def html_site(tmp_factory) -> Path:
    """The HTML book: ``_build/html`` if it is newer than every source, else a fresh build."""
    built = ROOT / "_build" / "html"
    stamp = built / "searchindex.js"          # rewritten by every HTML build
    if stamp.exists() and stamp.stat().st_mtime >= sources_mtime():
        return built
    out = tmp_factory.mktemp("html")
    sphinx("html", out)
    return out


def tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        missing(f"{name} is not installed")
    return path
