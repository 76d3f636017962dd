"""The public API: the facets of any unit of any model, visualized and scored.

    import mfv_utils as mfv
    net = mfv.load_model("efficientnet_lite0")            # or mfv.wrap(my_module, layers=[...])
    fs = mfv.find_facets(net, "logits:945", images="paper:bell_pepper", k=10)   # Algorithm 1
    viz = fs.visualize(method="facet")                    # one batch, with a progress bar
    viz.save("out/bell_pepper"); viz.plot()               # the facets' files; Fig. 2 / Fig. 4 panels
    viz.score(judge="efficientnet_lite2")                 # the fidelity row of notebook 01

A unit is ``"layer:channel"`` (``"layer:channel@y,x"`` for a position of a spatial layer; default
the centre of the map) or a :class:`~mfv_utils.networks.models.Unit`. Two ways to find its facets, as in
the paper:

- **a class unit and its class's images** (``top_n=None``, a unit of the logits layer): every
  image is coded at the model's code layer (fc7's analog) and clustered (notebook 01);
- **any unit and a pool** (``top_n`` given, or any unit below the logits): the unit's ``top_n``
  images of the pool, coded by the column of the unit's own layer at its position, cut to its
  receptive field (notebooks 02 and 05, the atlas). ``images="pool"`` is the project's default
  pool; ``"pool:paper+samples"`` names its parts.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from mfv_utils import data, facets
from mfv_utils.evaluation import metrics, plots
from mfv_utils.optimization import methods, param
from mfv_utils.networks import models, receptive
from mfv_utils.facets import unit_facets
from mfv_utils.networks.models import Model, Unit

UNIT_RE = re.compile(r"^\s*([^:@\s]+)\s*:\s*(\d+)\s*(?:@\s*(\d+)\s*,\s*(\d+)\s*)?$")
TOP_N = 100  # a unit's top images in a pool when top_n is not given and the unit is hidden


def parse_unit(model: Model, unit: str | Unit) -> Unit:
    """``"layer:channel[@y,x]"`` or a Unit, checked against ``model`` (position filled in)."""
    if isinstance(unit, str):
        match = UNIT_RE.match(unit)
        if not match:
            raise ValueError(f"unit {unit!r} is not 'layer:channel' or 'layer:channel@y,x' "
                             f"(layers of {model.name}: {', '.join(model.layers)})")
        layer, channel, y, x = match.groups()
        unit = Unit(layer, int(channel), None if y is None else int(y), None if x is None else int(x))
    if not isinstance(unit, Unit):
        raise TypeError(f"a unit is a 'layer:channel' string or a Unit, not {type(unit).__name__}")
    return model.unit(unit)


def wrap(module: torch.nn.Module, layers: list[str] | None = None, **kwargs) -> Model:
    """Your own network as a :class:`Model`: split at its top-level children named in ``layers``
    (:func:`mfv_utils.networks.any_model.from_module`; ``input_size``, ``mean``, ``std`` in 0..255 units)."""
    from mfv_utils.networks.any_model import from_module

    return from_module(module, layers, **kwargs)


def _as_image_set(images, size: int) -> data.ImageSet:
    if isinstance(images, data.ImageSet):
        return images
    if isinstance(images, torch.Tensor):
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"an image tensor is (N, 3, H, W) in 0..255, got shape {tuple(images.shape)}")
        if images.shape[-2:] != (size, size):
            images = param.resized(images.float(), (size, size))
        return data.ImageSet("tensor", images.clamp(0, 255).round().to(torch.uint8),
                             [Path(f"tensor[{i}]") for i in range(len(images))])
    spec = str(images)
    if spec == "pool" or spec.startswith("pool:"):
        parts = spec.split(":", 1)[1].split("+") if ":" in spec else list(data.DEFAULT_POOL)
        return data.load_pool(parts, size=size)
    return data.load_image_set(spec, size=size)


@dataclass
class FacetSet:
    """Algorithm 1's result for one unit: ``k`` facets of ``N`` images (the class's images, or the
    unit's top images of a pool cut to its field), and what each facet's visualization starts from."""

    model: Model
    unit: Unit
    source: data.ImageSet  # where the images came from
    index: np.ndarray  # (N,) rows of source.images that were clustered
    images: torch.Tensor  # (N, 3, S, S) float 0..255: those images as the unit sees them
    codes: np.ndarray  # (N, D) what was clustered
    code_layer: str
    embedding: np.ndarray  # (N, 2) t-SNE
    labels: np.ndarray  # (N,) facet of each image, 0..k-1
    centroids: np.ndarray  # (k, 2) in the embedding
    members: list[np.ndarray]  # per facet: the m rows of ``images`` nearest its centroid
    silhouettes: dict[int, float]  # k -> mean silhouette of k-means on the embedding
    k_suggested: int  # the k with the best silhouette
    unit_acts: np.ndarray | None = None  # (N,) the unit on each image, if known (else see activations)
    box: tuple[int, int, int] | None = None  # the unit's visible field in the source images (pool mode)
    shown: tuple[int, ...] | None = None  # which facets this set visualizes, in order (None: all)
    seed: int = 0

    @property
    def k(self) -> int:
        return len(self.members)

    @property
    def order(self) -> list[int]:
        return list(range(self.k)) if self.shown is None else list(self.shown)

    @property
    def sizes(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=self.k)

    @cached_property
    def activations(self) -> np.ndarray:
        """(N,) the unit's activation for each image (for a class unit: computed when first asked)."""
        if self.unit_acts is not None:
            return self.unit_acts
        with torch.no_grad():
            return torch.cat([models.unit_activation(self.model(self.images[i:i + 50], self.unit.layer), self.unit)
                              for i in range(0, len(self.images), 50)]).cpu().numpy()

    @property
    def strongest_real(self) -> float:
        """The unit's highest activation on a real image of the set."""
        return float(self.activations.max())

    @cached_property
    def mean_images(self) -> torch.Tensor:
        """(k, 3, S, S) float: each facet's mean of its m members (the optimization's start)."""
        return torch.stack([self.images[idx].mean(0) for idx in self.members])

    def real(self, j: int) -> torch.Tensor:
        """Facet ``j``'s real images (all of its cluster), uint8."""
        return self.images[self.labels == j].round().to(torch.uint8)

    @cached_property
    def unit_codes(self) -> np.ndarray:
        """(N, D) the codes, L2-normalized (what the centroids and ``central`` compare)."""
        return metrics.unit_rows(self.codes)

    @cached_property
    def unit_centroids(self) -> np.ndarray:
        """(k, D) float64: each facet's unit-length mean of its images' L2-normalized codes."""
        return metrics.cluster_centroids(self.unit_codes, self.labels, self.k)

    @cached_property
    def code_centroids(self) -> torch.Tensor:
        """(k, D) each facet's centroid in the (L2-normalized) codes: what the anchors pull to."""
        return torch.tensor(self.unit_centroids, dtype=torch.float32)

    def central(self, j: int) -> int:
        """The row of ``images`` of facet ``j``'s most typical real member: the one whose code is
        nearest (cosine) the facet's centroid in the codes."""
        members = np.flatnonzero(self.labels == j)
        return int(members[(self.unit_codes[members] @ self.unit_centroids[j]).argmax()])

    def with_labels(self, labels) -> "FacetSet":
        """The same images and embedding with given clusters (the authors' folders, say) instead of
        k-means': each label is a facet of all its images."""
        found = facets.reference_facets(self.embedding, labels)
        return replace(self, labels=found.labels, centroids=found.centroids, members=found.members, shown=None)

    def largest(self, n: int) -> "FacetSet":
        """The same facets, showing only the ``n`` largest (ties: the lower index), largest first."""
        order = sorted(range(self.k), key=lambda j: (-self.sizes[j], j))[:n]
        return replace(self, shown=tuple(order))

    def visualize(self, method: str | methods.Method = methods.DEFAULT, seed: int | None = None,
                  steps: int | None = None, smoke: bool = False, progress: bool = True,
                  tv_ramp: str = "authors") -> "Visualization":
        """Activation maximization from each shown facet's mean image, one batch. ``steps``: cut
        the method to about that many iterations (``smoke``: about 15)."""
        recipe = methods.METHODS.get(method) if isinstance(method, str) else method
        if recipe is None:
            methods.check_known([method])
        name = method if isinstance(method, str) else getattr(recipe, "name", "custom")
        if steps is not None:
            recipe = methods.shorten(recipe, steps / methods.iterations(recipe))
        elif smoke:
            recipe = methods.smoke(recipe)
        seed = self.seed if seed is None else seed
        t0 = time.perf_counter()
        order = self.order
        if self.box is None:  # a class unit on its class's images, at the network's full input
            starts = self.mean_images[order]
            # maco's magnitudes, where the method needs them, come from ``real`` inside methods.run
            result = methods.run(recipe, self.model, self.unit, starts, seed=seed,
                                 centroids=self.code_centroids[order], real=[self.real(j) for j in order],
                                 progress=progress, tv_ramp=tv_ramp,
                                 targets=[self.strongest_real] * len(order) if getattr(recipe, "out_fire", None) else None)
            images = result.images
            with torch.no_grad():
                act_start = models.unit_activation(self.model(starts, self.unit.layer), self.unit).cpu().numpy()
                act_end = models.unit_activation(self.model(images, self.unit.layer), self.unit).cpu().numpy()
        else:  # any unit: on a canvas of its field, placed where the field lies
            field = receptive.receptive_field(self.model, self.unit.layer)
            at = (0, 0) if field.is_global else (self.unit.y, self.unit.x)
            v = unit_facets.visualize(recipe, self.model, self.unit.layer, field, at, [unit_facets.as_found(self)],
                                      seed=seed, progress=progress)
            images, act_start, act_end = v["images"], v["act_start"], v["act_end"]
        return Visualization(self, name, images, act_start, act_end, round(time.perf_counter() - t0, 2))


