"""Every recipe tried for the facets' method, on class units, with every fidelity measure and its seconds.

    python benchmarks/recipes.py [--classes paper:bell_pepper paper:movie_theater imagenette:church]
        [--recipes NAME ...] [--seed 0] [--out build/recipes]

For each class: Algorithm 1 as notebook 01 runs it (Lite0 pooled codes, PCA, t-SNE with
perplexity 10 for the authors' 150 images and 30 for a whole class, k-means k=10, the 15 images
nearest each centroid), then each recipe from the 10 mean images, judged by the held-out Lite2.
Two baselines frame every table: ``seed`` (the mean images, not optimized) and ``real`` (each
cluster's representative real image). Beyond notebook 01's row: ``border_foreign``, the share of
the pixels along the border in colours no real image of the facet has (halos), and
``above_real``, the share out-firing the class's strongest real image. Prints one row per
recipe and writes ``<out>/<class>.json`` and ``<out>/<class>.png`` (one row of images per
recipe, to look at).
"""
import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

import mfv_utils as mfv
from mfv_utils import data
from mfv_utils.optimization import methods
from mfv_utils.evaluation import metrics, plots
from mfv_utils.networks import models
from mfv_utils.optimization.objectives import Anchor, ColourMatch

A = methods.METHODS["anchored"]
CANDIDATES = {  # the pieces of the fidelity issue, each alone on the anchored recipe, then combined
    "anchored": A,
    "project": dataclasses.replace(A, name="project", colour="project"),
    "match50": dataclasses.replace(A, name="match50", colour_match=ColourMatch(50.0)),
    "match200": dataclasses.replace(A, name="match200", colour_match=ColourMatch(200.0)),
    "match1000": dataclasses.replace(A, name="match1000", colour_match=ColourMatch(1000.0)),
    "spectrum": dataclasses.replace(A, name="spectrum", spectrum="real"),
    "maco_anchored": dataclasses.replace(A, name="maco_anchored", parametrization="maco", lr=0.02),
    "project_spectrum": dataclasses.replace(A, name="project_spectrum", colour="project", spectrum="real"),
    "match200_spectrum": dataclasses.replace(A, name="match200_spectrum", colour_match=ColourMatch(200.0),
                                             spectrum="real"),
}
PS = CANDIDATES["project_spectrum"]
CANDIDATES.update({  # round 2: the anchors' strength and the schedule's length on project_spectrum
    "ps_c400": dataclasses.replace(PS, name="ps_c400", anchors=(Anchor("centroid", 400.0), Anchor("seed", 50.0))),
    "ps_c800": dataclasses.replace(PS, name="ps_c800", anchors=(Anchor("centroid", 800.0), Anchor("seed", 50.0))),
    "ps_c400_s0": dataclasses.replace(PS, name="ps_c400_s0", anchors=(Anchor("centroid", 400.0),)),
    "ps_c300_s0": dataclasses.replace(PS, name="ps_c300_s0", anchors=(Anchor("centroid", 300.0),)),
    "ps_c600_s0": dataclasses.replace(PS, name="ps_c600_s0", anchors=(Anchor("centroid", 600.0),)),
    "ps_300": dataclasses.replace(PS, name="ps_300", steps=300),
    "ps_c400_300": dataclasses.replace(PS, name="ps_c400_300", steps=300,
                                       anchors=(Anchor("centroid", 400.0), Anchor("seed", 50.0))),
})
F = methods.METHODS["facet"]
CANDIDATES.update({  # round 3 (issue 31): the border halos. "project" scales each channel about the
    # image's mean colour, so a pale background, less green than a green pepper, turns magenta;
    # "grey" scales chroma about grey (param.ColourProjected's ``chroma``)
    "facet_grey": dataclasses.replace(F, name="facet_grey", colour="grey"),
})
COLUMNS = ("facet_identity", "facet_identity_strict", "seed_identity", "diversity_ratio", "hf_ratio",
           "color_distance", "border_foreign", "above_real", "top1", "judge_top5")


