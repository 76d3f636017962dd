"""Run a py:percent notebook headless: ``python -m mfv_utils.run NOTEBOOK [--smoke] [-p NAME VALUE ...]``.

NOTEBOOK is a path (``notebooks/01_bell_pepper_tsne.py``) or a stem (``01_bell_pepper_tsne``).
jupytext converts the source (the single source of truth) to ``build/<name>.ipynb``;
papermill injects the parameters and executes it with the ``python3`` kernel, working
directory the repository root, writing ``build/<name>.executed.ipynb`` and a copy beside the
run's figures, ``<out_dir>/<name>.ipynb`` (outputs and figures included: what a reader opens
on the repository's web page). Files skipped while
loading images are named on stderr, one line each with the reason. On failure it exits
non-zero and prints the failing cell's error.

Progress goes to stderr: one line per cell with the section it belongs to, what the cells
print, and the optimization's steps (a live bar on a terminal; a line at the start and end of
each loop otherwise, e.g. in CI). ``--quiet`` prints none of it.
"""
from __future__ import annotations

import argparse
import ast
import logging
import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path

import jupytext
import nbformat
import papermill

from mfv_utils.runtime import progress as progress_env

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
# the kernel's own log (e.g. its "running over TCP without encryption" notice) is not for users
KERNEL_ARGS = ["--IPKernelApp.log_level=ERROR"]
SKIPPED_RE = re.compile(r"SkippedFileWarning: (skipped .*)")
DISPLAY_RE = re.compile(r"^<IPython\.core\.display\.\w+ object>$")
CELL_RE = re.compile(r"^Executing Cell (\d+)-*$")
PROGRESS_MODES = ("tty", "lines", "quiet")
JPEG_QUALITY = 85  # figures embedded in an executed notebook (the PNG files beside it stay PNG)


def sections(nb) -> list[str]:
    """Per cell: the heading of the markdown section it belongs to (its stage's name)."""
    out, current = [], ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            heads = [line.lstrip("#").strip() for line in cell.source.splitlines() if line.startswith("#")]
            current = heads[0] if heads else current
        out.append(current)
    return out


class _Console(logging.Handler):
    """papermill's log, as a user wants to read it: '[stem] cell i/n · section' per code cell,
    then what the cell prints (the kernel's live bars pass through untouched)."""

    def __init__(self, stem: str, nb):
        super().__init__(logging.INFO)
        self.stem, self.sections = stem, sections(nb)
        code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        self.code_index = {i: n + 1 for n, i in enumerate(code)}  # notebook cell -> code cell number
        self.total = len(code)

    def emit(self, record):
        text = record.getMessage()
        cell = CELL_RE.match(text.strip())
        if cell:
            i = int(cell.group(1)) - 1
            if i in self.code_index:  # markdown cells "run" too: not worth a line
                section = self.sections[i]
                sys.stderr.write(f"[{self.stem}] cell {self.code_index[i]}/{self.total}"
                                 + (f" · {section}" if section else "") + "\n")
        elif text.startswith(("Input Notebook", "Output Notebook", "Executing notebook with kernel",
                              "Ending Cell", "Working directory")):
            return
        elif DISPLAY_RE.match(text.strip()):  # a figure shown in the notebook: its repr says nothing
            sys.stderr.write("  (figure)\n")
        else:
            sys.stderr.write(text if text.endswith(("\n", "\r")) or "\r" in text else text + "\n")
        sys.stderr.flush()


