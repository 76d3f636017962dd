"""Snap or blend (notebook 03, Fig. S1): where a judge puts an image between two facets, and the
figure of every pair's start images and each method's results."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from mfv_utils.evaluation import plots

COL = {"A": "tab:blue", "B": "tab:orange", "blend": "0.6"}  # frame colours of the snap labels


def snap_position(f: np.ndarray, margin: float):
    """q of every row of judge features ``f`` (a series) between its first and last row,
    the end separation, and the snap labels at ``margin``."""
    left, right = f[0], f[-1]
    sep = max(1.0 - float(left @ right), 1e-6)
    q = (f @ left - f @ right) / sep
    return q, sep, ["A" if qi >= margin else "B" if qi <= -margin else "blend" for qi in q]


def figS1(s: dict, recipes, results: dict, start_rows: list[dict], pair_rows: list[dict],
          n_interpolants: int) -> plt.Figure:
    """Fig. S1 for one class ``s`` (its pairs and start series): per pair a row of start images,
    then a row per method, each image framed by its snap label and captioned with its q."""
    n_rows = len(s["pairs"]) * (1 + len(recipes))
    ncols = n_interpolants + 2
    fig, axes = plt.subplots(n_rows, ncols, figsize=(1.25 * ncols + 1.2, 1.3 * n_rows + 0.6), squeeze=False)
    row = 0
    for p, (a, b) in enumerate(s["pairs"]):
        for j in range(ncols):
            ax = axes[row, j]
            ax.imshow(plots.to_hwc(s["series"][p][j]))
            ax.set_xticks([])
            ax.set_yticks([])
            q0 = next(r for r in start_rows if r["images"] == s["spec"] and r["pair"] == p)["q"][j]
            ax.set_xlabel(f"q {q0:+.2f}", fontsize=7)
        axes[row, 0].set_ylabel(f"pair {p}: {a} -> {b}\nstart", fontsize=8)
        row += 1
        for name in recipes:
            r = next(x for x in pair_rows if x["images"] == s["spec"] and x["method"] == name and x["pair"] == p)
            for j in range(ncols):
                ax = axes[row, j]
                ax.imshow(plots.to_hwc(results[(s["spec"], name)][p][j]))
                ax.set_xticks([])
                ax.set_yticks([])
                for sp in ax.spines.values():
                    sp.set_edgecolor(COL[r["label"][j]])
                    sp.set_linewidth(3)
                ax.set_xlabel(f"q {r['q'][j]:+.2f}" + (" *" if r["neither"][j] else ""), fontsize=7)
            axes[row, 0].set_ylabel(name, fontsize=8)
            row += 1
    for j in range(ncols):
        axes[0, j].set_title(f"t = {j / (ncols - 1):.2f}", fontsize=8)
    fig.suptitle(f"Fig. S1, {s['set'].target.name}: start images and results (frame: blue = left "
                 f"cluster, orange = right, gray = blend; * = nearest a third cluster)", fontsize=10)
    fig.tight_layout()
    return fig
