"""The PDF book: built by ``make pdf``, read back with ``pdftotext``.

How we know that no listing runs off the page or is visibly wrapped:

* conf.py tells LaTeX to break every code line that does not fit (so nothing
  can run off the page) and to start the continuation with a marker,
  ``conf.TALE_WRAP_MARK``.  The marker is a character that no chapter uses,
  so finding it in the text of the PDF means a line was wrapped.
* The rule an author can check without TeX: no line of a listing, in a fence
  of a chapter or in a file of ``code/``, is longer than ``MAX_COLUMNS``.
  At the PDF's code size (``\\small`` FreeMono on A4) 93 characters fit in a
  listing at the top level, with or without line numbers, and 90 inside an
  admonition such as a solution; ``test_wrap_marker_is_seen`` measures this
  on a calibration page.  The PDF test is the judge; the rule says where to look.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bookbuild import (BOOK, CODE_FENCE, DROPDOWN, GRAPHVIZ, ROOT, TIMELINE, chapters,
                       missing, tool)

sys.path.insert(0, str(ROOT))
import conf  # noqa: E402

MAX_COLUMNS = 90


def normal(text: str) -> str:
    """Lower case, one space between words, no hyphenation at line ends."""
    text = re.sub(r"(\w)-\n(\w)", r"\1\2", text)
    return " ".join(text.split()).lower()


@pytest.fixture(scope="module")
def pdf(tmp_path_factory) -> Path:
    """A fresh ``make pdf`` of the current sources, in a temporary directory."""
    for name in ("xelatex", "latexmk", "xindy"):
        tool(name)
    tool("pdftotext")
    out = tmp_path_factory.mktemp("latex")
    result = subprocess.run(["make", "--no-print-directory", "pdf", f"LATEX={out}"],
                            cwd=ROOT, capture_output=True, text=True, timeout=900)
    if "TeX is missing" in result.stdout:
        missing(result.stdout.strip())
    assert result.returncode == 0, result.stdout + result.stderr
    path = out / "tale.pdf"
    assert path.exists()
    # Keep the last PDF where a reader (or CI's artefacts) can find it.
    (ROOT / "_build").mkdir(exist_ok=True)
    (ROOT / "_build" / "tale.pdf").write_bytes(path.read_bytes())
    return path


@pytest.fixture(scope="module")
def text(pdf) -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def tex(pdf) -> str:
    return (pdf.parent / "tale.tex").read_text()


def test_every_chapter_title_is_in_the_pdf(text):
    body = normal(text)
    absent = [c.title for c in chapters() if normal(c.title) not in body]
    assert not absent, f"chapter titles missing from the PDF: {absent}"


def test_table_of_contents_lists_every_chapter_with_a_page_number(pdf, text):
    """LaTeX writes the table of contents to tale.toc; the PDF prints it first."""
    toc = (pdf.parent / "tale.toc").read_text()
    entries = re.findall(r"\\contentsline \{(part|chapter)\}\{(.*?)\}\{(\d+)\}\{", toc)
    titles = {re.sub(r"\\numberline \{[^}]*\}", "", title).replace("\\sphinxhyphen {}", "-"): kind
              for kind, title, _ in entries}           # (a hyphen, as Sphinx writes it)
    absent = [c.title for c in chapters() if normal(c.title) not in map(normal, titles)]
    assert not absent, f"not in the table of contents: {absent}"
    assert "contents" in normal(text.split("\f")[1] + text.split("\f")[2])


def test_parts_of_the_book_are_latex_parts(tex):
    parts = [c.part for c in chapters() if c.part.lower().startswith("part")]
    assert parts, "index.md has no captioned Parts"
    for caption in dict.fromkeys(parts):
        title = caption.split(":", 1)[1].strip()
        assert re.search(r"\\part\{" + re.escape(title[0].upper() + title[1:]) + "}", tex), \
            f"{caption!r} is not a \\part in the LaTeX"


def test_pages_are_numbered(text):
    pages = text.split("\f")
    numbered = [p for p in pages if re.search(r"^\s*\d+\s*$", p, re.M)]
    assert len(numbered) > len(pages) // 2, "most pages carry no page number"


def test_no_listing_line_is_wrapped_in_the_pdf(text):
    lines = text.splitlines()
    wrapped = [f"...{lines[i - 1][-60:]}\n   {line}" for i, line in enumerate(lines)
               if conf.TALE_WRAP_MARK in line]
    assert not wrapped, (
        f"{len(wrapped)} listing line(s) were too long for the page and wrapped "
        f"(continuations start with {conf.TALE_WRAP_MARK}):\n" + "\n".join(wrapped))


def test_nothing_runs_off_the_page(pdf):
    """LaTeX reports anything wider than a line or taller than a page as overfull.

    A box wider than the text (an \\hbox) runs into the margin, or in a table
    into the next column; a page whose content is taller than the text area (a
    \\vbox) runs into the footer.  Below 5pt (less than the 6pt gap between
    table columns) and 6pt (a framed listing overshooting its frame) no
    reader can see it.
    """
    log = (pdf.parent / "tale.log").read_text(errors="replace")
    assert "Output written on tale.pdf" in log
    bad = []
    for match in re.finditer(r"Overfull \\([hv])box \(([\d.]+)pt too (?:wide|high)\) "
                             r"(in paragraph|detected|has occurred)[^\n]*\n([^\n]*)", log):
        kind, size, where, content = match.groups()
        if where == "in paragraph" or kind == "v":   # "detected" repeats a paragraph's
            if float(size) > (5.0 if kind == "h" else 6.0):
                bad.append(f"{kind}box {size}pt too {'wide' if kind == 'h' else 'high'}: "
                           f"{content.strip()[:100]}")
    assert not bad, "content runs off the page (see tale.log):\n" + "\n".join(bad)


def test_no_page_is_blank(text):
    """A PDF read on a screen has no blank page: not after the title page, not
    after a part's title, not at a chapter's end (conf.py: openany, oneside)."""
    pages = text.split("\f")[:-1]                 # pdftotext ends with a form feed
    blank = [n for n, page in enumerate(pages, start=1) if not page.strip()]
    assert len(pages) > 100
    assert not blank, f"blank pages: {blank}"


# Every warning LaTeX may write to tale.log, and why it is harmless.  Anything
# else fails the build: a warning nobody explained is a warning nobody read.
EXPLAINED_WARNINGS = {
    "Package cmap Warning: pdftex not detected - exiting.":
        "cmap maps fonts for pdfTeX; the book is set with xelatex, which maps "
        "its OpenType fonts itself",
}


def test_every_latex_warning_is_explained(pdf):
    log = (pdf.parent / "tale.log").read_text(errors="replace")
    found = re.findall(r"^((?:LaTeX|Package \w+|Class \w+|LaTeX Font)\s+Warning:[^\n]*)",
                       log, re.M)
    unexplained = sorted({re.sub(r"\s+on input line \d+\.?$", "", w).strip()
                          for w in found} - set(EXPLAINED_WARNINGS))
    assert not unexplained, "LaTeX warnings to fix or explain:\n" + "\n".join(unexplained)


def test_no_label_is_defined_twice(pdf):
    """The solutions moved to the appendix keep labels of their own chapter."""
    log = (pdf.parent / "tale.log").read_text(errors="replace")
    assert "multiply defined" not in log


def test_chapter_is_never_hyphenated(text):
    """"chapter" heads narrow table columns; "chap-ter" there reads badly."""
    assert not re.search(r"chap-\s*\n\s*ters?\b", text, re.I)


def test_no_chapter_uses_the_wrap_marker():
    """Otherwise the marker test could not tell a wrapped line from the text."""
    users = [c.name for c in BOOK.glob("*.md") if conf.TALE_WRAP_MARK in c.read_text()]
    assert not users, f"{users} contain {conf.TALE_WRAP_MARK}, the PDF's wrap marker"


def listing_lines():
    """(place, line) for every line of every listing in book/ and code/."""
    for chapter in sorted(BOOK.glob("*.md")):
        text = chapter.read_text()
        for match in CODE_FENCE.finditer(text):
            first = text.count("\n", 0, match.start("body")) + 1
            for offset, line in enumerate(match["body"].splitlines()):
                yield f"book/{chapter.name}:{first + offset}", line
    for path in sorted((ROOT / "code").rglob("*")):
        parts = set(path.relative_to(ROOT / "code").parts)
        if parts & {"build", "__pycache__"} or any(p.endswith(".egg-info") for p in parts):
            continue                      # made by pip or Python, not by the chapters
        if path.is_file() and path.suffix in (".py", ".toml", ".txt", ".cfg"):
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                yield f"{path.relative_to(ROOT)}:{number}", line


def test_no_listing_line_is_longer_than_the_page_allows():
    too_long = [f"{place} ({len(line)} columns)" for place, line in listing_lines()
                if len(line.expandtabs()) > MAX_COLUMNS]
    assert not too_long, (
        f"listing lines longer than {MAX_COLUMNS} columns (they wrap in the PDF; "
        "break the line, or for doctest output let NORMALIZE_WHITESPACE join "
        "a broken one):\n" + "\n".join(too_long))


def test_listing_lines_are_found():
    places = {place.split(":")[0] for place, _ in listing_lines()}
    assert any(p.startswith("book/") for p in places)
    assert any(p.startswith("code/") for p in places)


def test_solutions_print_in_an_appendix(text, tex):
    expected = sum(len(DROPDOWN.findall(c.text)) for c in chapters())
    assert expected, "no chapter has a solution"
    assert r"\chapter{Solutions}" in tex
    assert tex.index(r"\appendix") < tex.index(r"\chapter{Solutions}")
    assert normal(text).count("(the exercise is on page") == expected
    assert normal(text).count("the solution is in the appendix, on page") == expected


def test_diagrams_are_pdf_figures_in_the_pdf(pdf, tex):
    expected = sum(len(GRAPHVIZ.findall(c.text)) for c in chapters())
    assert expected, "no chapter has a diagram"
    included = re.findall(r"\\sphinxincludegraphics(?:\[[^]]*\])?\{\{?(graphviz-[0-9a-f]+)\}?\.pdf\}",
                          tex)
    assert len(included) == expected, f"{expected} diagrams in the chapters, {len(included)} in the PDF"
    for name in included:
        assert (pdf.parent / f"{name}.pdf").read_bytes().startswith(b"%PDF")


def test_timelines_are_pdf_figures_in_the_pdf(pdf, tex):
    """Chapter 19's timelines are drawn at build time, as PDF for LaTeX."""
    expected = [f"timeline-{Path(path).stem}-{function}"
                for c in chapters() for path, function in TIMELINE.findall(c.text)]
    assert expected, "no chapter has a timeline"
    included = re.findall(r"\\sphinxincludegraphics(?:\[[^]]*\])?\{\{?(timeline-[\w-]+)\}?\.pdf\}",
                          tex)
    assert included == expected
    for name in included:
        assert (pdf.parent / f"{name}.pdf").read_bytes().startswith(b"%PDF")


