"""One unit of an atlas as a pure Dask task: :class:`Spec` (what every unit is computed with),
the per-process context (models, pool, codes), the unit's content key, and :func:`render_unit`."""
from __future__ import annotations

import hashlib
import io
import json
import os
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

STORE_VERSION = 2  # 2: a class unit draws from its own images (Fig. S4 rule); own-class share recorded
THUMB = 128  # px of a facet's visualization
MEMBER = 80  # px of a member thumbnail
MEMBERS_SHOWN = 5  # members per facet in a unit's files


@dataclass(frozen=True)
class Spec:
    """What an atlas run computes for every unit (everything but the unit)."""

    model: str = "efficientnet_lite0"
    weights: str | None = None
    layer: str = "logits"
    pool: tuple[str, ...] = ("imagenette:val", "ilsvrc12-val-1300", "imagewoof", "samples", "paper")
    top_n: float = 0.02  # a unit's top images: a fraction of the pool (paper 2 %) or a count
    own_class_min: int = 50  # a class unit with this many pool images of its class clusters those (Fig. S4)
    k: int | str = 10  # facets, or "auto": the k in 2..10 with the best silhouette
    m: int = 15  # members averaged into a facet's mean image
    draw: int = 4  # facets visualized per unit, the largest first (all facets get their real images)
    method: str = "facet"  # mfv_utils.optimization.methods.METHODS
    judge: str = "efficientnet_lite2"  # held-out network of the facet-identity measure
    seed: int = 0
    smoke: bool = False  # about 15 optimization steps (CI)
    device: str = "auto"  # "auto" | "cpu" | "cuda": a run resolves it once, for all its workers (engine)
    cache: str = ".cache/codes"  # where the pool's codes are cached (absolute once a run starts)


# ----------------------------------------------------------------------------- one unit
_CONTEXT: dict = {}  # per process: the loaded models, pool and codes of the last spec


def _spec_key(spec: Spec) -> tuple:
    return (spec.model, spec.weights, spec.layer, tuple(spec.pool), spec.judge, spec.cache, spec.device)


def context(spec: Spec) -> dict:
    """Models, pool, codes and the identity of ``spec``'s inputs, loaded once per process."""
    key = _spec_key(spec)
    if _CONTEXT.get("key") != key:
        from mfv_utils import data, facets
        from mfv_utils.networks import models, receptive
        from mfv_utils.evaluation import provenance

        net = models.load_model(spec.model, spec.weights, device=spec.device)
        layer = net.check_layer(spec.layer)
        field = receptive.receptive_field(net, layer)
        pool = data.load_pool(list(spec.pool), size=net.input_size)
        model_id, pool_digest = facets.cache_ids(net, pool.images)
        path = facets.column_path(spec.cache, model_id, layer, pool_digest)
        with one_thread():  # the same codes whatever the process's thread count (cached: just read)
            column = facets.layer_columns(net, pool.images, [layer], cache_dir=spec.cache, progress=False,
                                          ids=(model_id, pool_digest))[layer]
        weights = getattr(net, "weights_path", None)
        _CONTEXT.clear()
        _CONTEXT.update(key=key, net=net, layer=layer, field=field, pool=pool, column=column, column_path=path,
                        judge=None,
                        identity={"store_version": STORE_VERSION, "model": net.name,
                                  "weights_sha256": provenance.file_sha256(weights) if weights and weights.is_file()
                                  else model_id,
                                  "numerics": net.numerics, "layer": layer,
                                  "pool_sha256": pool_digest, "pool_size": len(pool)})
    return _CONTEXT


def pool_ref(ctx: dict) -> dict:
    """What a worker needs of a loaded :func:`context` to render units without decoding the whole
    pool (about 10 s and 1 GB per worker): the inputs' identity, the cached column's path, the
    pool's kept files and their classes. Sent once to every worker of a run."""
    return {"identity": ctx["identity"], "column": str(ctx["column_path"]),
            "paths": [str(p) for p in ctx["pool"].paths], "classes": np.asarray(ctx["pool"].classes)}


