"""Does the `facet` method's centroid anchor hold a unit back from out-firing its strongest real
image? Each variant of the anchor (and the out-fire constraint, ``facet_win``) on pool units (their 4 largest facets, from the atlas pool) and
on class units (all 10 facets of their own images): how many visualizations end above the
unit's strongest real image, and the judge's facet identity. One run each, seed 0.

    python benchmarks/anchor_weight.py --pool-units 3 5 --classes paper:bell_pepper imagenette:church

Prints one JSON line per (unit, variant); docs/method.md has the table it gave.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import torch

import mfv_utils as mfv
from mfv_utils.data import imagenet_classes
from mfv_utils.optimization import methods
from mfv_utils.optimization.objectives import Anchor, OutFire

POOL = "pool:imagenette:val+ilsvrc12-val-1300+imagewoof+samples+paper"  # the atlas's pool
# name: (anchor weight, anchor ceiling, out-fire constraint)
VARIANTS = {"facet": (400.0, None, None), "w100": (100.0, None, None), "w25": (25.0, None, None),
            "yield400": (400.0, "members", None), "win": (400.0, None, OutFire()),
            "win_late": (400.0, None, OutFire(start=0.5))}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pool-units", type=int, nargs="*", default=[3, 5])
    ap.add_argument("--classes", nargs="*", default=["paper:bell_pepper", "imagenette:church"])
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS))
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    net = mfv.load_model("efficientnet_lite0")
    jobs = [(f"pool:{u}", POOL) for u in args.pool_units] + [(None, c) for c in args.classes]
    for unit, images in jobs:
        if unit is None:
            found = mfv.find_facets(net, _class_unit(images), images=images)
        else:
            found = mfv.find_facets(net, unit, images=images, top_n=180).largest(4)
        for name in args.variants:
            weight, ceiling, out_fire = VARIANTS[name]
            recipe = replace(methods.METHODS["facet"], anchors=(Anchor("centroid", weight, ceiling=ceiling),),
                             out_fire=out_fire)
            t0 = time.time()
            viz = found.visualize(recipe, seed=0)
            score = viz.score("efficientnet_lite2")
            print(json.dumps({"unit": f"{found.unit.layer}:{found.unit.channel}", "images": images, "variant": name,
                              "strongest_real": round(found.strongest_real, 3),
                              "act_end": [round(float(a), 2) for a in viz.act_end],
                              "above": int(viz.above_strongest_real.sum()), "shown": len(viz.act_end),
                              "facet_identity": score.summary["facet_identity"], "seconds": round(time.time() - t0, 1)}),
                  flush=True)


def _class_unit(images: str) -> str:
    """``logits:<index>`` of an image set's class (``paper:bell_pepper`` -> ``logits:945``)."""
    name = images.split(":", 1)[1].replace("_", " ").lower()
    names = {"movie theater": "cinema"}
    index = next(c.index for c in imagenet_classes() if c.name.lower() == names.get(name, name))
    return f"logits:{index}"


if __name__ == "__main__":
    main()
