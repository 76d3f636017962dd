"""A multifaceted atlas: the facets of every unit of a layer, as Dask tasks, into a content-keyed store.

    python -m mfv_utils.atlas --model efficientnet_lite0 --layer logits --units 0-999 \\
        --out atlas/lite0-logits [--workers N | --scheduler tcp://HOST:8786] [--k auto|10] [--smoke]
    python -m mfv_utils.atlas site atlas/lite0-logits        # writes atlas/lite0-logits/index.html

One pure task per unit, :func:`render_unit`: the unit's top images in the pool (the paper's top
2 %, from the pool's codes at the layer, computed once and cached on disk), Algorithm 1 on them
(:mod:`.unit_facets`, as notebooks 02 and 05), the figures' method from the ``draw`` largest
facets' mean images, and the unit's measures. It returns the unit's files (``unit.json``, JPEG
thumbnails); the client writes them, so workers need no shared disk for the output.

**The store** (``--out``): ``units/<unit>/`` per unit, written atomically (a temporary folder
renamed into place), and ``manifest.json`` (what was asked, every unit's status: done, or failed
with a one-line reason; rewritten atomically after every unit). A unit is keyed by the content of
its inputs: model, weights hash, layer, unit, pool hash, method, k, m, top-n, draw, seed, smoke.
A rerun skips units whose ``unit.json`` holds the same key and recomputes the others, so a run
killed at any point resumes where it stopped, and a changed input never reuses a stale unit. A
store holds one model's layer: asking another model or layer of it is a one-line error.

**The engine** is ``dask.distributed``: by default an in-process ``LocalCluster`` with one worker
per core, one thread each (torch pinned to one thread in every task, so workers do not fight for
the cores, and a unit's bytes do not depend on where it ran); ``--workers 1`` runs the same tasks
in a serial loop in this process; ``--scheduler ADDRESS`` sends them to an existing cluster.
The client loads the pool once (its codes are computed there and cached) and sends every worker
:func:`pool_ref`: a worker that sees the cached codes and the pool's files reads only the images
each unit needs (:func:`worker_context`), so its start-up is its models, not the whole pool.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import sys
import time
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

STORE_VERSION = 1
THUMB = 128  # px of a facet's visualization
MEMBER = 80  # px of a member thumbnail
MEMBERS_SHOWN = 5  # members per facet in a unit's files


@dataclass(frozen=True)
class Spec:
    """What an atlas run computes for every unit (everything but the unit)."""

    model: str = "efficientnet_lite0"
    weights: str | None = None
    layer: str = "logits"
    pool: tuple[str, ...] = ("imagenette:val", "ilsvrc12-val-1300", "samples", "paper")
    top_n: float = 0.02  # a unit's top images: a fraction of the pool (paper 2 %) or a count
    k: int | str = 10  # facets, or "auto": the k in 2..10 with the best silhouette
    m: int = 15  # members averaged into a facet's mean image
    draw: int = 4  # facets visualized per unit, the largest first (all facets get their real images)
    method: str = "facet"  # mfv_utils.methods.METHODS
    judge: str = "efficientnet_lite2"  # held-out network of the facet-identity measure
    seed: int = 0
    smoke: bool = False  # about 15 optimization steps (CI)
    cache: str = ".cache/codes"  # where the pool's codes are cached (absolute once a run starts)


# What a LocalCluster's workers run with. A task runs in a worker thread, not a main thread:
# glibc gives that thread its own malloc arena, whose heaps are unmapped whenever a large tensor
# frees them, so optimization steps fault their activations in again (measured on a lone worker:
# about 1M page faults and 1.5 s of system time per unit, against 2 faults in a main thread). One
# arena per process (MALLOC_ARENA_MAX=1, set before the worker starts: malloc reads it once) keeps
# the freed memory warm, as frozen.keep_freed_memory does for a main thread, and Dask's sampling
# profiler (every 10 ms, for the dashboard, which the atlas does not start) is off. PyTorch's
# blocks of 2 MB and more go on transparent huge pages (THP_MEM_ALLOC_ENABLE, read once by torch):
# with both workers busy, a worker still faulted in 50-130 K fresh 4 KB pages per unit at 20-30 us
# each on these VMs (perf: the time is in clear_page under do_anonymous_page), about 3 s of system
# time; on huge pages a worker's later units fault nothing and its steps miss the TLB less. A
# worker's first unit pays for its huge pages once. Dask's own clocks tick slower: the event
# loop's blocked-loop monitor (20 ms -> 1 s), the system monitor (dashboard statistics, 500 ms ->
# 5 s) and the memory monitors of worker and nanny (100 ms -> 1 s: a unit's memory grows over
# seconds, not milliseconds); with both cores busy their wake-ups took a task's core from it
# (a worker's later units: 30.4 s wall on 28.7 s of CPU before, 28.3-28.9 s on 27.7-28.2 s
# after). Same bytes (tested). README: the same settings for `dask worker`.
WORKER_CONFIG = {"distributed.nanny.pre-spawn-environ.MALLOC_ARENA_MAX": 1,
                 "distributed.nanny.pre-spawn-environ.THP_MEM_ALLOC_ENABLE": 1,
                 "distributed.worker.profile.enabled": False,
                 "distributed.admin.tick.interval": "1s",
                 "distributed.admin.system-monitor.interval": "5s",
                 "distributed.worker.memory.monitor-interval": "1s"}


# ----------------------------------------------------------------------------- one unit
_CONTEXT: dict = {}  # per process: the loaded models, pool and codes of the last spec


def _spec_key(spec: Spec) -> tuple:
    return (spec.model, spec.weights, spec.layer, tuple(spec.pool), spec.judge, spec.cache)


def context(spec: Spec) -> dict:
    """Models, pool, codes and the identity of ``spec``'s inputs, loaded once per process."""
    key = _spec_key(spec)
    if _CONTEXT.get("key") != key:
        from . import data, facets, models, provenance, receptive

        net = models.load_model(spec.model, spec.weights, device="cpu")
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
    from . import data, models, receptive

    net = models.load_model(spec.model, spec.weights, device="cpu")
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
    choices = {k: v for k, v in asdict(spec).items() if k not in ("model", "weights", "pool", "cache")}
    blob = json.dumps({"identity": identity, "choices": choices, "unit": int(unit)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


@contextmanager
def kept_environ():
    """``os.environ`` as it was, on exit. Dask's nanny writes its pre-spawn variables (one BLAS and
    OpenMP thread, one malloc arena, ...) into the environment of the process that holds a
    LocalCluster and never takes them back: every later child of that process (a notebook kernel,
    a test's subprocess) would compute on one thread, and t-SNE's clusters depend on that."""
    before = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(before)


@contextmanager
def local_cluster(n: int):
    """A LocalCluster of ``n`` one-thread worker processes with :data:`WORKER_CONFIG`, closed on
    exit, leaving this process's environment as it found it (:func:`kept_environ`)."""
    import dask
    from distributed import LocalCluster

    with kept_environ():
        with dask.config.set(WORKER_CONFIG):
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                   env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
        with cluster:
            yield cluster


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
    from .progress import ENV

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
    from . import data, facets, metrics, models, plots, receptive, unit_facets
    from . import methods as mfv_methods

    net, layer, field, pool, column = ctx["net"], ctx["layer"], ctx["field"], ctx["pool"], ctx["column"]
    if not 0 <= unit < column.shape[1]:
        raise ValueError(f"unit {unit} out of range for layer {layer!r} of {net.name} ({column.shape[1]} units)")
    n_top = len(facets.top_indices(np.zeros(len(pool)), spec.top_n))
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
                             seed=spec.seed)
    k = len(found["largest"])
    draw = min(spec.draw, k)
    drawn = {**found, "largest": found["largest"][:draw], "mean_patches": found["mean_patches"][:draw],
             "centroids": found["centroids"][:draw], "cluster_patches": found["cluster_patches"][:draw]}
    recipe = mfv_methods.METHODS[spec.method]
    recipe = mfv_methods.smoke(recipe) if spec.smoke else recipe
    v = unit_facets.visualize(recipe, net, layer, field, at, [drawn], seed=spec.seed)
    # facet identity by the held-out judge: each drawn facet nearest its own cluster's real images
    if ctx["judge"] is None:
        ctx["judge"] = models.load_model(spec.judge, device="cpu")
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
                         judge_identity=bool(identity[j]))
        facets_json.append(entry)
    record = {
        "unit": unit, "layer": layer, "model": net.name, "key": key,
        "name": names.get(unit) if layer == net.logits_layer and column.shape[1] == 1000 else None,
        "k": k, "k_asked": spec.k, "silhouette": {str(a): round(b, 4) for a, b in found["silhouettes"].items()},
        "k_by_silhouette": found["k_data"], "n_top": n_top, "n_classes": found["n_classes"],
        "class_entropy": round(found["class_entropy"], 4), "top_act_max": round(found["top_act_max"], 4),
        "drawn": draw, "above_strongest_real": bool(min(v["act_end"]) > found["top_act_max"]),
        "facet_identity": round(float(np.mean(identity)), 4), "facets": facets_json,
        "method": spec.method, "seed": spec.seed, "smoke": spec.smoke,
    }
    files["unit.json"] = json.dumps(record, indent=1).encode()
    return files


