"""Figures in the paper's layouts. Each function returns a matplotlib Figure; callers save it."""
from __future__ import annotations

import io

import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.offsetbox import AnnotationBbox, OffsetImage


def to_hwc(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) 0..255 tensor -> (H, W, 3) uint8 array for imshow / saving."""
    return image.detach().cpu().float().round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()


def cluster_colors(k: int) -> np.ndarray:
    cmap = plt.get_cmap("tab10" if k <= 10 else "tab20")
    return np.array([cmap(i % cmap.N) for i in range(k)])


def _framed(ax, image: torch.Tensor, color, width: float) -> None:
    """Show an image without ticks, framed in its cluster's color."""
    ax.imshow(to_hwc(image))
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_edgecolor(color)
        spine.set_linewidth(width)


def _ring_cells(n: int) -> list[tuple[int, int]]:
    """Cells of the outer ring of an n x n grid, clockwise from the top-left corner."""
    top = [(0, c) for c in range(n)]
    right = [(r, n - 1) for r in range(1, n)]
    bottom = [(n - 1, c) for c in range(n - 2, -1, -1)]
    left = [(r, 0) for r in range(n - 2, 0, -1)]
    return top + right + bottom + left


def _place_by_angle(centroids: np.ndarray, cells: list[tuple[int, int]], n: int) -> list[tuple[int, int]]:
    """Give each facet the free ring cell whose direction from the grid center best matches
    the direction of its cluster from the embedding center, so facets sit beside clusters."""
    c0 = centroids.mean(0)
    ang = np.arctan2(-(centroids[:, 1] - c0[1]), centroids[:, 0] - c0[0])  # y up in the plot
    mid = (n - 1) / 2
    cell_ang = np.array([np.arctan2(r - mid, c - mid) for r, c in cells])
    free = list(range(len(cells)))
    out = [None] * len(centroids)
    for j in np.argsort(ang):
        diff = np.abs(np.angle(np.exp(1j * (cell_ang[free] - ang[j]))))
        out[j] = cells[free.pop(int(np.argmin(diff)))]
    return out


def facet_scatter(ax, embedding: np.ndarray, labels: np.ndarray, centroids: np.ndarray,
                  thumbnails: torch.Tensor | None = None, thumb_px: int = 22) -> None:
    """The 2-D embedding: points colored by cluster, cluster numbers at the centroids, and
    (when given and legible, i.e. at most 400 images) small thumbnails at the points."""
    colors = cluster_colors(len(centroids))
    ax.scatter(embedding[:, 0], embedding[:, 1], c=colors[labels], s=14, zorder=2)
    if thumbnails is not None and len(thumbnails) <= 400:
        small = torch.nn.functional.interpolate(thumbnails.float(), size=(thumb_px, thumb_px),
                                                mode="bilinear", antialias=True)
        for (x, y), im, lab in zip(embedding, small, labels):
            box = AnnotationBbox(OffsetImage(to_hwc(im), zoom=1.0), (x, y), frameon=True, pad=0.05,
                                 bboxprops={"edgecolor": colors[lab], "linewidth": 1.2})
            ax.add_artist(box)
    for j, (x, y) in enumerate(centroids):
        ax.text(x, y, str(j), fontsize=14, weight="bold", ha="center", va="center", zorder=5,
                color="white", bbox={"boxstyle": "circle", "fc": colors[j], "ec": "black"})
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("t-SNE of the class's images (colored by k-means cluster)")


def fig2(embedding, labels, centroids, facet_images: torch.Tensor, thumbnails=None,
         captions: list[str] | None = None, title: str = "") -> plt.Figure:
    """Fig. 2 of the paper: the embedding in the center, the k facet visualizations around it,
    each numbered (and framed) like its cluster."""
    k = len(facet_images)
    n = 3
    while 4 * (n - 1) < k:
        n += 1
    fig = plt.figure(figsize=(3 * n, 3 * n))
    gs = fig.add_gridspec(n, n, wspace=0.08, hspace=0.3)
    center = fig.add_subplot(gs[1:n - 1, 1:n - 1])
    facet_scatter(center, embedding, labels, centroids, thumbnails)
    colors = cluster_colors(k)
    for j, (r, c) in enumerate(_place_by_angle(centroids, _ring_cells(n), n)):
        ax = fig.add_subplot(gs[r, c])
        _framed(ax, facet_images[j], colors[j], 4)
        ax.set_title(f"facet {j}" + (f"\n{captions[j]}" if captions else ""), fontsize=10,
                     color=colors[j], weight="bold")
    if title:
        fig.suptitle(title, fontsize=16)
    return fig


