"""The figures of notebook 05: Fig. S10 (a unit's facets, their images and each attribution map),
the region-perturbation curves, and the most relevant crop of each facet's images."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from mfv_utils.evaluation import plots

MAP_ROWS = (("lrp", "LRP"), ("deconv", "Deconv"), ("gradient", "gradient"))


def figS10(unit: dict, images: torch.Tensor, maps: dict[str, np.ndarray]) -> plt.Figure:
    """Fig. S10 for one unit: per facet its visualization then its real images (``images``: every
    facet's real images, then the visualizations), under each method's map (``maps``: name ->
    one map per image, in that order)."""
    n_real = sum(len(idx) for idx in unit["shown_images"])
    order, col_labels, start = [], [], 0
    for j, idx in enumerate(unit["shown_images"]):
        order += [n_real + j] + list(range(start, start + len(idx)))
        col_labels += [f"facet {j}: viz"] + [f"{unit['facet_classes'][j][:12]}"] * len(idx)
        start += len(idx)
    rows = [[images[i] for i in order]]
    rows += [[plots.heat_image(maps[name][i], signed=name == "lrp") for i in order] for name, _ in MAP_ROWS]
    fig = plots.image_table(rows, ["images", *(label for _, label in MAP_ROWS)], col_labels, cell=1.25)
    fig.subplots_adjust(top=1 - 0.75 / fig.get_figheight())
    fig.suptitle(f"Fig. S10: {unit['layer']} unit {unit['channel']} ({unit['n_classes']} classes in its top "
                 f"{len(unit['top'])} images)", y=1 - 0.1 / fig.get_figheight(), fontsize=10)
    return fig


def perturbation_curves(units: list[dict], curves: dict, aopc: dict, steps: int, patch: int) -> plt.Figure:
    """One panel per unit: its activation as regions are removed, most relevant first, per map
    (``curves[key][name]``: images x steps + 1), with each map's AOPC / f0 in the legend."""
    fig, axes = plt.subplots(1, len(units), figsize=(3.2 * len(units), 3), squeeze=False)
    for ax, u in zip(axes[0], units):
        key = (u["layer"], u["channel"])
        for name, c in curves[key].items():
            ax.plot(np.arange(steps + 1), c.mean(0), label=f"{name} ({aopc[key][name]:.2f})")
        ax.set_title(f"{u['layer']} {u['channel']}", fontsize=9)
        ax.set_xlabel(f"regions of {patch} px removed", fontsize=8)
        ax.legend(fontsize=7)
    axes[0, 0].set_ylabel("unit activation (mean over images)", fontsize=8)
    fig.suptitle("Region perturbation, most relevant first (AOPC / f0 in brackets: higher = the map finds the "
                 "evidence)", fontsize=9)
    fig.tight_layout()
    return fig


def relevant_crops(units: list[dict]) -> plt.Figure:
    """Each unit's row of the most relevant crop (LRP) of each facet's images (``unit["crops"]``)."""
    fig = plots.image_table([list(u["crops"]) for u in units], [f"{u['layer']} {u['channel']}" for u in units],
                            [f"facet {j}" for j, idx in enumerate(units[0]["shown_images"]) for _ in idx], cell=1.0)
    fig.subplots_adjust(top=1 - 0.7 / fig.get_figheight())
    fig.suptitle("The most relevant crop (LRP) of each facet's images", y=1 - 0.1 / fig.get_figheight(), fontsize=9)
    return fig
