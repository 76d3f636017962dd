"""The figures of hidden units' facets (notebook 02): Fig. 6, every layer's facets at their
receptive-field size, and the trends against depth (diversity, facet count, class entropy)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from mfv_utils.evaluation import plots

GAP, UNIT_GAP, LABEL_H, LEFT_W = 3, 24, 28, 150  # px of the Fig. 6 mosaic
MIN_ROW, MIN_UNIT = 36, 200  # a row under MIN_ROW px is also drawn magnified; a unit's block is at least MIN_UNIT wide


def fig6(rows: list[dict]) -> plt.Figure:
    """Fig. 6 as one pixel mosaic at true size: ``rows`` of ``{"label": text, "side": px,
    "units": [(caption, images (F, 3, side, side)), ...]}``, top to bottom. A row whose patches are
    smaller than MIN_ROW px is drawn twice: at true size, then magnified (nearest neighbour)."""
    laid = []
    for row in rows:
        side = row["side"]
        zoom = -(-MIN_ROW // side) if side < MIN_ROW else 1
        block = [max(len(images) * (side + GAP) + (3 * GAP + len(images) * (side * zoom + GAP) if zoom > 1 else 0),
                     MIN_UNIT) for _, images in row["units"]]
        laid.append((row, side, zoom, block))
    width = LEFT_W + max(sum(b + UNIT_GAP for b in block) for *_, block in laid)
    height = sum(side * zoom + LABEL_H for _, side, zoom, _ in laid) + 10
    mosaic = np.full((height, width, 3), 255, dtype=np.uint8)
    texts = []  # (x, y, text, vertical alignment)
    y = 5
    for row, side, zoom, block in laid:
        x = LEFT_W
        for (caption, images), b in zip(row["units"], block):
            x0 = x
            for img in images:  # true size
                mosaic[y:y + side, x:x + side] = plots.to_hwc(img)
                x += side + GAP
            if zoom > 1:  # then the same facets magnified
                x += 3 * GAP
                for img in images:
                    mosaic[y:y + side * zoom, x:x + side * zoom] = np.repeat(np.repeat(plots.to_hwc(img), zoom, axis=0),
                                                                             zoom, axis=1)
                    x += side * zoom + GAP
            texts.append((x0, y + side * zoom + 2, caption + (f" (then x{zoom})" if zoom > 1 else ""), "top"))
            x = x0 + b + UNIT_GAP
        texts.append((4, y + side * zoom / 2, row["label"], "center"))
        y += side * zoom + LABEL_H
    dpi = 100
    fig = plt.figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.imshow(mosaic, interpolation="nearest")
    ax.set_axis_off()
    for x_, y_, text, va in texts:
        ax.text(x_, y_, text, fontsize=8, va=va)
    return fig


def depth_trends(layers: list[str], diversity: dict[str, tuple[dict, str]], diversity_dots: list[tuple[str, float]],
                 k_by_layer: dict, k_dots: list[tuple[str, float]], entropy_by_layer: dict, spearman: dict,
                 title: str) -> plt.Figure:
    """Three panels against depth: facet diversity (``diversity``: label -> (layer -> value, line
    style), with one dot per unit), the facet count the silhouette picks (a dot per unit), and the
    class entropy of the units' top images; each titled with its Spearman rho."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    xs = np.arange(len(layers))
    for label, (values, style) in diversity.items():
        axes[0].plot(xs, [values[layer] for layer in layers], style, label=label)
    for layer, value in diversity_dots:
        axes[0].plot(layers.index(layer) + 0.08, value, ".", color="tab:blue", alpha=0.5)
    axes[0].set_ylabel("mean pairwise cosine distance (judge)")
    axes[0].set_title(f"facet diversity (Spearman rho {spearman['viz']})", fontsize=10)
    axes[0].legend(fontsize=8)
    axes[1].plot(xs, [k_by_layer[layer] for layer in layers], "o-")
    for layer, value in k_dots:
        axes[1].plot(layers.index(layer) + 0.08, value, ".", color="tab:blue", alpha=0.4)
    axes[1].set_ylabel("facets picked by silhouette")
    axes[1].set_title(f"how many facets (rho {spearman['k']})", fontsize=10)
    axes[2].plot(xs, [entropy_by_layer[layer] for layer in layers], "o-")
    axes[2].set_ylabel("class entropy of top images (bits)")
    axes[2].set_title(f"amalgam vs pure (rho {spearman['entropy']})", fontsize=10)
    for ax in axes:
        ax.set_xticks(xs, layers, rotation=30, fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def figS9(units: list[tuple[str, dict]], names, patches, classes: np.ndarray, class_names: dict,
          rng: np.random.Generator, real_shown: int = 4) -> plt.Figure | None:
    """Fig. S9: per facet of each ``(layer, unit)``, its visualization by each method in ``names``
    beside ``real_shown`` of its real patches (``patches(layer, indices)``, drawn by ``rng``), each
    row named by the facet's most common class. None when there is no unit."""
    cells, row_labels = [], []
    for layer, u in units:
        for j, idx in enumerate(u["members"]):
            pick = rng.choice(idx, size=min(real_shown, len(idx)), replace=False)
            cells.append([*(u["viz"][name][j] for name in names), *patches(layer, pick)])
            top_class = np.bincount(np.maximum(classes[idx], 0)).argmax()
            row_labels.append(f"{layer} {u['channel']}\nfacet {j}\n({class_names.get(int(top_class), '?')[:14]})")
    if not cells:
        return None
    fig = plots.image_table(cells, row_labels, [*names, *["real"] * real_shown], cell=1.3)
    fig.subplots_adjust(top=1 - 0.75 / fig.get_figheight())  # room for the title above the column titles
    fig.suptitle(f"Fig. S9: facets beside {real_shown} of their images", y=1 - 0.12 / fig.get_figheight(),
                 fontsize=10)
    return fig
