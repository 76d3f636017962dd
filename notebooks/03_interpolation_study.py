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
# # 03 · Interpolation study (paper Fig. S1): does optimization snap to one facet or blend them?
#
# Multifaceted feature visualization starts activation maximization from the mean image of a
# facet. How much does the start decide the result? The paper's Supplementary S1 starts from
# *linear interpolations* between two training images of different facets (clusters) and
# reports that the result mostly **snaps** to one facet or the other instead of becoming a
# hybrid; that starting from a single real image reproduces its facet with different details;
# and that sometimes the optimization goes to a third, more common facet.
#
# Here: for each class, pairs of real images from different clusters (a seeded rule below),
# the series left image, `n_interpolants` blends, right image, and activation maximization of
# the class from every image of the series (all series of a class in one batch), with the
# paper's method and with notebook 01's default (`anchored`). Whether a method snaps may depend
# on how strongly it holds to its seed, so both are reported.

# %% tags=["parameters"]
model = "efficientnet_lite0"
classes = ["paper:bell_pepper", "paper:movie_theater", "imagenette:church"]  # one panel set each
methods = ["paper", "facet"]  # keys of mfv_utils.optimization.methods.METHODS
pairs = 3  # pairs of images per class
n_interpolants = 8  # images strictly between the two ends (the series has n_interpolants + 2)
k = 10  # clusters (Algorithm 1) for classes without the authors' clusters
judge = "efficientnet_lite2"  # held-out network whose pooled features decide snap or blend
margin = 0.5  # a result snaps when it is at least this far (of the way) from the middle to one end
iters_factor = 1.0  # every method's iteration count x this
seed = 0
device = "auto"  # "auto": CUDA when torch sees a GPU, else the CPU; or "cpu", "cuda", "cuda:1"
smoke = False  # True: about 15 iterations per method (CI); never changes the classes or pairs
interactive = False
out_dir = "figures/03_interpolation_study"

# %%
import json
import time

import matplotlib

if not interactive:
    matplotlib.use("Agg")
import numpy as np
import torch

import mfv_utils as mfv
from mfv_utils import data, facets
from mfv_utils.evaluation import metrics, plots, provenance, snap
from mfv_utils.networks import models
from mfv_utils.runtime import session
from mfv_utils.optimization import methods as mfv_methods

out, lap = session.start(seed, out_dir)
timings = lap.timings


mfv_methods.check_known(methods)
if n_interpolants < 1 or pairs < 1:
    raise ValueError(f"need pairs >= 1 and n_interpolants >= 1, got {pairs} and {n_interpolants}")
net = models.load_model(model, device=device)
judge_net = models.load_model(judge, device=device)

# %% [markdown]
# ## Clusters, pairs and series
#
# The paper's two classes come with the authors' own clusters (10 x 15 images); for church,
# Algorithm 1 finds k clusters among its ~1,350 images (as in notebook 01, perplexity 30).
#
# **The pair rule** (seeded): draw `pairs` distinct unordered pairs of clusters at random with
# `numpy.random.default_rng(seed)`; from each cluster take its most central image (the member
# nearest the cluster's mean code at the optimized network's pooled layer). The series is
# `(1 - t) * left + t * right` for `t = 0, 1/(n+1), ..., 1`: the two real images and
# `n_interpolants` pixel blends between them.

# %%
rng = np.random.default_rng(seed)
sets = []
for spec in classes:
    image_set = data.load_image_set(spec)
    found = mfv.find_facets(net, models.Unit(net.logits_layer, image_set.target.index), images=image_set, k=k,
                            m=15, perplexity=30.0, seed=seed)
    if image_set.labels is not None:
        found = found.with_labels(image_set.labels)
        cluster_source = "the authors' clusters"
    else:
        cluster_source = f"Algorithm 1 (k={k})"
    labels, codes, n_clusters = found.labels, found.unit_codes, found.k
    cents = found.unit_centroids
    central = [found.central(j) for j in range(n_clusters)]
    all_pairs = [(a, b) for a in range(n_clusters) for b in range(a + 1, n_clusters)]
    chosen = [all_pairs[i] for i in rng.choice(len(all_pairs), size=min(pairs, len(all_pairs)), replace=False)]
    t = np.linspace(0, 1, n_interpolants + 2)
    series = []
    for a, b in chosen:
        left, right = image_set.images[central[a]].float(), image_set.images[central[b]].float()
        series.append(torch.stack([(1 - ti) * left + ti * right for ti in t]))
    sets.append({"spec": spec, "set": image_set, "labels": labels, "codes": codes, "centroids": cents,
                 "pairs": chosen, "ends": [(central[a], central[b]) for a, b in chosen], "series": series,
                 "source": cluster_source})
    print(f"{spec}: {len(image_set)} images, {n_clusters} clusters ({cluster_source}); pairs {chosen}")
lap("pairs")

# %% [markdown]
# ## Optimize from every image of every series
#
# Each class's series run as one batch per method. `paper` is the authors' mean-initialized
# schedule (pixel space, jitter, TV); `anchored` adds, at the clustering layer, a pull towards
# the centroid of a facet and towards the start image's own code. For an interpolant, "its
# facet" is the cluster whose centroid is nearest the start image's code: a data-driven rule
# that favours neither end of the series.

