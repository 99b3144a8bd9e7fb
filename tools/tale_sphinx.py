"""Sphinx support for a book whose listings are tangled by entangled.

1. Entangled's fences, ```{.python file=code/x.py} and ```{.python #block-id},
   are rewritten on ``source-read`` into our ``tangle`` directive, a code block
   whose caption says where the listing goes: the file it is written to, or the
   name of the block and the file(s) it ends up in, plus the optional
   ``action="..."`` attribute of the fence ("new file", "replaces «x»", ...).
   A listing that replaces an earlier block links to it in its caption and
   has the lines it changes emphasised.
2. ``stage`` shows a whole tangled file with the lines that are new since a
   previous stage emphasised, so a chapter can end with its complete program.
3. ``blockdiff`` shows what one change does: the lines that differ between
   named blocks (``:from:``, one or more) and the block that replaces them
   (``:to:``), computed at build time from the blocks themselves, so the diff
   in the book is always the diff of the code.
4. Chapters are numbered straight through the book, although each Part is its
   own numbered toctree (Sphinx would start every Part again at 1).
5. Every ``{term}`` reference is an index entry too, so the printed index
   gives each glossary term the pages that use it, not only its definition.

A fence that is not entangled's (```python, ```text, ...) is left to MyST.
"""
from __future__ import annotations

import difflib
import hashlib
import os
import re
import tomllib
from collections import defaultdict
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx import addnodes
from sphinx.directives.code import CodeBlock, LiteralInclude
from sphinx.errors import ExtensionError
from sphinx.transforms import SphinxTransform

FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<ticks>`{3,})\{\.(?P<lang>[\w+-]+)(?P<attrs>[^}]*)\}[ \t]*$",
    re.MULTILINE)
ATTR = re.compile(r'(\w+)=("[^"]*"|\S+)')
BLOCK_ID = re.compile(r"#([\w-]+)")
REFERENCE = re.compile(r"^[ \t]*<<([\w-]+)>>[ \t]*$", re.MULTILINE)
REPLACES = re.compile(r"replaces «([\w-]+)»")
NAMED = re.compile(r"«([\w-]+)»")


def parse_attrs(text: str) -> dict[str, str]:
    attrs = {key: value.strip('"') for key, value in ATTR.findall(text)}
    ids = BLOCK_ID.findall(ATTR.sub("", text))
    if ids:
        attrs["id"] = ids[0]
    return attrs


def read_blocks(root: Path, chapters: list[str]):
    """Yield (chapter, attrs, body) for every entangled block in the book."""
    for chapter in chapters:
        text = (root / chapter).read_text()
        for match in FENCE.finditer(text):
            ticks = match["ticks"]
            end = text.find("\n" + match["indent"] + ticks, match.end())
            body = text[match.end():end]
            yield chapter, parse_attrs(match["attrs"]), body


def block_targets(root: Path, chapters: list[str]) -> dict[str, list[str]]:
    """Map each block id to the files it is tangled into, in book order."""
    parents: dict[str, list[str]] = defaultdict(list)   # id -> ids or files using it
    for _chapter, attrs, body in read_blocks(root, chapters):
        user = attrs.get("file") or "#" + attrs.get("id", "")
        for ref in REFERENCE.findall(body):
            if user not in parents[ref]:
                parents[ref].append(user)

    def resolve(name: str, seen: frozenset = frozenset()) -> list[str]:
        found: list[str] = []
        for user in parents.get(name, []):
            if user.startswith("#"):
                if user[1:] not in seen:
                    found += resolve(user[1:], seen | {name})
            else:
                found.append(user)
        return list(dict.fromkeys(found))

    return {name: resolve(name) for name in parents}


def describe_files(paths: list[str]) -> str:
    if not paths:
        return "not used by any file"
    first = f"``{paths[0]}``"
    if len(paths) == 1:
        return first
    rest = len(paths) - 1
    return f"{first} and {rest} later file{'s' if rest > 1 else ''}"


class TangleBlock(CodeBlock):
    """A listing that entangled writes to a file; its caption says where."""

    option_spec = dict(CodeBlock.option_spec, file=directives.unchanged,
                       id=directives.unchanged, action=directives.unchanged)

    def run(self):
        targets = self.env.app.tale_targets
        action = self.options.get("action")
        if "file" in self.options:
            caption = f"``{self.options['file']}``"
        elif "id" in self.options:
            name = self.options["id"]
            caption = f"«{name}» in {describe_files(targets.get(name, []))}"
        else:
            raise self.error("a tangled block needs file=... or #block-id")
        bodies = self.env.app.tale_bodies
        replaced = REPLACES.search(action or "")
        if replaced:            # "replaces «a»", or "replaces «a», «b» and «c»"
            olds = [name for name in NAMED.findall(action[replaced.start():])
                    if name in bodies]
            for old in olds:
                action = action.replace(f"«{old}»", f"{{ref}}`«{old}» <block-{old}>`")
            old_lines = [line for old in olds for line in bodies[old].splitlines()]
            marked = changed_lines(old_lines, list(self.content)) if olds else []
            if marked and len(marked) < len([line for line in self.content if line.strip()]):
                self.options.setdefault("emphasize-lines", ",".join(map(str, marked)))
        if action:
            caption += f" — {action}"
        self.options["caption"] = caption
        if "id" in self.options:
            self.options.setdefault("name", "block-" + self.options["id"])
        return super().run()


def changed_lines(old: list[str], new: list[str]) -> list[int]:
    """Line numbers (from 1) of the non-blank lines of ``new`` that ``old`` lacks."""
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    return [n + 1
            for tag, _i1, _i2, j1, j2 in matcher.get_opcodes() if tag in ("replace", "insert")
            for n in range(j1, j2) if new[n].strip()]


class StageListing(LiteralInclude):
    """The whole of a tangled file, lines new since ``:previous:`` emphasised."""

    option_spec = dict(LiteralInclude.option_spec, previous=directives.unchanged)

    def run(self):
        root = Path(self.env.app.confdir)
        target = self.arguments[0]
        here = Path(self.env.doc2path(self.env.docname)).parent
        new_lines = (root / target).read_text().splitlines()
        self.arguments[0] = os.path.relpath(root / target, here)
        self.options.setdefault("language", "python")
        self.options.setdefault("linenos", True)
        previous = self.options.get("previous")
        if previous:
            old_lines = (root / previous).read_text().splitlines()
            marked = changed_lines(old_lines, new_lines)
            if marked:
                self.options["emphasize-lines"] = ",".join(map(str, marked))
            note = f"; lines new or changed since ``{previous}`` are highlighted"
        else:
            note = ""
        self.options.setdefault("caption", f"The whole of ``{target}``{note}")
        return super().run()


def block_diff(old: list[str], new: list[str], context: int = 2) -> list[str]:
    """The lines that differ between two listings, diff-style ('-', '+', ' ').

    Lines are compared with their runs of spaces collapsed: a line that only
    moved in or out, as an inlined method's lines do, or whose comment moved
    along, is unchanged, and shown as it is in `new`.  Unchanged runs longer than twice `context` are cut to
    `context` lines each side of a change, with a ``...`` line between.
    """
    matcher = difflib.SequenceMatcher(None, [" ".join(line.split()) for line in old],
                                      [" ".join(line.split()) for line in new],
                                      autojunk=False)
    out: list[str] = []
    codes = matcher.get_opcodes()
    for k, (tag, i1, i2, j1, j2) in enumerate(codes):
        if tag == "equal":
            same = [" " + line for line in new[j1:j2]]
            head = same[:context] if k > 0 else []
            tail = same[-context:] if k < len(codes) - 1 else []
            if len(same) > len(head) + len(tail) + 1:
                out += head + [" ..."] + tail
            else:
                out += same
            continue
        out += ["-" + line for line in old[i1:i2]]
        out += ["+" + line for line in new[j1:j2]]
    return [line.rstrip() for line in out]


class BlockDiff(CodeBlock):
    """What a replacing block changes: the diff of named blocks, at build time."""

    has_content = False
    required_arguments = 0
    option_spec = dict(CodeBlock.option_spec, **{"from": directives.unchanged_required,
                                                   "to": directives.unchanged_required})

    def run(self):
        app = self.env.app
        bodies, homes = app.tale_bodies, app.tale_homes
        olds = self.options.get("from", "").split()
        news = self.options.get("to", "").split()
        missing = [name for name in olds + news if name not in bodies]
        if not olds or not news or missing:
            raise self.error(f"blockdiff needs :from: and :to: block names; unknown: {missing}")
        for name in olds + news:
            self.env.note_dependency(homes[name])

        def joined(names):
            lines: list[str] = []
            for name in names:
                lines += ([""] if lines else []) + bodies[name].strip("\n").splitlines()
            return lines

        lines = block_diff(joined(olds), joined(news))
        if not any(line[:1] in "+-" for line in lines):
            raise self.error(f"blockdiff: {olds} and {news} do not differ")
        self.arguments = ["diff"]
        self.content = StringList(lines)

        def refs(names):
            return " and ".join(f"{{ref}}`«{name}» <block-{name}>`" for name in names)

        self.options.setdefault("caption", f"What changes from {refs(olds)} to {refs(news)}")
        self.options.pop("from")
        self.options.pop("to")
        return super().run()


def rewrite_fences(app, docname, source):
    def replace(match):
        attrs = parse_attrs(match["attrs"])
        if "file" not in attrs and "id" not in attrs:
            return match.group(0)
        options = "".join(f"{match['indent']}:{key}: {value}\n"
                          for key, value in attrs.items())
        return (f"{match['indent']}{match['ticks']}{{tangle}} {match['lang']}\n"
                f"{options}".rstrip("\n"))
    source[0] = FENCE.sub(replace, source[0])


def collect_targets(app):
    root = Path(app.confdir)
    config = root / "entangled.toml"
    with open(config, "rb") as f:
        chapters = tomllib.load(f)["watch_list"]
    missing = [c for c in chapters if not (root / c).exists()]
    if missing:
        raise ExtensionError(f"entangled.toml lists missing chapters: {missing}")
    app.tale_targets = block_targets(root, chapters)
    app.tale_bodies = {attrs["id"]: body for _chapter, attrs, body in read_blocks(root, chapters)
                       if "id" in attrs}
    app.tale_homes = {attrs["id"]: str(root / chapter)
                      for chapter, attrs, _body in read_blocks(root, chapters) if "id" in attrs}


def _shift(number, offset):
    return (number[0] + offset, *number[1:]) if number else number


def number_across_parts(app, env):
    """Continue chapter numbers from one numbered toctree of the root to the next."""
    try:
        root = env.get_doctree(app.config.root_doc)
    except FileNotFoundError:
        return []
    offset, shifted = 0, []
    for toctree in root.findall(addnodes.toctree):
        if not toctree.get("numbered"):
            continue
        highest = 0
        for _title, doc in toctree["entries"]:
            numbers = env.toc_secnumbers.get(doc)
            if not numbers:
                continue
            highest = max([highest] + [n[0] for n in numbers.values() if n])
            if offset:
                env.toc_secnumbers[doc] = {k: _shift(v, offset) for k, v in numbers.items()}
                for ref in env.tocs[doc].findall(nodes.reference):
                    if ref.get("secnumber"):
                        ref["secnumber"] = list(_shift(ref["secnumber"], offset))
                title = env.titles.get(doc)
                if title is not None and title.get("secnumber"):
                    title["secnumber"] = list(_shift(title["secnumber"], offset))
                shifted.append(doc)
        offset += highest
    return shifted


class IndexTermUses(SphinxTransform):
    """Each ``{term}`` reference is also an index entry for the page it is on.

    The glossary's own entries give the page where a term is defined; these
    add every page that uses it, so the printed index works as a book's index.
    It runs before the domains collect the page's index entries (priority 850).
    """

    default_priority = 800

    def apply(self, **kwargs):
        if self.env.docname == "glossary":
            return
        for ref in list(self.document.findall(addnodes.pending_xref)):
            if (ref.get("refdomain"), ref.get("reftype")) != ("std", "term"):
                continue
            targetid = f"index-{self.env.new_serialno('index')}"
            entry = ("single", ref["reftarget"], targetid, "", None)
            parent = ref.parent
            at = parent.index(ref)
            parent.insert(at, nodes.target("", "", ids=[targetid]))
            parent.insert(at, addnodes.index(entries=[entry], inline=True))


def setup(app):
    app.connect("env-get-updated", number_across_parts, priority=900)
    app.connect("builder-inited", collect_targets)
    app.connect("source-read", rewrite_fences)
    app.add_directive("tangle", TangleBlock)
    app.add_directive("stage", StageListing)
    app.add_directive("blockdiff", BlockDiff)
    app.add_transform(IndexTermUses)
    # A new env_version makes Sphinx read every page again: this file's own hash,
    # so that a change here is never hidden behind pages cached from before it.
    digest = hashlib.sha1(Path(__file__).read_bytes()).digest()
    env_version = int.from_bytes(digest[:4], "big")
    return {"parallel_read_safe": True, "version": "1", "env_version": env_version or 1}