def test_glossary_terms_are_in_the_index(pdf, text):
    """xindy writes the index to tale.ind; the PDF prints it last, with page numbers:
    the page of each term's definition, and the pages of the chapters that use it."""
    glossary = (BOOK / "glossary.md").read_text()
    assert ":::{glossary}" in glossary, "the glossary has no terms"
    terms = re.findall(r"^(\w[\w ]*\w)\s*$", glossary.split(":::{glossary}", 1)[1], re.M)
    assert len(terms) >= 16
    index = (pdf.parent / "tale.ind").read_text()
    entries = {}     # term -> (page of its definition, pages that use it)
    for term, pages in re.findall(r"\\item \\spxentry\{([^}]*)\}, (.*)", index):
        main = re.findall(r"\\spxpagem\{\\hyperpage\{(\d+)\}", pages)
        used = re.findall(r"(?<!spxpagem\{)\\hyperpage\{(\d+)\}", pages)
        entries[term] = (main, used)
    absent = [t for t in terms if not entries.get(t, ([], []))[0]]
    assert not absent, f"glossary terms missing from the PDF index: {absent}"
    # Every {term} in the chapters is indexed where it is used, not only defined.
    used = {t: len(set(entries[t][1])) for t in terms}
    assert used["cancellation"] >= 5 and used["trap"] >= 5, used
    assert sum(n >= 2 for n in used.values()) >= len(terms) // 2, used
    toc = (pdf.parent / "tale.toc").read_text()
    assert re.search(r"\\contentsline \{chapter\}\{Index\}\{\d+\}", toc)
    assert "index" in normal(" ".join(text.split("\f")[-4:]))


