"""Timelines of real runs, drawn when the book is built.

``:::{timeline} code/examples/ch19_runs.py round_robin`` runs that async
function with ``tale.run(..., instruments=[Recorder()])`` (on a virtual clock
unless ``:clock: real``), and draws what the recorder saw: one lane per task,
a box for each turn it ran, a dashed line while it waited (labelled with what
it waited on), a thin line while it was ready, every tick as a vertical rule,
cancellations in red.  The drawing is written twice into ``book/_generated/``
(not committed), as SVG for the HTML and as PDF for LaTeX, and the directive
becomes an ordinary figure whose image is ``_generated/<name>.*``, so Sphinx
picks the right file for each builder.

The PDF is written by hand, like the SVG, from the same list of shapes: no
converter is needed (Sphinx's LaTeX builder cannot use SVG).
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

SLOT, GAP, LANE, TOP, FONT = 24, 10, 30, 34, 11
CHAR = 0.6 * FONT                     # a monospaced character's width
INK, GREY, BLUE, RED, PALE = "#222222", "#999999", "#3465a4", "#cc0000", "#dddddd"


# --- What happened: an instrument that records the run ----------------------

@dataclass
class Lane:
    task: object
    start: float                       # x where it was spawned
    end: float | None = None           # x where it finished
    turns: list = field(default_factory=list)     # [x0, x1, red]
    waits: list = field(default_factory=list)     # [x0, x1, label]
    marks: list = field(default_factory=list)     # (x, colour, label)
    waiting: bool = False
    cancelled: bool = False


class Recorder:
    """An instrument that lays out a run as it goes: x counts steps and ticks."""

    def __init__(self):
        self.x = 0.0
        self.lanes: dict = {}          # task -> Lane, in spawn order
        self.ticks: list = []          # (x, number, time)

    def tick(self, tick):
        if tick.batch:                 # a tick that runs nothing is not drawn
            self.x += GAP / SLOT
            self.ticks.append((self.x, tick.number, tick.time))

    def task_spawned(self, task):
        self.lanes[task] = Lane(task, self.x)

    def before_task_step(self, task):
        lane = self.lanes[task]
        if lane.turns and lane.turns[-1][1] == self.x:     # after an instant answer:
            return                                          # the same turn goes on
        lane.turns.append([self.x, self.x + 1, lane.cancelled])
        lane.cancelled = False
        self.x += 1

    def task_suspended(self, task, waiting):
        lane = self.lanes[task]
        lane.waits.append([self.x, None, waiting])
        lane.waiting = True

    def task_scheduled(self, task):
        lane = self.lanes[task]
        if lane.waiting:
            lane.waits[-1][1] = self.x
            lane.waiting = False

    def task_cancelled(self, task, exc):
        lane = self.lanes[task]
        lane.marks.append((self.x, RED, "cancelled"))
        lane.cancelled = True

    def task_finished(self, task):
        lane = self.lanes[task]
        lane.end = self.x
        if task.exception() is not None and not task.cancelled():
            lane.marks.append((self.x, RED, "failed"))


def short(waiting: str) -> str:
    """A wait's words, shortened for a lane: no 'waiting to', no addresses."""
    text = waiting.replace("waiting to ", "").replace("waiting on ", "")
    if text.startswith("sleeping until "):
        return f"until {float(text.split()[2]):g}"
    return text.split(" (")[0].split(" at 0x")[0]


# --- How it looks: a list of shapes ------------------------------------------

def shapes(recorder: Recorder) -> tuple[float, float, list]:
    """(width, height, shapes) for the recorded run; y grows downwards."""
    out = []
    lanes = list(recorder.lanes.values())
    left = max([len(lane.task.name) for lane in lanes] + [5]) * CHAR + 14
    width = left + (recorder.x + 1) * SLOT + 8
    height = TOP + len(lanes) * LANE + 28

    def X(x):
        return left + x * SLOT

    last_time = None
    for x, number, time in recorder.ticks:
        out.append(("line", X(x) - GAP / 2, TOP - 14, X(x) - GAP / 2, height - 26, PALE, False))
        out.append(("text", X(x) - GAP / 2 + 2, TOP - 18, str(number), GREY, FONT - 2))
        if time != last_time:
            out.append(("text", X(x) - GAP / 2 + 2, TOP - 6, f"{time:g}s", GREY, FONT - 2))
            last_time = time
    out.append(("text", 4, TOP - 18, "tick", GREY, FONT - 2))
    out.append(("text", 4, TOP - 6, "clock", GREY, FONT - 2))
    for row, lane in enumerate(lanes):
        y = TOP + row * LANE + LANE / 2
        out.append(("text", 4, y + 4, lane.task.name, INK, FONT))
        end = recorder.x if lane.end is None else lane.end
        out.append(("line", X(lane.start), y, X(end), y, GREY, False))
        for x0, x1, label in lane.waits:
            x1 = end if x1 is None else x1
            out.append(("rect", X(x0), y - 1.5, X(x1) - X(x0), 3, "#ffffff"))
            out.append(("line", X(x0), y, X(x1), y, INK, True))
            room = max(int((X(x1) - X(x0)) / (CHAR * 0.85)), 8)
            text = short(label)
            text = text if len(text) <= room else text[:room - 2] + ".."
            out.append(("text", X(x0) + 2, y - 5, text, INK, FONT - 2))
        for x0, x1, red in lane.turns:
            out.append(("rect", X(x0) + 1, y - 7, X(x1) - X(x0) - 2, 14, RED if red else BLUE))
        for x, colour, label in lane.marks:
            out.append(("line", X(x), y - 11, X(x), y + 11, colour, False))
            out.append(("text", X(x) + 2, y + 13, label, colour, FONT - 2))
        if lane.end is not None:
            out.append(("rect", X(lane.end) - 1, y - 4, 2, 8, INK))
    legend = "box: a turn   - - -: waiting   line: ready   red: cancelled"
    out.append(("text", 4, height - 8, legend, GREY, FONT - 2))
    return width, height, out


