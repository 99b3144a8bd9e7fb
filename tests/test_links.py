"""The built HTML book, read as files: links, anchors, assets, diagrams, solutions.

Sphinx's ``-W`` catches a broken cross-reference while it builds, but not a
bad ``#anchor`` written by hand, a theme asset that is missing, or a page that
loads a script from a CDN.  This checker parses every page of the site and
follows every internal link, anchor and asset, offline.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from bookbuild import DROPDOWN, GRAPHVIZ, chapters, html_site

LOCAL_HOSTS = {"127.0.0.1", "localhost"}


class Page(HTMLParser):
    """The ids a page defines and the references it makes."""

    ASSET_ATTRS = {("script", "src"), ("link", "href"), ("img", "src"), ("object", "data"),
                   ("source", "src"), ("iframe", "src")}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []      # <a href>: a reader follows them
        self.assets: list[str] = []     # loaded by the browser with the page

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("id", "name") if tag == "a" else ("id",):
            if attrs.get(name):
                self.ids.add(attrs[name])
        if tag == "a" and attrs.get("href") is not None:
            self.links.append(attrs["href"])
        for asset_tag, attr in self.ASSET_ATTRS:
            if tag == asset_tag and attrs.get(attr):
                if tag == "link" and attrs.get("rel") in ("canonical", "alternate"):
                    continue
                self.assets.append(attrs[attr])


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(errors="replace"))
    return page


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return html_site(tmp_path_factory)


@pytest.fixture(scope="module")
def pages(site) -> dict[Path, Page]:
    return {p: parse(p) for p in sorted(site.rglob("*.html"))
            if "_sources" not in p.parts and "_static" not in p.parts}


def resolve(site: Path, page: Path, ref: str):
    """(file, fragment) for an internal reference, or None for an external one."""
    parts = urlsplit(ref)
    if parts.scheme in ("mailto", "javascript", "data"):
        return None
    if parts.scheme or parts.netloc:
        return None if parts.hostname not in LOCAL_HOSTS else (None, None)
    target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
    if target.is_dir():
        target = target / "index.html"
    return target, unquote(parts.fragment)


def test_every_chapter_has_a_page(site):
    absent = [c.docname for c in chapters() if not (site / f"{c.docname}.html").exists()]
    assert not absent


def test_internal_links_and_anchors_resolve(site, pages):
    broken, checked = [], 0
    cache: dict[Path, Page] = dict(pages)
    for page, parsed in pages.items():
        for ref in parsed.links:
            found = resolve(site, page, ref)
            if found is None:
                continue
            target, fragment = found
            checked += 1
            where = f"{page.relative_to(site)}: {ref}"
            if target is None:
                broken.append(f"{where} (an absolute link to this machine)")
                continue
            if not target.exists():
                broken.append(f"{where} (no such file)")
                continue
            if fragment and target.suffix == ".html":
                if target not in cache:
                    cache[target] = parse(target)
                if fragment not in cache[target].ids:
                    broken.append(f"{where} (no id {fragment!r})")
    assert checked > 50, f"only {checked} internal links found: is the site built?"
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_every_asset_is_local_and_present(site, pages):
    bad = []
    for page, parsed in pages.items():
        for ref in parsed.assets:
            found = resolve(site, page, ref)
            where = f"{page.relative_to(site)}: {ref}"
            if found is None or found[0] is None:
                bad.append(f"{where} (loaded from outside the book)")
            elif not found[0].exists():
                bad.append(f"{where} (missing)")
    assert not bad, "assets:\n" + "\n".join(bad)


def test_checker_catches_a_broken_anchor(tmp_path):
    (tmp_path / "a.html").write_text('<p id="here">x</p><a href="b.html#nowhere">b</a>'
                                     '<a href="#here">a</a><script src="https://cdn.example/x.js">')
    (tmp_path / "b.html").write_text('<h1 id="top">b</h1>')
    page = parse(tmp_path / "a.html")
    target, fragment = resolve(tmp_path, tmp_path / "a.html", page.links[0])
    assert target == tmp_path / "b.html" and fragment not in parse(target).ids
    assert resolve(tmp_path, tmp_path / "a.html", page.links[1])[1] in page.ids
    assert resolve(tmp_path, tmp_path / "a.html", page.assets[0]) is None


def test_every_diagram_is_an_svg(site):
    checked = 0
    for chapter in chapters():
        expected = len(GRAPHVIZ.findall(chapter.text))
        html = (site / f"{chapter.docname}.html").read_text()
        images = re.findall(r'<div class="graphviz"><(?:object data|img src)="([^"]+\.svg)"', html)
        inline = html.count('<div class="graphviz"><svg')
        assert len(images) + inline == expected, \
            f"{chapter.docname}: {expected} graphviz blocks, {len(images) + inline} SVG figures"
        for image in images:
            assert "<svg" in (site / image).read_text(), f"{image} is not an SVG"
        checked += expected
    assert checked, "no chapter has a diagram"


def test_solutions_are_marked_to_fold(site):
    checked = 0
    for chapter in chapters():
        expected = len(DROPDOWN.findall(chapter.text))
        if not expected:
            continue
        html = (site / f"{chapter.docname}.html").read_text()
        assert html.count('<div class="dropdown admonition') == expected, chapter.docname
        assert "togglebutton.js" in html, "sphinx-togglebutton is not loaded"
        checked += expected
    assert checked, "no chapter has a solution"
