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
from sklearn.metrics import silhouette_score

from mfv_utils.networks.models import Model
from mfv_utils.runtime.progress import bar as progress_bar


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


def cache_ids(model: Model, images: torch.Tensor) -> tuple[str, str]:
    """What a code cache's file name is keyed by: ``(<model name>-<weights hash>-<numerics>,
    <hash of the images' bytes>)``, so a change of weights, image set, resizing, speed levers or
    device type (each rounds differently) never hits a stale file."""
    digest = hashlib.sha256(images.cpu().contiguous().numpy().tobytes()).hexdigest()[:16]
    weights = hashlib.sha256(model.stages[model.logits_layer].weight.detach().cpu().numpy().tobytes()).hexdigest()[:8]
    numerics = model.numerics.replace("+", "_").replace("@", "-")
    return f"{model.name}-{weights}-{numerics}", digest


def layer_codes(model: Model, images: torch.Tensor, layer: str | None = None,
                batch_size: int = 50, cache_dir: str | Path | None = None) -> np.ndarray:
    """Activations of ``layer`` (default ``model.code_layer``) for uint8/float 0..255 images,
    flattened to (N, D) float32. Cached in ``cache_dir`` keyed by model, layer and the
    images' bytes (so any change to the set or its resizing invalidates the cache)."""
    layer = model.check_layer(layer or model.code_layer)
    path = None
    if cache_dir is not None:
        model_id, digest = cache_ids(model, images)
        path = Path(cache_dir) / f"codes-{model_id}-{layer}-{digest}.npy"
        if path.is_file():
            return np.load(path)
    with torch.no_grad():
        codes = torch.cat([model(images[i:i + batch_size], layer).flatten(1)
                           for i in range(0, len(images), batch_size)]).cpu().numpy().astype(np.float32)
    if path is not None:
        atomic_save_npy(path, codes)
    return codes


def map_position(size: int, fraction: float) -> int:
    """The unit index at ``fraction`` (0..1) of a map of ``size`` units: 0.5 = the center."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"a position is a fraction of the map in 0..1, got {fraction}")
    return min(int(fraction * size), size - 1)


def column_path(cache_dir: str | Path, model_id: str, layer: str, digest: str,
                position: tuple[float, float] = (0.5, 0.5)) -> Path:
    """Where :func:`layer_columns` caches one layer's column (ids from :func:`cache_ids`)."""
    fy, fx = (float(v) for v in position)
    return Path(cache_dir) / f"columns-{model_id}-{layer}-{fy:g}-{fx:g}-{digest}.npy"


def layer_columns(model: Model, images: torch.Tensor, layers: list[str], batch_size: int = 50,
                  cache_dir: str | Path | None = None, progress: bool = True,
                  position: tuple[float, float] = (0.5, 0.5),
                  ids: tuple[str, str] | None = None) -> dict[str, np.ndarray]:
    """Per layer, the code of every image at one unit position (``position``: fractions of the
    map, default the center): the column of all channels there for a spatial layer (the code
    of that unit's receptive-field patch), the whole vector for a fully connected one. (N, C)
    float32 each, from one pass over the images; each layer cached on disk (atomically) keyed
    by model, weights, layer, position and the images' bytes, so a pool is coded once. ``ids``:
    :func:`cache_ids` of ``model`` and ``images`` when the caller has them already (hashing a
    large pool takes seconds)."""
    fy, fx = (float(v) for v in position)
    map_position(1, fy), map_position(1, fx)
    for layer in layers:
        model.check_layer(layer)
    out, paths = {}, {}
    if cache_dir is not None:
        model_id, digest = ids or cache_ids(model, images)
        for layer in layers:
            paths[layer] = column_path(cache_dir, model_id, layer, digest, (fy, fx))
            if paths[layer].is_file():
                out[layer] = np.load(paths[layer])
    todo = [layer for layer in layers if layer not in out]
    if todo:
        parts = {layer: [] for layer in todo}
        with torch.no_grad():
            for b in progress_bar(-(-len(images) // batch_size), f"coding {len(images)} images at {', '.join(todo)}",
                                  progress):
                acts = model.features(images[b * batch_size:(b + 1) * batch_size], todo)
                for layer, a in acts.items():
                    parts[layer].append(a[..., map_position(a.shape[-2], fy), map_position(a.shape[-1], fx)]
                                        if a.ndim == 4 else a)
        for layer in todo:
            out[layer] = torch.cat(parts[layer]).cpu().numpy().astype(np.float32)
            if layer in paths:
                atomic_save_npy(paths[layer], out[layer])
    return {layer: out[layer] for layer in layers}


def top_indices(activations: np.ndarray, n: int | float) -> np.ndarray:
    """Indices of the ``n`` largest activations, largest first (ties by index); ``n`` a count
    or, below 1, a fraction of the images (the paper: the top 2% of 50,000)."""
    total = len(activations)
    count = int(round(n * total)) if isinstance(n, float) and n < 1 else int(n)
    if not 1 <= count <= total:
        raise ValueError(f"top_n={n} selects {count} of {total} images; need 1..{total}")
    return np.argsort(-np.asarray(activations, dtype=np.float64), kind="stable")[:count]


def choose_k(embedding: np.ndarray, ks=range(2, 11), seed: int = 0) -> tuple[int, dict[int, float]]:
    """How many facets the data supports: the k of ``ks`` whose k-means clustering of the
    embedding has the highest mean silhouette (ties: the smaller k). Returns (k, {k: score})."""
    scores = {}
    for k in ks:
        if 2 <= k < len(embedding):
            labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(embedding)
            scores[int(k)] = float(silhouette_score(embedding, labels)) if len(set(labels)) > 1 else -1.0
    if not scores:
        raise ValueError(f"no k of {list(ks)} fits {len(embedding)} points (need 2 <= k < n)")
    best = max(scores, key=lambda k: (round(scores[k], 12), -k))
    return best, scores


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


def cluster(codes: np.ndarray, k: int | str = 10, m: int = 15, seed: int = 0,
            perplexity: float = 30.0) -> tuple[np.ndarray, Facets, int, dict[int, float]]:
    """Steps 2-5 on codes: (embedding, facets, the k with the best silhouette, {k: silhouette});
    ``k="auto"`` clusters with that k."""
    embedding = embed(codes, seed=seed, perplexity=perplexity)
    best, silhouettes = choose_k(embedding, range(2, 11), seed=seed)
    return embedding, find_facets(embedding, k=best if k == "auto" else k, m=m, seed=seed), best, silhouettes


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
