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
# # 06 · Many classes at once (paper Fig. 5, S2, S4), from a multifaceted atlas
#
# The paper shows far more units than one notebook can optimize by hand: the largest facet of
# 50 and 90 class units (Fig. 5, Fig. S2) and four facets each for many classes (Fig. S4). Here
# those figures come from an **atlas** (`mfv_utils.atlas`): one Dask task per unit (its top pool
# images, Algorithm 1, the figures' method from the largest facets), written into a store keyed by
# content, so a rerun skips every unit already done and the store can grow to a whole layer on
# more machines (`python -m mfv_utils.atlas --scheduler ...`, README). The same store is a static
# site (`python -m mfv_utils.atlas site STORE`) with one page per unit.
#
# **Which classes, and from which images.** Offline, a class unit's images come from the pool
# (about 9,000 labelled images: notebook 02's, plus Imagewoof's ten dog classes), not from the
# class's 1,300 training images as in the paper. The 50 classes are those with the **most pool
# images**: the 22 with 150-420 images each (Imagenette's 10, Imagewoof's 10 and the authors' bell
# pepper and movie theater), then 28 with 5-8 each (ties: the lower class index). A class unit
# whose class has at least 50 images in the pool clusters **all of them** (the paper's Fig. S4:
# Algorithm 1 on the class's own images). Any other class unit can only cluster its top 2 % of the
# pool, and most of those images are of other classes: they show what in the pool drives the unit,
# not the class's own facets. The atlas records each unit's **own-class share** (the share of
# the images behind its facets that are of its class) and warns on every unit below 50 %. The
# figures below show only the units at 80 % or more; the flagged ones stay in the site, marked.

# %% tags=["parameters"]
model = "efficientnet_lite0"
layer = "logits"
n_classes = 50  # class units in the atlas: those with the most pool images (see above)
units = None  # None: the rule above; or a list of class indices
pool = ["imagenette:val", "ilsvrc12-val-1300", "imagewoof", "samples", "paper"]
own_class_min = 50  # a class unit with this many pool images of its class clusters all of them (Fig. S4)
min_share = 0.8  # the figures show units whose facets' images are at least this share of their class
k = 10  # facets per unit (Algorithm 1)
draw = 4  # facets visualized per unit, the largest first (Fig. S4 draws 4)
method = "facet_win"  # the recipe (mfv_utils.optimization.methods.METHODS); "facet": without the out-fire constraint
s4_classes = 8  # classes of Fig. S4: the first 8 of the rule
workers = None  # Dask LocalCluster workers (None: one per core); 1: a serial loop
device = "auto"  # "auto": CUDA when torch sees a GPU, else the CPU (a unit's key holds the device type)
seed = 0
smoke = False  # True: 3 units (the first two of the rule and the last), about 15 optimization steps each (CI)
out_dir = "figures/06_class_atlas"

# %%
import json

import matplotlib

matplotlib.use("Agg")
import numpy as np

from mfv_utils import atlas, data
from mfv_utils.atlas import figures as atlas_figures
from mfv_utils.atlas.store import drawn_above
from mfv_utils.evaluation import plots
from mfv_utils.runtime import session

out, lap = session.start(seed, out_dir)
timings = lap.timings
store = out / "atlas"
names = {c.index: c.name for c in data.imagenet_classes()}
if units is None:
    pool_set = data.load_pool(pool, size=224)
    counts = np.bincount(pool_set.classes[pool_set.classes >= 0], minlength=1000)
    units = [int(c) for c in np.argsort(-counts, kind="stable")[:n_classes]]
    print("pool images per class:", {names[u]: int(counts[u]) for u in units})
units = [int(u) for u in units]
units = units[:2] + units[-1:] if smoke and len(units) > 3 else units
spec = atlas.Spec(model=model, layer=layer, pool=tuple(pool), k=k, draw=draw, seed=seed, smoke=smoke, device=device,
                  own_class_min=own_class_min, method=method)
manifest, records = atlas_figures.build(spec, units, store, workers)
last = manifest["runs"][-1]
lap("atlas")

