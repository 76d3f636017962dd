# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Image priors compared (paper Fig. S3, Fig. S8, Fig. 3 / S7)
#
# Activation maximization without a prior finds images that drive a class unit to absurd
# values and look like nothing: high-frequency patterns the network happens to respond to.
# Every method since 2013 adds a **prior**, something that keeps the image in the region of
# natural images. The paper's Supplementary S2 compares the priors of earlier work with its
# two new ones, **center-biased regularization** (the object forms in the middle of the
# canvas first, which cuts the repeated object fragments of earlier methods) and **mean-image
# initialization** (MFV: start from the mean image of a facet, which gives natural colours),
# and shows the result for many classes side by side.
#
# This notebook re-runs that comparison on EfficientNet-Lite0, adds the methods used today, and
# measures what the paper could only show: how strongly each image drives its class on a
# held-out network, how much high-frequency energy and how natural the colours are compared
# with real images of the class, how central the class evidence is, and how many separate
# fragments carry it.
#
# Each method is a recipe written as data (`mfv_utils.optimization.methods.COMPARISON`): a start (noise or a
# mean image) and a schedule of phases, each phase listing its priors as separate pieces
# (post-step projections, penalties, a jitter transform; `mfv_utils.optimization.optimize`), or a Fourier
# recipe (`mfv_utils.optimization.methods.Method`). All classes are optimized together in one batch per
# method, one class per image.

# %% tags=["parameters"]
model = "efficientnet_lite0"  # the optimized network
classes = ["paper:bell_pepper", "paper:movie_theater", "imagenette:tench", "imagenette:english_springer",
           "imagenette:cassette_player", "imagenette:chain_saw", "imagenette:church",
           "imagenette:french_horn", "imagenette:garbage_truck", "imagenette:gas_pump",
           "imagenette:golf_ball", "imagenette:parachute"]  # image sets, one class each (rows of Fig. S3)
methods = ["none", "l2_decay", "alpha_norm", "blur", "tv", "tv_jitter", "tv_penalty_jitter", "blur_jitter",
           "center_bias", "mfv", "center_bias_mfv", "fourier_noise", "fourier_mean", "accentuation",
           "facet"]  # keys of mfv_utils.optimization.methods.COMPARISON (columns of Fig. S3)
progression = ["milk can", "bell pepper"]  # classes of the center-bias progression (Fig. 3 / S7)
judge = "efficientnet_lite2"  # held-out network that scores every image (never optimized)
k = 10  # facets per class (Algorithm 1); the largest one seeds the mean-initialized methods
m = 15  # images averaged into each facet's mean image
n_real = 200  # real images per class behind the high-frequency and colour references
iters_factor = 1.0  # every method's iteration count x this (1.0: the recipes as written)
seed = 0
device = "auto"  # "auto": CUDA when torch sees a GPU, else the CPU; or "cpu", "cuda", "cuda:1"
smoke = False  # True: about 15 iterations per method (CI); never changes the classes or images
interactive = False  # True: build the explorer at the end
out_dir = "figures/04_prior_comparison"

# %%
import json
import time

import matplotlib

if not interactive:
    matplotlib.use("Agg")
import numpy as np
import torch

import mfv_utils as mfv
from mfv_utils import data
from mfv_utils.evaluation import comparison, metrics, plots, provenance
from mfv_utils.networks import models
from mfv_utils.optimization import optimize
from mfv_utils.runtime import session
from mfv_utils.optimization import methods as mfv_methods

out, lap = session.start(seed, out_dir)
timings = lap.timings


mfv_methods.check_known(methods, mfv_methods.COMPARISON)
net = models.load_model(model, device=device)
judge_net = models.load_model(judge, device=device)