# %%
recipes = {name: mfv_methods.METHODS[name] for name in methods}
if smoke:
    recipes = {name: mfv_methods.smoke(r) for name, r in recipes.items()}
elif iters_factor != 1.0:
    recipes = {name: mfv_methods.shorten(r, iters_factor) for name, r in recipes.items()}
results, seconds = {}, {}
for s in sets:
    starts = torch.cat(s["series"])
    start_codes = metrics.unit_rows(facets.layer_codes(net, starts, net.code_layer))
    nearest_cluster = (start_codes @ s["centroids"].T).argmax(1)
    anchors = torch.tensor(s["centroids"][nearest_cluster], dtype=torch.float32)
    real = [s["set"].images[s["labels"] == c] for c in nearest_cluster]  # that facet's real images
    unit = models.Unit(net.logits_layer, s["set"].target.index)
    for name, recipe in recipes.items():
        t0 = time.perf_counter()
        images = mfv_methods.run(recipe, net, unit, starts, seed=seed, centroids=anchors, real=real,
                                 progress=interactive).images
        results[(s["spec"], name)] = images.reshape(len(s["series"]), n_interpolants + 2, *images.shape[1:])
        seconds[f"{s['spec']} {name}"] = round(time.perf_counter() - t0, 2)
        print(f"{s['spec']} {name}: {len(starts)} images, {mfv_methods.iterations(recipe)} iterations "
              f"in {time.perf_counter() - t0:.1f} s")
lap("optimize")

# %% [markdown]
# ## Snap or blend: the score
#
# Every result is compared in a fixed embedding, the held-out judge's L2-normalized pooled
# features (the optimization never saw that network):
#
# - **q** (position between the ends): `(cos(r, r_left) - cos(r, r_right)) / (1 - cos(r_left, r_right))`,
#   where `r_left`, `r_right` are the results of the two end images: +1 = like the left result,
#   -1 = like the right one, 0 = exactly between.
# - A result **snaps** to a side when `|q| >= margin` (0.5: at least half way from the middle to
#   that end's result), and **blends** otherwise.
# - **cluster side** (the same question against the real images): `cos(r, c_A) - cos(r, c_B)`,
#   with `c_A`, `c_B` the judge-space centroids of the two clusters' real images; and the
#   **nearest cluster** among all of the class's clusters: when it is neither A nor B, the
#   result went to a third facet (the paper's "neither" case).
# - An end **keeps its facet** when its result is nearer its own cluster's centroid than the
#   other's (cluster side > 0 on the left, < 0 on the right).
# - The **switch point**: the first position along the series where q changes sign.
# - `end_separation` = `1 - cos(r_left, r_right)`: when the two end results are nearly the same
#   image (a method that paints one texture over every start), q divides by a small number and
#   the snap labels mean little; read them together with this number.
# - `snap_share`: the share of *interior* interpolants that snap (the paper's claim: most do).
# - **The baseline**: the same score on the *start images* themselves (q between the two real
#   end images, in the same judge space). A pixel blend is not halfway in feature space: the
#   judge often already sees mostly one end in it, so interpolants "snap" before any
#   optimization. `start_snap_share` is that share; optimization makes the series snap only
#   as far as a method's `snap_share` exceeds it.

# %%


pair_rows, start_rows = [], []
for s in sets:
    real_j = metrics.judge_features(judge_net, s["set"].images, cache_dir=".cache/codes")
    cj = metrics.cluster_centroids(real_j, s["labels"], int(s["labels"].max()) + 1)
    for p in range(len(s["pairs"])):
        q0, sep0, labels0 = snap.snap_position(metrics.judge_features(judge_net, s["series"][p]), margin)
        start_rows.append({"images": s["spec"], "pair": p, "q": np.round(q0, 4).tolist(),
                           "label": labels0, "end_separation": round(sep0, 4)})
    for name in recipes:
        res = results[(s["spec"], name)]
        for p, (a, b) in enumerate(s["pairs"]):
            f = metrics.judge_features(judge_net, res[p])
            left, right = f[0], f[-1]
            q, sep, labels = snap.snap_position(f, margin)
            side = f @ cj[a] - f @ cj[b]
            nearest = (f @ cj.T).argmax(1)
            signs = np.sign(q)
            switch = next((i for i in range(1, len(q)) if signs[i] != signs[i - 1] and signs[i] != 0), None)
            pair_rows.append({
                "class": s["set"].target.name, "images": s["spec"], "method": name, "pair": p,
                "clusters": [int(a), int(b)],
                "ends": [data.display_path(s["set"].paths[i]) for i in s["ends"][p]],
                "t": [round(float(x), 4) for x in np.linspace(0, 1, n_interpolants + 2)],
                "sim_left": np.round(f @ left, 4).tolist(), "sim_right": np.round(f @ right, 4).tolist(),
                "sim_cluster_a": np.round(f @ cj[a], 4).tolist(), "sim_cluster_b": np.round(f @ cj[b], 4).tolist(),
                "q": np.round(q, 4).tolist(), "label": labels,
                "nearest_cluster": nearest.astype(int).tolist(),
                "neither": [bool(n not in (a, b)) for n in nearest],
                "switch_point": switch, "end_separation": round(sep, 4),
                "ends_keep_facet": [bool(side[0] > 0), bool(side[-1] < 0)],
                "start_q": next(r["q"] for r in start_rows if r["images"] == s["spec"] and r["pair"] == p),
            })
