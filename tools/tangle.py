#!/usr/bin/env python3
"""Tangle the book's chapters into ``code/``, honestly.

entangled-cli does the tangling.  This driver makes it strict and repeatable:

* entangled exits 0 even when a reference is missing or a block conflicts;
  we fail whenever its log mentions ERROR or WARNING, and show the log.
* it keeps a hash database and refuses to overwrite files it did not write;
  we always tangle from scratch in a temporary directory, so the result
  depends on the chapters alone, never on what happened before.
* its files come out with mode 0600 and, sometimes, no final newline;
  we give every file mode 0644 and exactly one final newline.

``python tools/tangle.py``          rewrite ``code/`` from the chapters
``python tools/tangle.py --check``  exit 1 if ``code/`` differs from a fresh tangle
"""
from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "entangled.toml"
OUTPUT = "code"


def chapters() -> list[str]:
    """The chapters to tangle, in book order, as listed in entangled.toml."""
    with open(CONFIG, "rb") as f:
        return list(tomllib.load(f)["watch_list"])


def entangled_command() -> list[str]:
    exe = Path(sys.executable).with_name("entangled")
    return [str(exe) if exe.exists() else "entangled", "tangle"]


def fresh_tangle(workdir: Path) -> Path:
    """Tangle the chapters into ``workdir/code`` and return that path."""
    shutil.copy(CONFIG, workdir / CONFIG.name)
    for chapter in chapters():
        target = workdir / chapter
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / chapter, target)
    proc = subprocess.run(entangled_command(), cwd=workdir, text=True,
                          capture_output=True, env={**os.environ, "COLUMNS": "200"})
    log = proc.stdout + proc.stderr
    if proc.returncode != 0 or "ERROR" in log or "WARNING" in log:
        sys.stderr.write(log)
        sys.exit(f"tangle failed: entangled reported a problem (exit {proc.returncode})")
    out = workdir / OUTPUT
    out.mkdir(exist_ok=True)
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_text()
            path.write_text(text.rstrip("\n") + "\n")
            path.chmod(0o644)
    return out


def files(tree: Path) -> set[str]:
    skip = {"__pycache__", ".pytest_cache", "build"}
    return {str(p.relative_to(tree)) for p in tree.rglob("*")
            if p.is_file() and not skip & set(p.relative_to(tree).parts)
            and not p.name.endswith(".pyc") and ".egg-info" not in str(p)}


def compare(fresh: Path, committed: Path) -> list[str]:
    problems = []
    new, old = files(fresh), files(committed) if committed.exists() else set()
    problems += [f"missing from {OUTPUT}/: {name}" for name in sorted(new - old)]
    problems += [f"not produced by any chapter: {OUTPUT}/{name}" for name in sorted(old - new)]
    for name in sorted(new & old):
        if not filecmp.cmp(fresh / name, committed / name, shallow=False):
            problems.append(f"differs from the chapters: {OUTPUT}/{name}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="compare code/ with a fresh tangle instead of writing it")
    args = parser.parse_args()
    committed = ROOT / OUTPUT
    with tempfile.TemporaryDirectory() as tmp:
        fresh = fresh_tangle(Path(tmp))
        problems = compare(fresh, committed)
        if args.check:
            if problems:
                print("\n".join(problems))
                sys.exit(f"{OUTPUT}/ is not what the chapters tangle to: "
                         "edit the chapter, run `make tangle`, commit both")
            print(f"{OUTPUT}/ matches a fresh tangle of {len(chapters())} chapters "
                  f"({len(files(fresh))} files)")
            return
        for name in files(committed) - files(fresh):
            (committed / name).unlink()
        for name in sorted(files(fresh)):
            target = committed / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists() or not filecmp.cmp(fresh / name, target, shallow=False):
                shutil.copy(fresh / name, target)
                print(f"wrote {OUTPUT}/{name}")
            target.chmod(0o644)
        for d in sorted(committed.rglob("*"), reverse=True):
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()
        print(f"tangled {len(chapters())} chapters into {len(files(fresh))} files")


if __name__ == "__main__":
    main()