# %% [markdown]
# ## Fig. 5 / S2: the largest facet of every class unit
#
# Each cell is the visualization started from the mean image of the unit's largest facet (the
# cluster with the most of the class's images). The caption is the class. Only units whose
# facets stand on their own class's images appear (own-class share >= `min_share`).

# %%
# the figures stand on the units whose facets are of their own class's images; the rest are named
done = [u for u in units if u in records and records[u]["own_class_share"] >= min_share]
flagged = {names[u]: records[u]["own_class_share"] for u in units if u in records and u not in done}
print(f"{len(done)} units at >= {min_share:.0%} own class; left out of the figures (mostly other classes):", flagged)
fig = atlas_figures.largest_facets(store, done, [names[u][:16] for u in done],
                                   f"Fig. 5 / S2: the largest facet of {len(done)} class units ({model}), "
                                   f"each from its class's own images")
plots.publish(fig, out / "fig5_largest_facets.png", dpi=70)

# %% [markdown]
# ## Fig. S4: four facets each, beside a real member
#
# For the first `s4_classes` of those classes: the `draw` largest facets' visualizations, each followed by
# the real image nearest its facet's centroid. Distinct facets of one class (colour, pose,
# setting, number) are the paper's point.

# %%
s4 = done[:s4_classes]
fig = atlas_figures.facets_beside_real(store, s4, [names[u][:18] for u in s4], draw,
                                       "Fig. S4: four facets per class, each beside its nearest real image")
plots.publish(fig, out / "figS4_four_facets.png", dpi=70)
lap("figures")

# %% [markdown]
# ## metrics.json
#
# Per class: where its facets' images come from (its own class's, or its top images) and their
# own-class share, facet count and sizes, whether each drawn facet is recognized as its own by the
# held-out judge (facet identity), and how many visualizations beat the unit's strongest real
# image in the pool. The `_own` summaries are over the units of the figures only.

# %%
rows = [{"unit": u, "name": names[u], "k": r["k"], "facet_sizes": [f["size"] for f in r["facets"]],
         "images": r["images"], "own_class_share": r["own_class_share"], "in_figures": u in done,
         "facet_identity": r["facet_identity"], "above_strongest_real": r["above_strongest_real"],
         "drawn_above_strongest_real": sum(drawn_above(r)),
         "strongest_real": r["strongest_real"], "n_classes_in_top": r["n_classes"]} for u, r in records.items()]
shown = [r for r in rows if r["in_figures"]]
summary = {
    "model": model, "layer": layer, "units": units, "done": len(records),
    "failed": {u: e["reason"] for u, e in manifest["units"].items() if e["status"] == "failed"},
    "facet_identity_mean": round(float(np.mean([r["facet_identity"] for r in rows])), 4) if rows else None,
    "above_strongest_real_share": round(float(np.mean([r["above_strongest_real"] for r in rows])), 4) if rows else None,
    # the units of the figures (own-class share >= min_share): their numbers apart from the flagged ones'
    "own_class_units": len(shown), "flagged": flagged, "min_share": min_share, "own_class_min": own_class_min,
    "own_class_share_min": min((r["own_class_share"] for r in shown), default=None),
    "facet_identity_own": round(float(np.mean([r["facet_identity"] for r in shown])), 4) if shown else None,
    "drawn_above_strongest_real_own": round(float(np.mean([r["drawn_above_strongest_real"] / draw for r in shown])), 4)
    if shown else None,
    "classes": rows, "k": k, "draw": draw, "method": method, "seed": seed, "smoke": smoke, "engine": last["workers"],
    "atlas_seconds": last["seconds"],
    "atlas_runs": [{k_: r[k_] for k_ in ("started", "workers", "seconds", "reused")} | {"computed": len(r["computed"])}
                   for r in manifest["runs"]],
    "figures": ["fig5_largest_facets.png", "figS4_four_facets.png"],
    "site": "atlas/index.html", "timings": timings,
}
(out / "metrics.json").write_text(json.dumps(summary, indent=2))
print(json.dumps({k_: summary[k_] for k_ in ("done", "failed", "own_class_units", "facet_identity_own",
                                             "drawn_above_strongest_real_own", "flagged", "engine")}, indent=2))
