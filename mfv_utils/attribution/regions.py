"""Regions of an image ranked by a heat map: the region-perturbation test of an attribution
(Samek et al. 2017, "Evaluating the visualization of what a deep neural network has learned"),
and the most relevant crop of an image.

The perturbation test: cut the image into ``patch`` x ``patch`` regions, rank them by the heat
summed inside (most relevant first, MoRF), replace them one after another by uniform noise, and
track the unit's activation. A map that points at the evidence makes the activation fall fast:
the area over the perturbation curve, AOPC = mean over k = 0..L of (f(x_0) - f(x_k)), is large.
The noise of every region is drawn once per image from the seed, so every ranking (LRP, Deconv,
gradient, random) removes the same pixels' content and replaces it by the same noise: only the
order differs.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from mfv_utils.evaluation import metrics
from mfv_utils.networks.models import Model, Unit, unit_activation


def region_sums(heat: np.ndarray, patch: int) -> np.ndarray:
    """(B, R) heat summed in each ``patch`` x ``patch`` region (row-major; edges cropped)."""
    b, h, w = heat.shape
    g = heat[:, : h // patch * patch, : w // patch * patch].reshape(b, h // patch, patch, w // patch, patch)
    return g.sum((2, 4)).reshape(b, -1)


def most_relevant_first(heat: np.ndarray, patch: int) -> np.ndarray:
    """(B, R) region indices, the largest summed heat first (ties: the lower index)."""
    return np.argsort(-region_sums(heat, patch), axis=1, kind="stable")


def random_order(n: int, regions: int, seed: int = 0) -> np.ndarray:
    """(n, regions) a seeded random order of the regions of each image (the baseline)."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(regions) for _ in range(n)])


FILLS = ("noise", "blur", "mean")


def fill_images(images: torch.Tensor, fill: str, seed: int = 0) -> torch.Tensor:
    """What a removed region is replaced by: ``"noise"`` uniform in 0..255 (Samek et al.; drawn
    from ``seed``), ``"blur"`` the image blurred (Gaussian, sigma = 1/16 of its side: the content's
    colours without its detail), ``"mean"`` the image's mean colour."""
    if fill == "noise":
        return torch.rand(images.shape, generator=torch.Generator().manual_seed(seed)) * 255
    if fill == "blur":
        from torchvision.transforms.functional import gaussian_blur

        sigma = images.shape[-1] / 16
        return gaussian_blur(images, kernel_size=2 * int(3 * sigma) + 1, sigma=sigma)
    if fill == "mean":
        return images.mean((2, 3), keepdim=True).expand_as(images).clone()
    raise ValueError(f"unknown fill {fill!r}; known: {', '.join(FILLS)}")


@torch.no_grad()
def perturbation_curve(model: Model, images: torch.Tensor, unit: Unit, order: np.ndarray, patch: int,
                       steps: int, seed: int = 0, fill: str = "noise") -> np.ndarray:
    """(B, steps + 1) activation of ``unit`` after replacing the first 0..steps regions of ``order``
    by :func:`fill_images` (the same fill for every order)."""
    images = images.float().cpu()
    if images.shape[-1] != model.input_size or images.shape[-2] != model.input_size:
        raise ValueError(f"perturb images at the model's input size ({model.input_size} px), "
                         f"got {tuple(images.shape[-2:])}")
    side = model.input_size // patch
    if order.shape[1] < steps:
        raise ValueError(f"{steps} perturbation steps asked, the images have {order.shape[1]} regions")
    noise = fill_images(images, fill, seed)
    x = images.clone()
    curve = [unit_activation(model(x, unit.layer), unit).cpu()]
    for k in range(steps):
        for b, region in enumerate(order[:, k]):
            r, c = divmod(int(region), side)
            sl = (b, slice(None), slice(r * patch, (r + 1) * patch), slice(c * patch, (c + 1) * patch))
            x[sl] = noise[sl]
        curve.append(unit_activation(model(x, unit.layer), unit).cpu())
    return torch.stack(curve, 1).numpy()


def aopc(curve: np.ndarray) -> np.ndarray:
    """(B,) area over the perturbation curve: mean over k = 0..L of f(x_0) - f(x_k)."""
    return (curve[:, :1] - curve).mean(1)


def best_window(heat: np.ndarray, size: int) -> np.ndarray:
    """(B, 2) top-left (y, x) of the ``size`` x ``size`` window holding the most heat (ties: first)."""
    t = torch.as_tensor(heat, dtype=torch.float64)[:, None]
    sums = F.avg_pool2d(t, size, stride=1)[:, 0]
    flat = sums.flatten(1).argmax(1)
    return torch.stack([flat // sums.shape[-1], flat % sums.shape[-1]], 1).numpy()


def random_windows(n: int, image_size: int, size: int, seed: int = 0) -> np.ndarray:
    """(n, 2) seeded random top-left corners of ``size`` windows inside the image."""
    return np.random.default_rng(seed).integers(0, image_size - size + 1, size=(n, 2))


def crop(images: torch.Tensor, corners: np.ndarray, size: int) -> torch.Tensor:
    """(B, 3, size, size) windows of ``images`` at ``corners`` (B, 2)."""
    return torch.stack([img[:, y:y + size, x:x + size] for img, (y, x) in zip(images, corners)])


def shared_detail(images: torch.Tensor, facet_of: np.ndarray, lrp: np.ndarray, judge, crop_px: int,
                  seed: int = 0) -> tuple[dict[str, float], torch.Tensor]:
    """The paper's claim that one detail drives a unit across its facets: the judge's mean cosine
    similarity between images of different facets (``facet_of``), for each image's most relevant
    crop (by its ``lrp`` map), the whole images and random crops of the same size. Returns the
    three similarities and the relevant crops."""
    corners = best_window(lrp, crop_px)
    rand = random_windows(len(images), images.shape[-1], crop_px, seed=seed)
    crops = crop(images, corners, crop_px)
    feats = {"relevant crops": metrics.judge_features(judge, crops),
             "whole images": metrics.judge_features(judge, images),
             "random crops": metrics.judge_features(judge, crop(images, rand, crop_px))}
    across = facet_of[:, None] != facet_of[None, :]
    return {name: float((f @ f.T)[across].mean()) for name, f in feats.items()}, crops


def claims(unit_rows: list[dict], maps) -> dict:
    """Notebook 05's two claims over its units: LRP localizes better than Deconv (AOPC), and one
    detail is shared across a unit's facets (relevant crops more alike than whole images and random
    crops); each holds when it does on more than half of the units."""
    lrp_wins = sum(r["aopc"]["lrp"] > r["aopc"]["deconv"] for r in unit_rows)
    shared_units = sum(r["shared_detail_holds"] for r in unit_rows)
    return {
        "lrp_localizes_better_than_deconv": {
            "holds": bool(lrp_wins > len(unit_rows) / 2), "units": f"{lrp_wins}/{len(unit_rows)}",
            "mean_aopc": {name: round(float(np.mean([r["aopc"][name] for r in unit_rows])), 4)
                          for name in [*maps, "random"]}},
        "one_detail_shared_across_facets": {
            "holds": bool(shared_units > len(unit_rows) / 2), "units": f"{shared_units}/{len(unit_rows)}",
            "mean_similarity": {name: round(float(np.mean([r["shared_detail"][name] for r in unit_rows])), 4)
                                for name in ("relevant crops", "whole images", "random crops")}},
    }