def worker_context(spec: Spec, ref: dict) -> dict:
    """:func:`context` from a :func:`pool_ref`: the models and the cached column are loaded, the
    pool's images are read from their files when a unit needs them (:class:`data.LazyImages`),
    which gives the same pixels. A worker that cannot see the column file or the pool's files
    (another machine without the client's paths), or computes with other numerics, loads the
    whole context itself (once: a process that holds it already uses it for the next units)."""
    key = (*_spec_key(spec), "ref", ref["column"])
    if _CONTEXT.get("key") in (key, _spec_key(spec)):
        return _CONTEXT
    path = Path(ref["column"])
    if not (path.is_file() and ref["paths"] and all(Path(p).is_file() for p in (ref["paths"][0], ref["paths"][-1]))):
        return context(spec)
    from mfv_utils import data
    from mfv_utils.networks import models, receptive

    net = models.load_model(spec.model, spec.weights, device=spec.device)
    column = np.load(path)
    if net.numerics != ref["identity"]["numerics"] or len(column) != len(ref["paths"]):
        return context(spec)
    layer = net.check_layer(spec.layer)
    pool = data.ImageSet("pool", data.LazyImages(ref["paths"], net.input_size), [Path(p) for p in ref["paths"]],
                         classes=np.asarray(ref["classes"]))
    _CONTEXT.clear()
    _CONTEXT.update(key=key, net=net, layer=layer, field=receptive.receptive_field(net, layer), pool=pool,
                    column=column, column_path=path, judge=None, identity=ref["identity"])
    return _CONTEXT


