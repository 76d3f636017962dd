"""The facets of one unit from a pool of images (Algorithm 1 on the unit's top images), and their
visualizations: the per-unit work of notebooks 02 and 05 (and of an atlas), in one place.

- :func:`strongest` ranks a layer's channels by the mean activation of their top-n pool images
  (the stated rule that picks units, never a hand pick);
- :func:`find` runs Algorithm 1 on a unit's top-n images, coded by the column of the unit's layer
  at its position (codes L2-normalized, PCA to 50-D, t-SNE, k-means), keeps the ``shown`` largest
  clusters, and returns what the figures and the methods need (mean patches, centroids, the real
  patches of each cluster) plus the unit's measures;
- :func:`visualize` runs a method on the shown facets of several units of one layer, as one batch.
"""
from __future__ import annotations

import numpy as np
import torch

from mfv_utils import facets
from mfv_utils.evaluation import metrics
from mfv_utils.networks import models, receptive
from mfv_utils.optimization import methods as mfv_methods


def strongest(column: np.ndarray, n_top: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(the ``count`` channels whose top-``n_top`` images activate them most, every channel's
    strength: the mean activation of its top-``n_top`` images); ties by the lower channel."""
    strength = np.array([np.sort(column[:, c])[-n_top:].mean() for c in range(column.shape[1])])
    return np.argsort(-strength, kind="stable")[:count], strength


def find(column: np.ndarray, channel: int, images: torch.Tensor, classes: np.ndarray, box, fill: torch.Tensor,
         n_top: int, k: int | str, m: int, shown: int, seed: int = 0, perplexity: float = 30.0,
         candidates: np.ndarray | None = None) -> dict:
    """Algorithm 1 for ``channel`` of a layer whose pool codes are ``column`` (N, C): its top
    ``n_top`` images, k facets of ``m`` members each (``k="auto"``: the k in 2..10 with the best
    silhouette), the ``shown`` largest (ties: lower index).
    ``box`` is the unit's visible field in the images (``receptive.visible_box``), ``fill`` the
    pixel value outside the image. ``candidates``: the pool indices the top images are taken from
    (default: all; a class unit's own images for the Fig. S4 rule). Returns a dict of arrays and
    tensors (see the keys); ``top`` and ``members`` index the whole pool."""
    if candidates is None:
        top = facets.top_indices(column[:, channel], n_top)
    else:
        candidates = np.asarray(candidates)
        top = candidates[facets.top_indices(column[candidates, channel], n_top)]
    codes = column[top]
    _, found, k_data, silhouettes = facets.cluster(codes, k, m, seed, perplexity)
    sizes = np.bincount(found.labels, minlength=found.k)
    largest = sorted(range(found.k), key=lambda j: (-sizes[j], j))[:shown]
    members = [top[found.members[j]] for j in largest]
    means = torch.stack([receptive.crop_patches(images[idx], box, fill).mean(0) for idx in members])
    # what the anchors and the colour / spectrum pieces pull towards: each facet's centroid in the
    # codes that clustered it (columns at this layer), and its cluster's real patches
    centroids = metrics.cluster_centroids(metrics.unit_rows(codes), found.labels, found.k)[largest]
    cluster_patches = [receptive.crop_patches(images[top[found.labels == j]], box, fill).round().to(torch.uint8)
                       for j in largest]
    labelled = classes[top][classes[top] >= 0]
    return {
        "channel": int(channel), "top": top, "labels": found.labels, "largest": largest, "members": members,
        "mean_patches": means, "k_data": k_data, "silhouettes": silhouettes,
        "centroids": torch.tensor(centroids, dtype=torch.float32), "cluster_patches": cluster_patches,
        "class_entropy": metrics.class_entropy(classes[top]), "n_classes": int(len(set(labelled))),
        "top_act_max": float(column[top[0], channel]),
        # what a visualization should out-fire: the unit's strongest real image in the whole pool
        # (the top image's unless ``candidates`` narrowed where the top images come from)
        "strongest": float(column[:, channel].max()),
    }


def as_found(fs) -> dict:
    """What :func:`visualize` needs of an :class:`mfv_utils.api.FacetSet`, for its shown facets."""
    order = fs.order
    return {"channel": int(fs.unit.channel), "largest": order, "mean_patches": fs.mean_images[order],
            "centroids": fs.code_centroids[order], "cluster_patches": [fs.real(j) for j in order],
            "strongest": fs.strongest_real}


def visualize(recipe, net: models.Model, layer: str, field, at: tuple[int, int], shown: list[dict],
              seed: int = 0, progress: bool = False) -> dict:
    """Run ``recipe`` on the shown facets of the units ``shown`` (dicts of :func:`find`) of ``layer``,
    as one batch on a canvas of the field's size placed at the unit's field (``receptive.Placed``).
    Returns ``images`` (cut to the field's side), ``act_start`` and ``act_end`` (per image), and
    ``by_unit``: the same three for each unit of ``shown`` (its facets' slice of the batch)."""
    box = field.visible_box(*at)
    placed = receptive.Placed(net, box)
    starts = torch.cat([u["mean_patches"] for u in shown])
    channels = tuple(u["channel"] for u in shown for _ in range(len(u["largest"])))
    unit = models.Unit(layer, channels) if field.is_global else models.Unit(layer, channels, *at)
    centroids = torch.cat([u["centroids"] for u in shown])
    real = [patches for u in shown for patches in u["cluster_patches"]]
    # the activation each image should out-fire: its unit's strongest real image (patch)
    targets = [u["strongest"] for u in shown for _ in range(len(u["largest"]))]
    side = box[2]
    with torch.no_grad():
        act_start = models.unit_activation(placed(starts, layer), placed.unit(unit)).cpu().numpy()
    result = mfv_methods.run(recipe, placed, unit, starts, seed=seed, centroids=centroids, real=real,
                             code_layer=layer, progress=progress, targets=targets)
    canvas = result.images
    off = (canvas.shape[-1] - side) // 2
    images = canvas[..., off:off + side, off:off + side].clamp(0, 255)
    with torch.no_grad():
        act_end = models.unit_activation(placed(images, layer), placed.unit(unit)).cpu().numpy()
    ends = np.cumsum([len(u["largest"]) for u in shown])
    by_unit = [{"images": images[a:b], "act_start": act_start[a:b], "act_end": act_end[a:b]}
               for a, b in zip([0, *ends[:-1]], ends)]
    return {"images": images, "act_start": act_start, "act_end": act_end, "by_unit": by_unit}
