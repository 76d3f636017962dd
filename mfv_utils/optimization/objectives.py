"""Objective terms added to the unit's activation: anchors that pull an image's code somewhere,
and a colour term that pulls its pixels' colours towards its facet's.

An :class:`Anchor` is ``weight * cos(code(x), reference)`` at one layer, where the reference
is, per image in the batch, either its **seed** (the code of the image it started from) or its
facet's **centroid** (the mean code of the real images of its cluster). With no layer named,
an anchor lives at the layer that clustered the unit's images: the model's code layer for a
class unit, the unit's own layer for a hidden one, where a code is the **column** of all
channels at the unit's position (what notebook 02 clusters). The facet-anchored objective is
``unit + centroid anchor + seed anchor`` there; feature accentuation (Hamblin et al. 2023) is
``unit + seed anchor`` at an intermediate layer.

:class:`ColourMatch` is ``- weight * SW(pixels(x), pixels(facet))``: the sliced Wasserstein
distance between the RGB colours (0..1) of a random sample of the image's pixels and a fixed
sample of its facet's real pixels, along fixed random directions of colour space.

:class:`OutFire` makes "the visualization fires the unit above its strongest real image" a
constraint instead of a hope: the unit's term carries a per-image multiplier that grows while the
image is below its target and falls back towards 1 once above it (dual ascent on
``act >= target``), so an anchor holds the image in its facet only as long as the unit still wins.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Anchor:
    target: str  # "seed" | "centroid"
    weight: float
    layer: str | None = None  # None: the model's code layer (the one Algorithm 1 clusters in)
    # "members": a centroid anchor that yields, ``weight * min(cos, c)`` with c the median cosine of
    # the facet's own real images to its centroid: once the image is as near as a typical member,
    # the anchor pulls no more and the unit alone drives it (None: the plain anchor)
    ceiling: str | None = None

    def __post_init__(self):
        if self.target not in ("seed", "centroid"):
            raise ValueError(f"anchor target must be 'seed' or 'centroid', got {self.target!r}")
        if self.ceiling not in (None, "members") or (self.ceiling and self.target != "centroid"):
            raise ValueError(f"an anchor's ceiling is None or 'members' (centroid anchors), got {self.ceiling!r}")


@dataclass(frozen=True)
class OutFire:
    """The constraint ``act >= (1 + margin) * target`` (``target``: the unit's strongest real
    activation, per image): from step ``start`` x steps on, the unit's term is multiplied by a
    per-image ``lam`` that grows by ``growth`` every step the image is below its goal and shrinks
    by it (never below 1) every step it is above."""

    margin: float = 0.05
    growth: float = 1.05
    start: float = 0.0

    def __post_init__(self):
        if self.growth < 1 or self.margin < 0 or not 0 <= self.start < 1:
            raise ValueError(f"OutFire needs growth >= 1, margin >= 0 and 0 <= start < 1, got {self}")

    def goals(self, targets: torch.Tensor) -> torch.Tensor:
        return targets + self.margin * targets.abs()

    def update(self, lam: torch.Tensor, values: torch.Tensor, goals: torch.Tensor) -> torch.Tensor:
        """The next multipliers, given this step's activations."""
        return torch.where(values < goals, lam * self.growth, (lam / self.growth).clamp(min=1.0))


def code(act: torch.Tensor, position: tuple[int, int] | None = None) -> torch.Tensor:
    """(B, D) codes of a layer's activations: the column at ``position`` (y, x) of a spatial
    layer when one is given, else the whole activation flattened."""
    if act.ndim == 4 and position is not None:
        return act[..., position[0], position[1]]
    return act.flatten(1)


def cosine(codes: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Per-image cosine similarity of flattened codes (B, ...) with references (B, ...)."""
    return F.cosine_similarity(codes.flatten(1), reference.flatten(1), dim=1)


def member_ceilings(model, real: list[torch.Tensor], centroids: torch.Tensor, layer: str,
                    position: tuple[int, int] | None) -> torch.Tensor:
    """(B,) per facet: the median cosine of its real images' codes at ``layer`` to its centroid
    (how near a typical member sits: the ceiling of a yielding anchor)."""
    with torch.no_grad():
        return torch.stack([cosine(code(model(r.to(model.device).float(), layer), position),
                                   c[None].expand(len(r), -1)).median() for r, c in zip(real, centroids)])


def anchor_references(anchors, model, seeds: torch.Tensor, centroids: torch.Tensor | None,
                      code_layer: str, position: tuple[int, int] | None = None) -> list[torch.Tensor]:
    """The fixed reference of every anchor for a batch: seed codes (computed once, no grad)
    or the given centroids (B, D) at the clustering layer ``code_layer`` (columns at
    ``position`` there, for a hidden unit)."""
    refs = []
    for a in anchors:
        layer = a.layer or code_layer
        if a.target == "centroid":
            if centroids is None:
                raise ValueError("a centroid anchor needs the facets' centroids (clusters of real images)")
            if layer != code_layer:
                raise ValueError(f"centroid anchors live at the clustering layer {code_layer!r}, not {layer!r}")
            refs.append(torch.as_tensor(centroids, dtype=torch.float32, device=model.device))
        else:
            with torch.no_grad():
                refs.append(code(model(seeds, layer), position if layer == code_layer else None))
    return refs


@dataclass(frozen=True)
class ColourMatch:
    """``- weight * sliced_wasserstein(...)``: keep the image's colour distribution near its facet's."""

    weight: float
    directions: int = 16  # random directions of RGB space the distributions are compared along
    samples: int = 4096  # pixels sampled from the image at each step (and from the facet, once)


def colour_directions(n: int, seed: int = 0) -> torch.Tensor:
    """(3, n) fixed unit directions of RGB space (seeded; the first three are the axes)."""
    gen = torch.Generator().manual_seed(seed)
    d = torch.cat([torch.eye(3), torch.randn(3, max(n - 3, 0), generator=gen, device="cpu")], 1)[:, :n]
    return d / d.norm(dim=0, keepdim=True)


def colour_references(real: list[torch.Tensor], match: ColourMatch, directions: torch.Tensor,
                      seed: int = 0) -> torch.Tensor:
    """(B, samples, n) sorted projections of ``samples`` pixels (RGB 0..1) drawn from each batch
    image's facet's real images (``real[b]``: (N, 3, H, W) 0..255)."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for images in real:
        px = images.float().permute(1, 0, 2, 3).reshape(3, -1) / 255
        pick = torch.randint(px.shape[1], (match.samples,), generator=gen, device="cpu").to(px.device)
        out.append((px[:, pick].T @ directions.to(px.device)).sort(0).values)
    return torch.stack(out)


def sliced_wasserstein(images: torch.Tensor, reference: torch.Tensor, directions: torch.Tensor,
                       gen: torch.Generator) -> torch.Tensor:
    """Per image (B,): the mean squared difference between the sorted projections of a random
    sample of its pixels (0..255 RGB, scaled to 0..1) and the sorted ``reference`` projections
    (B, samples, n) of :func:`colour_references`, over the n directions."""
    b, _, h, w = images.shape
    n = reference.shape[1]
    pick = torch.randint(h * w, (n,), generator=gen, device=gen.device).to(images.device)
    px = images.flatten(2)[..., pick] / 255  # (B, 3, n)
    proj = torch.einsum("bcn,cd->bnd", px, directions.to(images.device)).sort(1).values
    return (proj - reference).square().mean(dim=(1, 2))