def unit_key(spec: Spec, identity: dict, unit: int) -> str:
    """The content key of one unit: its inputs' identity, the spec's choices and the unit."""
    # the device type is in the identity (the model's numerics, e.g. "folded@cpu"), so CPU keys
    # are those of stores made before the device became a choice
    choices = {k: v for k, v in asdict(spec).items() if k not in ("model", "weights", "pool", "cache", "device")}
    blob = json.dumps({"identity": identity, "choices": choices, "unit": int(unit)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


@contextmanager
def one_thread():
    """torch on one thread inside (restored after): workers share the cores, and a unit's numbers
    do not depend on the thread count of the process it ran in."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def quiet_steps():
    """No per-optimization progress lines inside a task (the run has one bar over units)."""
    from mfv_utils.runtime.progress import ENV

    before = os.environ.get(ENV)
    os.environ[ENV] = "quiet"
    try:
        yield
    finally:
        if before is None:
            del os.environ[ENV]
        else:
            os.environ[ENV] = before


def _jpeg(image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def render_unit(spec: Spec, unit: int, ref: dict | None = None) -> dict:
    """One unit's facets and measures: ``{"unit", "key", "files": {name: bytes}, "seconds"}``, or
    ``{"unit", "key", "error": one line}`` when it cannot be rendered (the run goes on). With a
    :func:`pool_ref` (how the engine calls it), the pool is not decoded whole."""
    t0 = time.perf_counter()
    with one_thread(), quiet_steps():
        ctx = context(spec) if ref is None else worker_context(spec, ref)
        key = unit_key(spec, ctx["identity"], unit)
        try:
            files = _render(spec, ctx, int(unit), key)
        except (ValueError, RuntimeError) as e:
            return {"unit": int(unit), "key": key, "error": f"{type(e).__name__}: {str(e).splitlines()[0]}"}
    return {"unit": int(unit), "key": key, "files": files, "seconds": round(time.perf_counter() - t0, 2)}


def _render(spec: Spec, ctx: dict, unit: int, key: str) -> dict[str, bytes]:
    from mfv_utils import data, facets
    from mfv_utils.evaluation import metrics, plots
    from mfv_utils.networks import models, receptive
    from mfv_utils.facets import unit_facets
    from mfv_utils.optimization import methods as mfv_methods

    net, layer, field, pool, column = ctx["net"], ctx["layer"], ctx["field"], ctx["pool"], ctx["column"]
    if not 0 <= unit < column.shape[1]:
        raise ValueError(f"unit {unit} out of range for layer {layer!r} of {net.name} ({column.shape[1]} units)")
    n_top = len(facets.top_indices(np.zeros(len(pool)), spec.top_n))
    # a class unit whose class has enough images in the pool clusters those (the paper's Fig. S4:
    # Algorithm 1 on the class's own images), every one of them; else its top images, flagged
    is_class = layer == net.logits_layer and column.shape[1] == 1000
    own = np.flatnonzero(np.asarray(pool.classes) == unit) if is_class else np.zeros(0, dtype=int)
    from_own = is_class and len(own) >= max(1, spec.own_class_min)
    if from_own:
        n_top = len(own)
    k_fixed = None if spec.k == "auto" else int(spec.k)
    if n_top < (k_fixed or 2) * 2:
        raise ValueError(f"only {n_top} top images for k={spec.k} facets (need at least 2 per facet): "
                         f"a larger pool or top_n")
    strongest = float(column[:, unit].max())
    if strongest <= 0:
        raise ValueError(f"unit {unit} never fires on the pool (its highest activation is {strongest:.3g}): "
                         f"no top images to cluster")
    at = (field.map_size // 2, field.map_size // 2)
    box = field.visible_box(*at)
    fill = net.mean.flatten()
    found = unit_facets.find(column, unit, pool.images, pool.classes, box, fill, n_top,
                             k_fixed or "auto", max(1, min(spec.m, n_top // (k_fixed or 10))), shown=10,
                             seed=spec.seed, candidates=own if from_own else None)
    k = len(found["largest"])
    draw = min(spec.draw, k)
    drawn = {**found, "largest": found["largest"][:draw], "mean_patches": found["mean_patches"][:draw],
             "centroids": found["centroids"][:draw], "cluster_patches": found["cluster_patches"][:draw]}
    recipe = mfv_methods.METHODS[spec.method]
    recipe = mfv_methods.smoke(recipe) if spec.smoke else recipe
    v = unit_facets.visualize(recipe, net, layer, field, at, [drawn], seed=spec.seed)
    # facet identity by the held-out judge: each drawn facet nearest its own cluster's real images
    if ctx["judge"] is None:
        ctx["judge"] = models.load_model(spec.judge, device=spec.device)
    top = found["top"]
    real = metrics.judge_features(ctx["judge"], receptive.crop_patches(pool.images[top], box, fill))
    viz = metrics.judge_features(ctx["judge"], v["images"])
    sims = metrics.unit_rows(viz) @ metrics.cluster_centroids(real, found["labels"], k).T
    identity = (sims.argmax(1) == np.array(found["largest"][:draw])).tolist()
    names = {c.index: c.name for c in data.imagenet_classes()}
    files, facets_json = {}, []
    for j, cluster in enumerate(found["largest"]):
        members = found["members"][j][:MEMBERS_SHOWN]
        strip = list(receptive.crop_patches(pool.images[members], box, fill))
        files[f"members_{j}.jpg"] = _jpeg(plots.contact_sheet([strip], cell=MEMBER))
        classes = pool.classes[top[found["labels"] == cluster]]
        main = np.bincount(np.maximum(classes, 0)).argmax() if len(classes) else -1
        entry = {"cluster": int(cluster), "size": int((found["labels"] == cluster).sum()),
                 "main_class": names.get(int(main), "?") if (classes >= 0).any() else None,
                 "members": [data.display_path(pool.paths[i]) for i in members]}
        if j < draw:
            files[f"facet_{j}.jpg"] = _jpeg(plots.contact_sheet([[v["images"][j]]], cell=THUMB))
            entry.update(act_start=round(float(v["act_start"][j]), 4), act_end=round(float(v["act_end"][j]), 4),
                         above_strongest_real=bool(v["act_end"][j] > strongest), judge_identity=bool(identity[j]))
        facets_json.append(entry)
    share = float(np.mean(pool.classes[top] == unit)) if is_class else None
    record = {
        "unit": unit, "layer": layer, "model": net.name, "key": key,
        "name": names.get(unit) if layer == net.logits_layer and column.shape[1] == 1000 else None,
        "k": k, "k_asked": spec.k, "silhouette": {str(a): round(b, 4) for a, b in found["silhouettes"].items()},
        "k_by_silhouette": found["k_data"], "n_top": n_top, "n_classes": found["n_classes"],
        "images": "own class" if from_own else "top images", "own_class_images_in_pool": int(len(own)),
        # class units: the share of the images behind the facets that are of the unit's class
        "own_class_share": None if share is None else round(share, 4),
        "mostly_other_classes": share is not None and share < 0.5,
        "class_entropy": round(found["class_entropy"], 4), "top_act_max": round(found["top_act_max"], 4),
        "strongest_real": round(strongest, 4), "strongest_real_path": data.display_path(
            pool.paths[int(np.argmax(column[:, unit]))]),
        "drawn": draw, "above_strongest_real": bool(min(v["act_end"]) > strongest),
        "facet_identity": round(float(np.mean(identity)), 4), "facets": facets_json,
        "method": spec.method, "seed": spec.seed, "smoke": spec.smoke,
    }
    files["unit.json"] = json.dumps(record, indent=1).encode()
    return files