# %% [markdown]
# ## The classes, their real images and their largest facet
#
# Each row of Fig. S3 is one class: the paper's two (bell pepper, movie theater: the authors'
# 150 facet images each) and the ten Imagenette classes (~390 real ImageNet images each,
# church and French horn ~1,350). For every class, Algorithm 1 runs as in notebook 01 (code at
# the pooled layer, PCA 50, t-SNE, k-means k = 10, mean of the 15 images nearest each centroid;
# perplexity 10 on the authors' 15-image cluster cores, 30 on whole classes), and the
# **largest** facet's mean image is the start of every mean-initialized method (the paper's
# Fig. S3k uses one facet per class too). The real image shown in the first column is the
# member of that facet nearest its centroid. `n_real` random real images per class are the
# reference for the high-frequency and colour measures.

# %%
rng = np.random.default_rng(seed)
rows = []  # one dict per class
for spec in classes:
    image_set = data.load_image_set(spec)
    if image_set.target is None:
        raise ValueError(f"image set {spec!r} has no class of its own; use paper:<class> or imagenette:<class>")
    found = mfv.find_facets(net, models.Unit(net.logits_layer, image_set.target.index), images=image_set, k=k, m=m,
                            perplexity=10.0 if spec.startswith("paper:") else 30.0, seed=seed)
    sizes = found.sizes
    (j,) = found.largest(1).shown  # the largest facet (lowest index on ties)
    real_idx = found.central(j)  # the member nearest the facet's centroid in the codes
    pick = rng.choice(len(image_set), size=min(n_real, len(image_set)), replace=False)
    rows.append({"spec": spec, "class": image_set.target, "n_images": len(image_set),
                 "facet": j, "facet_size": int(sizes[j]), "mean": found.mean_images[j],
                 "centroid": found.code_centroids[j], "real": image_set.images[real_idx],
                 "facet_images": found.real(j),
                 "reference": image_set.images[np.sort(pick)], "skipped": image_set.skipped,
                 "paths": image_set.paths})
    print(f"{spec}: {len(image_set)} images, class {image_set.target.index} {image_set.target.name!r}, "
          f"largest facet {j} ({sizes[j]} images)")
targets = tuple(r["class"].index for r in rows)
means = torch.stack([r["mean"] for r in rows])
centroids = torch.stack([r["centroid"] for r in rows])
noise = optimize.noise_images(len(rows), net.input_size, seed)
lap("facets")

# %% [markdown]
# ## The methods
#
# Start images: **noise** is the authors' (Gaussian around gray 175, sd 8); **mean** is the
# class's largest-facet mean image. The pixel-space baselines share one schedule (200 steps of
# the authors' normalized gradient step, 1 px mean change, clipped to 0..255) and differ only in
# the prior:
#
# | method | prior | paper |
# |---|---|---|
# | `none` | nothing (plain gradient ascent) | baseline |
# | `l2_decay` | pixels decay towards gray by 1 % per step | Simonyan et al. 2013 (Fig. S3b) |
# | `alpha_norm` | penalty 300 x mean(\|x\|^6), pixels scaled to -1..1 | Mahendran & Vedaldi 2015 |
# | `blur` | Gaussian blur every 4 steps, sigma 1 -> 0.5 px, decay 0.1 % | Yosinski et al. 2015 (Fig. S3c) |
# | `tv` | split-Bregman TV denoising after every step | Fig. S3g |
# | `tv_jitter` | the same + random shifts of up to 8 px | Mahendran & Vedaldi as the paper ran it (Fig. S3e) |
# | `tv_penalty_jitter` | TV as a penalty (1000 x mean squared gradient) + shifts | the differentiable form of the same prior |
# | `blur_jitter` | blur with sigma 1 -> 0.3 px + shifts | Fig. S3h |
# | `center_bias` | the authors' 5-phase center-biased schedule below, from noise | Fig. S3i |
# | `mfv` | the authors' mean-image schedule (notebook 01's `paper`) | Fig. S3k |
# | `center_bias_mfv` | the center-biased schedule from the mean image | Fig. S8c |
# | `fourier_noise` | Lucid's `render_vis`: 512 Adam steps (lr 0.05) on a 1/f spectrum, decorrelated colour, jitter 8 px, scale 0.9-1.1, rotation 10 deg | Olah et al. 2017 |
# | `fourier_mean` | the same from the mean image | |
# | `accentuation` | Fourier from the mean + a pull to the seed's code at `block5` | Hamblin et al. 2023 |
# | `anchored` | Fourier from the mean + pulls to the facet's centroid and the seed's code | notebook 01's default |
#
# The data-driven patch prior of Wei et al. 2015 (Fig. S3d) is left out: it needs a dictionary
# of patches learned from a class's images, a method of its own.
#
# **The center-biased schedule** (the authors' code, `optimize.CENTER_BIAS`): "prob" = the
# softmax probability as objective, "logit" = the pre-softmax activation; the canvas grows by
# upsampling the image; each step optimizes a crop drawn around the canvas center (window =
# the offset's standard deviation as a fraction of the slack).
#
# | phase | iterations | objective | canvas | window | margin | step | TV weight |
# |---|---|---|---|---|---|---|---|
# | 1 | 190 | prob | input | 0.3 | 0 | 11 | 0.001 -> 0.05 |
# | 2 | 150 | prob | x1.2 | 0.3 | 0 | 6 | 0.01 -> 0.08 |
# | 3 | 150 | logit | x1.2 | 0.3 | 0 | 1 | 0.01 -> 2 |
# | 4 | 30 | logit | x1.0 | 0.1 | 50 px | 3 | 0.1 -> 2 |
# | 5 | 10 | logit | x1.0 | 0.3 | 0 | 6 -> 3 | 0.01 -> 2 |
#
# The paper's text differs from the code: 150 iterations in phase 1, canvases 227, 272, 327
# (we upsample 224 -> 269 -> 323 for Lite0's 224 px input), and TV weights 0.001, 0.08, 2 for
# phases 1-3. We follow the code; the TV weight moves along the authors' own ramp expression
# (`optimize.tv_weight`, see notebook 01).

