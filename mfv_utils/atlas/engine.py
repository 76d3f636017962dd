"""Running an atlas: every asked unit that the store lacks, as Dask tasks (or a serial loop), into the store."""
from __future__ import annotations

import json
import os
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, replace
from pathlib import Path

from mfv_utils.atlas.cluster import connect, local_cluster
from mfv_utils.atlas.store import atomic_write, check_unit, read_manifest, stored_key, write_unit
from mfv_utils.atlas.tasks import Spec, context, pool_ref, render_unit, unit_key

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


# ----------------------------------------------------------------------------- running
def run(spec: Spec, units: list[int], out: str | Path, workers: int | None = None, scheduler: str | None = None,
        progress: bool = True) -> dict:
    """Render ``units`` into the store ``out`` (see the package docstring); returns the manifest.
    With ``scheduler``, its client connects first: a scheduler that is not there is a one-line
    ValueError within :data:`~.cluster.CONNECT_TIMEOUT` seconds, before anything is loaded."""
    remote = connect(scheduler) if scheduler is not None else None
    try:
        return _run(spec, units, Path(out), workers, remote, progress)
    finally:
        if remote is not None:
            remote.close()


def run_device(device: str, remote=None) -> str:
    """The one device type a run computes on, from ``device`` ("auto", "cpu", "cuda[:N]"): "auto" is
    CUDA when this machine (serial, LocalCluster) or every worker of ``remote`` sees a GPU, else the
    CPU. Workers that differ, or a device that is not there, are a one-line ValueError. A unit's key
    holds the device type (through the model's numerics): the bytes differ across device types."""
    from mfv_utils.networks import models

    if remote is None:
        return models.resolve_device(device).type
    import torch

    def has_gpu() -> bool:
        return bool(torch.cuda.is_available())

    seen = remote.run(has_gpu)
    if not seen:
        raise ValueError(f"the scheduler at {remote.scheduler.address} has no workers")
    gpus = sum(seen.values())
    if str(device) == "auto":
        if 0 < gpus < len(seen):
            raise ValueError(f"{gpus} of the {len(seen)} workers see a GPU: pass --device cpu, or run the GPU "
                             "workers on a scheduler of their own (a unit's bytes depend on the device type)")
        return "cuda" if gpus else "cpu"
    kind = models.resolve_device(device).type if str(device).startswith("cpu") else str(device).split(":")[0]
    if kind == "cuda" and gpus < len(seen):
        raise ValueError(f"--device {device}: {len(seen) - gpus} of the {len(seen)} workers see no GPU")
    return kind


def _run(spec: Spec, units: list[int], out: Path, workers: int | None, remote, progress: bool) -> dict:
    from mfv_utils.runtime.progress import bar

    scheduler = remote.scheduler.address if remote is not None else None
    spec = replace(spec, device=run_device(spec.device, remote))
    spec = replace(spec, cache=str(Path(spec.cache).resolve()), pool=tuple(spec.pool))
    if spec.k != "auto" and not 2 <= int(spec.k) <= 10:
        raise ValueError(f"k must be 2..10 or 'auto', got {spec.k!r}")
    from mfv_utils.optimization import methods as mfv_methods

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
    damaged = {u: check_unit(out / "units" / str(u))[1] for u in todo if (out / "units" / str(u)).exists()}
    damaged = {u: why for u, why in damaged.items() if why is not None}
    changed = [u for u in todo if (out / "units" / str(u)).exists() and u not in damaged]
    for u in units:
        if u not in todo:
            manifest["units"][str(u)] = {**manifest["units"].get(str(u), {}), "status": "done", "key": keys[u]}
    out.mkdir(parents=True, exist_ok=True)
    this_run = {"asked": len(units), "reused": len(units) - len(todo), "recomputed_changed": len(changed),
                "recomputed_damaged": sorted(damaged),
                "computed": [], "failed": [], "workers": None, "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    manifest.setdefault("runs", []).append(this_run)
    atomic_write(out / "manifest.json", json.dumps(manifest, indent=1).encode())
    if changed:
        print(f"{len(changed)} stored units were made from other inputs: recomputing them", file=sys.stderr)
    for u, why in damaged.items():
        print(f"unit {u} is damaged in the store ({why}): recomputing it", file=sys.stderr)

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
        with (local_cluster(n) if remote is None else nullcontext(None)) as cluster, \
                (Client(cluster) if remote is None else nullcontext(remote)) as client:
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


