"""Sphinx configuration for the book (sources in book/, listings in code/).

The same sources make two books: HTML (``make html``) and a PDF through
LaTeX and xelatex (``make pdf``).  The second half of this file sets up the
PDF; the extension ``tools/tale_latex.py`` reshapes its doctree (parts,
unnumbered front matter, appendices, and the exercises' solutions gathered
in a last appendix).
"""
import sys
from pathlib import Path

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
    "tale_latex",
    "tale_timeline",
]
root_doc = "index"
exclude_patterns = ["_build", "_generated", "conftest.py", "**/.pytest_cache"]
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
# One font for every label, also where a diagram sets none (a cluster's title).
graphviz_dot_args = ["-Gfontname=Helvetica", "-Nfontname=Helvetica", "-Efontname=Helvetica"]

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
    # A book read on a screen as much as on paper: no blank page to make a
    # chapter or a part start on the right (tests/test_pdf.py checks it).
    "extraclassoptions": "openany,oneside",
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
% The keyword-only marker of a signature (the * of serve_tcp) is an
% abbreviation, set in small capitals, inside an italic signature: FreeSerif
% has no italic small capitals (LaTeX warned of m/scit).  A plain * it is.
\protected\def\sphinxstyleabbreviation#1{#1}
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
