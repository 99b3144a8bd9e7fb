"""The publishing recipes build the book the way ``make`` does."""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_read_the_docs_builds_like_make_html():
    config = yaml.safe_load((ROOT / ".readthedocs.yaml").read_text())
    assert config["version"] == 2
    assert config["build"]["tools"]["python"] == "3.11"
    commands = config["build"]["commands"]
    assert "python -m pip install -r requirements.txt" in commands
    build = [c for c in commands if "sphinx" in c]
    assert build and all(opt in build[0].split() for opt in ("-W", "-c", "book"))


def test_pages_workflow_builds_html_and_pdf_with_make():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "pages.yml").read_text())
    steps = workflow["jobs"]["build"]["steps"]
    runs = "\n".join(step.get("run", "") for step in steps)
    assert "make book" in runs and "make pdf" in runs
    python = [s for s in steps if s.get("uses", "").startswith("actions/setup-python")]
    assert python and python[0]["with"]["python-version"] == "3.11"
    assert any(s.get("uses", "").startswith("actions/deploy-pages")
               for s in workflow["jobs"]["deploy"]["steps"])


def test_every_place_installs_the_same_tex():
    """`make pdf` names the TeX packages; CI and the Pages workflow install them all."""
    import re
    makefile = (ROOT / "Makefile").read_text()
    tex = re.search(r"^TEX_PACKAGES\s*:=\s*(.+)$", makefile, re.M).group(1).split()
    assert "texlive-xetex" in tex and "xindy" in tex
    ci = (ROOT / ".ci" / "run").read_text()
    pages = (ROOT / ".github" / "workflows" / "pages.yml").read_text()
    for package in tex + ["graphviz"]:
        assert re.search(rf"\b{re.escape(package)}\b", ci), f".ci/run does not install {package}"
        assert re.search(rf"\b{re.escape(package)}\b", pages), f"pages.yml does not install {package}"
    for package in ("poppler-utils", "chromium"):
        assert package in ci, f".ci/run does not install {package}, which the tests need"
