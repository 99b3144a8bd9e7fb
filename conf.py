"""Sphinx configuration for the book (sources in book/, listings in code/)."""
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
html_static_path = []

graphviz_output_format = "svg"

latex_engine = "xelatex"
latex_documents = [("index", "tale.tex", "Tale: how an event loop works",
                    "The Tale authors", "manual")]
