"""The spread of the stochastic numbers that tests assert on, over seeds and thread counts.

    python benchmarks/smoke_spread.py [--seeds 5]
    python benchmarks/smoke_spread.py --notebook04 [--seeds 4]

In smoke mode (about 15 iterations): the default method from the 10 facet mean images of the
bell-pepper notebook run (t-SNE clusters, seed 0), and every Fourier-family method from the
3 authors' clusters the unit tests use: the smallest per-facet logit gain (final - start) and the number of top-1 facets,
for optimization seeds 0..N-1 and 1 or 2 torch threads. The tests' thresholds must sit well
outside the ranges printed here.

``--notebook04``: what tests/optimization/test_comparison.py and tests/notebooks/test_notebook04.py assert on: the
smallest logit gain of each pixel-space prior (12 steps from noise, classes 945 and 0), and
notebook 04's smoke run (bell pepper and tench) executed headless per seed and thread count:
hf_ratio of ``none`` / that of ``anchored`` and both colour distances, per class.
"""
import json
import os
import tempfile
import argparse

import torch

from mfv_utils import data, facets
from mfv_utils.optimization import methods, optimize, param
from mfv_utils.evaluation import metrics
from mfv_utils.networks import models


def inputs(net, s, labels, groups):
    at = torch.nn.functional.interpolate(s.images.float(), size=(net.input_size,) * 2, mode="bilinear",
                                         antialias=True, align_corners=False)
    with torch.no_grad():
        codes = torch.nn.functional.normalize(net(s.images.float(), "pool"), dim=1)
    seeds = torch.stack([s.images[labels == j].float().mean(0) for j in groups])
    cents = torch.stack([codes[labels == j].mean(0) for j in groups])
    mags = torch.stack([param.mean_magnitude(at[labels == j]) for j in groups])
    return seeds, cents, mags, [s.images[labels == j] for j in groups]


def notebook04(seeds: int):
    from mfv_utils.run import run_notebook

    net = models.load_model()
    for name in ("l2_decay", "alpha_norm", "blur", "tv_jitter", "tv_penalty_jitter"):
        gains = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for seed in range(seeds):
                start, recipe = methods.COMPARISON[name]
                res = methods.run(methods.smoke(recipe, 12), net, models.Unit("logits", (945, 0)),
                                  optimize.noise_images(2, 224, seed), seed=seed, progress=False)
                gains.append(float((res.history[:, -1] - res.history[:, 0]).min()))
        print(f"prior {name:18s} min logit gain {min(gains):6.2f} .. {max(gains):6.2f}", flush=True)
    factors, colors = [], {"none": [], "facet": []}
    for threads in (1, 2):
        for seed in range(seeds):
            with tempfile.TemporaryDirectory() as tmp:
                os.environ["OMP_NUM_THREADS"] = str(threads)  # the kernel's torch reads it
                run_notebook("notebooks/04_prior_comparison.py", {
                    "classes": ["paper:bell_pepper", "imagenette:tench"], "seed": seed, "out_dir": f"{tmp}/out"},
                    smoke=True, build_dir=tmp)
                res = {(r["method"], r["class"]): r for r in json.load(open(f"{tmp}/out/metrics.json"))["results"]}
            for cls in ("bell pepper", "tench"):
                factors.append(res[("none", cls)]["hf_ratio"] / res[("facet", cls)]["hf_ratio"])
                for name in colors:
                    colors[name].append(res[(name, cls)]["color_distance"])
            print(f"notebook 04 smoke, seed {seed}, {threads} threads: hf none/facet "
                  f"{min(factors[-2:]):.1f} .. {max(factors[-2:]):.1f}", flush=True)
    print(f"notebook 04 smoke: hf_ratio none / facet {min(factors):.1f} .. {max(factors):.1f}; colour "
          + "; ".join(f"{n} {min(v):.3f} .. {max(v):.3f}" for n, v in colors.items()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--notebook04", action="store_true")
    args = ap.parse_args()
    if args.notebook04:
        return notebook04(args.seeds)
    net = models.load_model()
    s = data.load_image_set("paper:bell_pepper")
    codes = facets.layer_codes(net, s.images, cache_dir=".cache/codes")
    found = facets.find_facets(facets.embed(codes, seed=0, perplexity=10.0), k=10, m=15, seed=0)
    # what the tests assert on: the notebook's smoke run (its default method) and the unit test
    smoke = {name: methods.smoke(methods.METHODS[name]) for name in methods.METHODS}
    # tests/optimization/test_optimize.py runs the paper schedule at 0.03 of its length (15 iterations)
    paper_test = {"paper (x0.03)": optimize.shorten(optimize.MEAN_INIT, 0.03)}
    setups = {"notebook (10 t-SNE facets)": (inputs(net, s, found.labels, range(10)),
                                             {"facet": smoke["facet"]}),
              "unit test (authors' clusters 0, 3, 7)": (inputs(net, s, s.labels, (0, 3, 7)), {
                  **{n: smoke[n] for n in ("fourier", "anchored", "facet", "maco", "accentuation")}, **paper_test})}
    unit = models.Unit("logits", 945)
    for setup, ((seeds, cents, mags, real), recipes) in setups.items():
        before = metrics.class_scores(net, seeds, 945)["logit"]
        for name, recipe in recipes.items():
            gains, top1 = [], []
            for threads in (1, 2):
                torch.set_num_threads(threads)
                for seed in range(args.seeds):
                    res = methods.run(recipe, net, unit, seeds, seed=seed,
                                      centroids=cents, magnitudes=mags, real=real, progress=False)
                    after = metrics.class_scores(net, res.images, 945)
                    gains.append(float((after["logit"] - before).min()))
                    top1.append(int((after["rank"] == 0).sum()))
            print(f"{setup:40s} {name:13s} min logit gain {min(gains):6.2f} .. {max(gains):6.2f}   "
                  f"top-1 {min(top1)} .. {max(top1)} of {len(seeds)}   "
                  f"({args.seeds} seeds x 1, 2 threads)", flush=True)


if __name__ == "__main__":
    main()
