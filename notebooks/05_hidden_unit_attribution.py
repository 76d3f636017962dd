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
# # 05 · What in each image drives a hidden unit (paper Sec. S3, Fig. S10): Deconvolution vs LRP
#
# The hidden fully connected units of Fig. S9 fire for very different images (turtles, scuba
# divers, sharks, bells, faces). Are they **amalgams** of unrelated concepts, or do they fire for
# **one common detail** that all those images share? The paper answers with heat maps of the
# input pixels responsible for a unit's activation on its top images, by Deconvolution (Zeiler &
# Fergus 2014) and by Layer-wise Relevance Propagation (LRP, Bach et al. 2015). Its two findings:
#
# 1. the Deconv maps are noisy and hard to read, the LRP maps are clean;
# 2. one detail is highlighted across all of a unit's facets (the "goggles" of the fc6 "turtle"
#    unit, present on turtles, divers and masks alike).
#
# This notebook draws those maps for the units of Fig. S9 (notebook 02's rule picks them) with
# the field's library, [zennit](https://github.com/chr5tphr/zennit), and **measures** both
# claims instead of only showing them: the region-perturbation test (Samek et al. 2017) for the
# first, the similarity of the most relevant crops across facets for the second.

# %% tags=["parameters"]
model = "efficientnet_lite0"  # or "alexnet" (needs internet or `weights`)
weights = None  # alexnet only: a local state-dict file (or None / "IMAGENET1K_V1": download)
layers = None  # None: the last hidden fully connected layer and the class layer (pool, logits for Lite0)
units = None  # None: notebook 02's rule (the s9_units strongest of each layer); or e.g. ["pool:12", "logits:945"]
s9_units = 2  # units per layer picked by the rule (as notebook 02's Fig. S9)
top_n = 0.02  # U, the unit's top images in the pool: a count or a fraction (paper 2%)
pool = ["imagenette:val", "ilsvrc12-val-1300", "samples", "paper"]  # as notebook 02
k = 10  # facets per unit (Algorithm 1)
m = 15  # members averaged into a facet's mean image
shown_facets = 4  # facets drawn per unit: the largest clusters
images_per_facet = 3  # real images of each facet in Fig. S10 (the nearest its centroid)
perplexity = 30.0
method = "facet"  # the visualization beside each facet's images (mfv_utils.optimization.methods.METHODS)
judge = "efficientnet_lite2"  # held-out network: the features of the shared-detail measure
patch = 16  # region side of the perturbation test, px
fill = "noise"  # what replaces a removed region: "noise" (Samek et al.), "blur" or "mean" (mfv_utils.attribution.regions)
steps = 40  # regions removed, most relevant first (196 regions of 16 px at 224)
crop = 0.33  # side of the most relevant crop, a fraction of the image side
seed = 0
device = "auto"  # "auto": CUDA when torch sees a GPU, else the CPU
smoke = False  # True: short optimization and perturbation curves (CI); never changes the units
interactive = False
out_dir = "figures/05_hidden_unit_attribution"

# %%
import json

import matplotlib

if not interactive:
    matplotlib.use("Agg")
import numpy as np
import torch

from mfv_utils import attribution, data, facets
from mfv_utils.networks import models, receptive
from mfv_utils.evaluation import plots, provenance
from mfv_utils.attribution import figures as attribution_figures, regions
from mfv_utils.optimization import methods as mfv_methods
from mfv_utils.runtime import session
from mfv_utils.facets import unit_facets

out, lap = session.start(seed, out_dir)
timings = lap.timings
mfv_methods.check_known([method])
if not 1 <= shown_facets <= k:
    raise ValueError(f"need 1 <= shown_facets <= k, got {shown_facets} and k={k}")
if not 0 < crop < 1:
    raise ValueError(f"crop is a fraction of the image side in (0, 1), got {crop}")
net = models.load_model(model, weights, device=device)  # codes, visualizations, perturbation curves
plain = models.load_model(model, weights, device=device, levers=attribution.LEVERS)  # no fused conv + activation
judge_net = models.load_model(judge, device=device)
if layers is None:
    layers = ["fc7", "fc8"] if net.name == "alexnet" else ["pool", net.logits_layer]
