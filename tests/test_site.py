"""The website in a real browser: Debian's chromium driven by Playwright.

The built book is served from a local ``http.server`` on 127.0.0.1 (a free
port chosen by the system) for the duration of the module.  Every page the
browser opens is watched: a request to any other host is refused and
recorded, and so is every console error and uncaught exception.
Screenshots of one chapter at desktop and phone width are written to
``_build/screenshots/`` for a person to look at, and decoded to check that
they show the page as laid out for each width.
"""
from __future__ import annotations

import functools
import http.server
import re
import shutil
import threading
import zlib
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bookbuild import ROOT, chapters, html_site, missing
from tale_sphinx import FENCE  # noqa: E402  (bookbuild puts tools/ on the path)

# The site is served by a thread for the whole module, and the browser opens
# and drops connections to it as it likes: a test cannot own those descriptors.
pytestmark = pytest.mark.leaks_descriptors("the module's web server thread and the "
                                           "browser's connections to it come and go")

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", "--disable-quic",
               "--disable-sync"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}
SCREENSHOTS = ROOT / "_build" / "screenshots"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    site = html_site(tmp_path_factory)
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the Python package playwright is not installed (pip install -r requirements.txt)")
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        missing("chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


class Watched:
    """A page whose outside requests, console errors and exceptions are recorded."""

    def __init__(self, browser, viewport):
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.context = browser.new_context(viewport=viewport)
        self.context.set_default_timeout(15_000)
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"exception: {error}"))

    def _route(self, route):
        host = urlsplit(route.request.url).hostname
        if route.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def _console(self, message):
        if message.type == "error":
            self.errors.append(f"{self.page.url}: {message.text}")

    def open(self, url):
        response = self.page.goto(url, wait_until="load")
        assert response is not None and response.ok, f"{url}: {response and response.status}"
        return self.page

    def close(self):
        self.context.close()


@pytest.fixture
def desktop(browser):
    watched = Watched(browser, DESKTOP)
    yield watched
    watched.close()


@pytest.fixture
def phone(browser):
    watched = Watched(browser, PHONE)
    yield watched
    watched.close()


def sidebar_links(page) -> dict[str, str]:
    """Title -> href of every link in the primary sidebar (the book's navigation)."""
    pairs = page.eval_on_selector_all(
        ".bd-sidebar-primary nav a.reference.internal",
        "els => els.map(e => [e.textContent.trim(), e.getAttribute('href')])")
    return {re.sub(r"^[\d.]+\s+", "", title): href for title, href in pairs}


def test_every_chapter_is_reachable_from_the_sidebar(desktop, base_url):
    page = desktop.open(base_url + "index.html")
    links = sidebar_links(page)
    for chapter in chapters():
        assert chapter.title in links, f"{chapter.title!r} is not in the sidebar"
        exact = re.compile(r"^\s*(\d+\.\s+)?" + re.escape(chapter.title) + r"\s*$")
        page.locator(".bd-sidebar-primary nav a.reference.internal",
                     has_text=exact).first.click()
        page.wait_for_load_state("load")
        assert page.url.split("#")[0].endswith(f"/{chapter.docname}.html")
        heading = page.locator("article h1").first.inner_text()
        assert re.sub(r"^[\d.]+\s+|#$", "", heading.strip()).strip() == chapter.title, page.url
    assert not desktop.outside, f"requests outside 127.0.0.1: {desktop.outside}"
    assert not desktop.errors, "console errors:\n" + "\n".join(desktop.errors)


def test_pages_make_no_outside_request_and_no_console_error(desktop, base_url):
    names = [c.docname for c in chapters()] + ["index", "genindex", "search"]
    for name in names:
        desktop.open(base_url + f"{name}.html")
    desktop.page.wait_for_load_state("networkidle")
    assert not desktop.outside, f"requests outside 127.0.0.1: {desktop.outside}"
    assert not desktop.errors, "console errors:\n" + "\n".join(desktop.errors)


