"""A multifaceted atlas: the facets of every unit of a layer, as Dask tasks, into a content-keyed store.

    python -m mfv_utils.atlas --model efficientnet_lite0 --layer logits --units 0-999 \\
        --out atlas/lite0-logits [--workers N | --scheduler tcp://HOST:8786] [--k auto|10] [--smoke]
    python -m mfv_utils.atlas site atlas/lite0-logits        # writes atlas/lite0-logits/index.html

One pure task per unit, :func:`render_unit`: the unit's top images in the pool (the paper's top
2 %, from the pool's codes at the layer, computed once and cached on disk; a class unit whose
class has ``--own-class-min`` images in the pool takes all of them instead, the paper's Fig. S4
rule, and its record says which, with the share of its images that are of its class), Algorithm 1 on them
(:mod:`.unit_facets`, as notebooks 02 and 05), the figures' method from the ``draw`` largest
facets' mean images, and the unit's measures. It returns the unit's files (``unit.json``, JPEG
thumbnails); the client writes them, so workers need no shared disk for the output.

**The store** (``--out``): ``units/<unit>/`` per unit, written atomically (a temporary folder
renamed into place), and ``manifest.json`` (what was asked, every unit's status: done, or failed
with a one-line reason; rewritten atomically after every unit). A unit is keyed by the content of
its inputs: model, weights hash, layer, unit, pool hash, method, k, m, top-n, own-class-min, draw,
seed, smoke.
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
import sys

from mfv_utils.atlas.engine import parse_units, run
from mfv_utils.atlas.tasks import Spec

def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["site"]:
        from mfv_utils.atlas.site import main as site_main

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
    ap.add_argument("--own-class-min", type=int, default=Spec.own_class_min,
                    help="a class unit with at least this many pool images of its class clusters all of them "
                         "(the paper's Fig. S4 rule), else its top images (flagged)")
    ap.add_argument("--method", default=Spec.method)
    ap.add_argument("--seed", type=int, default=Spec.seed)
    ap.add_argument("--device", default=Spec.device, help="auto (default: CUDA where every worker has a GPU, "
                    "else the CPU), cpu or cuda")
    ap.add_argument("--smoke", action="store_true", help="about 15 optimization steps (CI)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    try:
        spec = Spec(model=args.model, weights=args.weights, layer=args.layer, pool=tuple(args.pool),
                    top_n=args.top_n if args.top_n < 1 else int(args.top_n), own_class_min=args.own_class_min,
                    k=args.k if args.k == "auto" else int(args.k), m=args.m, draw=args.draw, method=args.method,
                    seed=args.seed, smoke=args.smoke, device=args.device)
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
    sys.exit(main())
