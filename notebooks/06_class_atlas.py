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
# **Which classes, and why.** Offline, a class unit's images come from the pool (about 6,500
# labelled images, notebook 02's), not from the class's 1,300 training images as in the paper.
# So the 50 classes are those with the **most pool images**: the 12 with 150-420 images each
# (Imagenette's 10 and the authors' bell pepper and movie theater), then the 38 with the most of
# the rest (5-8 each; ties: the lower class index). For those, the unit's top 2 % (130 images)
# holds its own class's few images and the pool images most like them: their facets show what
# in the pool drives the unit, which is the paper's definition of a unit's facets applied to a
# small pool, and the reason the 12 well-covered classes are the ones Fig. S4 draws.

# %% tags=["parameters"]
model = "efficientnet_lite0"
layer = "logits"
n_classes = 50  # class units in the atlas: those with the most pool images (see above)
units = None  # None: the rule above; or a list of class indices
pool = ["imagenette:val", "ilsvrc12-val-1300", "samples", "paper"]
k = 10  # facets per unit (Algorithm 1)
draw = 4  # facets visualized per unit, the largest first (Fig. S4 draws 4)
s4_classes = 8  # classes of Fig. S4: the first 8 of the rule
workers = None  # Dask LocalCluster workers (None: one per core); 1: a serial loop
device = "auto"  # "auto": CUDA when torch sees a GPU, else the CPU (a unit's key holds the device type)
seed = 0
smoke = False  # True: 3 units, about 15 optimization steps each (CI)
out_dir = "figures/06_class_atlas"

# %%
import json

import matplotlib

matplotlib.use("Agg")
import numpy as np
import torch
from PIL import Image

from mfv_utils import atlas, data
from mfv_utils.atlas import site as atlas_site
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
units = [int(u) for u in units][: 3 if smoke else None]
spec = atlas.Spec(model=model, layer=layer, pool=tuple(pool), k=k, draw=draw, seed=seed, smoke=smoke, device=device)
manifest = atlas.run(spec, units, store, workers=workers, progress=False)
last = manifest["runs"][-1]
print(f"{len(last['computed'])} units computed, {last['reused']} reused from the store, {len(last['failed'])} failed, "
      f"in {last['seconds']:.0f} s ({last['workers']})")
atlas_site.write_site(store)
lap("atlas")

# %% [markdown]
# ## Fig. 5 / S2: the largest facet of every class unit
#
# Each cell is the visualization started from the mean image of the unit's largest facet (the
# cluster with the most of its top images). The caption is the class.

# %%
records = {u: json.loads((store / "units" / str(u) / "unit.json").read_text()) for u in units
           if manifest["units"][str(u)]["status"] == "done"}


def thumb(u, name):
    return torch.from_numpy(np.array(Image.open(store / "units" / str(u) / name).convert("RGB"))).permute(2, 0, 1)


done = [u for u in units if u in records]
ncols = 10
cells = [[thumb(u, "facet_0.jpg") for u in done[i:i + ncols]] for i in range(0, len(done), ncols)]
captions = [[names[u][:16] for u in done[i:i + ncols]] for i in range(0, len(done), ncols)]
fig = plots.image_table(cells, [""] * len(cells), [""] * ncols, cell=1.35, captions=captions)
fig.subplots_adjust(top=1 - 0.45 / fig.get_figheight())
fig.suptitle(f"Fig. 5 / S2: the largest facet of {len(done)} class units ({model})", y=1 - 0.1 / fig.get_figheight(),
             fontsize=10)
plots.publish(fig, out / "fig5_largest_facets.png", dpi=70)

# %% [markdown]
# ## Fig. S4: four facets each, beside a real member
#
# For the first `s4_classes` classes: the `draw` largest facets' visualizations, each followed by
# the real image nearest its facet's centroid. Distinct facets of one class (colour, pose,
# setting, number) are the paper's point.

# %%
s4 = done[:s4_classes]
cells, labels = [], []
for u in s4:
    row = []
    for j in range(records[u]["drawn"]):
        members = thumb(u, f"members_{j}.jpg")
        row += [thumb(u, f"facet_{j}.jpg"), members[:, :, : atlas.MEMBER]]  # the first member of the strip
    cells.append(row)
    labels.append(names[u][:18])
fig = plots.image_table(cells, labels, [x for j in range(draw) for x in (f"facet {j}", "real")], cell=1.2)
fig.subplots_adjust(top=1 - 0.7 / fig.get_figheight())
fig.suptitle("Fig. S4: four facets per class, each beside its nearest real image", y=1 - 0.1 / fig.get_figheight(),
             fontsize=10)
plots.publish(fig, out / "figS4_four_facets.png", dpi=70)
lap("figures")

# %% [markdown]
# ## metrics.json
#
# Per class: its pool images, facet count and sizes, whether each drawn facet is recognized as its
# own by the held-out judge (facet identity), and whether the visualizations beat the strongest
# real image of the unit.

# %%
rows = [{"unit": u, "name": names[u], "k": r["k"], "facet_sizes": [f["size"] for f in r["facets"]],
         "facet_identity": r["facet_identity"], "above_strongest_real": r["above_strongest_real"],
         "n_classes_in_top": r["n_classes"]} for u, r in records.items()]
summary = {
    "model": model, "layer": layer, "units": units, "done": len(records),
    "failed": {u: e["reason"] for u, e in manifest["units"].items() if e["status"] == "failed"},
    "facet_identity_mean": round(float(np.mean([r["facet_identity"] for r in rows])), 4) if rows else None,
    "above_strongest_real_share": round(float(np.mean([r["above_strongest_real"] for r in rows])), 4) if rows else None,
    "classes": rows, "k": k, "draw": draw, "seed": seed, "smoke": smoke, "engine": last["workers"],
    "atlas_seconds": last["seconds"],
    "atlas_runs": [{k_: r[k_] for k_ in ("started", "workers", "seconds", "reused")} | {"computed": len(r["computed"])}
                   for r in manifest["runs"]],
    "figures": ["fig5_largest_facets.png", "figS4_four_facets.png"],
    "site": "atlas/index.html", "timings": timings,
}
(out / "metrics.json").write_text(json.dumps(summary, indent=2))
print(json.dumps({k_: summary[k_] for k_ in ("done", "failed", "facet_identity_mean",
                                             "above_strongest_real_share", "engine")}, indent=2))