def test_the_watch_catches_an_outside_request(desktop, base_url):
    page = desktop.open(base_url + "index.html")
    page.evaluate("() => fetch('http://cdn.example.invalid/x.js').catch(() => null)")
    page.evaluate("() => console.error('deliberate')")
    assert desktop.outside == ["http://cdn.example.invalid/x.js"]
    assert any("deliberate" in e for e in desktop.errors)


def test_listings_show_their_captions(desktop, base_url):
    checked = 0
    for chapter in chapters():
        text = chapter.text
        expected = len(FENCE.findall(text)) + len(re.findall(r"^:{3,}\{stage\}", text, re.M))
        if not expected:
            continue
        page = desktop.open(base_url + f"{chapter.docname}.html")
        captions = page.locator("div.code-block-caption").evaluate_all(
            """els => els.map(e => ({
                text: e.textContent, folded: !!e.closest('.dropdown'),
                shown: e.innerText.trim() !== '' &&
                       e.checkVisibility({visibilityProperty: true, opacityProperty: true})}))""")
        assert len(captions) >= expected, \
            f"{chapter.docname}: {expected} listings, {len(captions)} captions"
        in_text = [c for c in captions if not c["folded"]]
        assert all(c["shown"] for c in in_text), f"{chapter.docname}: a caption is hidden"
        assert any(re.search(r"code/|«", c["text"]) for c in captions), chapter.docname
        checked += expected
    assert checked, "no chapter has a tangled listing"


def test_solutions_are_folded_until_asked_for(desktop, base_url):
    for chapter in chapters():
        if ":class: dropdown" in chapter.text:
            break
    else:
        pytest.skip("no chapter has a solution yet")
    page = desktop.open(base_url + f"{chapter.docname}.html")
    solution = page.locator(".admonition.dropdown").first
    body = solution.locator("> :not(.admonition-title)").first
    solution.scroll_into_view_if_needed()
    assert not body.is_visible(), "the solution shows before it is asked for"
    solution.locator(".admonition-title").click()
    body.wait_for(state="visible")
    assert body.is_visible()


def test_search_finds_a_chapter_by_a_word_from_it(desktop, base_url):
    tried = 0
    for chapter in chapters():
        words = [w for w in re.findall(r"[A-Za-z]{6,}", chapter.title)]
        if not words or "being written" in chapter.text:
            continue
        word = max(words, key=len).lower()
        page = desktop.open(base_url + f"search.html?q={word}")
        results = page.locator("#search-results ul.search li a")
        results.first.wait_for(timeout=15_000)
        hrefs = results.evaluate_all("els => els.map(e => e.getAttribute('href'))")
        assert any(h.split("#")[0].split("?")[0].endswith(f"{chapter.docname}.html")
                   for h in hrefs), f"searching {word!r} did not find {chapter.docname}: {hrefs}"
        tried += 1
        if tried == 3:
            break
    assert tried, "no written chapter to search for"
    assert not desktop.outside, f"requests outside 127.0.0.1: {desktop.outside}"


def test_no_horizontal_overflow_at_phone_width(phone, base_url):
    too_wide = []
    for chapter in chapters():
        page = phone.open(base_url + f"{chapter.docname}.html")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        if width > PHONE["width"] + 1:
            too_wide.append(f"{chapter.docname}: {width}px")
    assert not too_wide, f"pages wider than {PHONE['width']}px: {too_wide}"


def screenshot_chapter() -> str:
    """The first numbered chapter with a listing and a diagram: a rich page to look at."""
    for chapter in chapters():
        if chapter.part.startswith("Part") and FENCE.search(chapter.text) \
                and "{graphviz}" in chapter.text:
            return chapter.docname
    return chapters()[0].docname


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the unfiltered rows of an 8-bit RGB or RGBA PNG (stdlib only)."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height = int.from_bytes(header[:4], "big"), int.from_bytes(header[4:8], "big")
    depth, colour = header[8], header[9]
    assert depth == 8 and colour in (2, 6), (depth, colour)
    step = 3 if colour == 2 else 4
    raw, rows, prev = zlib.decompress(idat), [], bytes(width * step)
    stride = width * step + 1
    for y in range(height):
        kind, line = raw[y * stride], bytearray(raw[y * stride + 1:(y + 1) * stride])
        for i in range(len(line)):
            left = line[i - step] if i >= step else 0
            up, corner = prev[i], prev[i - step] if i >= step else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                line[i] = (line[i] + pred) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, rows


