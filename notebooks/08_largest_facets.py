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
# # 08 · The largest facet of every class that has its own images (paper Fig. 5 / Fig. S2)
#
# The paper's Fig. 5 and Fig. S2 show, for many classes, one visualization each: the one started
# from the mean image of the class's **largest** facet, found by Algorithm 1 on the class's own
# training images. Offline, 22 classes have many images of their own here: the two paper classes
# (the authors' 150 facet images each), Imagenette's ten (~390 images each; ~1,350 for church and
# French horn) and Imagewoof's ten dog breeds (250 each). This notebook draws exactly those and no
# other class: every image behind a facet is the class's own (notebook 06's pool-based atlas must
# borrow other classes' images for units with a handful of their own; none of those is here).
#
# Per class, Algorithm 1 as notebook 01 runs it (the public API `mfv.find_facets`: codes at the
# pooled layer, PCA 50, t-SNE, k-means with k = 10, mean of the 15 images nearest each centroid),
# then the figures' method from the largest facet's mean image. Beside each visualization: the
# facet's most typical real member (nearest its centroid in the codes). Two measures per class:
# whether the visualization drives the class logit above **every** real image of the class, and
# whether the held-out judge (Lite2) puts it nearest its own cluster among the ten.

# %% tags=["parameters"]
model = "efficientnet_lite0"
classes = None  # image-set names; None: the 22 classes with their own images (paper, Imagenette, Imagewoof)
k = 10  # facets per class (Algorithm 1)
m = 15  # images averaged into a facet's mean image
method = "facet"  # the figures' method (mfv_utils.optimization.methods.METHODS)
judge = "efficientnet_lite2"  # held-out network of the facet-identity measure (never optimized)
seed = 0
device = "auto"  # "auto": CUDA when torch sees a GPU, else the CPU
smoke = False  # True: 3 classes, about 15 optimization steps (CI); the image sets are never cut
out_dir = "figures/08_largest_facets"

# %%
import json
import textwrap

import matplotlib

matplotlib.use("Agg")
import numpy as np

import mfv_utils as mfv
from mfv_utils import data
from mfv_utils.evaluation import metrics, plots, provenance
from mfv_utils.runtime import session

out, lap = session.start(seed, out_dir)
if classes is None:
    classes = ([f"paper:{c}" for c in data.PAPER_CLASSES] + [f"imagenette:{c}" for c in data.IMAGENETTE_CLASSES]
               + [f"imagewoof:{c}" for c in data.IMAGEWOOF_CLASSES])
    classes = [classes[0], classes[2], classes[12]] if smoke else classes  # smoke: one of each source
net = mfv.load_model(model, device=device)
judge_net = mfv.load_model(judge, device=device)

# %% [markdown]
# ## Algorithm 1 on each class's own images, and its largest facet drawn
#
# The unit is the class's logit. `own_class_share` is the share of the images behind the facets
# whose path names the class's WNID (the folder they came from): 1 for every class here, and the
# number a pool-based figure would have to report.

# %%
rows = []
for spec in classes:
    images = data.load_image_set(spec)
    fs = mfv.find_facets(net, f"{net.logits_layer}:{images.target.index}", images=images, k=k, m=m, seed=seed,
                         perplexity=10.0 if spec.startswith("paper:") else 30.0).largest(1)  # as notebook 01
    (j,) = fs.order
    viz = fs.visualize(method=method, smoke=smoke, progress=False)
    score = viz.score(judge_net)
    wnid = fs.source.target.wnid
    rows.append({"spec": spec, "name": fs.source.target.name, "class_index": fs.source.target.index, "fs": fs,
                 "viz": viz, "score": score, "facet": j, "central": fs.central(j),
                 "own_class_share": float(np.mean([wnid in str(p) for p in fs.source.paths])),
                 "color_distance": metrics.color_distance(viz.images[0], fs.real(j)),
                 "skipped": fs.source.skipped})
    print(f"{spec:>32}: {len(fs.labels)} images, largest facet {j} ({fs.sizes[j]}); logit "
          f"{viz.act_start[0]:.1f} -> {viz.act_end[0]:.1f} (strongest real {fs.strongest_real:.1f}); "
          f"judge: own cluster {score.summary['facet_identity']:.0f}")
