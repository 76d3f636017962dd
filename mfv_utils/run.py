"""Run a py:percent notebook headless: ``python -m mfv_utils.run NOTEBOOK [--smoke] [-p NAME VALUE ...]``.

NOTEBOOK is a path (``notebooks/01_bell_pepper_tsne.py``) or a stem (``01_bell_pepper_tsne``).
jupytext converts the source (the single source of truth) to ``build/<name>.ipynb``;
papermill injects the parameters and executes it with the ``python3`` kernel, working
directory the repository root, writing ``build/<name>.executed.ipynb``. Files skipped while
loading images are named on stderr, one line each with the reason. On failure it exits
non-zero and prints the failing cell's error.
"""
from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

import jupytext
import nbformat
import papermill

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
# the kernel's own log (e.g. its "running over TCP without encryption" notice) is not for users
KERNEL_ARGS = ["--IPKernelApp.log_level=ERROR"]
SKIPPED_RE = re.compile(r"SkippedFileWarning: (skipped .*)")


def resolve_notebook(notebook: str | Path) -> Path:
    """A notebook path as given, else ``notebooks/<stem>.py`` of this repository."""
    src = Path(notebook)
    if src.is_file():
        return src
    by_stem = NOTEBOOKS / f"{src.name.removesuffix('.py')}.py"
    if src.parent == Path(".") and by_stem.is_file():
        return by_stem
    known = ", ".join(sorted(p.stem for p in NOTEBOOKS.glob("*.py")))
    raise FileNotFoundError(f"notebook not found: {notebook} (known stems: {known})")


def skipped_files(executed: str | Path) -> list[str]:
    """The 'skipped <path>: <reason>' lines the executed notebook's cells wrote to stderr."""
    if not Path(executed).is_file():
        return []
    nb = nbformat.read(executed, as_version=4)
    lines = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream" and o.get("name") == "stderr":
                lines += SKIPPED_RE.findall(o.get("text", ""))
    return list(dict.fromkeys(lines))


def parse_value(text: str):
    """Command-line parameter values: Python literals (1, 0.5, True, None, 'x'), else a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def run_notebook(notebook: str | Path, parameters: dict | None = None, smoke: bool = False,
                 build_dir: str | Path | None = None, cwd: str | Path | None = None,
                 log_output: bool = False, timeout: int | None = None) -> Path:
    """Execute ``notebook`` (a jupytext py:percent file) with papermill; returns the path of
    the executed .ipynb. Raises ``papermill.PapermillExecutionError`` if a cell fails."""
    src = resolve_notebook(notebook)
    build = Path(build_dir) if build_dir else REPO / "build"
    build.mkdir(parents=True, exist_ok=True)
    nb = jupytext.read(src)
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        raise ValueError(f"{src} must have exactly one cell tagged 'parameters', found {len(tagged)}")
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source_ipynb = build / f"{src.stem}.ipynb"
    nbformat.write(nb, source_ipynb)
    params = dict(parameters or {})
    if smoke:
        params["smoke"] = True
    out = build / f"{src.stem}.executed.ipynb"
    papermill.execute_notebook(str(source_ipynb), str(out), parameters=params, kernel_name="python3",
                               cwd=str(cwd or REPO), log_output=log_output, progress_bar=False,
                               execution_timeout=timeout, extra_arguments=KERNEL_ARGS)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mfv_utils.run", description=__doc__.splitlines()[0])
    ap.add_argument("notebook", help="a notebooks/*.py jupytext source, or its stem")
    ap.add_argument("--smoke", action="store_true", help="short optimization (sets smoke=True)")
    ap.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                    help="notebook parameter (a Python literal, else a string); repeatable")
    ap.add_argument("--build-dir", default=None, help="where the .ipynb files go (default: build/)")
    ap.add_argument("--log-output", action="store_true", help="stream cell output to the terminal")
    args = ap.parse_args(argv)
    params = {name: parse_value(value) for name, value in args.parameter}
    try:
        src = resolve_notebook(args.notebook)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    executed = Path(args.build_dir or REPO / "build") / f"{src.stem}.executed.ipynb"
    code = 0
    try:
        run_notebook(src, params, args.smoke, args.build_dir, log_output=args.log_output)
    except papermill.PapermillExecutionError as e:
        print(f"error: {args.notebook} failed in cell {e.exec_count}: {e.ename}: {e.evalue}", file=sys.stderr)
        code = 1
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for line in skipped_files(executed):
        print(f"warning: {line}", file=sys.stderr)
    if code == 0:
        print(f"executed notebook: {executed}")
    return code


if __name__ == "__main__":
    sys.exit(main())
