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
# # 07 · Four facets of each class from its 50 validation images (paper Fig. S4, its protocol)
#
# The paper's Fig. S4 shows four facets each for many classes, found by Algorithm 1 on each
# class's **50 ImageNet validation images** (not its 1,300 training images as in Fig. 2). Offline,
# exactly 20 classes have all 50 of their official ILSVRC-2012 validation images here: Imagenette's
# ten and Imagewoof's ten (dog breeds, which the network must tell apart from each other). This
# notebook runs the paper's protocol on those 20 and nothing else: every facet comes from the
# class's own images, never from a pool where other classes' images could stand in for it (what
# notebook 06's pool-based atlas must do for classes with a handful of images).
#
# Per class: code the 50 images at the pooled layer, PCA + t-SNE, k-means with k = 10 (Algorithm 1,
# the public API `mfv.find_facets`), take the four largest clusters, start the figures' method from
# each one's mean image, and show each visualization beside the real image nearest its centroid.
# With 50 images a cluster holds about 5, so a facet's mean image averages its `m = 5` nearest
# images (the paper's m = 15 would mix in the neighbouring clusters).
#
# **On a machine with ImageNet**, one parameter makes the paper's many-class figures: point
# `$MFV_IMAGENET` at it and run with `source="imagenet-val"` (`n_classes=50` or 90, or a list of
# `classes`); `source="imagenet-train"` runs Algorithm 1 on each class's training images instead.

# %% tags=["parameters"]
model = "efficientnet_lite0"
source = "val50"  # "val50": the 20 classes whose 50 official validation images are here; "imagenet-val"
# (or "imagenet-train"): a local ImageNet ($MFV_IMAGENET, docs/data-and-models.md), any class
classes = None  # a list of class names (or WNIDs); None: the 20 classes here, or n_classes of a local ImageNet
n_classes = 50  # a local ImageNet without a list of classes: this many, evenly spread over the 1000
k = 10  # facets per class (Algorithm 1)
m = 5  # images averaged into a facet's mean image (about 50 / k)
shown = 4  # facets drawn per class, the largest first (Fig. S4 draws 4)
method = "facet_win"  # the recipe (mfv_utils.optimization.methods.METHODS); "facet": without the out-fire constraint
judge = "efficientnet_lite2"  # held-out network of the facet-identity measure (never optimized)
seed = 0
device = "auto"  # "auto": CUDA when torch sees a GPU, else the CPU
smoke = False  # True: 3 classes, about 15 optimization steps (CI); the images are never cut
out_dir = "figures/07_validation_facets"

# %%
import json
import textwrap

import matplotlib

matplotlib.use("Agg")
import numpy as np

import mfv_utils as mfv
from mfv_utils import data
from mfv_utils.evaluation import plots, provenance
from mfv_utils.runtime import session

out, lap = session.start(seed, out_dir)
if source not in ("val50", "imagenet-val", "imagenet-train"):
    raise ValueError(f"source must be 'val50', 'imagenet-val' or 'imagenet-train', got {source!r}")
if classes is not None:
    names = list(classes)
elif source == "val50":
    names = list(data.VAL50_CLASSES)
    names = names[:2] + names[10:11] if smoke else names  # smoke: two Imagenette classes and one dog breed
else:  # a local ImageNet: n_classes indices evenly spread over the 1000 (0, 20, 41, ... for 50)
    names = [data.imagenet_classes()[int(i)].wnid for i in np.linspace(0, 999, n_classes).round()]
net = mfv.load_model(model, device=device)
judge_net = mfv.load_model(judge, device=device)

# %% [markdown]
# ## Algorithm 1 on each class's 50 validation images, and its four largest facets drawn
#
# The unit is the class's logit; its strongest real image is the strongest of its own 50.
# A facet's visualization should end above that (activation maximization's job) and show its own
# facet: the judge (Lite2, which never enters the optimization) checks that each visualization lies
# nearest its own cluster's images among the ten clusters.

# %%
rows = []
for name in names:
    images = data.load_image_set(f"{source}:{name}", size=net.input_size)
    unit = f"{net.logits_layer}:{images.target.index}"
    fs = mfv.find_facets(net, unit, images=images, k=k, m=m, seed=seed).largest(shown)
    viz = fs.visualize(method=method, smoke=smoke, progress=False)
    score = viz.score(judge_net)
    nearest = [fs.images[fs.members[j][0]] for j in fs.order]  # the real member nearest each centroid
    rows.append({"name": images.target.name, "spec": images.name, "class_index": images.target.index,
                 "n_images": len(images), "fs": fs, "viz": viz, "score": score, "nearest": nearest,
                 "skipped": images.skipped})
    print(f"{images.target.name:>22}: sizes {fs.sizes.tolist()}, drawn {fs.order}; activation "
          f"{[round(float(a), 1) for a in viz.act_start]} -> {[round(float(a), 1) for a in viz.act_end]} "
          f"(strongest real {fs.strongest_real:.1f}); identity {score.summary['facet_identity']:.2f}")
