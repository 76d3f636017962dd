"""Objective terms added to the unit's activation: anchors that pull an image's code somewhere.

An :class:`Anchor` is ``weight * cos(code(x), reference)`` at one layer, where the reference
is, per image in the batch, either its **seed** (the code of the image it started from) or its
facet's **centroid** (the mean code of the real images of its cluster). The facet-anchored
objective is ``unit + centroid anchor + seed anchor`` at the clustering layer; feature
accentuation (Hamblin et al. 2023) is ``unit + seed anchor`` at an intermediate layer.
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

    def __post_init__(self):
        if self.target not in ("seed", "centroid"):
            raise ValueError(f"anchor target must be 'seed' or 'centroid', got {self.target!r}")


def cosine(codes: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Per-image cosine similarity of flattened codes (B, ...) with references (B, ...)."""
    return F.cosine_similarity(codes.flatten(1), reference.flatten(1), dim=1)


def anchor_references(anchors, model, seeds: torch.Tensor, centroids: torch.Tensor | None,
                      code_layer: str) -> list[torch.Tensor]:
    """The fixed reference of every anchor for a batch: seed codes (computed once, no grad)
    or the given centroids (B, D) at the code layer."""
    refs = []
    for a in anchors:
        layer = a.layer or code_layer
        if a.target == "centroid":
            if centroids is None:
                raise ValueError("a centroid anchor needs the facets' centroids (clusters of real images)")
            if layer != code_layer:
                raise ValueError(f"centroid anchors live at the code layer {code_layer!r}, not {layer!r}")
            refs.append(torch.as_tensor(centroids, dtype=torch.float32, device=model.device))
        else:
            with torch.no_grad():
                refs.append(model(seeds, layer))
    return refs