def svg(width: float, height: float, items: list) -> str:
    body = []
    for item in items:
        if item[0] == "rect":
            _, x, y, w, h, colour = item
            body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" '
                        f'fill="{colour}"/>')
        elif item[0] == "line":
            _, x0, y0, x1, y1, colour, dashed = item
            dash = ' stroke-dasharray="4 3"' if dashed else ""
            body.append(f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" '
                        f'stroke="{colour}"{dash}/>')
        else:
            _, x, y, text, colour, size = item
            text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            body.append(f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" '
                        f'fill="{colour}">{text}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
            f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
            'font-family="DejaVu Sans Mono, Courier New, monospace" style="white-space: pre">\n'
            f'<rect width="100%" height="100%" fill="#ffffff"/>\n'
            + "\n".join(body) + "\n</svg>\n")


def pdf(width: float, height: float, items: list) -> bytes:
    """The same shapes as a one-page PDF, in the standard Courier font."""
    def rgb(colour):
        return " ".join(f"{int(colour[i:i + 2], 16) / 255:.3f}" for i in (1, 3, 5))

    ops = []
    for item in items:
        if item[0] == "rect":
            _, x, y, w, h, colour = item
            ops.append(f"{rgb(colour)} rg {x:.1f} {height - y - h:.1f} {w:.1f} {h:.1f} re f")
        elif item[0] == "line":
            _, x0, y0, x1, y1, colour, dashed = item
            ops.append(f"{rgb(colour)} RG {'[4 3] 0' if dashed else '[] 0'} d "
                       f"{x0:.1f} {height - y0:.1f} m {x1:.1f} {height - y1:.1f} l S")
        else:
            _, x, y, text, colour, size = item
            text = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"BT /F1 {size} Tf {rgb(colour)} rg {x:.1f} {height - y:.1f} Td "
                       f"({text}) Tj ET")
    stream = "\n".join(ops).encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width:.0f} {height:.0f}] "
         "/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>").encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


# --- Running a program, and the directive -------------------------------------

def record(path: Path, function: str, clock: str = "virtual") -> Recorder:
    """Run ``function`` of the program at `path` under tale, and record it."""
    import tale
    from tale.testing import VirtualClock
    spec = importlib.util.spec_from_file_location(f"timeline_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    recorder = Recorder()
    tale.run(getattr(module, function), instruments=[recorder],
             clock=VirtualClock() if clock == "virtual" else None, debug=False)
    return recorder


def draw(path: Path, function: str, out_dir: Path, clock: str = "virtual") -> str:
    """Write ``<name>.svg`` and ``<name>.pdf`` into `out_dir`; return the name."""
    width, height, items = shapes(record(path, function, clock))
    drawing = svg(width, height, items)
    name = f"timeline-{path.stem}-{function}"        # rewritten by every build
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.svg").write_text(drawing)
    (out_dir / f"{name}.pdf").write_bytes(pdf(width, height, items))
    return name


class Timeline(SphinxDirective):
    """``:::{timeline} path/to/program.py function`` with ``:caption:``, ``:alt:``."""

    required_arguments = 2
    option_spec = {"caption": directives.unchanged, "alt": directives.unchanged,
                   "clock": lambda arg: directives.choice(arg, ("virtual", "real")),
                   "name": directives.unchanged}

    def run(self):
        root = Path(self.env.app.confdir)
        program = root / self.arguments[0]
        self.env.note_dependency(str(program))
        try:
            name = draw(program, self.arguments[1], Path(self.env.srcdir) / "_generated",
                        self.options.get("clock", "virtual"))
        except Exception as error:
            raise self.error(f"timeline of {self.arguments[1]} failed: {error!r}")
        alt = self.options.get("alt", f"a timeline of {self.arguments[1]}, one lane per task")
        image = nodes.image(uri=f"_generated/{name}.*", alt=alt, classes=["tale-timeline"])
        figure = nodes.figure("", image, classes=["tale-timeline"])
        if "caption" in self.options:
            text_nodes, _ = self.state.inline_text(self.options["caption"], self.lineno)
            figure += nodes.caption(self.options["caption"], "", *text_nodes)
        if "name" in self.options:
            self.add_name(figure)
        return [figure]


def setup(app):
    app.add_directive("timeline", Timeline)
    return {"parallel_read_safe": True, "version": "1"}