# ----------------------------------------------------------------------------- the store
def parse_units(text: str) -> list[int]:
    """``"0-9,12,20-22"`` -> [0, ..., 9, 12, 20, 21, 22] (one-line error for anything else)."""
    units = []
    for part in str(text).split(","):
        a, dash, b = part.strip().partition("-")
        try:
            lo, hi = int(a), int(b) if dash else int(a)
        except ValueError:
            raise ValueError(f"bad --units {text!r}: use numbers and ranges like 0-999 or 1,5,7-9") from None
        if hi < lo:
            raise ValueError(f"bad --units range {part!r}: the end is before the start")
        units.extend(range(lo, hi + 1))
    return list(dict.fromkeys(units))


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file renamed into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_unit(out: Path, result: dict) -> None:
    """The unit's folder, written whole into a temporary folder and renamed into place."""
    units = out / "units"
    units.mkdir(parents=True, exist_ok=True)
    final = units / str(result["unit"])
    tmp = units / f".tmp-{result['unit']}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for name, blob in result["files"].items():
        (tmp / name).write_bytes(blob)
    if final.exists():
        old = units / f".old-{result['unit']}-{os.getpid()}"
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)


def stored_key(out: Path, unit: int) -> str | None:
    try:
        return json.loads((out / "units" / str(unit) / "unit.json").read_text())["key"]
    except (OSError, ValueError, KeyError):
        return None