# %%
recipes = {name: mfv_methods.COMPARISON[name] for name in methods}
if smoke:
    recipes = {name: (start, mfv_methods.smoke(r)) for name, (start, r) in recipes.items()}
elif iters_factor != 1.0:
    recipes = {name: (start, mfv_methods.shorten(r, iters_factor)) for name, (start, r) in recipes.items()}
unit = models.Unit(net.logits_layer, targets)
results, seconds = {}, {}
for name, (start, recipe) in recipes.items():
    t0 = time.perf_counter()
    seeds = noise if start == "noise" else means
    results[name] = mfv_methods.run(recipe, net, unit, seeds, seed=seed, centroids=centroids,
                                    real=[r["facet_images"] for r in rows], progress=interactive).images
    seconds[name] = round(time.perf_counter() - t0, 2)
    print(f"{name:>18}: {mfv_methods.iterations(recipe):4d} iterations from {start} in {seconds[name]:6.1f} s")
lap("optimize")

# %% [markdown]
# ## The numbers behind each claim
#
# Every image is scored against its own class; each measure in one sentence
# (`mfv_utils.evaluation.metrics`):
#
# - **logit / prob / rank** (and **judge_logit / judge_prob / judge_rank**): the target's
#   pre-softmax activation, softmax probability and rank among 1000 classes (0 = top-1), on the
#   optimized network and on the held-out judge (EfficientNet-Lite2 at 260 px).
# - **hf_ratio**: the image's share of spectral power above 1/4 cycle/pixel divided by the mean
#   share of the class's real images (1 = as much fine detail as real photos; >> 1 = noise).
# - **color_distance**: the Hellinger distance between the image's joint RGB histogram and that
#   of the class's real images (0 = the same colours, 1 = disjoint).
# - **center_share**: the share of the judge's class evidence (its class activation map at the
#   last spatial layer, 9 x 9 for Lite2; positive part) inside the central square of half the
#   side (an even spread gives about 0.25).
# - **n_peaks**: the number of separate regions where that map reaches half its maximum (the
#   paper's "repeated fragments": 1 = one object).

# %%
hf_real = [float(metrics.hf_share(r["reference"]).mean()) for r in rows]
results_list = [row for name, images in results.items()
                for row in comparison.image_rows(name, recipes[name][0], images, rows, net, judge_net, targets, hf_real)]
