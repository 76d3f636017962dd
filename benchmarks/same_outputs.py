"""Does a refactor change any output?  ``python benchmarks/same_outputs.py [--base REV] [NOTEBOOK ...]``

Runs every notebook's smoke run (``python -m mfv_utils.run STEM --smoke``) twice on this machine:
once in a clean checkout of REV (default ``HEAD~1``, made with ``git worktree`` under ``build/``)
and once in this working tree, then compares, per notebook,

* every file it writes (figures, image sheets, an atlas's units and site) byte for byte, but the
  executed notebook (it holds timings) and an atlas's ``manifest.json`` (its run log), and
* ``metrics.json`` value for value, leaving out what measures the machine rather than the method
  (keys naming seconds, speed or wall time, and ``provenance``).

It prints one line per notebook (``same`` or what differs) and exits 1 if anything differs.
The base run is kept in ``build/same_outputs/<sha>/`` and reused, so comparing a series of
commits against one base costs one base run. Both runs use this interpreter (one lock); the base
tree's package shadows the installed one through ``PYTHONPATH``.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.stem for p in (REPO / "notebooks").glob("[0-9][0-9]_*.py"))
MACHINE = re.compile(r"second|speed|wall|elapsed|timing|started|provenance", re.I)


def git(*args: str, cwd: Path = REPO) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def smoke(tree: Path, stem: str, out: Path) -> None:
    """One notebook's smoke run in ``tree`` (its own package first on the path) into ``out``."""
    if (out / "metrics.json").exists():
        return
    env = dict(os.environ, PYTHONPATH=str(tree))
    cmd = [sys.executable, "-m", "mfv_utils.run", stem, "--smoke", "--quiet", "-p", "out_dir", str(out)]
    proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"{stem} failed in {tree}:\n{proc.stderr[-3000:]}")


def method_values(obj, path: str = "") -> dict[str, object]:
    """metrics.json flattened to path -> value, without what measures the machine."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not MACHINE.search(str(k)):
                out.update(method_values(v, f"{path}/{k}"))
        return out
    if isinstance(obj, list):
        out = {}
        for i, v in enumerate(obj):
            out.update(method_values(v, f"{path}[{i}]"))
        return out
    return {path: obj}


def compare(base: Path, head: Path) -> list[str]:
    """What differs between two output folders (empty: the same outputs)."""
    diffs = []
    def outputs(folder):  # every file but the executed notebook (it holds timings) and metrics.json
        return {p.relative_to(folder) for p in folder.rglob("*") if p.is_file()
                and p.suffix != ".ipynb" and p.name not in ("metrics.json", "manifest.json")}

    for rel in sorted(outputs(base) | outputs(head)):
        a, b = base / rel, head / rel
        if not (a.exists() and b.exists()):
            diffs.append(f"{rel}: only in {'base' if a.exists() else 'head'}")
        elif a.read_bytes() != b.read_bytes():
            diffs.append(f"{rel}: other bytes")
    ma = method_values(json.loads((base / "metrics.json").read_text()))
    mb = method_values(json.loads((head / "metrics.json").read_text()))
    for key in sorted(set(ma) | set(mb)):
        if ma.get(key, "<absent>") != mb.get(key, "<absent>"):
            diffs.append(f"metrics.json{key}: {ma.get(key, '<absent>')!r} -> {mb.get(key, '<absent>')!r}")
    return diffs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="HEAD~1", help="the commit to compare against (default HEAD~1)")
    ap.add_argument("--base-only", action="store_true", help="only make (and keep) the base runs")
    ap.add_argument("notebooks", nargs="*", default=NOTEBOOKS, help="stems (default: all six)")
    args = ap.parse_args(argv)
    sha = git("rev-parse", args.base)
    root = REPO / "build" / "same_outputs"
    tree = root / f"tree-{sha[:12]}"
    if not tree.exists():
        git("worktree", "add", "--detach", str(tree), sha)
    head = root / "head"
    subprocess.run(["rm", "-rf", str(head)], check=True)
    bad = 0
    for stem in args.notebooks:
        base_out, head_out = root / sha[:12] / stem, head / stem
        smoke(tree, stem, base_out)
        if args.base_only:
            print(f"{stem}: base run in {base_out}", flush=True)
            continue
        smoke(REPO, stem, head_out)
        diffs = compare(base_out, head_out)
        n_files = len([p for p in head_out.rglob("*") if p.is_file() and p.suffix != ".ipynb"])
        print(f"{stem}: " + ("same" if not diffs else f"{len(diffs)} differences")
              + f" ({n_files} files against {sha[:12]})", flush=True)
        for d in diffs[:20]:
            print("   ", d)
        bad += bool(diffs)
    git("worktree", "remove", "--force", str(tree))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
