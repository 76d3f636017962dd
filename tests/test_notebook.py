"""Notebook 01 executed for real: jupytext -> papermill -> python3 kernel, via the CLI runner."""
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from PIL import Image

from .conftest import REPO

NB = REPO / "notebooks" / "01_bell_pepper_tsne.py"


def run_cli(*args, build):
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-m", "mfv_utils.run", str(NB), "--build-dir", str(build), *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nb01")
    out = tmp / "out"
    proc = run_cli("--smoke", "-p", "out_dir", str(out), build=tmp / "build")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, tmp / "build", proc


def test_smoke_run_writes_figures_and_sane_metrics(smoke_run):
    out, build, _ = smoke_run
    m = json.loads((out / "metrics.json").read_text())
    required = {"model", "layer", "target", "images", "n_images", "k", "m", "seed", "smoke",
                "cluster_sizes", "ari_vs_reference", "facets", "timings"}
    assert required <= m.keys()
    assert m["model"] == "efficientnet_lite0" and m["layer"] == "pool"
    assert m["target"] == {"index": 945, "name": "bell pepper", "wnid": "n07720875"}
    assert m["n_images"] == 150 and m["smoke"] is True  # smoke never cuts the image set
    assert m["k"] == 10 and len(m["facets"]) == 10 and sum(m["cluster_sizes"]) == 150
    assert 0.0 < m["ari_vs_reference"] <= 1.0
    for f in m["facets"]:
        assert {"cluster", "size", "mean_image", "image", "init_activation", "final_activation",
                "final_prob", "final_rank"} <= f.keys()
        assert f["final_activation"] > f["init_activation"]
        assert 0 <= f["final_prob"] <= 1 and 0 <= f["final_rank"] < 1000
        assert Image.open(out / f["image"]).size == (269, 269)
        assert Image.open(out / f["mean_image"]).size == (227, 227)
    assert m["n_top1"] >= 5  # even 15 steps make most facets the network's top-1 answer
    assert {"load", "codes", "embed", "cluster", "optimize", "evaluate", "plots"} <= m["timings"].keys()
    for name in ("fig2_tsne_facets.png", "fig4_facets_vs_real.png", "mean_images.png"):
        w, h = Image.open(out / name).size
        assert w > 600 and h > 300


def test_executed_notebook_has_parameters_and_no_errors(smoke_run):
    _, build, _ = smoke_run
    nb = nbformat.read(build / "01_bell_pepper_tsne.executed.ipynb", as_version=4)
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    assert sum("parameters" in t for t in tags) == 1
    assert sum("injected-parameters" in t for t in tags) == 1
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("ARI vs the authors' clusters" in o.get("text", "") for o in outputs)


def test_fig2_has_the_embedding_and_k_facet_panels():
    """Fig. 2 from the plot function the notebook uses: the embedding plus one panel per facet."""
    import numpy as np
    import torch

    from mfv_utils import plots

    rng = np.random.default_rng(0)
    emb = rng.normal(size=(40, 2))
    labels = np.arange(40) % 7
    cents = np.stack([emb[labels == j].mean(0) for j in range(7)])
    fig = plots.fig2(emb, labels, cents, torch.rand(7, 3, 32, 32) * 255, torch.rand(40, 3, 16, 16) * 255)
    assert len(fig.axes) == 1 + 7
    titles = sorted(ax.get_title() for ax in fig.axes[1:])
    assert titles == [f"facet {j}" for j in range(7)]


def test_runner_reports_the_failing_cell(tmp_path):
    proc = run_cli("--smoke", "-p", "k", "500", "-p", "out_dir", str(tmp_path / "o"), build=tmp_path)
    assert proc.returncode == 1
    assert "failed in cell" in proc.stderr and "k=500 facets need at least 500 images" in proc.stderr


def test_runner_rejects_a_missing_notebook(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mfv_utils.run", str(tmp_path / "nope.py")],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 2 and "notebook not found" in proc.stderr