layers = [net.check_layer(layer) for layer in layers]
fields = {layer: receptive.receptive_field(net, layer) for layer in layers}
for layer in layers:
    if not fields[layer].is_global:
        raise ValueError(f"layer {layer!r} is spatial; attribution here is for units that see the whole image "
                         f"(fully connected, pooled or class layers)")
side = net.input_size
n_regions = (side // patch) ** 2
steps_run = min(steps, 20) if smoke else steps
if not 1 <= steps_run <= n_regions:
    raise ValueError(f"steps must be in 1..{n_regions} (regions of {patch} px), got {steps}")
crop_px = int(round(crop * side))
if fill not in regions.FILLS:
    raise ValueError(f"unknown fill {fill!r}; known: {', '.join(regions.FILLS)}")

# %% [markdown]
# ## The units and their facets
#
# The pool, the codes and Algorithm 1 are notebook 02's (the same cached codes and the same
# function, `mfv_utils.facets.unit_facets`): in each layer the `s9_units` channels whose top-n pool
# images activate them most, or the units passed as `units` ("layer:channel"). Each facet is
# drawn beside its `images_per_facet` images nearest its centroid, and its visualization by the
# figures' method starts from its mean image.

# %%
pool_set = data.load_pool(pool, size=side)
columns = facets.layer_columns(net, pool_set.images, layers, cache_dir=".cache/codes", progress=True)
n_top = len(facets.top_indices(np.zeros(len(pool_set)), top_n))
k_eff = min(k, n_top)
m_eff = max(1, min(m, n_top // k_eff))
if units is None:
    picked = [(layer, int(c)) for layer in layers for c in unit_facets.strongest(columns[layer], n_top, s9_units)[0]]
else:
    picked = []
    for spec in units:
        layer, _, channel = str(spec).partition(":")
        if layer not in columns:
            raise ValueError(f"unit {spec!r}: layer {layer!r} is not one of this run's layers {layers}")
        unit = net.unit(models.Unit(layer, int(channel)))  # one-line error when out of range
        picked.append((layer, unit.channel))
found = []
for layer, c in picked:
    u = unit_facets.find(columns[layer], c, pool_set.images, pool_set.classes, fields[layer].visible_box(0, 0), net.mean.flatten(),
                         n_top, k_eff, m_eff, shown_facets, seed=seed, perplexity=perplexity)
    u["layer"] = layer
    found.append(u)
recipe = mfv_methods.smoke(mfv_methods.METHODS[method]) if smoke else mfv_methods.METHODS[method]
for layer in layers:
    shown = [u for u in found if u["layer"] == layer]
    if shown:
        v = unit_facets.visualize(recipe, net, layer, fields[layer], (0, 0), shown, seed=seed)
        for u, part in zip(shown, v["by_unit"]):
            u["viz"], u["act_start"], u["act_end"] = part["images"], part["act_start"], part["act_end"]
names = {c.index: c.name for c in data.imagenet_classes()}
for u in found:
    # each facet's images nearest its centroid (members are sorted by distance to it)
    u["shown_images"] = [idx[:images_per_facet] for idx in u["members"]]
    top_class = [np.bincount(np.maximum(pool_set.classes[idx], 0)).argmax() for idx in u["members"]]
    u["facet_classes"] = [names.get(int(t), "?") for t in top_class]
    print(f"{u['layer']} {u['channel']}: {len(u['top'])} top images of {u['n_classes']} classes; facets "
          f"{u['facet_classes']}; visualization {u['act_start'].mean():.2f} -> {u['act_end'].mean():.2f} "
          f"(top real image {u['top_act_max']:.2f})")
lap("facets")

# %% [markdown]
# ## Three maps per image, by zennit
#
# - **LRP**: zennit's `EpsilonGammaBox` composite with the z+ rule at the convolutions (the box
#   rule bounded by the pixel range at the first one, epsilon at fully connected layers, the
#   Norm rule at average pools and residual sums). Relevance is drawn signed: red is evidence for
#   the unit, blue against.
# - **Deconv**: zennit's `DeconvNet` composite with ReLU6 added to its layer map (it names only
#   `nn.ReLU`: without it, the map on Lite0 would silently be the plain gradient).
# - **gradient**: the plain input gradient, the baseline. Deconv and gradient are drawn as
#   magnitudes (their sign says which way to change a pixel, not whether it is evidence).
#
# zennit needs the model in a canonical form: `mfv_utils.attribution.canonizer` merges every
# BatchNorm into its convolution (found by tracing, since timm's `BatchNormAct2d` is not a leaf),
# routes every residual add through a `Sum`, makes every activation out-of-place, and undoes it
# all afterwards; it refuses any module that would escape the rules. The network here carries
# every speed lever but one (`attribution.LEVERS`: BatchNorms already folded, static padding),
# since a convolution fused with its ReLU6 would hide the activation from the rules.

# %%
shown_images = {}
maps = {name: {} for name in attribution.METHODS}
for u in found:
    key = (u["layer"], u["channel"])
    real = torch.cat([pool_set.images[idx] for idx in u["shown_images"]])
    shown_images[key] = torch.cat([real, u["viz"]])  # every facet's real images, then its visualizations
for name in attribution.METHODS:
    with attribution.attributing(plain, name) as attribute:
        for u in found:
            key = (u["layer"], u["channel"])
            unit = models.Unit(u["layer"], u["channel"])
            x = shown_images[key]
            maps[name][key] = np.concatenate([attribution.heat(attribute(x[i:i + 10], unit), name)
                                              for i in range(0, len(x), 10)])
lap("attribution")

# %% [markdown]
# ## Fig. S10: each facet's images (top), LRP (middle), Deconv (bottom), and the gradient
#
# One figure per unit. Columns come in groups, one per facet: its visualization first, then its
# images nearest the centroid. Rows: the images, the LRP relevance, the Deconv map, the plain
# gradient. Read the LRP row for the detail the unit keys on in every facet; compare it with the
# Deconv row.

# %%
figures = []
for u in found:
    key = (u["layer"], u["channel"])
    figures.append(f"figS10_{u['layer']}_{u['channel']}.png")
    plots.publish(attribution_figures.figS10(u, shown_images[key], {name: maps[name][key] for name in maps}),
                  out / figures[-1], dpi=70)

# %% [markdown]
# **Why the Deconv row repeats itself on Lite0.** The DeconvNet's backward pass depends on the
# image only through max-pooling switches (and the ReLU masks it *replaces* by a ReLU of the
# backward signal). Lite0 has no max pooling, so its Deconv map is the same for every image of
# a unit: a fixed pattern of the network's weights, with nothing of the image in it. On AlexNet
# the switches of its three max-pooling layers put some of the image back; the paper's
# observation that Deconv maps are hard to read is the weak form of this.

# %% [markdown]
# ## Claim 1: LRP points at the evidence better than Deconv (region perturbation)
#
# For each unit's real images: cut each image into `patch`-px regions, rank them by each map
# (most relevant first) or at random, replace the first `steps` regions one by one by uniform
# noise (`fill`; the same noise for every ranking), and track the unit's activation. The better a map
# points at the evidence, the faster the activation falls: AOPC (area over the perturbation
# curve) is larger. Reported per unit, divided by the unit's mean activation on the clean images
# so units compare.

# %%
curves, aopc = {}, {}
for u in found:
    key = (u["layer"], u["channel"])
    unit = models.Unit(u["layer"], u["channel"])
    n_real = sum(len(idx) for idx in u["shown_images"])
    x = shown_images[key][:n_real]
    orders = {name: regions.most_relevant_first(maps[name][key][:n_real], patch) for name in attribution.METHODS}
    orders["random"] = regions.random_order(n_real, n_regions, seed=seed)
    curves[key] = {name: regions.perturbation_curve(net, x, unit, o, patch, steps_run, seed=seed, fill=fill)
                   for name, o in orders.items()}
    f0 = float(np.mean(curves[key]["random"][:, 0]))
    aopc[key] = {name: float(regions.aopc(c).mean() / max(abs(f0), 1e-9)) for name, c in curves[key].items()}
    print(f"{u['layer']} {u['channel']}: AOPC / f0 " + ", ".join(f"{n} {a:.3f}" for n, a in aopc[key].items()))
lap("perturbation")

fig = attribution_figures.perturbation_curves(found, curves, aopc, steps_run, patch)
plots.publish(fig, out / "perturbation_curves.png", dpi=80)
figures.append("perturbation_curves.png")

# %% [markdown]
# ## Claim 2: one detail is shared across a unit's facets
#
# For every real image of a unit, the `crop`-sized window holding the most LRP relevance is
# its "detail". The held-out judge codes those crops, the whole images, and random crops of the
# same size; for each, the mean cosine similarity between images of **different** facets. If the
# unit fires for one detail present in all its facets, the relevant crops of different facets
# agree more than the whole images do (which differ by facet) and more than random crops (which
# controls for "small crops look alike").

# %%
shared = {}
for u in found:
    key = (u["layer"], u["channel"])
    n_real = sum(len(idx) for idx in u["shown_images"])
    x = shown_images[key][:n_real]
    facet_of = np.concatenate([[j] * len(idx) for j, idx in enumerate(u["shown_images"])])
    shared[key], u["crops"] = regions.shared_detail(x, facet_of, maps["lrp"][key][:n_real], judge_net, crop_px,
                                                    seed=seed)
    print(f"{u['layer']} {u['channel']}: across-facet similarity " +
          ", ".join(f"{n} {s:.3f}" for n, s in shared[key].items()))

fig = attribution_figures.relevant_crops(found)
plots.publish(fig, out / "relevant_crops.png", dpi=70)
figures.append("relevant_crops.png")
lap("shared detail")

# %% [markdown]
# ## metrics.json and the verdict
#
# Claim 1 holds when LRP's AOPC is above Deconv's for most units; claim 2 holds for a unit when
# its relevant crops agree across facets more than both its whole images and its random crops.

# %%
unit_rows = []
for u in found:
    key = (u["layer"], u["channel"])
    unit_rows.append({
        "layer": u["layer"], "channel": u["channel"], "n_top": len(u["top"]), "n_classes": u["n_classes"],
        "class_entropy": round(u["class_entropy"], 4), "facet_classes": u["facet_classes"],
        "facet_sizes": [int((u["labels"] == j).sum()) for j in u["largest"]],
        "images": [[data.display_path(pool_set.paths[i]) for i in idx] for idx in u["shown_images"]],
        "act_start": np.round(u["act_start"], 4).tolist(), "act_end": np.round(u["act_end"], 4).tolist(),
        "top_act_max": round(u["top_act_max"], 4),
        "aopc": {name: round(a, 4) for name, a in aopc[key].items()},
        "shared_detail": {name: round(s, 4) for name, s in shared[key].items()},
        "shared_detail_holds": bool(shared[key]["relevant crops"] > max(shared[key]["whole images"],
                                                                         shared[key]["random crops"])),
    })
claims = regions.claims(unit_rows, attribution.METHODS)
summary = {
    "model": net.name, "judge": judge_net.name, "method": method, "layers": layers, "units": unit_rows,
    "claims": claims, "patch": patch, "steps": steps_run, "fill": fill, "crop_px": crop_px, "pool": list(pool),
    "pool_size": len(pool_set), "top_n": n_top, "k": k_eff, "m": m_eff, "shown_facets": shown_facets,
    "images_per_facet": images_per_facet, "seed": seed, "smoke": smoke, "figures": figures,
    "skipped": pool_set.skipped, "timings": timings,
    "provenance": provenance.provenance(net, pool_set.paths, judge_net),
}
(out / "metrics.json").write_text(json.dumps(summary, indent=2))
print(json.dumps({"claims": claims, "timings": timings}, indent=2))