def extra(images, found, acts=None) -> dict:
    """The measures beyond notebook 01's fidelity row: the share of border pixels in colours no
    real image of the facet has (halos; metrics.foreign_colours), and of the images that out-fire
    the class's strongest real image (``acts``: the unit on each image, if a visualization knows it)."""
    if acts is None:
        with torch.no_grad():
            acts = models.unit_activation(found.model(images, found.unit.layer), found.unit).cpu().numpy()
    foreign = [metrics.foreign_colours(images[j], found.real(j)) for j in range(found.k)]
    return {"border_foreign": round(float(np.mean(foreign)), 4),
            "border_foreign_max": round(float(np.max(foreign)), 4),
            "above_real": float(np.mean(acts > found.strongest_real))}


def facets_of(spec: str, net, seed: int):
    """Algorithm 1 on a class's images, as notebook 01 runs it (the public API)."""
    s = data.load_image_set(spec)
    found = mfv.find_facets(net, models.Unit(net.logits_layer, s.target.index), images=s, k=10, m=15,
                            perplexity=10.0 if spec.startswith("paper:") else 30.0, seed=seed)
    return s, found


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--classes", nargs="+", default=["paper:bell_pepper", "paper:movie_theater", "imagenette:church"])
    ap.add_argument("--recipes", nargs="+", default=list(CANDIDATES))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=None, help="override every recipe's steps (quick looks)")
    ap.add_argument("--out", default="build/recipes")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    net, judge = models.load_model(), models.load_model("efficientnet_lite2")
    pool = {**methods.METHODS, **CANDIDATES}
    for spec in args.classes:
        s, found = facets_of(spec, net, args.seed)
        means = found.mean_images
        rj = metrics.judge_features(judge, s.images, cache_dir=".cache/codes")
        reps = s.images[metrics.representatives(rj, found.labels, found.k)]
        rows, shown = [], {}
        for name, images, secs in [("seed", means, 0.0), ("real", reps, 0.0)]:
            f = metrics.fidelity(images, means, s.images, found.labels, s.target.index, net, judge, rj)["summary"]
            rows.append({"recipe": name, **f, **extra(images, found), "seconds": secs})
            shown[name] = images
        for name in args.recipes:
            recipe = pool[name]
            if args.steps:
                recipe = dataclasses.replace(recipe, steps=args.steps)
            res = found.visualize(recipe, seed=args.seed, progress=False)
            secs = round(res.seconds, 1)
            f = metrics.fidelity(res.images, means, s.images, found.labels, s.target.index, net, judge, rj)["summary"]
            rows.append({"recipe": name, **f, **extra(res.images, found, res.act_end), "seconds": secs})
            shown[name] = res.images
            f = rows[-1]
            print(f"{spec} {name:18s} " + " ".join(f"{c[:12]}={f[c]:.2f}" for c in COLUMNS) + f" {secs:.0f}s",
                  flush=True)
        tag = spec.replace(":", "_").replace("/", "_")
        (out / f"{tag}.json").write_text(json.dumps(rows, indent=1))
        fig = plots.image_rows({f"{r['recipe']}\nid {r['facet_identity']:.1f}/{r['facet_identity_strict']:.1f} "
                                f"col {r['color_distance']:.2f} halo {r['border_foreign']:.2f}": shown[r["recipe"]] for r in rows},
                               title=f"{spec}: one row per recipe")
        fig.savefig(out / f"{tag}.png", dpi=45, bbox_inches="tight")
        print(f"{'recipe':18s} " + " ".join(f"{c[:14]:>14s}" for c in COLUMNS) + "  seconds")
        for r in rows:
            print(f"{r['recipe']:18s} " + " ".join(f"{r[c]:14.2f}" for c in COLUMNS) + f"  {r['seconds']:7.1f}")


if __name__ == "__main__":
    main()
