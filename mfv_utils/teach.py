"""The teaching app: every explorer as a page of its own, served by Voila on this machine.

    python -m mfv_utils.teach [--port 8866] [--figures figures] [--build build/teach]

Writes one small notebook per explorer into ``--build`` (a title, what students can try, and
one cell that builds the explorer from the committed figure runs), then serves that folder with
Voila on 127.0.0.1: code cells are never shown, only the widgets. The first line of output is
the address to open; Ctrl-C, SIGTERM or SIGHUP stops the server and its
kernels (:mod:`.serve`). Works offline: Voila ships the widgets'
JavaScript, and the explorers read the committed runs (``figures/``) and the local data.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import nbformat

from mfv_utils.apps import serve

REPO = Path(__file__).resolve().parents[1]
PAGES = {  # file stem -> (title, what students can do, the explorer call)
    "01_facets": ("Facets of a class neuron",
                  "Pick a committed run (the two paper classes, church and three Imagenette classes nobody tuned on) and a facet: its mean image, "
                  "real members and visualization. Change k, m or the coding layer, or type another image "
                  "set, and press *Embed + cluster*. *Optimize facet* runs the figures' method live.",
                  "facets_explorer"),
    "02_hidden_units": ("Facets of hidden units",
                        "Pick a layer and a unit: its facets' mean patches, their visualizations by the "
                        "figures' method and by the paper's schedule, real patches and activations.",
                        "hidden_explorer"),
    "03_snap_or_blend": ("Snap or blend",
                         "Pick two clusters and move t: the pixel blend, and where each method's result "
                         "lands between the two ends (q = +1: like the left one, -1: like the right).",
                         "interpolation_explorer"),
    "04_priors": ("Image priors compared",
                  "Pick a class and a method: the visualization beside a real image, and every measure.",
                  "priors_explorer"),
}


def write_pages(build: Path, figures: Path) -> list[Path]:
    """One notebook per explorer in ``build`` (overwritten); returns their paths."""
    build.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, (title, hint, call) in PAGES.items():
        nb = nbformat.v4.new_notebook()
        target = figures if call == "facets_explorer" else figures / {
            "hidden_explorer": "02_hidden_layer_facets", "interpolation_explorer": "03_interpolation_study",
            "priors_explorer": "04_prior_comparison"}[call]
        nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\n{hint}"),
                    nbformat.v4.new_code_cell(f"from mfv_utils.apps import widgets\n\nwidgets.{call}({str(target)!r})")]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        path = build / f"{stem}.ipynb"
        nbformat.write(nb, path)
        paths.append(path)
    return paths


def offline_template(build: Path) -> tuple[str, dict[str, str]]:
    """Voila's "lab" template without the two stylesheets it links from a CDN (Font Awesome,
    which Voila's own bundle already carries): offline, they only fail, with an error in the
    page's console. Written at run time from the installed template (nothing of Voila's is
    copied into this repository); returns the template name and the environment that finds it.
    If the installed template has no such lines, the plain "lab" template is used."""
    from jupyter_core.paths import jupyter_path

    for root in jupyter_path("voila", "templates"):
        lab = Path(root) / "lab" / "index.html.j2"
        if lab.is_file():
            lines = lab.read_text().splitlines(keepends=True)
            kept = [line for line in lines if "cdn.jsdelivr.net" not in line]
            if len(kept) == len(lines):
                break
            target = build / "jupyter" / "voila" / "templates" / "mfv-offline"
            target.mkdir(parents=True, exist_ok=True)
            (target / "index.html.j2").write_text("".join(kept))
            (target / "conf.json").write_text(json.dumps({"base_template": "lab"}))
            path = os.pathsep.join(filter(None, [str(build / "jupyter"), os.environ.get("JUPYTER_PATH")]))
            return "mfv-offline", {"JUPYTER_PATH": path}
    return "lab", {}


def voila_command(build: Path, port: int, template: str = "lab") -> list[str]:
    return [sys.executable, "-m", "voila", str(build), f"--port={port}", "--no-browser",
            "--Voila.ip=127.0.0.1", f"--template={template}", "--VoilaConfiguration.show_tracebacks=False",
            # jupytext's JupyterLab extension needs JupyterLab's document manager, which a Voila page has not
            "--VoilaConfiguration.extension_denylist=['jupyterlab-jupytext']",
            "--ServerApp.log_level=WARN", "--Voila.log_level=WARN"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mfv_utils.teach", description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8866)
    ap.add_argument("--figures", default=str(REPO / "figures"), help="the committed figure runs")
    ap.add_argument("--build", default=str(REPO / "build" / "teach"), help="where the pages are written")
    args = ap.parse_args(argv)
    figures, build = Path(args.figures).resolve(), Path(args.build).resolve()
    if not figures.is_dir():
        print(f"error: no figures folder at {figures}", file=sys.stderr)
        return 2
    write_pages(build, figures)
    template, env = offline_template(build)
    print(f"http://127.0.0.1:{args.port}/  (the teaching app: one page per explorer; Ctrl-C stops it)", flush=True)
    return serve.run(voila_command(build, args.port, template), cwd=build, env=dict(os.environ, **env))


if __name__ == "__main__":
    sys.exit(main())
