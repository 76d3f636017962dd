"""Numbers behind the figures: how strongly images drive a class, and how facets compare."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import adjusted_rand_score

from mfv_utils.networks.models import Model, channels_per_image, pick_channel


def class_scores(model: Model, images: torch.Tensor, target, batch_size: int = 50) -> dict:
    """For 0..255 images (any size; the model resizes): the target's logit, its softmax
    probability, its rank among all classes (0 = top-1) and the top-1 class, per image.
    ``target``: one class for all images, or a sequence with one class per image."""
    with torch.no_grad():  # on the model's device; the scores come back to the CPU
        logits = torch.cat([model(images[i:i + batch_size]) for i in range(0, len(images), batch_size)]).cpu()
    probs = logits.softmax(1)
    target_logit = pick_channel(logits, target)
    rank = (logits > target_logit[:, None]).sum(1)
    return {"logit": target_logit.numpy(), "prob": pick_channel(probs, target).numpy(),
            "rank": rank.numpy(), "top1": logits.argmax(1).numpy()}


def adjusted_rand(labels: np.ndarray, reference: np.ndarray | None) -> float | None:
    """Adjusted Rand index of our clusters against reference labels (None without them)."""
    return None if reference is None else float(adjusted_rand_score(reference, labels))


def mean_abs_error(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """Per-image mean absolute pixel difference on the 0..255 scale."""
    return (a.float().cpu() - b.float().cpu()).abs().flatten(1).mean(1).numpy()


def nearest(query: np.ndarray, candidates: np.ndarray) -> int:
    """Index of the candidate code vector closest (Euclidean) to the query code vector."""
    return int(np.linalg.norm(candidates - query[None], axis=1).argmin())


# ----------------------------------------------------------------------------- facet fidelity
# Each measure compares k facet visualizations with the real images of their k clusters, in
# the feature space of a *held-out* judge network (one the optimization never saw): its
# L2-normalized pooled features. Feature arrays are (N, D) numpy, labels (N,) ints 0..k-1.
def unit_rows(features: np.ndarray) -> np.ndarray:
    f = np.asarray(features, dtype=np.float64)
    return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)


def cluster_centroids(features: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """(k, D) unit-length mean feature of each cluster's real images."""
    f = unit_rows(features)
    return unit_rows(np.stack([f[labels == j].mean(0) for j in range(k)]))


