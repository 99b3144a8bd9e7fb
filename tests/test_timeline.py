"""The timelines of chapter 19: recorded from real runs, drawn as SVG and PDF, in the book."""
from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from bookbuild import BOOK, ROOT, TIMELINE, html_site, tool
import tale_timeline as timeline

RUNS = ROOT / "code" / "examples" / "ch19_runs.py"
DIRECTIVE = TIMELINE


def lanes(recorder):
    return {lane.task.name: lane for lane in recorder.lanes.values()}


def test_round_robin_lanes_take_turns_in_order():
    recorder = timeline.record(RUNS, "round_robin")
    got = lanes(recorder)
    assert list(got) == ["round_robin", "a", "b", "c"]
    for name in "abc":
        assert len(got[name].turns) == 4                 # three sleep(0)s, then the end
        assert got[name].end is not None and not got[name].waits
    starts = sorted((turn[0], name) for name in "abc" for turn in got[name].turns)
    assert [name for _, name in starts] == list("abc") * 4
    assert got["round_robin"].waits[0][2] == "waiting to join a"


def test_timers_show_the_clock_jumping_from_deadline_to_deadline():
    recorder = timeline.record(RUNS, "timers")
    times = [time for _, _, time in recorder.ticks]
    assert sorted(set(times)) == [0.0, 0.1, 0.2, 0.25, 0.5]
    assert [timeline.short(w[2]) for w in lanes(recorder)["long"].waits] == [
        "until 0.25", "until 0.5"]


def test_a_cancelled_group_is_drawn_in_red():
    recorder = timeline.record(RUNS, "group_cancelled")
    got = lanes(recorder)
    for name in ("slow", "slower", "group_cancelled"):
        assert [label for _, colour, label in got[name].marks] == ["cancelled"]
        assert got[name].turns[-1][2] is True              # the turn that hears it: red
    assert [label for _, _, label in got["crash"].marks] == ["failed"]
    _, _, items = timeline.shapes(recorder)
    assert sum(1 for item in items if item[0] == "rect" and item[-1] == timeline.RED) == 3


def test_the_echo_server_has_a_lane_per_task_and_waits_on_sockets():
    recorder = timeline.record(RUNS, "echo_server")
    got = lanes(recorder)
    assert set(got) == {"echo_server", "server", "client a", "client b", "client c",
                        "handle 1", "handle 2", "handle 3"}
    assert all(lane.end is not None for lane in got.values())
    for number in (1, 2, 3):
        assert any(w[2].startswith("waiting to read socket") for w in got[f"handle {number}"].waits)
    assert any("write socket" in w[2] for w in got["client a"].waits)


def test_svg_and_pdf_carry_the_same_drawing(tmp_path):
    name = timeline.draw(RUNS, "group_cancelled", tmp_path)
    svg = (tmp_path / f"{name}.svg").read_text()
    root = ElementTree.fromstring(svg)
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    for label in ("group_cancelled", "slow", "crash", "slower", "cancelled", "failed"):
        assert label in texts
    data = (tmp_path / f"{name}.pdf").read_bytes()
    assert data.startswith(b"%PDF-1.4") and data.rstrip().endswith(b"%%EOF")
    offsets = [int(n) for n in re.findall(rb"(\d{10}) 00000 n", data)]
    assert [data[o:].split(b" ", 1)[0] for o in offsets] == [b"1", b"2", b"3", b"4", b"5"]
    pdftotext = tool("pdftotext")
    text = subprocess.run([pdftotext, str(tmp_path / f"{name}.pdf"), "-"], check=True,
                          capture_output=True, text=True).stdout
    for label in ("group_cancelled", "crash", "cancelled", "failed", "until 5"):
        assert label in text, text


def test_every_timeline_of_the_book_is_an_svg_image_in_the_html(tmp_path_factory):
    site = html_site(tmp_path_factory)
    for chapter in BOOK.glob("*.md"):
        wanted = DIRECTIVE.findall(chapter.read_text())
        if not wanted:
            continue
        page = (site / f"{chapter.stem}.html").read_text()
        shown = re.findall(r'<img[^>]*src="_images/(timeline-[\w-]+\.svg)"', page)
        assert shown == [f"timeline-{Path(p).stem}-{f}.svg" for p, f in wanted]
        for name in shown:
            assert "<svg" in (site / "_images" / name).read_text()
