"""Numbers behind the figures: how strongly images drive a class, and how facets compare."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import adjusted_rand_score

from .models import Model


def class_scores(model: Model, images: torch.Tensor, target: int, batch_size: int = 50) -> dict:
    """For 0..255 images (any size; the model resizes): the target's logit, its softmax
    probability, its rank among all classes (0 = top-1) and the top-1 class, per image."""
    with torch.no_grad():
        logits = torch.cat([model(images[i:i + batch_size].float()) for i in range(0, len(images), batch_size)])
    probs = logits.softmax(1)
    target_logit = logits[:, target]
    rank = (logits > target_logit[:, None]).sum(1)
    return {"logit": target_logit.numpy(), "prob": probs[:, target].numpy(),
            "rank": rank.numpy(), "top1": logits.argmax(1).numpy()}


def adjusted_rand(labels: np.ndarray, reference: np.ndarray | None) -> float | None:
    """Adjusted Rand index of our clusters against reference labels (None without them)."""
    return None if reference is None else float(adjusted_rand_score(reference, labels))


def mean_abs_error(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """Per-image mean absolute pixel difference on the 0..255 scale."""
    return (a.float() - b.float()).abs().flatten(1).mean(1).numpy()


def nearest(query: np.ndarray, candidates: np.ndarray) -> int:
    """Index of the candidate code vector closest (Euclidean) to the query code vector."""
    return int(np.linalg.norm(candidates - query[None], axis=1).argmin())