start_interior = [lab for r in start_rows for lab in r["label"][1:-1]]
start_snap_share = round(float(np.mean([lab != "blend" for lab in start_interior])), 4)
print(f"start images themselves: snap_share {start_snap_share}")
summary_by_method = {}
for name in recipes:
    rows_ = [r for r in pair_rows if r["method"] == name]
    interior = [lab for r in rows_ for lab in r["label"][1:-1]]
    neither = [x for r in rows_ for x in r["neither"][1:-1]]
    keep = [x for r in rows_ for x in r["ends_keep_facet"]]
    summary_by_method[name] = {
        "snap_share": round(float(np.mean([lab != "blend" for lab in interior])), 4),
        "blend_share": round(float(np.mean([lab == "blend" for lab in interior])), 4),
        "neither_share": round(float(np.mean(neither)), 4),
        "endpoint_keep_share": round(float(np.mean(keep)), 4),
        "n_pairs": len(rows_), "n_interior": len(interior),
    }
    print(name, summary_by_method[name])
lap("score")

# %% [markdown]
# ## Fig. S1: the series and where each result lands
#
# One figure per class; for every pair the top row holds the 10 start images (left real image,
# blends, right real image) and each further row a method's results. The frame says where the
# result landed: the left cluster's colour (blue), the right's (orange), or gray for a blend;
# a star marks a result nearest a third cluster.

# %%
figures = {}
for s in sets:
    fig = snap.figS1(s, recipes, results, start_rows, pair_rows, n_interpolants)
    name_ = f"figS1_{s['spec'].split(':')[-1]}.png"
    plots.publish(fig, out / name_, dpi=60, bbox_inches="tight")
    figures[s["spec"]] = name_
lap("plots")

# %% [markdown]
# For the teaching explorer (`mfv_utils.apps.widgets`): one small sheet per series, its rows the start
# images and each method's results, its columns the positions t (`series/<class>_pair<p>.jpg`).

# %%
(out / "series").mkdir(exist_ok=True)
for s in sets:
    for p in range(len(s["pairs"])):
        sheet = f"series/{s['spec'].split(':')[-1]}_pair{p}.jpg"
        plots.contact_sheet([list(s["series"][p])] + [list(results[(s["spec"], n)][p]) for n in recipes],
                            cell=112).save(out / sheet, quality=88)
        next(r for r in start_rows if r["images"] == s["spec"] and r["pair"] == p).update(
            sheet=sheet, sheet_rows=["start", *recipes])

# %% [markdown]
# ## The answer, by the numbers
#
# The paper's observation holds for a method when most interior interpolants snap
# (`snap_share > 0.5`) and the ends keep their facets; the optimization itself causes the
# snapping only where the results snap more often than their start images do
# (`snap_share > start_snap_share`).

# %%
verdict = {name: {"most_snap": v["snap_share"] > 0.5, "ends_keep": v["endpoint_keep_share"] >= 0.5,
                  "snaps_more_than_start": v["snap_share"] > start_snap_share}
           for name, v in summary_by_method.items()}
summary = {
    "model": net.name, "judge": judge_net.name, "classes": classes, "methods": list(recipes),
    "pairs_per_class": pairs, "n_interpolants": n_interpolants, "margin": margin, "k": k, "seed": seed,
    "smoke": smoke, "iters_factor": iters_factor,
    "clusters": {s["spec"]: s["source"] for s in sets},
    "snap_share": {name: v["snap_share"] for name, v in summary_by_method.items()},
    "endpoint_keep_share": {name: v["endpoint_keep_share"] for name, v in summary_by_method.items()},
    "start_snap_share": start_snap_share, "start_pairs": start_rows,
    "by_method": summary_by_method, "verdict": verdict,
    "pairs": pair_rows,
    "skipped": [x for s in sets for x in s["set"].skipped],
    "figures": figures, "seconds": seconds, "timings": timings,
    "provenance": provenance.provenance(net, [p for s in sets for p in s["set"].paths], judge_net),
}
(out / "metrics.json").write_text(json.dumps(summary, indent=2))
print(json.dumps({k_: summary[k_] for k_ in ("snap_share", "start_snap_share", "endpoint_keep_share", "verdict",
                                               "timings")}, indent=2))

# %% [markdown]
# ## Explorer (interactive only)
#
# Slide along a series and compare the start image with each method's result, with the snap
# score at each position, from this run's files (`mfv_utils.apps.widgets.interpolation_explorer`;
# `make teach` serves it as a page).

# %%
if interactive:
    from IPython.display import display

    from mfv_utils.apps import widgets

    display(widgets.interpolation_explorer(out))
