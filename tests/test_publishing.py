"""The publishing recipes build the book the way ``make`` does.

Each recipe is read as its runner reads it (YAML parsed, shell commands split
into words, Make's own variables and dry runs), so that a package named only in
a comment, or a command that no longer matches what ``make`` runs, fails here.
"""
import re
import shlex
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"


def make_variable(name):
    """The value of a Makefile variable, as make expands it."""
    return subprocess.run(["make", "-s", "--no-print-directory", "--eval",
                           "print-%: ; @echo $($*)", f"print-{name}"],
                          cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()


def make_targets():
    """The targets the Makefile defines (from make's own database)."""
    db = subprocess.run(["make", "-pRrq", "-f", "Makefile", ":"], cwd=ROOT,
                        capture_output=True, text=True).stdout
    return set(re.findall(r"^([\w.-]+):(?!=)", db, re.M))


def make_sphinx_command(target):
    """The words of the sphinx-build command that ``make TARGET`` runs."""
    dry = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    commands = [shlex.split(line) for line in dry.splitlines() if "-m sphinx" in line]
    assert len(commands) == 1, dry
    return commands[0]


def shell_commands(script):
    """Each command of a shell snippet, as words (continuations joined, comments dropped)."""
    script = script.replace("\\\n", " ")
    out = []
    for line in script.splitlines():
        for part in re.split(r"&&|;|\|\|", line):
            words = shlex.split(part, comments=True)
            if words:
                out.append(words)
    return out


def apt_installs(commands):
    """The packages that ``apt-get install`` commands name."""
    packages = set()
    for words in commands:
        words = [w for w in words if w not in ("sudo",) and "=" not in w]
        if words[:2] == ["apt-get", "install"]:
            packages |= {w for w in words[2:] if not w.startswith("-")}
    return packages


def sphinx_args(words):
    """The options and source of a sphinx-build command: everything but the
    interpreter and the output directory."""
    start = words.index("sphinx") + 1
    return words[start:-1]


def workflow(name):
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))       # YAML 1.1 reads `on:` as true
    return data


def test_read_the_docs_builds_like_make_html():
    config = yaml.safe_load((ROOT / ".readthedocs.yaml").read_text())
    assert config["version"] == 2
    assert config["build"]["tools"]["python"] == "3.11"
    commands = [shlex.split(c) for c in config["build"]["commands"]]
    assert ["python", "-m", "pip", "install", "-r", "requirements.txt"] in commands
    builds = [c for c in commands if c[:3] == ["python", "-m", "sphinx"]]
    assert len(builds) == 1
    assert sphinx_args(builds[0]) == sphinx_args(make_sphinx_command("html"))
    assert "graphviz" in config["build"]["apt_packages"]


def test_pages_workflow_builds_html_and_pdf_with_make():
    data = workflow("pages.yml")
    steps = data["jobs"]["build"]["steps"]
    commands = [words for step in steps for words in shell_commands(step.get("run", ""))]
    made = {w for words in commands if words[0] == "make" for w in words[1:]}
    assert {"book", "pdf"} <= made <= make_targets()
    python = [s for s in steps if s.get("uses", "").startswith("actions/setup-python")]
    assert python and python[0]["with"]["python-version"] == "3.11"
    html, latex = make_variable("HTML")[0], make_variable("LATEX")[0]
    upload = [s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact")]
    assert upload and upload[0]["with"]["path"] == html
    assert ["cp", f"{latex}/tale.pdf", f"{html}/tale.pdf"] in commands
    assert any(s.get("uses", "").startswith("actions/deploy-pages")
               for s in data["jobs"]["deploy"]["steps"])


def test_ci_workflow_runs_the_ci_script_on_every_push():
    data = workflow("ci.yml")
    on = data["on"]
    assert "push" in on and not (on["push"] or {}).get("branches"), on
    runs = [words for job in data["jobs"].values() for step in job["steps"]
            for words in shell_commands(step.get("run", ""))]
    assert ["bash", ".ci/run"] in runs
    job = next(iter(data["jobs"].values()))
    assert re.fullmatch(r"python:3\.11(-\w+)?", job["container"]), job.get("container")


def ci_packages():
    """The packages .ci/run installs: its ``packages`` array, as bash reads it."""
    script = (ROOT / ".ci" / "run").read_text()
    array = re.search(r"^packages=\(.*?\)$", script, re.M | re.S).group(0)
    out = subprocess.run(["bash", "-c", array + '\nprintf "%s\\n" "${packages[@]}"'],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_every_place_installs_the_same_tex():
    """`make pdf` names the TeX packages; CI and the Pages workflow install them all."""
    tex = make_variable("TEX_PACKAGES")
    assert "texlive-xetex" in tex and "xindy" in tex
    ci = ci_packages()
    pages = apt_installs(c for step in workflow("pages.yml")["jobs"]["build"]["steps"]
                         for c in shell_commands(step.get("run", "")))
    for package in tex + ["graphviz"]:
        assert package in ci, f".ci/run does not install {package}"
        assert package in pages, f"pages.yml does not install {package}"
    for package in ("poppler-utils", "chromium"):
        assert package in ci, f".ci/run does not install {package}, which the tests need"


def test_make_clean_leaves_no_build_output(tmp_path):
    """`make clean` in a copy: every build output goes, the sources and .venv stay."""
    (tmp_path / "Makefile").write_text((ROOT / "Makefile").read_text())
    outputs = ["_build/html/index.html", "_build/latex/tale.pdf", ".pytest_cache/x",
               "code/build/lib/tale/kernel.py", "code/tale.egg-info/PKG-INFO",
               "code/tale/__pycache__/kernel.cpython-311.pyc", "tests/__pycache__/t.pyc"]
    kept = ["code/tale/kernel.py", "code/pyproject.toml", ".venv/.installed",
            ".venv/lib/x/__pycache__/y.pyc", "book/results/summary.txt"]
    for name in outputs + kept:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    subprocess.run(["make", "-s", "clean"], cwd=tmp_path, check=True)
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert left == sorted(kept + ["Makefile"])
    assert not (tmp_path / "_build").exists() and not (tmp_path / "code" / "build").exists()
