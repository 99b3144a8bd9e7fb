"""The Sphinx extension that captions listings, and the rendered book it produces."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import tale_sphinx  # noqa: E402

CHAPTERS = tale_sphinx.tomllib.loads((ROOT / "entangled.toml").read_text())["watch_list"]


@pytest.fixture(scope="session")
def html():
    """The built HTML book (``make test`` builds it first; otherwise build it here)."""
    out = ROOT / "_build" / "html"
    if not (out / "index.html").exists():
        subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-c", str(ROOT), "-b",
                        "html", str(ROOT / "book"), str(out)], check=True)
    return out


def test_fence_attributes_are_parsed():
    attrs = tale_sphinx.parse_attrs(' file=code/x.py action="replaces «a-b»"')
    assert attrs == {"file": "code/x.py", "action": "replaces «a-b»"}
    assert tale_sphinx.parse_attrs(" #ch04-run")["id"] == "ch04-run"


def test_blocks_are_traced_to_the_files_they_end_up_in(tmp_path):
    (tmp_path / "a.md").write_text(
        "```{.python file=code/one.py}\n<<outer>>\n```\n\n"
        "```{.python #outer}\ndef f():\n    <<inner>>\n```\n\n"
        "```{.python #inner}\nreturn 1\n```\n")
    (tmp_path / "b.md").write_text("```{.python file=code/two.py}\n<<inner>>\n```\n")
    targets = tale_sphinx.block_targets(tmp_path, ["a.md", "b.md"])
    assert targets["outer"] == ["code/one.py"]
    assert targets["inner"] == ["code/one.py", "code/two.py"]
    assert tale_sphinx.describe_files(targets["inner"]) == "``code/one.py`` and 1 later file"


def test_every_tangled_listing_has_a_caption(html):
    checked = 0
    for chapter in (ROOT / "book").glob("*.md"):
        fences = len(tale_sphinx.FENCE.findall(chapter.read_text()))
        if not fences:
            continue
        page = (html / chapter.with_suffix(".html").name).read_text()
        captions = re.findall(r'<div class="code-block-caption"><span class="caption-text">(.*?)</span>',
                              page, re.S)
        tangled = [c for c in captions if "code/" in c or "«" in c]
        assert len(tangled) >= fences, f"{chapter.name}: {fences} listings, {len(tangled)} captioned"
        checked += fences
    assert checked > 0


def test_chapters_are_numbered_straight_through_the_parts(html):
    index = (html / "index.html").read_text()
    numbers = re.findall(r'toctree-l1"><a class="reference internal" href="ch(\d\d)-[^"]*">(\d+)\. ',
                         index)
    assert numbers, "no numbered chapters in the table of contents"
    for file_number, shown in numbers:
        assert int(file_number) == int(shown)


def test_stage_listing_marks_new_and_changed_lines():
    old = ["def run():", "    pass", "", "x = 1"]
    new = ["import os", "def run():", "    return 2", "", "", "x = 1"]
    assert tale_sphinx.changed_lines(old, new) == [1, 3]


STAGE = re.compile(r"^:::\{stage\} (\S+)\n:previous: (\S+)$", re.M)


def test_stage_listing_highlights_lines_in_html(html):
    """Each whole-stage listing highlights exactly the lines new since its previous stage."""
    checked = 0
    for chapter in sorted((ROOT / "book").glob("ch*.md")):
        stages = STAGE.findall(chapter.read_text())
        if not stages:
            continue
        expected = sum(len(tale_sphinx.changed_lines((ROOT / old).read_text().splitlines(),
                                                     (ROOT / new).read_text().splitlines()))
                       for new, old in stages)
        page = (html / chapter.with_suffix(".html").name).read_text()
        wholes = [listing for listing in page.split('<div class="literal-block-wrapper')
                  if re.search(r'<span class="caption-text">The whole of', listing)]
        assert expected > 0, chapter.name
        assert sum(w.count('<span class="hll">') for w in wholes) == expected, chapter.name
        checked += 1
    assert checked >= 5, "fewer whole-stage listings with :previous: than Part I has stages"


def test_block_diff_shows_changed_lines_and_ignores_indentation():
    old = ["def step(self, task):", "    x = self.ready", "    x.append(task)  # why", "    return 1"]
    new = ["def batch(self):", "    for task in tasks:", "        x = self.ready",
           "        x.append(task)      # why", "        return 2"]
    assert tale_sphinx.block_diff(old, new) == [
        "-def step(self, task):", "+def batch(self):", "+    for task in tasks:",
        "         x = self.ready", "         x.append(task)      # why",    # moved: unchanged
        "-    return 1", "+        return 2"]
    long = [f"line {n}" for n in range(20)]
    changed = long[:10] + ["new"] + long[11:]
    assert tale_sphinx.block_diff(long, changed, context=2) == [
        " ...", " line 8", " line 9", "-line 10", "+new", " line 11", " line 12", " ..."]


def test_every_blockdiff_names_blocks_that_exist_and_differ():
    """A diff in the book is computed from its blocks at build time; each must exist."""
    bodies = {attrs["id"]: body for _c, attrs, body in tale_sphinx.read_blocks(ROOT, CHAPTERS)
              if "id" in attrs}
    diffs = 0
    for chapter in CHAPTERS:
        text = (ROOT / chapter).read_text()
        for found in re.finditer(r":::\{blockdiff\}\n:from: (.*)\n:to: (.*)\n", text):
            olds, news = found[1].split(), found[2].split()
            assert all(name in bodies for name in olds + news), found[0]
            old = [line for name in olds for line in bodies[name].splitlines()]
            new = [line for name in news for line in bodies[name].splitlines()]
            assert any(line[:1] in "+-" for line in tale_sphinx.block_diff(old, new)), found[0]
            diffs += 1
    assert diffs >= 4