@pytest.mark.keeps_threads("page.screenshot starts the worker threads (asyncio_N) of "
                           "the browser driver's event loop, which the module's browser "
                           "fixture ends")
def test_screenshots_at_desktop_and_phone_width(desktop, phone, base_url):
    """The screenshots show the page: the sidebar at desktop width only, text in both."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = screenshot_chapter()
    for label, watched in (("desktop", desktop), ("phone", phone)):
        viewport = DESKTOP if label == "desktop" else PHONE
        page = watched.open(base_url + f"{name}.html")
        page.wait_for_load_state("networkidle")
        path = SCREENSHOTS / f"{name}-{label}.png"
        page.screenshot(path=str(path))
        width, height, rows = png_pixels(path.read_bytes())
        assert (width, height) == (viewport["width"], viewport["height"])
        colours = {row[i:i + 3] for row in rows[::8] for i in range(0, len(row), 24)}
        assert len(colours) > 20, f"{path.name} is nearly blank: {len(colours)} colours"
        sidebar = page.locator(".bd-sidebar-primary").first
        title = page.locator(".bd-article h1").first.bounding_box()
        assert title and 0 <= title["y"] < viewport["height"], "the title is off screen"
        if label == "desktop":
            box = sidebar.bounding_box()
            assert sidebar.is_visible() and box and box["width"] > 150
            assert title["x"] >= box["x"] + box["width"] - 1   # the text beside it
        else:
            box = sidebar.bounding_box()
            assert not sidebar.is_visible() or box is None or box["x"] + box["width"] <= 0


def book_pages() -> list[str]:
    """Every page of the book a reader reads: the chapters and the back matter."""
    return [chapter.docname for chapter in chapters()] + ["index"]


UNFOLD = "() => document.querySelectorAll('.toggle-hidden')" \
         ".forEach(e => e.classList.remove('toggle-hidden'))"


@pytest.fixture(scope="module")
def survey(browser, base_url):
    """Every page of the book visited once at each width, and measured.

    width -> what -> page name -> what the page's script returned: the
    diagrams, the headings and the code in tables as the page loads, then the
    listings with every solution unfolded (the last, since it changes the page).
    """
    found = {}
    for width, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        watched = Watched(browser, viewport)
        try:
            seen = found[width] = {"diagrams": {}, "headings": {}, "table_code": {},
                                   "listings": {}}
            for name in book_pages():
                page = watched.open(base_url + f"{name}.html")
                seen["diagrams"][name] = page.evaluate(DIAGRAMS)
                seen["headings"][name] = page.evaluate(HEADING_GAPS)
                seen["table_code"][name] = page.evaluate(TABLE_CODE)
                page.evaluate(UNFOLD)
                seen["listings"][name] = page.evaluate(LISTINGS)
        finally:
            watched.close()
    return found


LISTINGS = """() => [...document.querySelectorAll('article pre')]
    .map(pre => [pre.scrollWidth, pre.clientWidth,
                 pre.textContent.split('\\n').reduce(
                     (a, l) => l.length > a.length ? l : a, '')])"""


def test_no_listing_scrolls_sideways_at_desktop_width(survey):
    """At 1280 px every line of every listing, solutions unfolded, fits its box."""
    scrolling, seen = [], 0
    for name, found in survey["desktop"]["listings"].items():
        seen += len(found)
        scrolling += [f"{name}: {w} > {c} px: {line.strip()[:60]!r}"
                      for w, c, line in found if w > c + 1]
    assert seen > 100, f"only {seen} listings found"
    assert not scrolling, f"{len(scrolling)} of {seen} listings scroll:\n" + "\n".join(scrolling)


DIAGRAMS = """() => [...document.querySelectorAll('article div.graphviz')].map(box => {
    const shown = box.querySelector('object, img, svg');
    const svg = shown.tagName === 'OBJECT' ? shown.contentDocument.querySelector('svg')
              : shown.tagName === 'svg' ? shown : null;
    const rect = shown.getBoundingClientRect(), outer = box.getBoundingClientRect();
    let smallest = null;
    if (svg) {
        const units = svg.viewBox.baseVal && svg.viewBox.baseVal.width
                    ? svg.viewBox.baseVal.width : svg.width.baseVal.value;
        const sizes = [...svg.querySelectorAll('text')].map(t =>
            parseFloat(t.getAttribute('font-size') || getComputedStyle(t).fontSize));
        smallest = Math.min(...sizes) * rect.width / units;
    }
    return {svg: !!svg, smallest, right: rect.right, boxRight: outer.right,
            scrolls: box.scrollWidth > box.clientWidth + 1,
            fonts: svg ? [...new Set([...svg.querySelectorAll('text')]
                        .map(t => t.getAttribute('font-family')))] : []};
})"""
SMALLEST_LABEL_PX = 9.5


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_every_diagram_is_readable(width, survey):
    """Labels of at least 9.5 px as rendered, in one font, and the whole diagram
    on screen: either it fits the viewport or it scrolls inside its own box."""
    viewport = DESKTOP if width == "desktop" else PHONE
    problems, seen = [], 0
    for name, diagrams in survey[width]["diagrams"].items():
        for n, diagram in enumerate(diagrams, start=1):
            seen += 1
            where = f"{name}, diagram {n}"
            if not diagram["svg"]:
                problems.append(f"{where}: not an SVG the test can read")
                continue
            if diagram["smallest"] < SMALLEST_LABEL_PX:
                problems.append(f"{where}: labels {diagram['smallest']:.1f} px")
            if len(diagram["fonts"]) > 1:
                problems.append(f"{where}: labels in {diagram['fonts']}")
            if diagram["boxRight"] > viewport["width"] + 1 or (
                    diagram["right"] > viewport["width"] + 1 and not diagram["scrolls"]):
                problems.append(f"{where}: wider than the screen")
    assert seen >= 10, f"only {seen} diagrams found"
    assert not problems, "\n".join(problems)


HEADING_GAPS = """() => [...document.querySelectorAll('article h1, article h2, article h3')]
    .filter(h => h.querySelector('a.headerlink')).map(h => {
        const before = h.getBoundingClientRect().height;
        const link = h.querySelector('a.headerlink');
        link.style.display = 'none';
        const after = h.getBoundingClientRect().height;
        link.style.display = '';
        return [h.textContent.replace('#', '').trim(), before, after];
    })"""


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_no_heading_has_a_blank_line_under_it(width, survey):
    """The "#" link after a heading never takes a line of its own."""
    gaps = []
    for name, headings in survey[width]["headings"].items():
        gaps += [f"{name}: {title!r} {before:.0f} px, {after:.0f} px without its link"
                 for title, before, after in headings if before > after + 1]
    assert not gaps, "\n".join(gaps)


TABLE_CODE = """() => [...document.querySelectorAll('article table code')]
    .filter(c => !/\\s/.test(c.textContent.trim()) && c.getClientRects().length > 1)
    .map(c => c.textContent)"""


def test_code_in_a_table_cell_does_not_break_inside_a_name(survey):
    broken = []
    for name, texts in survey["desktop"]["table_code"].items():
        broken += [f"{name}: {text!r}" for text in texts]
    assert not broken, "\n".join(broken)


def test_a_listing_that_replaces_a_block_links_to_it_and_marks_its_changes(desktop, base_url):
    page = desktop.open(base_url + "ch05-time.html")
    listings = page.evaluate("""() => [...document.querySelectorAll('div.literal-block-wrapper')]
        .filter(w => /replaces/.test(w.querySelector('.code-block-caption').textContent))
        .map(w => ({link: (w.querySelector('.code-block-caption a.reference.internal') || {})
                          .href || null,
                    marked: w.querySelectorAll('span.hll').length,
                    lines: w.querySelector('pre').textContent.trim().split('\\n').length}))""")
    assert listings, "chapter 5 has no listing that replaces a block"
    assert all(l["link"] and "#block-" in l["link"] for l in listings), listings
    assert any(0 < l["marked"] < l["lines"] for l in listings), listings