def facet_identity(facets: np.ndarray, real: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per facet j: is its feature nearest (cosine) to the centroid of cluster j's real images,
    among the k cluster centroids? (bool array; its mean is the summary)"""
    sims = unit_rows(facets) @ cluster_centroids(real, labels, len(facets)).T
    return sims.argmax(1) == np.arange(len(facets))


def facet_identity_strict(facets: np.ndarray, real: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per facet j: is its feature nearest (cosine) to the representative real image of cluster j
    (the one nearest that cluster's centroid), among the k clusters' representatives? (bool array)"""
    reps = unit_rows(real)[representatives(real, labels, len(facets))]
    return (unit_rows(facets) @ reps.T).argmax(1) == np.arange(len(facets))


def seed_identity(facets: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Per facet j: is its feature nearest (cosine) to its own seed (mean image j)?"""
    sims = unit_rows(facets) @ unit_rows(seeds).T
    return sims.argmax(1) == np.arange(len(facets))


def mean_pairwise_distance(features: np.ndarray) -> float:
    """Mean cosine distance over all pairs of rows."""
    f = unit_rows(features)
    d = 1 - f @ f.T
    n = len(f)
    return float(d[np.triu_indices(n, 1)].mean()) if n > 1 else 0.0


def representatives(real: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Index of the real image nearest (cosine) each cluster's centroid: one per cluster."""
    f, cents = unit_rows(real), cluster_centroids(real, labels, k)
    return np.array([np.flatnonzero(labels == j)[(f[labels == j] @ cents[j]).argmax()] for j in range(k)])


def diversity_ratio(facets: np.ndarray, real: np.ndarray, labels: np.ndarray) -> float:
    """Mean pairwise distance among the k facets / among the k clusters' representative real
    images (1 = as diverse as the class's facets really are; near 0 = all the same image)."""
    reps = real[representatives(real, labels, len(facets))]
    return mean_pairwise_distance(facets) / max(mean_pairwise_distance(reps), 1e-12)


def hf_share(images: torch.Tensor, cutoff: float = 0.25, size: int = 224) -> np.ndarray:
    """Per image: the share of (Hann-windowed, mean-removed, grayscale) spectral power above
    ``cutoff`` cycles/pixel, after resizing to ``size`` so different canvases compare."""
    x = images.float()
    if x.shape[-2:] != (size, size):
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True,
                                            align_corners=False)
    g = x.mean(1)
    g = g - g.mean(dim=(1, 2), keepdim=True)
    win = torch.hann_window(size, periodic=False, device=x.device)
    power = torch.fft.rfft2(g * (win[:, None] * win[None, :])).abs() ** 2
    f = torch.sqrt(torch.fft.fftfreq(size, device=x.device)[:, None] ** 2
                   + torch.fft.rfftfreq(size, device=x.device)[None, :] ** 2)
    high = power[:, f > cutoff].sum(1)
    return (high / power.flatten(1).sum(1).clamp_min(1e-12)).cpu().numpy()


def hf_ratio(facets: torch.Tensor, real: torch.Tensor) -> float:
    """Mean high-frequency share of the facets / of real images of the class (1 = as natural)."""
    return float(hf_share(facets).mean() / max(hf_share(real).mean(), 1e-12))


def color_histogram(images: torch.Tensor, bins: int = 8) -> np.ndarray:
    """Joint RGB histogram (bins^3) of all pixels of the given 0..255 images, summing to 1."""
    q = (images.float().clamp(0, 255) * bins / 256).long().clamp_(0, bins - 1)
    idx = (q[:, 0] * bins + q[:, 1]) * bins + q[:, 2]
    h = torch.bincount(idx.flatten(), minlength=bins**3).double().cpu().numpy()
    return h / h.sum()


def color_distance(image: torch.Tensor, real: torch.Tensor, bins: int = 8) -> float:
    """Hellinger distance (0 = same colours, 1 = disjoint) between the joint RGB histogram of
    one image (3, H, W) and that of a set of real images (N, 3, H, W)."""
    p, q = color_histogram(image[None], bins), color_histogram(real, bins)
    return float(np.sqrt(max(0.0, 1 - np.sqrt(p * q).sum())))


def border_band(height: int, width: int, depth: int) -> torch.Tensor:
    """(height, width) bool: the pixels within ``depth`` (>= 1) of the image's border."""
    if depth < 1:
        raise ValueError(f"a border band is at least 1 px deep, not {depth}")
    band = torch.zeros(height, width, dtype=torch.bool)
    band[:depth], band[-depth:], band[:, :depth], band[:, -depth:] = True, True, True, True
    return band


def foreign_colours(image: torch.Tensor, real: torch.Tensor, width: int = 16, bins: int = 16,
                    floor: float = 1e-4) -> float:
    """The share of the pixels of one 0..255 image (3, H, W) within ``width`` px of its border
    (at 224 px; scaled with the image) whose colour no real image of its facet has: its cell of the
    joint RGB histogram (``bins``^3 cells) holds under ``floor`` of the real images' pixels.
    A facet's violet halo on a white background scores high; a real image scores about 0."""
    h, w = image.shape[-2:]
    band = border_band(h, w, max(1, round(width * min(h, w) / 224)))
    q = (image.float().round().clamp(0, 255) * bins / 256).long().clamp_(0, bins - 1)
    cells = ((q[0] * bins + q[1]) * bins + q[2])[band]
    density = torch.as_tensor(color_histogram(real, bins), dtype=torch.float64)
    return float((density[cells.cpu()] < floor).double().mean())


def class_entropy(classes: np.ndarray) -> float:
    """Entropy in bits of the distribution of ImageNet classes among images (unknown, -1,
    left out): 0 when all share one class (a pure unit), log2(n) when all differ (an amalgam)."""
    c = np.asarray(classes)
    c = c[c >= 0]
    if len(c) == 0:
        return float("nan")
    p = np.unique(c, return_counts=True)[1] / len(c)
    return max(0.0, float(-(p * np.log2(p)).sum()))  # never -0.0


def topk_hits(ranks: np.ndarray, k: int) -> int:
    """How many images have the target class among the network's top k (rank < k)."""
    return int((np.asarray(ranks) < k).sum())


def judge_features(judge: Model, images: torch.Tensor, cache_dir=None) -> np.ndarray:
    """The judge's unit-length code-layer features of 0..255 images (cached like any codes)."""
    from mfv_utils.facets import layer_codes

    return unit_rows(layer_codes(judge, images, judge.code_layer, cache_dir=cache_dir))


def fidelity(facet_images: torch.Tensor, seeds: torch.Tensor, real: torch.Tensor, labels: np.ndarray,
             target: int, model: Model, judge: Model, real_judged: np.ndarray | None = None) -> dict:
    """Every facet-fidelity measure of k visualizations (facet j seeded by ``seeds[j]``, the
    mean image of cluster j of the ``real`` images). Returns ``{"summary": {...}, "facets":
    [per-facet dicts]}``; ``real_judged`` may pass precomputed judge features of ``real``."""
    k = len(facet_images)
    fj = judge_features(judge, facet_images)
    rj = unit_rows(real_judged) if real_judged is not None else judge_features(judge, real)
    sj = judge_features(judge, seeds)
    ident, sident = facet_identity(fj, rj, labels), seed_identity(fj, sj)
    strict = facet_identity_strict(fj, rj, labels)
    own = class_scores(model, facet_images, target)
    held = class_scores(judge, facet_images, target)
    colors = [color_distance(facet_images[j], real[labels == j]) for j in range(k)]
    per = [{"facet_identity": bool(ident[j]), "facet_identity_strict": bool(strict[j]),
            "seed_identity": bool(sident[j]),
            "color_distance": round(colors[j], 4),
            "rank": int(own["rank"][j]), "prob": float(own["prob"][j]),
            "judge_rank": int(held["rank"][j]), "judge_prob": float(held["prob"][j])} for j in range(k)]
    summary = {
        "facet_identity": float(ident.mean()), "facet_identity_strict": float(strict.mean()),
        "seed_identity": float(sident.mean()),
        "diversity_ratio": round(diversity_ratio(fj, rj, labels), 4),
        "hf_ratio": round(hf_ratio(facet_images, real), 4),
        "color_distance": round(float(np.mean(colors)), 4),
        "top1": topk_hits(own["rank"], 1), "top5": topk_hits(own["rank"], 5),
        "judge_top1": topk_hits(held["rank"], 1), "judge_top5": topk_hits(held["rank"], 5),
        "judge": judge.name, "k": k,
    }
    return {"summary": summary, "facets": per}


# The fidelity issue's goals for the facets of a class unit, as data: measure -> (low, high)
# bounds (None: open); counts (top1, judge_top5) are shares of k.
CLASS_GOALS = {"facet_identity": (0.8, None), "facet_identity_strict": (0.7, None),
               "diversity_ratio": (0.7, None), "hf_ratio": (0.5, 2.0), "color_distance": (None, 0.55),
               "judge_top5": (0.9, None), "top1": (0.9, None)}
COUNTS = ("top1", "top5", "judge_top1", "judge_top5")


def goals(summary: dict, bounds: dict = CLASS_GOALS) -> dict[str, bool]:
    """Which goal each measure of a :func:`fidelity` summary meets (counts as shares of k)."""
    out = {}
    for key, (low, high) in bounds.items():
        v = summary[key] / summary["k"] if key in COUNTS else summary[key]
        out[key] = bool((low is None or v >= low) and (high is None or v <= high))
    return out


# ----------------------------------------------------------------------------- where the evidence is
# The class evidence map of an image is its class activation map (Zhou et al. 2016) at the
# network's last spatial layer: for a network that average-pools that layer into a linear
# classifier, the target logit is exactly the mean over positions of
# ``w_target . features(y, x)`` (plus the bias), so that map says where the logit comes from.
def class_evidence(model: Model, images: torch.Tensor, target, batch_size: int = 25,
                   positive: bool = True) -> np.ndarray:
    """(B, h, w) class activation maps of the target class(es) at ``model``'s "head" layer,
    by default their positive part only (the evidence *for* the class; with ``positive=False``
    the map's mean plus the classifier's bias is the logit). Needs a head -> average pool ->
    linear classifier network (the EfficientNet-Lite family)."""
    classifier = model.stages[model.logits_layer]
    if "head" not in model.layers or not isinstance(classifier, torch.nn.Linear):
        raise ValueError(f"class_evidence needs a 'head' layer pooled into a linear classifier; "
                         f"{model.name} has {', '.join(model.layers)}")
    targets = channels_per_image(target, len(images), model.device)
    maps = []
    with torch.no_grad():
        for i in range(0, len(images), batch_size):
            head = model(images[i:i + batch_size], "head")  # (b, C, h, w)
            w = classifier.weight[targets[i:i + batch_size]]  # (b, C)
            cam = torch.einsum("bchw,bc->bhw", head, w)
            maps.append(cam.clamp_min(0) if positive else cam)
    return torch.cat(maps).cpu().numpy()


def center_share(maps: np.ndarray, fraction: float = 0.5) -> np.ndarray:
    """Per map: the share of its total (non-negative) evidence inside the central square whose
    side is ``fraction`` of the map's (0.5: the middle quarter of the area; a map spread evenly
    scores about 0.25, one concentrated in the middle 1)."""
    m = np.asarray(maps, dtype=np.float64)
    h, w = m.shape[-2:]
    ch, cw = h * fraction, w * fraction
    ys = (np.arange(h) + 0.5 >= (h - ch) / 2) & (np.arange(h) + 0.5 <= (h + ch) / 2)
    xs = (np.arange(w) + 0.5 >= (w - cw) / 2) & (np.arange(w) + 0.5 <= (w + cw) / 2)
    inside = m[..., ys, :][..., :, xs].sum((-2, -1))
    return inside / np.maximum(m.sum((-2, -1)), 1e-12)


def count_peaks(maps: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Per map: the number of separate regions (8-connected) where the evidence reaches
    ``threshold`` x its maximum: 1 for one object, more for repeated fragments."""
    from scipy import ndimage

    m = np.asarray(maps, dtype=np.float64)
    out = []
    for a in m.reshape(-1, *m.shape[-2:]):
        if a.max() <= 0:
            out.append(0)
            continue
        out.append(int(ndimage.label(a >= threshold * a.max(), structure=np.ones((3, 3)))[1]))
    return np.array(out).reshape(m.shape[:-2])