def find_facets(model: Model, unit: str | Unit, images="pool", k: int | str = 10, m: int = 15,
                top_n: int | float | None = None, code_layer: str | None = None, perplexity: float | None = None,
                seed: int = 0, cache_dir: str | Path | None = ".cache/codes", progress: bool = False) -> FacetSet:
    """Algorithm 1 for ``unit`` of ``model`` (see the module docstring for the two ways).
    ``images``: an image-set name (``paper:bell_pepper``, ``imagenette:church``, ``samples``), a
    pool (``"pool"``, ``"pool:paper"``), a folder, an (N, 3, H, W) tensor in 0..255 or an
    :class:`~mfv_utils.data.ImageSet`. ``k="auto"``: the k in 2..10 with the best silhouette.
    ``perplexity`` defaults to 10 for the authors' sets (their 15-image facet cores) else 30."""
    unit = parse_unit(model, unit)
    if isinstance(unit.channel, tuple):
        raise ValueError("find_facets takes one unit; call it once per unit")
    name = str(images) if isinstance(images, (str, Path)) else ""  # never str() a tensor: it formats every value
    by_class = top_n is None and unit.layer == model.logits_layer and not name.startswith("pool")
    if perplexity is None:
        perplexity = 10.0 if name.startswith("paper:") else 30.0
    if by_class:
        return _class_facets(model, unit, images, k, m, code_layer, perplexity, seed, cache_dir)
    return _pool_facets(model, unit, images, k, m, TOP_N if top_n is None else top_n, perplexity, seed,
                        cache_dir, progress)