# the start images scored the same way: where each method began
starts = {"noise": noise, "mean": means}
start_scores = {}
for key, images in starts.items():
    held = metrics.class_scores(judge_net, images, targets)
    start_scores[key] = {"judge_prob": round(float(held["prob"].mean()), 4),
                         "judge_top5": metrics.topk_hits(held["rank"], 5)}
lap("measure")

# %% [markdown]
# ### Per method, over the classes
#
# Means over the classes (top-1 / top-5: how many classes have their target first / among the
# first five). Colour by rank within each column: green is best (highest judge probability and
# center share, fewest peaks, lowest colour distance, high-frequency ratio closest to 1).

# %%
summary_keys = ["judge_prob", "judge_top5", "top1", "hf_ratio", "color_distance", "center_share", "n_peaks"]
per_method = {name: comparison.method_summary(name, recipes[name][0], mfv_methods.iterations(recipes[name][1]),
                                             seconds[name], [r for r in results_list if r["method"] == name])
              for name in results}
names = list(per_method)
print(" | ".join(f"{c:>15}" for c in ["method"] + summary_keys))
for name in names:
    print(" | ".join([f"{name:>15}"] + [f"{per_method[name][c]:>15.3f}" if isinstance(per_method[name][c], float)
                                        else f"{per_method[name][c]:>15}" for c in summary_keys]))
fig = plots.score_table(np.array([[per_method[n][c] for c in summary_keys] for n in names]), names,
                        summary_keys, ["high", "high", "high", "one", "low", "high", "low"],
                        title=f"{len(rows)} classes, {net.name} optimized, judged by {judge_net.name}")
plots.publish(fig, out / "metrics_table.png", dpi=90, bbox_inches="tight")

# %% [markdown]
# ## Fig. S3: every class by every method
#
# Rows are classes, the first column a real image of the class (of the facet the mean-initialized
# methods start from), then one column per method. What the paper shows on AlexNet: without a
# prior, and with L2 or the alpha-norm, the images are high-frequency patterns; blur and TV
# remove the noise but the class appears as small fragments spread over the canvas; center
# bias gathers them into one object in the middle; mean-image initialization brings natural
# colours and a layout borrowed from real photos.
#
# What the committed full run shows on EfficientNet-Lite0 (`figures/04_prior_comparison/`):
# the first three columns are the same high-frequency noise (hf_ratio about 43, the judge never
# sees the class); blur and TV give faint pastel fragments the judge recognizes for 2-9 of the
# 12 classes; center bias from noise stays a washed-out pink canvas (judge top-5 for 2 classes);
# the mean-image methods (`mfv`, `center_bias_mfv`) inherit the layout and colours of the
# facet, and the judge finds the class in 6 and 4 of 12. All pixel-space methods still drive
# the *optimized* network to top-1 for nearly every class. The spectrum-space methods of
# today are in a different league: the judge puts the class in its top 5 for 11-12 of 12
# classes, and `anchored` / `accentuation` are the only ones with natural high-frequency
# energy (hf_ratio 0.82-0.86).

# %%
cells = [[r["real"]] + [results[name][i] for name in names] for i, r in enumerate(rows)]
fig = plots.image_table(cells, [r["class"].name for r in rows], ["real image"] + names,
                        title=f"Fig. S3: {net.name}, one class per row, one method per column", cell=1.25)
plots.publish(fig, out / "figS3_priors.png", dpi=60, bbox_inches="tight")
# the same cells as one small sheet for the teaching explorer (mfv_utils.apps.widgets): row = class,
# column = the real image, then each method
plots.contact_sheet(cells, cell=112).save(out / "cells.jpg", quality=88)

# %% [markdown]
# ## Fig. S8: TV + jitter, center bias, center bias + MFV, and the mean images used
#
# For the paper's two classes: (a) TV + jitter, (b) center-biased regularization from noise,
# (c) the same from the mean image, (d) the mean image it started from. The paper's point:
# (b) has one object where (a) has fragments, and (c) keeps the colours of real photographs.

