"""Sphinx configuration for the book (sources in book/, listings in code/).

The same sources make two books: HTML (``make html``) and a PDF through
LaTeX and xelatex (``make pdf``).  The second half of this file shapes the
PDF: the captioned toctrees of ``index.md`` become LaTeX parts, the front
matter is unnumbered, the back matter becomes appendices, and the solutions
of the exercises, which the HTML folds away, are gathered in a last appendix.
"""
import re
import sys
from pathlib import Path

from docutils import nodes

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "code"))

project = "Tale"
author = "The Tale authors"
copyright = "2026, the Tale authors"
release = "0.1"

extensions = [
    "myst_parser",
    "sphinx.ext.graphviz",
    "sphinx.ext.autodoc",
    "sphinx_togglebutton",
    "tale_sphinx",
]
root_doc = "index"
exclude_patterns = ["_build", "conftest.py", "**/.pytest_cache"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
pygments_style = "sphinx"

html_theme = "sphinx_book_theme"
html_title = "Tale: how an event loop works"
html_theme_options = {
    "navbar_persistent": [],
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
}
html_static_path = ["book/_static"]
html_favicon = "book/_static/favicon.svg"
html_css_files = ["tale.css"]
# The theme logs an error in the console when no colour mode is set.
html_context = {"default_mode": "auto"}

# Solutions are written as ``:::{admonition} Solution`` with ``:class: dropdown``;
# sphinx-togglebutton folds them in HTML (they unfold when a page is printed).
togglebutton_selector = ".admonition.dropdown"
togglebutton_hint = "Show the solution"
togglebutton_hint_hide = "Hide the solution"

# SVG in HTML.  The LaTeX builder ignores this and always asks dot for PDF.
graphviz_output_format = "svg"

# --- The PDF ---------------------------------------------------------------

latex_engine = "xelatex"
latex_documents = [("index", "tale.tex", "Tale: how an event loop works",
                    "The Tale authors", "manual")]
latex_show_urls = "footnote"
# A listing is never allowed to leave the page: every line that does not fit
# is broken and its continuation starts with a visible marker, TALE_WRAP_MARK.
# tests/test_pdf.py looks for that marker in the text of the PDF, so a wrapped
# line fails the build instead of passing unnoticed.
TALE_WRAP_MARK = "\u21aa"
latex_elements = {
    "papersize": "a4paper",
    "pointsize": "10pt",
    "fvset": r"\fvset{fontsize=\small}",
    "sphinxsetup": ",".join([
        "verbatimwrapslines=true",
        "verbatimforcewraps=true",
        "verbatimmaxoverfull=0",
        "verbatimmaxunderfull=0",
        r"verbatimcontinued={\makebox[2\fontcharwd\font`\x][r]{\textcolor{red}{"
        + TALE_WRAP_MARK + "}}}",
    ]),
    "preamble": r"""
% Sphinx names the table of contents after the first toctree's caption.
\addto\captionsenglish{\renewcommand{\contentsname}{Contents}}
\newcounter{talesecnumdepth}
\newcommand{\taleunnumbered}{%
  \setcounter{talesecnumdepth}{\value{secnumdepth}}\setcounter{secnumdepth}{-1}}
\newcommand{\talenumbered}{\setcounter{secnumdepth}{\value{talesecnumdepth}}}
% Inline code may break after an underscore, so that a long identifier in a
% narrow table column or at the end of a line does not run into the margin.
\newcommand{\taleunderscore}{\textunderscore\discretionary{}{}{}}
\let\taleupquote\sphinxupquote
\protected\def\sphinxupquote#1{\taleupquote{\let\_\taleunderscore#1}}
% ... and after an opening parenthesis, as it may after . , ; ? ! /
\renewcommand*\sphinxbreaksafteractivelist{\do\.\do\,\do\;\do\?\do\!\do\/\do\(}
% Tables are set a size smaller than the text, so that their columns have room.
\let\taleattablestart\sphinxattablestart
\def\sphinxattablestart{\taleattablestart\small}
\let\taleatlongtablestart\sphinxatlongtablestart
\def\sphinxatlongtablestart{\taleatlongtablestart\small}
""",
}

PART = re.compile(r"^\s*Part\s+[IVXLC]+\s*:\s*(?P<title>.+)$")


def _raw(tex):
    return nodes.raw("", tex, format="latex")


def _tex_escape(text):
    return re.sub(r"([#$%&_{}])", r"\\\1", text)


def _section_title(node):
    """The title of the section that holds node ("Exercise 2: ..."), if any."""
    while node is not None and not isinstance(node, nodes.section):
        node = node.parent
    return node[0].astext() if node is not None and len(node) else None


def _solutions_by_chapter(doctree):
    """[((docname, chapter title), [solution admonitions])] in book order.

    A solution is an admonition with the class ``dropdown``.  The chapter is
    the title of the included document (``start_of_file``) that holds it.
    """
    from sphinx import addnodes
    chapter_of = {}
    for sof in doctree.findall(addnodes.start_of_file):
        sections = [c for c in sof.children if isinstance(c, nodes.section)]
        title = sections[0][0].astext() if sections else sof["docname"]
        for node in sof.findall(nodes.admonition):
            chapter_of[id(node)] = (sof["docname"], title)   # inner files come later, win
    groups = []
    for node in doctree.findall(nodes.admonition):
        if "dropdown" not in node.get("classes", []):
            continue
        chapter = chapter_of.get(id(node), ("", ""))
        if not groups or groups[-1][0] != chapter:
            groups.append((chapter, []))
        groups[-1][1].append(node)
    return groups


def shape_latex_book(app, doctree, docname):
    """Parts, unnumbered front matter, appendices and solutions, for LaTeX only."""
    if app.builder.format != "latex" or docname != app.config.root_doc:
        return
    from sphinx import addnodes
    files = {sof["docname"]: sof for sof in doctree.findall(addnodes.start_of_file)}
    root = app.env.get_doctree(app.config.root_doc)
    # The root page's own words are the HTML front page; the title page says it.
    top = next(iter(doctree.findall(nodes.section)))
    for child in list(top.children):
        if isinstance(child, nodes.paragraph):
            top.remove(child)
    # state: "start", then "front" (unnumbered chapters), "parts", "back"
    state = "start"
    numbers = {}                  # docname -> chapter number, as LaTeX counts them
    for toctree in root.findall(addnodes.toctree):
        if PART.match(toctree.get("caption") or ""):
            for docname in toctree["includefiles"]:
                numbers[docname] = len(numbers) + 1
    for toctree in root.findall(addnodes.toctree):
        included = [d for d in toctree["includefiles"] if d in files]
        if not included:
            continue
        first = files[included[0]]
        part = PART.match(toctree.get("caption") or "")
        if part:
            title = part["title"][0].upper() + part["title"][1:]
            tex = r"\part{%s}" % _tex_escape(title)
            if state == "front":
                tex = "\\talenumbered\n" + tex
            state = "parts"
        elif state == "start":
            tex, state = r"\taleunnumbered", "front"
        elif state == "parts":
            tex, state = r"\appendix", "back"
        else:
            continue
        first.parent.insert(first.parent.index(first), _raw("\n" + tex + "\n"))

    # Solutions: folded in HTML, gathered in the last appendix of the PDF.
    groups = _solutions_by_chapter(doctree)
    if not groups:
        return
    appendix = nodes.section(ids=["tale-solutions"])
    appendix += nodes.title("Solutions", "Solutions")
    appendix += nodes.paragraph(
        "", "The solutions to the exercises, in the order of the chapters. In the "
        "HTML book each one is folded away right after its exercise.")
    if state != "back":
        appendix.insert(0, _raw("\n\\appendix\n"))
    number = 0
    for (docname, chapter), solutions in groups:
        if docname in numbers:
            chapter = f"Chapter {numbers[docname]}: {chapter}"
        group = nodes.section()
        group += nodes.title(chapter, chapter)
        appendix += group
        for k, node in enumerate(solutions, start=1):
            number += 1
            exercise = _section_title(node) or ""
            if not exercise.lower().startswith("exercise "):
                exercise = f"exercise {k}"
            pointer = nodes.paragraph()
            pointer += _raw(r"\phantomsection\label{tale-ex-%d}" % number)
            pointer += nodes.emphasis("", "The solution is in the appendix, on page ")
            pointer += _raw(r"\emph{\hyperref[tale-sol-%d]{\pageref*{tale-sol-%d}}}"
                            % (number, number))
            pointer += nodes.emphasis("", ".")
            node.replace_self(pointer)
            # Printed as plain text under a heading, not in a box: a listing
            # inside an admonition cannot break across pages in LaTeX.
            group += nodes.rubric("", f"Solution to {exercise}")
            group += nodes.paragraph("", "", _raw(
                r"\phantomsection\label{tale-sol-%d}\emph{(The exercise is on page "
                r"\hyperref[tale-ex-%d]{\pageref*{tale-ex-%d}}.)}" % (number, number, number)))
            group.extend(child for child in list(node.children)
                         if not isinstance(child, nodes.title))
    top += appendix


def setup(app):
    app.connect("doctree-resolved", shape_latex_book)