def image_pairs(top: torch.Tensor, bottom: torch.Tensor, top_label: str, bottom_label: str,
                captions: list[str] | None = None, title: str = "") -> plt.Figure:
    """Fig. 4 style: for each facet a real image (top row) above its visualization (bottom)."""
    k = len(top)
    fig, axes = plt.subplots(2, k, figsize=(2.0 * k, 4.6), squeeze=False)
    colors = cluster_colors(k)
    for j in range(k):
        for row, img in ((0, top[j]), (1, bottom[j])):
            _framed(axes[row, j], img, colors[j], 3)
        axes[0, j].set_title(f"facet {j}", color=colors[j], weight="bold")
        if captions:
            axes[1, j].set_xlabel(captions[j], fontsize=8)
    axes[0, 0].set_ylabel(top_label)
    axes[1, 0].set_ylabel(bottom_label)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def image_grid(images: torch.Tensor, captions: list[str] | None = None, ncols: int = 5,
               title: str = "") -> plt.Figure:
    """A plain grid of images (e.g. the k mean images that seed the optimization)."""
    n = len(images)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.2 * ncols, 2.4 * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < n:
            ax.imshow(to_hwc(images[i]))
            if captions:
                ax.set_title(captions[i], fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def image_rows(rows: dict[str, torch.Tensor], title: str = "") -> plt.Figure:
    """One labelled row of images per entry (e.g. one row per method, one column per facet)."""
    names = list(rows)
    ncols = max(len(v) for v in rows.values())
    fig, axes = plt.subplots(len(names), ncols, figsize=(1.9 * ncols, 2.0 * len(names)), squeeze=False)
    for i, name in enumerate(names):
        for j in range(ncols):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(rows[name]):
                ax.imshow(to_hwc(rows[name][j]))
            else:
                ax.set_axis_off()
        axes[i, 0].set_ylabel(name, fontsize=9)
    for j in range(ncols):
        axes[0, j].set_title(f"facet {j}", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def image_table(cells: list[list[torch.Tensor]], row_labels: list[str], col_labels: list[str],
                title: str = "", cell: float = 1.6, captions: list[list[str]] | None = None) -> plt.Figure:
    """A grid of images ``cells[row][col]`` (each (3, H, W), any size: shown at one cell size)
    with a label per row (left) and per column (top), e.g. classes x methods (Fig. S3), and
    optionally a caption under every cell."""
    nrows, ncols = len(cells), max(len(r) for r in cells)
    fig, axes = plt.subplots(nrows, ncols, figsize=(cell * ncols, cell * nrows + 0.6), squeeze=False)
    for i, row in enumerate(cells):
        for j in range(ncols):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(row) and row[j] is not None:
                ax.imshow(to_hwc(row[j]))
                if captions:
                    ax.set_xlabel(captions[i][j], fontsize=8)
            else:
                ax.set_axis_off()
        axes[i, 0].set_ylabel(row_labels[i], fontsize=8)
    for j, label in enumerate(col_labels[:ncols]):
        axes[0, j].set_title(label, fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def score_table(values: np.ndarray, row_labels: list[str], col_labels: list[str], better: list[str],
                title: str = "") -> plt.Figure:
    """A table of numbers (rows x columns) drawn as a heatmap coloured by rank within each
    column: green = best, red = worst, where ``better[j]`` says what best is for column j:
    "high", "low" or "one" (closest to 1 on a log scale)."""
    from scipy.stats import rankdata

    v = np.asarray(values, dtype=float)
    score = np.zeros_like(v)
    for j, rule in enumerate(better):
        col = v[:, j]
        key = {"high": -col, "low": col, "one": np.abs(np.log(np.maximum(col, 1e-12)))}[rule]
        score[:, j] = (rankdata(key) - 1) / max(len(col) - 1, 1)  # ties share one colour
    fig, ax = plt.subplots(figsize=(1.25 * len(col_labels) + 2.5, 0.38 * len(row_labels) + 1.4))
    ax.imshow(score, cmap="RdYlGn_r", vmin=0, vmax=1, aspect="auto")
    for i in range(v.shape[0]):
        for j in range(v.shape[1]):
            ax.text(j, i, f"{v[i, j]:.3g}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(col_labels)), col_labels, fontsize=8, rotation=20, ha="right")
    ax.set_yticks(range(len(row_labels)), row_labels, fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def out_firing(names: list[str], strongest: list[float], starts: list, ends: list, title: str,
               ylabel: str = "class logit") -> plt.Figure:
    """Does each facet out-fire the unit's real images? Per unit (a column named by ``names``): each
    drawn facet's activation from its mean image (``starts``, grey) to its visualization (``ends``:
    green where above the unit's ``strongest`` real image, the black bar; red where not)."""
    fig, ax = plt.subplots(figsize=(11, 3.6))
    for i, (top, a, b) in enumerate(zip(strongest, starts, ends)):
        a, b = np.atleast_1d(a), np.atleast_1d(b)
        ax.plot([i - 0.35, i + 0.35], [top] * 2, color="black", lw=2)
        ax.scatter([i] * len(a), a, color="0.6", s=14)
        ax.scatter([i] * len(b), b, c=np.where(b > top, "tab:green", "tab:red"), s=18)
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def publish(fig: plt.Figure, path, inline_width: int = 1000, **savefig) -> None:
    """Save ``fig`` to ``path`` (``savefig``'s options), close it, and show the saved PNG in the
    notebook: the figure a reader sees in the executed notebook is the committed file, scaled
    down to at most ``inline_width`` px wide (so an executed notebook stays a few MB; the full
    file is beside it)."""
    fig.savefig(path, **savefig)
    plt.close(fig)
    try:
        from IPython import get_ipython
        from IPython.display import Image, display
    except ImportError:
        return
    if get_ipython() is None:
        return
    from PIL import Image as PILImage

    with PILImage.open(path) as im:
        if im.width <= inline_width:
            display(Image(filename=str(path)))
            return
        small = im.convert("RGB").resize((inline_width, round(im.height * inline_width / im.width)),
                                         PILImage.LANCZOS)
    buf = io.BytesIO()
    small.save(buf, format="PNG", optimize=True)
    display(Image(data=buf.getvalue(), format="png"))


def contact_sheet(rows: list[list[torch.Tensor]], cell: int = 96, gap: int = 2):
    """One PIL image of a grid: each row a list of (3, H, W) 0..255 images, each drawn at
    ``cell`` x ``cell`` px (bilinear), white between. Small files for the explorers."""
    from PIL import Image

    ncols = max(len(r) for r in rows)
    sheet = Image.new("RGB", (ncols * (cell + gap) - gap, len(rows) * (cell + gap) - gap), "white")
    for i, row in enumerate(rows):
        for j, image in enumerate(row):
            tile = Image.fromarray(to_hwc(image)).resize((cell, cell), Image.BILINEAR)
            sheet.paste(tile, (j * (cell + gap), i * (cell + gap)))
    return sheet


def heat_image(heat: np.ndarray, signed: bool, percentile: float = 99.5) -> torch.Tensor:
    """(3, H, W) 0..255 picture of one heat map, scaled by its own ``percentile`` of |heat|:
    ``signed`` (relevance) blue (against) - white - red (for); else black - yellow (magnitude)."""
    scale = max(float(np.percentile(np.abs(heat), percentile)), 1e-12)
    if signed:
        rgba = plt.get_cmap("bwr")(np.clip(heat / scale, -1, 1) * 0.5 + 0.5)
    else:
        rgba = plt.get_cmap("inferno")(np.clip(np.abs(heat) / scale, 0, 1))
    return torch.from_numpy(rgba[..., :3] * 255).permute(2, 0, 1).float()
