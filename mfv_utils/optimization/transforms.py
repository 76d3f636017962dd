"""Transformation robustness: random jitter, scale and rotation applied before the network.

Each step draws, per image, one affine map (translation in pixels, isotropic scale, rotation
in degrees) from a seeded generator and resamples the image with reflected borders. The
optimized image must then drive the unit under all of them, which suppresses the pixel-exact
adversarial patterns plain gradient ascent finds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


REFERENCE_SIZE = 224  # the jitter is given in pixels of an image of this size


@dataclass(frozen=True)
class Robustness:
    jitter: int = 8  # max translation in pixels (uniform, each axis) at 224 px; scaled with the image
    scale: tuple[float, float] = (0.95, 1.05)  # uniform range of the zoom factor
    degrees: float = 5.0  # max rotation (uniform in +-degrees)

    def __call__(self, images: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        b, _, h, w = images.shape
        # drawn on the generator's device (the CPU: the same draws on every device), used on the images'
        u = (torch.rand(b, 4, generator=gen, device=gen.device) * 2 - 1).to(images.device)  # tx, ty, zoom, angle
        zoom = self.scale[0] + (u[:, 2] + 1) / 2 * (self.scale[1] - self.scale[0])
        angle = u[:, 3] * math.radians(self.degrees)
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        # affine_grid works in -1..1 coordinates: a shift of j pixels is 2j / size
        tx = torch.round(u[:, 0] * self.jitter * w / REFERENCE_SIZE) * 2 / w
        ty = torch.round(u[:, 1] * self.jitter * h / REFERENCE_SIZE) * 2 / h
        theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


NONE = Robustness(jitter=0, scale=(1.0, 1.0), degrees=0.0)
