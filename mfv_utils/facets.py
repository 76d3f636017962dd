"""Algorithm 1 of the paper: find the facets of a class from its images.

1. code every image at a high layer (fc7 for AlexNet; pooled features for Lite0),
2. PCA to 50 dimensions, 3. t-SNE to 2-D (openTSNE), 4. k-means with k clusters in the
embedding, 5. the m images nearest each centroid and their mean image: the facet's seed.
With reference labels (the authors' own clusters) steps 1-4 can be skipped.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from openTSNE import TSNE
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA

from .models import Model


def atomic_save_npy(path: Path, array: np.ndarray) -> None:
    """Write ``array`` to ``path`` so readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, array)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def layer_codes(model: Model, images: torch.Tensor, layer: str | None = None,
                batch_size: int = 50, cache_dir: str | Path | None = None) -> np.ndarray:
    """Activations of ``layer`` (default ``model.code_layer``) for uint8/float 0..255 images,
    flattened to (N, D) float32. Cached in ``cache_dir`` keyed by model, layer and the
    images' bytes (so any change to the set or its resizing invalidates the cache)."""
    layer = model.check_layer(layer or model.code_layer)
    path = None
    if cache_dir is not None:
        digest = hashlib.sha256(images.contiguous().numpy().tobytes()).hexdigest()[:16]
        weights = hashlib.sha256(model.stages[model.logits_layer].weight.detach().numpy().tobytes())
        path = Path(cache_dir) / f"codes-{model.name}-{weights.hexdigest()[:8]}-{layer}-{digest}.npy"
        if path.is_file():
            return np.load(path)
    with torch.no_grad():
        codes = torch.cat([model(images[i:i + batch_size], layer).flatten(1)
                           for i in range(0, len(images), batch_size)]).numpy().astype(np.float32)
    if path is not None:
        atomic_save_npy(path, codes)
    return codes


def embed(codes: np.ndarray, pca_dim: int = 50, seed: int = 0, perplexity: float = 30.0,
          normalize: bool = True) -> np.ndarray:
    """Steps 2-3: (optionally L2-normalize,) PCA to ``pca_dim`` (fewer if there are fewer
    images), then openTSNE to 2-D. Deterministic for a given seed.

    ``normalize`` compares codes by direction (cosine geometry), the usual choice for deep
    features; the perplexity is capped at (n - 1) / 3 for small sets."""
    n = len(codes)
    if n < 4:
        raise ValueError(f"need at least 4 images to embed, got {n}")
    x = np.asarray(codes, dtype=np.float64)
    if normalize:
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    dim = min(pca_dim, n - 1, x.shape[1])
    reduced = PCA(n_components=dim, random_state=seed).fit_transform(x)
    tsne = TSNE(n_components=2, perplexity=min(perplexity, (n - 1) / 3), random_state=seed,
                n_jobs=1, initialization="pca", verbose=False)
    return np.asarray(tsne.fit(reduced), dtype=np.float64)


@dataclass
class Facets:
    """Result of Algorithm 1 (or of given clusters) for N images and k facets."""

    embedding: np.ndarray  # (N, 2) t-SNE coordinates
    labels: np.ndarray  # (N,) cluster of each image, 0..k-1
    centroids: np.ndarray  # (k, 2) cluster centers in the embedding
    members: list[np.ndarray]  # per facet: indices of the images averaged into its seed

    @property
    def k(self) -> int:
        return len(self.members)

    def mean_images(self, images: torch.Tensor) -> torch.Tensor:
        """Per-facet pixel mean of its member images: (k, 3, H, W) float32 in 0..255."""
        return torch.stack([images[idx].float().mean(0) for idx in self.members])


def _nearest(embedding: np.ndarray, centroids: np.ndarray, m: int) -> list[np.ndarray]:
    d = np.linalg.norm(embedding[None, :, :] - centroids[:, None, :], axis=-1)
    return [np.argsort(row, kind="stable")[:m] for row in d]


def find_facets(embedding: np.ndarray, k: int = 10, m: int = 15, seed: int = 0) -> Facets:
    """Steps 4-5: k-means in the embedding, then the m images nearest each centroid."""
    n = len(embedding)
    if not 1 <= k <= n:
        raise ValueError(f"k={k} facets need at least {k} images, but the set has {n}")
    if m < 1:
        raise ValueError(f"m must be >= 1, got {m}")
    if m > n:
        warnings.warn(f"m={m} is larger than the {n} images; each facet averages all of them",
                      stacklevel=2)
    km = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(embedding)
    return Facets(embedding, km.labels_.astype(int), km.cluster_centers_,
                  _nearest(embedding, km.cluster_centers_, min(m, n)))


def reference_facets(embedding: np.ndarray, labels: np.ndarray) -> Facets:
    """Facets given by reference labels (e.g. the authors' folders): all members of a label."""
    if labels is None:
        raise ValueError('clusters="reference" needs an image set with reference labels '
                         "(paper:bell_pepper or paper:movie_theater)")
    uniq = np.unique(labels)
    remap = np.searchsorted(uniq, labels)
    members = [np.flatnonzero(remap == j) for j in range(len(uniq))]
    centroids = np.stack([embedding[idx].mean(0) for idx in members])
    return Facets(embedding, remap, centroids, members)