# %%
s8 = [m_ for m_ in ("tv_jitter", "center_bias", "center_bias_mfv") if m_ in results]
paper_rows = [i for i, r in enumerate(rows) if r["spec"].startswith("paper:")]
if paper_rows and s8:
    cells = [[results[m_][i] for m_ in s8] + [means[i]] for i in paper_rows]
    fig = plots.image_table(cells, [rows[i]["class"].name for i in paper_rows],
                            [f"({'abc'[j]}) {m_}" for j, m_ in enumerate(s8)] + [f"({'abcd'[len(s8)]}) mean image"],
                            title="Fig. S8", cell=2.2)  # (a)-(c) results, (d) the start of (c)
    plots.publish(fig, out / "figS8_center_bias_mfv.png", dpi=80, bbox_inches="tight")

# %% [markdown]
# ## Fig. 3 / S7: center-biased regularization, phase by phase
#
# The paper's milk can (class 653) and one more class, from noise: the image at the end of each
# of the 5 phases. The canvas grows from the input size to 1.44 times it; because every crop is
# drawn around the center, the object forms in the middle first and the added border is filled
# by context later.
#
# One detail of the authors' code matters on a modern network: in phase 4 the gradient is zeroed
# within 50 px of the crop's border *before* the step is normalized by its mean magnitude over
# the whole crop, so inside the window the step is about 3 times the nominal one. We keep that,
# as written; on Lite0 it paints fine texture into the central window, and the judge's
# probability under each panel shows what that does.

# %%
prog_classes = [data.find_class(c) for c in progression]
prog_schedule = optimize.CENTER_BIAS
if smoke:
    prog_schedule = mfv_methods.smoke(prog_schedule)
elif iters_factor != 1.0:
    prog_schedule = mfv_methods.shorten(prog_schedule, iters_factor)
snapshots = []
prog = optimize.maximize(net, models.Unit(net.logits_layer, tuple(c.index for c in prog_classes)),
                         optimize.noise_images(len(prog_classes), net.input_size, seed), prog_schedule,
                         seed=seed, progress=interactive, snapshots=snapshots)
prog_scores = [metrics.class_scores(judge_net, s, tuple(c.index for c in prog_classes)) for s in snapshots]
cells = [[snapshots[p][i] for p in range(len(snapshots))] for i in range(len(prog_classes))]
fig = plots.image_table(cells, [c.name for c in prog_classes],
                        [f"phase {p + 1}: {s.shape[-1]} px" for p, s in enumerate(snapshots)],
                        title="Fig. 3 / S7: center-biased regularization, end of each phase (canvas grows); "
                              "p = the judge's probability of the class",
                        cell=2.2, captions=[[f"p = {prog_scores[p]['prob'][i]:.2f}" for p in range(len(snapshots))]
                                            for i in range(len(prog_classes))])
plots.publish(fig, out / "fig3_center_bias_phases.png", dpi=80, bbox_inches="tight")
progression_metrics = [{"class": c.name, "class_index": c.index,
                        "phases": [{"phase": p + 1, "canvas": int(snapshots[p].shape[-1]),
                                    "judge_prob": round(float(prog_scores[p]["prob"][i]), 4),
                                    "judge_rank": int(prog_scores[p]["rank"][i])} for p in range(len(snapshots))]}
                       for i, c in enumerate(prog_classes)]
lap("progression")

# %% [markdown]
# ## The paper's claims, tested
#
# Each claim becomes a comparison of the per-method means above; `None` where a method it
# needs was not run.
#
# 1. **TV beats blur / L2 on high-frequency energy**: the TV-based methods' hf_ratio is closer
#    to real images (|log hf_ratio| smaller, averaged over tv, tv_jitter, tv_penalty_jitter)
#    than that of the blur and L2 methods (l2_decay, blur, blur_jitter).
# 2. **MFV has the most natural colours**: `mfv` has the lowest colour distance among the
#    paper-era methods (the first eleven rows), and we also say where it ranks among all.
# 3. **Center bias has fewer repeated fragments and more central evidence than TV + jitter**:
#    `center_bias` has fewer peaks *and* a higher center share than `tv_jitter`.
# 4. **TV alone is about as good as TV + jitter**: their judge top-5 counts differ by at most
#    2 classes and their hf ratios by less than a factor 1.25.
# 5. **What a reader should use on a modern network**: among methods whose images the judge
#    puts the class in its top 5 for at least 3/4 of the classes, the lowest mean rank over
#    colour distance, |log hf_ratio| and (negated) judge probability.

