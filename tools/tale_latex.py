r"""Sphinx extension: the PDF book's shape, made from the same sources as the HTML.

On ``doctree-resolved`` of the root document, for the LaTeX builder only:

1. the captioned toctrees of ``index.md`` whose caption is "Part I: ..." become
   LaTeX parts (``\part``), the chapters before the first part are unnumbered
   front matter, and those after the last part are appendices;
2. the root page's own paragraphs (the HTML front page) are dropped: the title
   page says it;
3. the solutions of the exercises (admonitions with the class ``dropdown``,
   which the HTML folds away) move to a last appendix, "Solutions", grouped by
   chapter, each exercise and its solution pointing to the other's page.

The HTML book is not touched.  The macros ``\taleunnumbered`` and
``\talenumbered`` that it emits are defined in conf.py's LaTeX preamble.
"""
import re

from docutils import nodes
from sphinx import addnodes

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


AUTO_ID = re.compile(r"^id\d+$")


def _own_ids(node, docname):
    """Give the automatic ids (id1, id2, ...) of a moved solution its chapter's name.

    LaTeX labels are named after the document a node is written in; a solution
    moved to the appendix is written in the root document, where the id3 of one
    chapter would meet the id3 of another ("multiply defined" labels).
    """
    for element in node.findall(nodes.Element):
        if element.get("ids"):
            element["ids"] = [f"{docname}-{i}" if AUTO_ID.match(i) else i
                              for i in element["ids"]]


def shape_latex_book(app, doctree, docname):
    """Parts, unnumbered front matter, appendices and solutions, for LaTeX only."""
    if app.builder.format != "latex" or docname != app.config.root_doc:
        return
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
            moved = [child for child in list(node.children)
                     if not isinstance(child, nodes.title)]
            for child in moved:
                _own_ids(child, docname)
            group.extend(moved)
    top += appendix


def setup(app):
    app.connect("doctree-resolved", shape_latex_book)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