lap("facets")

# %% [markdown]
# ## Fig. S4: four facets per class, each beside a real member
#
# Each row is a class; each pair of columns a facet (largest first): its visualization, then the
# real validation image nearest its cluster's centroid. Under each visualization, the class logit
# from the facet's mean image to the end, and `*` where it ends above every real image of the class.

# %%
cells, captions = [], []
for r in rows:
    cells.append([im for b in range(len(r["fs"].order)) for im in (r["viz"].images[b], r["nearest"][b])])
    captions.append([text for b, j in enumerate(r["fs"].order) for text in (
        f"{r['viz'].act_start[b]:.0f}->{r['viz'].act_end[b]:.0f}" + (" *" if r["viz"].above_strongest_real[b] else ""),
        f"facet {j}: {int(r['fs'].sizes[j])} imgs")])
col_labels = [label for j in range(shown) for label in (f"facet {j + 1}: {method}", "real member")]
fig = plots.image_table(cells, [textwrap.fill(r["name"], 14) + f"\n({r['class_index']})" for r in rows], col_labels,
                        cell=1.25, captions=captions)
fig.subplots_adjust(top=1 - 0.75 / fig.get_figheight())  # room for the title above the column titles
fig.suptitle(f"Fig. S4 ({net.name}): Algorithm 1 (k = {k}) on each class's 50 ILSVRC-2012 validation images; "
             f"its {shown} largest facets", y=1 - 0.12 / fig.get_figheight(), fontsize=10)
plots.publish(fig, out / "figS4_validation_facets.png", dpi=70, bbox_inches="tight")
lap("plots")

# %% [markdown]
# ## Does each facet out-fire the class's real images?
#
# Activation maximization's job: per class, the logit of each drawn facet from its mean image (grey)
# to its visualization (colour), against the strongest of the class's 50 real images (black bar).

# %%
fig = plots.out_firing([r["name"] for r in rows], [r["fs"].strongest_real for r in rows],
                       [r["viz"].act_start for r in rows], [r["viz"].act_end for r in rows],
                       "Each drawn facet: mean image (grey) -> visualization (green: above the class's strongest real "
                       "image, black bar; red: not)")
plots.publish(fig, out / "activations.png", dpi=80)

# %% [markdown]
# ## The numbers
#
# Per class and over all: how many drawn facets end above the class's strongest real image, and
# how many the judge puts nearest their own cluster (chance: 1 in 10).

# %%
per_class = [{"class": r["name"], "class_index": r["class_index"], "images": r["spec"], "n_images": r["n_images"],
              "facet_sizes": r["fs"].sizes.tolist(), "drawn": list(r["fs"].order),
              "k_by_silhouette": r["fs"].k_suggested, "strongest_real": round(r["fs"].strongest_real, 4),
              "act_start": np.round(r["viz"].act_start, 4).tolist(), "act_end": np.round(r["viz"].act_end, 4).tolist(),
              "above_strongest_real": r["viz"].above_strongest_real.tolist(),
              "facet_identity": round(r["score"].summary["facet_identity"], 4),
              "nearest_member": [data.display_path(r["fs"].source.paths[r["fs"].members[j][0]])
                                 for j in r["fs"].order]} for r in rows]
above = float(np.mean([a for r in per_class for a in r["above_strongest_real"]]))
identity = float(np.mean([r["facet_identity"] for r in per_class]))
summary = {
    "protocol": f"Algorithm 1 (PCA 50, t-SNE, k-means k={k}, mean of the m={m} nearest) on each class's "
                + ("~1,300 ImageNet training images" if source == "imagenet-train" else
                   "50 official ILSVRC-2012 validation images") + "; the largest facets drawn; unit: the class logit",
    "source": source,
    "model": net.name, "judge": judge_net.name, "method": method, "k": k, "m": m, "shown": shown, "seed": seed,
    "smoke": smoke, "classes": per_class, "above_strongest_real_share": round(above, 4),
    "facet_identity_mean": round(identity, 4), "figures": ["figS4_validation_facets.png", "activations.png"],
    "skipped": [s for r in rows for s in r["skipped"]], "timings": lap.timings,
    "provenance": provenance.provenance(net, [p for r in rows for p in r["fs"].source.paths], judge_net),
}
(out / "metrics.json").write_text(json.dumps(summary, indent=2))
print(f"{len(rows)} classes: {above:.0%} of the drawn facets above their class's strongest real image; "
      f"judge identity {identity:.2f} (chance 0.10)")
