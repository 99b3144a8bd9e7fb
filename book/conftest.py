"""Collect the examples written in the chapters as tests.

Every ```python fence in a chapter runs: a block of ``>>>`` lines is a
doctest, any other block is executed as code.  A chapter's blocks share one
namespace, in order, like a reader typing them into one interpreter session.
Entangled's own fences (```{.python file=...}) are listings, not examples, and
are tested through the tangled files in code/ instead.
"""
import os
from doctest import ELLIPSIS, NORMALIZE_WHITESPACE

from sybil import Sybil
from sybil.parsers.myst import PythonCodeBlockParser, SkipParser

# The examples run in debug mode: the kernel checks its invariants every tick.
os.environ.setdefault("TALE_DEBUG", "1")

pytest_collect_file = Sybil(
    parsers=[PythonCodeBlockParser(doctest_optionflags=ELLIPSIS | NORMALIZE_WHITESPACE),
             SkipParser()],
    patterns=["*.md"],
).pytest()