def read_manifest(out: Path) -> dict | None:
    path = Path(out) / "manifest.json"
    return json.loads(path.read_text()) if path.is_file() else None


# ----------------------------------------------------------------------------- running
def run(spec: Spec, units: list[int], out: str | Path, workers: int | None = None, scheduler: str | None = None,
        progress: bool = True) -> dict:
    """Render ``units`` into the store ``out`` (see the module docstring); returns the manifest."""
    from .progress import bar

    out = Path(out)
    spec = replace(spec, cache=str(Path(spec.cache).resolve()), pool=tuple(spec.pool))
    if spec.k != "auto" and not 2 <= int(spec.k) <= 10:
        raise ValueError(f"k must be 2..10 or 'auto', got {spec.k!r}")
    from . import methods as mfv_methods

    mfv_methods.check_known([spec.method])
    ctx = context(spec)  # the pool decoded on every core; its codes computed once and cached for every worker
    identity = ctx["identity"]
    n_units = ctx["column"].shape[1]
    bad = [u for u in units if not 0 <= u < n_units]
    if bad:
        raise ValueError(f"units {bad[:5]} out of range for layer {spec.layer!r} of {identity['model']} "
                         f"({n_units} units)")
    manifest = read_manifest(out)
    if manifest is not None:
        held = manifest["identity"]
        if (held["model"], held["layer"]) != (identity["model"], identity["layer"]):
            raise ValueError(f"{out} holds the atlas of {held['model']} {held['layer']}; this run asks for "
                             f"{identity['model']} {identity['layer']}: use another --out")
    else:
        manifest = {"units": {}}
    manifest.update(identity=identity, spec={**asdict(spec), "cache": None})
    keys = {u: unit_key(spec, identity, u) for u in units}
    todo = [u for u in units if stored_key(out, u) != keys[u]]
    changed = [u for u in todo if (out / "units" / str(u)).exists()]
    for u in units:
        if u not in todo:
            manifest["units"][str(u)] = {**manifest["units"].get(str(u), {}), "status": "done", "key": keys[u]}
    out.mkdir(parents=True, exist_ok=True)
    this_run = {"asked": len(units), "reused": len(units) - len(todo), "recomputed_changed": len(changed),
                "computed": [], "failed": [], "workers": None, "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    manifest.setdefault("runs", []).append(this_run)
    atomic_write(out / "manifest.json", json.dumps(manifest, indent=1).encode())
    if changed:
        print(f"{len(changed)} stored units were made from other inputs: recomputing them", file=sys.stderr)

    def record(result):
        u = str(result["unit"])
        if "error" in result:
            manifest["units"][u] = {"status": "failed", "key": result["key"], "reason": result["error"]}
            this_run["failed"].append(result["unit"])
        else:
            write_unit(out, result)
            manifest["units"][u] = {"status": "done", "key": result["key"], "seconds": result["seconds"]}
            this_run["computed"].append(result["unit"])
        atomic_write(out / "manifest.json", json.dumps(manifest, indent=1).encode())

    t0 = time.perf_counter()
    progress_bar = bar(len(todo), f"atlas {identity['model']} {identity['layer']}", enabled=progress)
    if todo and workers == 1 and scheduler is None:
        this_run["workers"] = "serial"
        for u in todo:
            record(render_unit(spec, u))
            progress_bar.update(1)
    elif todo:
        from distributed import Client, as_completed

        n = workers or os.cpu_count() or 1
        this_run["workers"] = f"LocalCluster({n})" if scheduler is None else scheduler
        with (local_cluster(n) if scheduler is None else nullcontext(scheduler)) as cluster, Client(cluster) as client:
            ref = client.scatter(pool_ref(ctx), broadcast=True)
            futures = client.map(render_unit, [spec] * len(todo), todo, ref=ref, pure=False)
            for fut in as_completed(futures):
                record(fut.result())
                progress_bar.update(1)
    progress_bar.close()
    this_run["seconds"] = round(time.perf_counter() - t0, 2)
    atomic_write(out / "manifest.json", json.dumps(manifest, indent=1).encode())
    for u in this_run["failed"]:
        print(f"unit {u} failed: {manifest['units'][str(u)]['reason']}", file=sys.stderr)
    return manifest


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["site"]:
        from .atlas_site import main as site_main

        return site_main(argv[1:])
    ap = argparse.ArgumentParser(prog="python -m mfv_utils.atlas", description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=Spec.model, help="built-in name, or a timm / torchvision name with --weights")
    ap.add_argument("--weights", default=None, help="local state-dict file (timm / torchvision / alexnet)")
    ap.add_argument("--layer", default=Spec.layer)
    ap.add_argument("--units", required=True, help="e.g. 0-999 or 1,5,7-9")
    ap.add_argument("--out", required=True, help="the store folder")
    engine = ap.add_mutually_exclusive_group()
    engine.add_argument("--workers", type=int, default=None, help="LocalCluster workers (default: one per core); "
                        "1: a serial loop in this process")
    engine.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler (tcp://HOST:8786)")
    ap.add_argument("--k", default="10", help="facets per unit, 2..10, or auto (silhouette)")
    ap.add_argument("--m", type=int, default=Spec.m)
    ap.add_argument("--draw", type=int, default=Spec.draw, help="facets visualized per unit (largest first)")
    ap.add_argument("--top-n", type=float, default=Spec.top_n, help="top images: a fraction of the pool or a count")
    ap.add_argument("--pool", nargs="+", default=list(Spec.pool), help="pool parts or folders")
    ap.add_argument("--method", default=Spec.method)
    ap.add_argument("--seed", type=int, default=Spec.seed)
    ap.add_argument("--smoke", action="store_true", help="about 15 optimization steps (CI)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    try:
        spec = Spec(model=args.model, weights=args.weights, layer=args.layer, pool=tuple(args.pool),
                    top_n=args.top_n if args.top_n < 1 else int(args.top_n),
                    k=args.k if args.k == "auto" else int(args.k), m=args.m, draw=args.draw, method=args.method,
                    seed=args.seed, smoke=args.smoke)
        manifest = run(spec, parse_units(args.units), args.out, workers=args.workers, scheduler=args.scheduler,
                       progress=not args.quiet)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    last = manifest["runs"][-1]
    print(f"{args.out}: {len(last['computed'])} units computed, {last['reused']} reused, "
          f"{len(last['failed'])} failed in {last['seconds']:.0f} s ({last['workers']})")
    return 0


if __name__ == "__main__":
    # run the importable module's main: tasks defined in __main__ would be pickled by value (with this
    # process's loaded pool) instead of by reference
    from mfv_utils import atlas

    sys.exit(atlas.main())
