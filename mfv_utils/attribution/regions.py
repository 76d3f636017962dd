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