def _class_facets(model, unit, images, k, m, code_layer, perplexity, seed, cache_dir) -> FacetSet:
    source = _as_image_set(images, images.shape[-1] if isinstance(images, torch.Tensor) else 227)
    if source.target is None and not isinstance(images, (torch.Tensor, data.ImageSet)):
        raise ValueError(f"image set {source.name!r} has no class of its own: for the class unit "
                         f"{unit.layer}:{unit.channel} pass that class's images, or a pool with top_n=")
    if isinstance(k, str):
        raise ValueError("k='auto' is for pools (top_n=); give a class unit a number of facets")
    if not 1 <= k <= len(source):
        raise ValueError(f"k={k} facets need at least {k} images, but {source.name!r} has {len(source)}")
    layer = model.check_layer(code_layer or model.code_layer)
    codes = facets.layer_codes(model, source.images, layer, cache_dir=cache_dir)
    embedding, found, best, silhouettes = facets.cluster(codes, k, m, seed, perplexity)
    return FacetSet(model, unit, source, np.arange(len(source)), source.images.float(), codes, layer, embedding,
                    found.labels, found.centroids, found.members, silhouettes, best, seed=seed)


def _pool_facets(model, unit, images, k, m, top_n, perplexity, seed, cache_dir, progress) -> FacetSet:
    pool = _as_image_set(images, model.input_size)
    if pool.images.shape[-1] != model.input_size:
        raise ValueError(f"a pool's images must be at {model.name}'s input size {model.input_size} px, "
                         f"got {pool.images.shape[-1]}")
    field = receptive.receptive_field(model, unit.layer)
    at = (0, 0) if field.is_global else (unit.y, unit.x)
    centre = (field.map_size // 2,) * 2
    position = (0.5, 0.5) if field.is_global or at == centre else tuple((v + 0.5) / field.map_size for v in at)
    column = facets.layer_columns(model, pool.images, [unit.layer], cache_dir=cache_dir, progress=progress,
                                  position=position)[unit.layer]
    top = facets.top_indices(column[:, unit.channel], top_n)
    k_fixed = None if k == "auto" else int(k)
    if k != "auto" and not isinstance(k, (int, np.integer)):
        raise ValueError(f"k is a number of facets or 'auto', got {k!r}")
    if len(top) < (k_fixed or 2) * 2:
        raise ValueError(f"only {len(top)} top images for k={k} facets (need at least 2 per facet): "
                         f"a larger pool or top_n")
    box = field.visible_box(*at)
    codes = column[top]
    embedding, found, best, silhouettes = facets.cluster(codes, k, m, seed, perplexity)
    patches = receptive.crop_patches(pool.images[top], box, model.mean.flatten().cpu())
    return FacetSet(model, unit, pool, top, patches, codes, unit.layer, embedding, found.labels, found.centroids,
                    found.members, silhouettes, best, unit_acts=column[top, unit.channel], box=box, seed=seed)


@dataclass
class Visualization:
    """One visualization per shown facet of a :class:`FacetSet`, and what it did to the unit."""

    facets: FacetSet
    method: str
    images: torch.Tensor  # (B, 3, S, S) float 0..255
    act_start: np.ndarray  # (B,) the unit on each facet's mean image
    act_end: np.ndarray  # (B,) ... and on its visualization
    seconds: float
    extra: dict = field(default_factory=dict)

    @property
    def above_strongest_real(self) -> np.ndarray:
        """(B,) whether each visualization drives the unit past its strongest real image."""
        return self.act_end > self.facets.strongest_real

    def save(self, out: str | Path) -> Path:
        """``facet_<j>.png``, ``mean_<j>.png`` and ``visualization.json`` in ``out`` (j: the facet)."""
        from PIL import Image

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        fs = self.facets
        for b, j in enumerate(fs.order):
            Image.fromarray(plots.to_hwc(self.images[b])).save(out / f"facet_{j}.png")
            Image.fromarray(plots.to_hwc(fs.mean_images[j])).save(out / f"mean_{j}.png")
        record = {"model": fs.model.name, "unit": {"layer": fs.unit.layer, "channel": fs.unit.channel,
                                                   "y": fs.unit.y, "x": fs.unit.x},
                  "method": self.method, "seconds": self.seconds, "k": fs.k, "k_suggested": fs.k_suggested,
                  "strongest_real": round(fs.strongest_real, 4),
                  "facets": [{"facet": j, "size": int(fs.sizes[j]), "act_start": round(float(self.act_start[b]), 4),
                              "act_end": round(float(self.act_end[b]), 4), "image": f"facet_{j}.png",
                              "mean_image": f"mean_{j}.png"} for b, j in enumerate(fs.order)]}
        tmp = out / ".visualization.json.tmp"
        tmp.write_text(json.dumps(record, indent=1))
        tmp.replace(out / "visualization.json")
        return out

    def plot(self, title: str | None = None):
        """Fig. 2 (the embedding ringed by the facets) when every facet is shown, else the mean
        images above their visualizations (Fig. 4 / Fig. 6 style). Returns the figure."""
        fs = self.facets
        title = title or f"{fs.model.name} {fs.unit.layer}:{fs.unit.channel}, method {self.method!r}"
        captions = [f"{a:.2f} -> {b:.2f}" for a, b in zip(self.act_start, self.act_end)]
        if fs.shown is None:
            thumbs = fs.images if len(fs.images) <= 400 else None
            return plots.fig2(fs.embedding, fs.labels, fs.centroids, self.images, thumbs, captions, title=title)
        return plots.image_pairs(fs.mean_images[fs.order], self.images, "facet mean image",
                                 f"{self.method} visualization", captions)

    def score(self, judge: str | Model = "efficientnet_lite2") -> "Score":
        """How well each visualization shows its own facet, by a held-out ``judge`` network
        (it never enters the optimization). A class unit with every facet shown gets notebook
        01's full fidelity row (:func:`mfv_utils.evaluation.metrics.fidelity`) and its goals; any other
        set gets the atlas's measure: the share of visualizations whose judge features lie
        nearest their own cluster's real images (among the k clusters)."""
        fs = self.facets
        judge_net = models.load_model(judge, device=fs.model.device) if isinstance(judge, str) else judge
        if fs.box is None and fs.shown is None:
            real_judged = metrics.judge_features(judge_net, fs.source.images)
            result = metrics.fidelity(self.images, fs.mean_images, fs.source.images, fs.labels, fs.unit.channel,
                                      fs.model, judge_net, real_judged)
            return Score(result["summary"], result["facets"], metrics.goals(result["summary"]))
        real = metrics.judge_features(judge_net, fs.images)
        viz = metrics.judge_features(judge_net, self.images)
        sims = metrics.unit_rows(viz) @ metrics.cluster_centroids(real, fs.labels, fs.k).T
        own = sims.argmax(1) == np.array(fs.order)
        per = [{"facet": j, "facet_identity": bool(own[b]), "above_strongest_real": bool(self.above_strongest_real[b])}
               for b, j in enumerate(fs.order)]
        summary = {"facet_identity": float(own.mean()), "above_strongest_real": float(self.above_strongest_real.mean()),
                   "judge": judge_net.name, "k": fs.k, "shown": len(fs.order)}
        return Score(summary, per, None)


@dataclass
class Score:
    summary: dict  # the measures over the facets (notebook 01's fidelity row for a class unit)
    facets: list[dict]  # per facet
    goals: dict[str, bool] | None  # which of metrics.CLASS_GOALS are met (class units)