@contextmanager
def _progress(stem: str, nb, mode: str):
    """Show papermill's log on stderr (and tell the kernel's bars how to draw) while running."""
    if mode == "quiet":
        yield False
        return
    log = logging.getLogger("papermill")
    handler, old_level, old_propagate = _Console(stem, nb), log.level, log.propagate
    old_env = os.environ.get(progress_env.ENV)
    os.environ[progress_env.ENV] = mode  # the kernel inherits it (mfv_utils.runtime.progress)
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        yield True
    finally:
        log.removeHandler(handler)
        log.setLevel(old_level)
        log.propagate = old_propagate
        if old_env is None:
            os.environ.pop(progress_env.ENV, None)
        else:
            os.environ[progress_env.ENV] = old_env


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
                 progress: str = "quiet", timeout: int | None = None) -> Path:
    """Execute ``notebook`` (a jupytext py:percent file) with papermill; returns the path of
    the executed .ipynb. ``progress``: ``"tty"`` / ``"lines"`` show it on stderr (live bars or
    start / end lines), ``"quiet"`` nothing. Raises ``papermill.PapermillExecutionError`` if a
    cell fails."""
    if progress not in PROGRESS_MODES:
        raise ValueError(f"progress must be one of {PROGRESS_MODES}, got {progress!r}")
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
    # the console counts cells as papermill runs them: with its injected-parameters cell after ours
    executed_nb = nbformat.from_dict(dict(nb, cells=list(nb.cells)))
    if params:
        at = executed_nb.cells.index(tagged[0]) + 1
        executed_nb.cells.insert(at, nbformat.v4.new_code_cell("# injected parameters"))
    with _progress(src.stem, executed_nb, progress) as log_output:
        papermill.execute_notebook(str(source_ipynb), str(out), parameters=params, kernel_name="python3",
                                   cwd=str(cwd or REPO), log_output=log_output, progress_bar=False,
                                   execution_timeout=timeout, extra_arguments=KERNEL_ARGS)
    jpeg_figures(out)
    out_dir = params.get("out_dir", default_parameter(source_ipynb, "out_dir"))
    if out_dir:
        beside = Path(cwd or REPO) / out_dir / f"{src.stem}.ipynb"
        tmp = beside.with_suffix(".ipynb.tmp")
        tmp.write_bytes(out.read_bytes())
        tmp.replace(beside)  # atomically: a reader never opens half a notebook
    return out


def jpeg_figures(path: str | Path, quality: int = JPEG_QUALITY) -> int:
    """Re-encode every PNG figure embedded in the executed notebook ``path`` as JPEG (RGB on white),
    in place and atomically; returns how many. The figure files themselves stay PNG: this only
    keeps the executed notebooks (what a reader opens beside them) small in the repository."""
    import base64
    import io

    from PIL import Image

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    count = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" not in data:
                continue
            with Image.open(io.BytesIO(base64.b64decode(data["image/png"]))) as im:
                im = im.convert("RGBA")
                flat = Image.new("RGB", im.size, "white")
                flat.paste(im, mask=im.getchannel("A"))
            buf = io.BytesIO()
            flat.save(buf, format="JPEG", quality=quality)
            del data["image/png"]
            data["image/jpeg"] = base64.b64encode(buf.getvalue()).decode()
            count += 1
    tmp = path.with_suffix(".ipynb.tmp")
    nbformat.write(nb, tmp)
    tmp.replace(path)
    return count


def default_parameter(notebook: str | Path, name: str):
    """The default value of one parameter of a notebook's ``parameters`` cell (None if absent)."""
    spec = papermill.inspect_notebook(str(notebook)).get(name)
    if spec is None:
        return None
    try:
        return ast.literal_eval(spec["default"])
    except (ValueError, SyntaxError):
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mfv_utils.run", description=__doc__.splitlines()[0])
    ap.add_argument("notebook", help="a notebooks/*.py jupytext source, or its stem")
    ap.add_argument("--smoke", action="store_true", help="short optimization (sets smoke=True)")
    ap.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                    help="notebook parameter (a Python literal, else a string); repeatable")
    ap.add_argument("--build-dir", default=None, help="where the .ipynb files go (default: build/)")
    ap.add_argument("--quiet", action="store_true", help="no progress on stderr (errors and warnings only)")
    args = ap.parse_args(argv)
    mode = "quiet" if args.quiet else "tty" if sys.stderr.isatty() else "lines"
    params = {name: parse_value(value) for name, value in args.parameter}
    try:
        src = resolve_notebook(args.notebook)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    executed = Path(args.build_dir or REPO / "build") / f"{src.stem}.executed.ipynb"
    code = 0
    try:
        run_notebook(src, params, args.smoke, args.build_dir, progress=mode)
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
