"""tools/tale_latex.py, the extension that shapes the PDF book, on a book of five pages.

The small book is built with Sphinx's LaTeX builder (no TeX is needed: the
test reads the .tex) and with the HTML builder, which the extension leaves alone.
"""
import re
import sys
from pathlib import Path

import pytest
from sphinx.application import Sphinx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import tale_latex  # noqa: E402

PAGES = {
    "index.md": """# A small book

Words of the front page, for the HTML book only.

```{toctree}
:caption: Before
preface
```

```{toctree}
:caption: Part I: first things
one
two
```

```{toctree}
:caption: "Part II: more & more"
three
```

```{toctree}
:caption: After
glossary
```
""",
    "preface.md": "# Preface\n\nWhy.\n",
    "one.md": """# One

## Exercise 1: add

Add two and two.

```{admonition} Solution
:class: dropdown

The answer is four.
```

## Exercise 2: subtract

Take one from four.

```{admonition} Solution
:class: dropdown

The answer is three.
```

```{admonition} Note
A plain admonition stays where it is.
```
""",
    "two.md": "# Two\n\nNothing to do.\n",
    "three.md": """# Three

## Exercise 1: multiply

Two times three.

```{admonition} Solution
:class: dropdown

The answer is six.
```
""",
    "glossary.md": "# Glossary\n\nWords.\n",
}

CONF = """
extensions = ["myst_parser", "tale_latex"]
root_doc = "index"
latex_documents = [("index", "small.tex", "A small book", "Someone", "manual")]
"""


def build(tmp_path, builder, pages=PAGES):
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    for name, text in pages.items():
        (src / name).write_text(text)
    (src / "conf.py").write_text(f"import sys\nsys.path.insert(0, {str(ROOT / 'tools')!r})\n"
                                 + CONF)
    out = tmp_path / builder
    app = Sphinx(str(src), str(src), str(out), str(tmp_path / "doctrees" / builder), builder,
                 status=None, warning=None, freshenv=True, warningiserror=True)
    app.build()
    return out


@pytest.fixture(scope="module")
def tex(tmp_path_factory):
    out = build(tmp_path_factory.mktemp("latex"), "latex")
    text = (out / "small.tex").read_text()
    return text[text.index(r"\begin{document}"):]


def order(text, *needles):
    """The positions of each needle in text, asserting each is found once."""
    where = []
    for needle in needles:
        assert text.count(needle) == 1, (needle, text.count(needle))
        where.append(text.index(needle))
    return where


def test_parts_front_matter_and_appendices(tex):
    positions = order(tex, r"\taleunnumbered", r"\chapter{Preface}",
                      "\\talenumbered\n\\part{First things}", r"\chapter{One}",
                      r"\chapter{Two}", r"\part{More \& more}", r"\chapter{Three}",
                      r"\appendix", r"\chapter{Glossary}", r"\chapter{Solutions}")
    assert positions == sorted(positions)


def test_the_front_page_words_are_left_to_the_html(tex):
    assert "Words of the front page" not in tex


def test_solutions_move_to_the_last_appendix_by_chapter(tex):
    appendix = tex[tex.index(r"\chapter{Solutions}"):]
    body = tex[:tex.index(r"\chapter{Solutions}")]
    for answer in ("four", "three", "six"):
        assert f"The answer is {answer}." in appendix
        assert f"The answer is {answer}." not in body
    positions = order(appendix, r"\section{Chapter 1: One}", "Solution to Exercise 1: add",
                      "Solution to Exercise 2: subtract", r"\section{Chapter 3: Three}",
                      "Solution to Exercise 1: multiply")
    assert positions == sorted(positions)
    assert "A plain admonition stays where it is." in body


def test_each_exercise_and_its_solution_point_to_each_other(tex):
    appendix_at = tex.index(r"\chapter{Solutions}")
    for n in (1, 2, 3):
        exercise, solution = order(tex, rf"\label{{tale-ex-{n}}}", rf"\label{{tale-sol-{n}}}")
        assert exercise < appendix_at < solution
        assert tex.count(rf"\hyperref[tale-sol-{n}]{{\pageref*{{tale-sol-{n}}}}}") == 1
        assert tex.count(rf"\hyperref[tale-ex-{n}]{{\pageref*{{tale-ex-{n}}}}}") == 1
    assert tex.count("The solution is in the appendix, on page") == 3


def test_a_book_without_exercises_gets_no_solutions_appendix(tmp_path):
    pages = {name: text for name, text in PAGES.items() if name != "one.md"}
    pages["three.md"] = "# Three\n\nNo exercises.\n"
    pages["index.md"] = PAGES["index.md"].replace("one\n", "")
    tex = (build(tmp_path, "latex", pages) / "small.tex").read_text()
    assert "Solutions" not in tex and r"\appendix" in tex


def test_the_html_book_is_untouched(tmp_path):
    out = build(tmp_path, "html")
    page = (out / "one.html").read_text()
    assert page.count('<div class="dropdown admonition">') == 2
    assert "The answer is four." in page and "appendix" not in page
    assert "Words of the front page" in (out / "index.html").read_text()


def test_part_captions_and_escaping():
    assert tale_latex.PART.match("Part IV: the loop")["title"] == "the loop"
    assert tale_latex.PART.match("Before") is None
    assert tale_latex._tex_escape("a_b & c#{d}%$") == r"a\_b \& c\#\{d\}\%\$"