lap("facets")

# %% [markdown]
# ## Fig. 5 / S2: one visualization per class, beside a real member of its facet
#
# Each pair of rows holds up to eleven classes: the visualization of the class's largest facet
# (its logit from the mean image to the end, `*` where it ends above every real image of the class),
# and under it the facet's most typical real image.

# %%
per_row = 11
cells, captions, labels = [], [], []
for start in range(0, len(rows), per_row):
    group = rows[start:start + per_row]
    cells += [[r["viz"].images[0] for r in group], [r["fs"].images[r["central"]] for r in group]]
    captions += [[textwrap.shorten(r["name"], 18) + f"\n{r['viz'].act_start[0]:.0f}->{r['viz'].act_end[0]:.0f}"
                  + (" *" if r["viz"].above_strongest_real[0] else "") for r in group],
                 [f"facet {r['facet']}: {int(r['fs'].sizes[r['facet']])}/{len(r['fs'].labels)}" for r in group]]
    labels += [f"{method}\nvisualization", "real member"]
fig = plots.image_table(cells, labels, [""] * min(per_row, len(rows)), cell=1.3, captions=captions)
fig.subplots_adjust(top=1 - 0.55 / fig.get_figheight())
fig.suptitle(f"Fig. 5 / S2 ({net.name}): the largest facet of each class (Algorithm 1, k = {k}, on the class's "
             "own images)", y=1 - 0.1 / fig.get_figheight(), fontsize=10)
plots.publish(fig, out / "fig5_largest_facets.png", dpi=70, bbox_inches="tight")

fig = plots.out_firing([r["name"] for r in rows], [r["fs"].strongest_real for r in rows],
                       [r["viz"].act_start for r in rows], [r["viz"].act_end for r in rows],
                       "Largest facet: mean image (grey) -> visualization (green: above every real image of the "
                       "class, black bar; red: not)")
plots.publish(fig, out / "activations.png", dpi=80)
lap("plots")

# %% [markdown]
# ## What the figure stands on (metrics.json)

# %%
per_class = [{"class": r["name"], "class_index": r["class_index"], "images": r["spec"],
              "n_images": len(r["fs"].labels), "facet": r["facet"], "facet_size": int(r["fs"].sizes[r["facet"]]),
              "own_class_share": round(r["own_class_share"], 4), "strongest_real": round(r["fs"].strongest_real, 4),
              "act_start": round(float(r["viz"].act_start[0]), 4), "act_end": round(float(r["viz"].act_end[0]), 4),
              "above_strongest_real": bool(r["viz"].above_strongest_real[0]),
              "facet_identity": r["score"].summary["facet_identity"], "color_distance": round(r["color_distance"], 4),
              "real_member": data.display_path(r["fs"].source.paths[r["central"]])} for r in rows]
above = float(np.mean([c["above_strongest_real"] for c in per_class]))
identity = float(np.mean([c["facet_identity"] for c in per_class]))
summary = {
    "protocol": f"Algorithm 1 (codes at {net.code_layer}, PCA 50, t-SNE, k-means k={k}, mean of the m={m} nearest) "
                "on each class's own images; the largest facet drawn; unit: the class logit",
    "model": net.name, "judge": judge_net.name, "method": method, "k": k, "m": m, "seed": seed, "smoke": smoke,
    "classes": per_class, "above_strongest_real_share": round(above, 4), "facet_identity_mean": round(identity, 4),
    "color_distance_mean": round(float(np.mean([c["color_distance"] for c in per_class])), 4),
    "own_class_share_min": min(c["own_class_share"] for c in per_class),
    "figures": ["fig5_largest_facets.png", "activations.png"],
    "skipped": [s for r in rows for s in r["skipped"]], "timings": lap.timings,
    "provenance": provenance.provenance(net, [p for r in rows for p in r["fs"].source.paths], judge_net),
}
(out / "metrics.json").write_text(json.dumps(summary, indent=2))
print(f"{len(rows)} classes: {above:.0%} of the largest facets above their class's strongest real image; "
      f"judge identity {identity:.2f} (chance 0.10); own-class share >= {summary['own_class_share_min']:.2f}")