# %%
claims = comparison.claims(per_method, len(rows))
for key, value in claims.items():
    print(f"{key}: {value}")

# %% [markdown]
# ### What held in the committed full run (12 classes, seed 0)
#
# - **TV beats blur / L2 on high-frequency energy: holds.** Mean |log hf_ratio| 1.42 for the TV
#   methods against 2.98 for blur / L2 (tv 2.1, tv_jitter 1.6 against blur 8.2, blur_jitter 21,
#   l2_decay 43). The penalty form of TV (`tv_penalty_jitter`, 21) is far weaker than the
#   denoising step at the weights used here.
# - **MFV has the most natural colours: does not hold.** `mfv`'s colour distance (0.77) ranks
#   5th of the 11 paper-era methods; even the grayish noise of `none` (0.70) is nearer the real
#   images' colour histogram than `mfv` or the pastel TV results (0.89).
#   The spectrum methods started from the mean image have the most natural colours of all
#   (`fourier_mean` 0.32).
# - **Center bias has fewer fragments and more central evidence than TV + jitter: does not
#   hold.** It is about as central (center share 0.54 vs 0.53), with more peaks (1.67 vs 1.08).
#   On Lite0 center bias from noise barely forms an object (judge top-5 for 2 of 12 classes).
#   Fig. 3 shows why: the object does appear by phase 2-3 (milk can p = 0.55 at phase 3), and
#   phases 4-5 overwrite the center with fine texture.
# - **TV alone is about as good as TV + jitter: does not hold.** Jitter matters on Lite0: judge
#   top-5 for 8 classes with jitter against 2 without.
# - **What to use on a modern network: `fourier_mean`** by this notebook's rule (best colours
#   and judge probability 0.63, but hf_ratio 7). `anchored` and `accentuation` trade a little
#   judge probability (0.59-0.62) for natural high-frequency energy (0.82-0.86), and they keep
#   the facet (notebook 01). For facet visualization we keep `anchored` as the default.
#
# These sentences describe the committed run; `metrics.json["claims"]` recomputes each claim
# for any parameters.

# %%
summary = {
    "model": net.name, "judge": judge_net.name, "classes": [r["spec"] for r in rows],
    "targets": [{"index": r["class"].index, "name": r["class"].name, "n_images": r["n_images"],
                 "largest_facet": r["facet"], "facet_size": r["facet_size"]} for r in rows],
    "methods": list(results), "k": k, "m": m, "n_real": n_real, "seed": seed, "smoke": smoke,
    "iters_factor": iters_factor,
    "per_method": list(per_method.values()),
    "results": results_list,
    "start_scores": start_scores,
    "claims": claims,
    "progression": progression_metrics,
    "skipped": [s for r in rows for s in r["skipped"]],
    "figures": {"figS3": "figS3_priors.png", "figS8": "figS8_center_bias_mfv.png",
                "fig3": "fig3_center_bias_phases.png", "metrics": "metrics_table.png"},
    "cells_sheet": {"file": "cells.jpg", "rows": [r["class"].name for r in rows], "columns": ["real image"] + names},
    "timings": timings,
    "provenance": provenance.provenance(net, [p for r in rows for p in r["paths"]], judge_net),
}
(out / "metrics.json").write_text(json.dumps(summary, indent=2))
print(json.dumps({"claims": claims, "timings": timings}, indent=2))

# %% [markdown]
# ## Explorer (interactive only)
#
# Pick a class and a method: its image beside the real one, with every measure of that cell,
# from this run's files (`mfv_utils.apps.widgets.priors_explorer`; `make teach` serves it as a page).
# Skipped when papermill runs the notebook headless.

# %%
if interactive:
    from IPython.display import display

    from mfv_utils.apps import widgets

    display(widgets.priors_explorer(out))
