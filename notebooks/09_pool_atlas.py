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
# # 09 · A hidden-layer atlas (paper Fig. S9): the facets of 100 fc-like units
#
# The paper's hidden-unit figures (Fig. 6, S9) visualize units of AlexNet's fully connected
# layers, whose facets it finds among each unit's **top 2 % of the 50,000 validation images**:
# a hidden unit has no class, so its images are those that drive it most. The closest layer of
# EfficientNet-Lite0 is `pool`, the 1,280 globally pooled features right before the classifier.
# This notebook builds an atlas of its first `n_units` units (no pick: channels 0, 1, 2, ...) with
# the same engine as notebook 06 (`mfv_utils.atlas`: one Dask task per unit, a store keyed by
# content, resumable, its static site), and from the store draws:
#
# - the largest facet of every unit (as Fig. 5 does for classes), and
# - Fig. S9: the **most multifaceted** units, those whose facets are led by the most different
#   classes, four facets each beside a real member.
#
# For every unit the atlas records how many classes its top images span, how many different
# classes lead its facets, whether the held-out judge (Lite2) places each visualization nearest
# its own facet's real images (facet identity), and whether each visualization drives the unit
# above its strongest real image in the whole pool: activation maximization's own aim.
#
# The recipe is `facet_win`: the figures' `facet` method (each image anchored to its facet's
# centroid) with one constraint, that the unit end above its strongest real image. A pooled
# feature fires at 3-5 where a class logit fires at 12-19, so the same anchor weighs about four
# times more against it; with `facet`, only 39 % of this atlas's drawn facets ended above their
# unit's strongest real image. While an image is below its target, `facet_win` multiplies the
# unit's term by a factor that grows 5 % a step, and lets it fall back once the image is above.

# %% tags=["parameters"]
model = "efficientnet_lite0"
layer = "pool"
n_units = 100  # units 0 .. n_units-1 of the layer (no pick)
pool = ["imagenette:val", "ilsvrc12-val-1300", "imagewoof", "samples", "paper"]
top_n = 0.02  # a unit's top images: the paper's top 2 % of the pool
k = 10  # facets per unit (Algorithm 1)
draw = 4  # facets visualized per unit, the largest first
method = "facet_win"  # the recipe (mfv_utils.optimization.methods.METHODS); "facet": without the out-fire constraint
s9_units = 8  # rows of Fig. S9: the most multifaceted units
workers = None  # Dask LocalCluster workers (None: one per core); 1: a serial loop
device = "auto"  # "auto": CUDA when torch sees a GPU, else the CPU
seed = 0
smoke = False  # True: 3 units, about 15 optimization steps each (CI)
out_dir = "figures/09_pool_atlas"

# %%
import json

import matplotlib

matplotlib.use("Agg")
import numpy as np

from mfv_utils import atlas
from mfv_utils.atlas import figures as atlas_figures
from mfv_utils.atlas.store import drawn_above
from mfv_utils.evaluation import plots
from mfv_utils.runtime import session

out, lap = session.start(seed, out_dir)
timings = lap.timings
store = out / "atlas"
units = list(range(3 if smoke else n_units))
spec = atlas.Spec(model=model, layer=layer, pool=tuple(pool), top_n=top_n, k=k, draw=draw, seed=seed, smoke=smoke,
                  device=device, method=method)
manifest, records = atlas_figures.build(spec, units, store, workers)
last = manifest["runs"][-1]
done = [u for u in units if u in records]
lap("atlas")

# %% [markdown]
# ## The largest facet of every unit
#
# Each cell: the visualization started from the mean image of the unit's largest facet; the
# caption is the class most common in that facet and, after the bar, how many classes the unit's
# top images span.

# %%
captions = [f"{(records[u]['facets'][0]['main_class'] or '?')[:11]}|{records[u]['n_classes']}" for u in done]
fig = atlas_figures.largest_facets(store, done, [f"{u}: {c}" for u, c in zip(done, captions)],
                                   f"The largest facet of {len(done)} units of {model} {layer} "
                                   f"(unit: its largest facet's main class | classes in its top images)")
plots.publish(fig, out / "largest_facets.png", dpi=70)

# %% [markdown]
# ## Fig. S9: the most multifaceted units
#
# The units whose k facets are led by the most different classes (ties: more classes among the
# top images, then the lower unit). Each row: the unit's four largest facets, each followed by
# the real image nearest its centroid. A multifaceted hidden unit answers to unrelated things
# (the paper's examples: a unit for both "lighthouse tops" and "bird heads"); its facets make
# that visible where one visualization would show a blend.

# %%
by_facets = sorted(done, key=lambda u: (-atlas_figures.facet_classes(records[u]), -records[u]["n_classes"], u))
s9 = by_facets[:s9_units]
labels = [f"unit {u}: {atlas_figures.facet_classes(records[u])} classes" for u in s9]
fig = atlas_figures.facets_beside_real(store, s9, labels, draw,
                                       f"Fig. S9: the {len(s9)} most multifaceted of {len(done)} {layer} units, "
                                       f"four facets each beside a real member")
plots.publish(fig, out / "figS9_multifaceted.png", dpi=70)
lap("figures")

# %% [markdown]
# ## metrics.json
#
# Per unit: its top images' class count, how many classes lead its facets, its facet sizes, the
# judge's facet identity, and how many drawn visualizations end above the unit's strongest real
# image in the pool. Summaries over all units: the share of drawn facets above the strongest
# real image (the goal: at least 90 %) and the mean facet identity.

# %%
rows = [{"unit": u, "n_classes": r["n_classes"], "facet_classes": atlas_figures.facet_classes(r),
         "facet_sizes": [f["size"] for f in r["facets"]], "facet_identity": r["facet_identity"],
         "strongest_real": r["strongest_real"],
         "drawn_above_strongest_real": sum(drawn_above(r)),
         "drawn": r["drawn"]} for u, r in records.items()]
drawn_total = sum(r["drawn"] for r in rows)
summary = {
    "model": model, "layer": layer, "units": units, "done": len(records),
    "failed": {u: e["reason"] for u, e in manifest["units"].items() if e["status"] == "failed"},
    "facet_identity_mean": round(float(np.mean([r["facet_identity"] for r in rows])), 4) if rows else None,
    "drawn_above_strongest_real_share": round(sum(r["drawn_above_strongest_real"] for r in rows) / drawn_total, 4)
    if drawn_total else None,
    "units_all_above_strongest_real": sum(r["drawn_above_strongest_real"] == r["drawn"] for r in rows),
    "n_classes_median": float(np.median([r["n_classes"] for r in rows])) if rows else None,
    "s9_units": s9, "units_detail": rows, "k": k, "draw": draw, "method": method, "top_n": top_n, "seed": seed,
    "smoke": smoke,
    "engine": last["workers"], "atlas_seconds": last["seconds"],
    "figures": ["largest_facets.png", "figS9_multifaceted.png"], "site": "atlas/index.html", "timings": timings,
}
(out / "metrics.json").write_text(json.dumps(summary, indent=2))
print(json.dumps({k_: summary[k_] for k_ in ("done", "failed", "facet_identity_mean", "drawn_above_strongest_real_share",
                                             "units_all_above_strongest_real", "n_classes_median", "s9_units")},
                 indent=2))