def test_missing_tex_is_reported_with_what_to_install(tmp_path):
    """Without TeX on the PATH, ``make pdf`` names the packages and fails."""
    result = subprocess.run(["make", "--no-print-directory", "pdf", f"LATEX={tmp_path}"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={"PATH": "/nonexistent", "HOME": str(tmp_path)},
                            executable="/usr/bin/make")
    assert result.returncode != 0
    assert "TeX is missing" in result.stdout
    assert "apt-get install latexmk texlive-latex-extra texlive-fonts-recommended " \
           "texlive-xetex fonts-freefont-otf xindy" in result.stdout


def calibration_line(n: int) -> str:
    return f"w{n:03d}" + "=" * (n - 5) + "Z"


def test_wrap_marker_is_seen_and_the_limit_fits(tmp_path):
    """Build a page of listings whose lines are 1 to 4 columns over MAX_COLUMNS.

    The lines of exactly MAX_COLUMNS must come out whole, at the top level and in
    an admonition; the longer ones must be wrapped with the marker in an
    admonition, so that the marker test above can fail at all.
    """
    for name in ("xelatex", "latexmk", "xindy", "pdftotext"):
        tool(name)
    lines = "\n".join(calibration_line(n) for n in range(MAX_COLUMNS, MAX_COLUMNS + 5))
    src = tmp_path / "src"
    src.mkdir()
    (src / "index.md").write_text(
        f"# Calibration\n\n```text\n{lines}\n```\n\n"
        f":::{{admonition}} Solution\n\n```text\n{lines}\n```\n:::\n")
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-c", str(ROOT), "-b", "latex", str(src), str(out)],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    result = subprocess.run(["latexmk", "-pdfxe", "-interaction=nonstopmode", "-halt-on-error",
                             "tale.tex"], cwd=out, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(out / "tale.pdf"), "-"],
                          check=True, capture_output=True, text=True).stdout
    assert text.count(calibration_line(MAX_COLUMNS)) == 2, "a line of MAX_COLUMNS was wrapped"
    assert text.count(conf.TALE_WRAP_MARK) >= 4, "lines longer than the page were not marked"
