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
# # 02 · Hidden-layer facets (paper Fig. 6, S9): how facet diversity grows with depth
#
# Algorithm 1 is not only for class units. The paper runs it on units of **every layer** of
# AlexNet: a unit's image set U is its top-1000 activating validation images (2% of 50,000);
# for a convolutional unit, U holds the *patches of its receptive field* and a patch's code is
# the column of all channels at the unit's position (384 numbers at conv3). Clustering U and
# starting activation maximization from each cluster's mean patch shows the unit's facets,
# drawn at the true size of its receptive field. The paper's reading of Fig. 6:
#
# - conv1-conv2 units show no noticeably different facets;
# - from conv3 on, the facets differ more and more (colour, then pose and number, then
#   different objects);
# - fc6/fc7 units look like **amalgams** of unrelated concepts, while fc8 (class) facets stay
#   within one class.
#
# This notebook re-runs that study on a network that runs offline (EfficientNet-Lite0 by
# default: its stages `block1`..`block6` stand in for conv1..conv5, the pooled 1280-d
# features `pool` for fc7, `logits` for fc8) and puts numbers on each claim: facet diversity
# against depth, class purity of the top images, and how many facets the data supports.

# %% tags=["parameters"]
model = "efficientnet_lite0"  # or "alexnet" (needs internet or `weights`)
weights = None  # alexnet only: a local state-dict file (or None / "IMAGENET1K_V1": download)
layers = None  # None: conv1..fc8 for alexnet; block1..block6, pool, logits for Lite0
units_per_layer = 2  # units per layer drawn and optimized (Fig. 6)
stats_units = 8  # units per layer for the statistics that need no optimization, at least units_per_layer
position = [0.5, 0.5]  # where a spatial unit sits: fractions of its map, row and column (the center)
top_n = 0.02  # U, the top images of the unit in the pool: a count, or a fraction of the pool (paper 2%)
pool = ["imagenette:val", "ilsvrc12-val-1300", "samples", "paper"]  # parts (mfv_utils.data.load_pool) or folders
k = 10  # facets per unit (Algorithm 1's k-means; fewer when U is small)
m = 15  # patches averaged into a facet's mean patch (at most |U| / k)
shown_facets = 4  # facets drawn per unit: the largest clusters
perplexity = 30.0  # t-SNE perplexity (capped at (|U| - 1) / 3)
method = "facet_win"  # the figures' method (mfv_utils.optimization.methods.METHODS), anchored at each unit's own layer
compare = ["paper"]  # methods run beside it (a row each in Fig. 6, a column in Fig. S9, in the tables)
judge = "efficientnet_lite2"  # held-out network: the fixed embedding of every image measure
s9_units = 2  # units of each of the two last layers (fc-like, class) in Fig. S9
iters_factor = 1.0  # every optimization's iteration count x this
seed = 0
device = "auto"  # "auto": CUDA when torch sees a GPU, else the CPU; or "cpu", "cuda", "cuda:1"
smoke = False  # True: about 15 iterations per optimization (CI); never changes the pool or units
interactive = False
out_dir = "figures/02_hidden_layer_facets"

# %%
import json
import time

import matplotlib

if not interactive:
    matplotlib.use("Agg")
import numpy as np
from scipy.stats import spearmanr

from mfv_utils import data, facets
from mfv_utils.evaluation import hidden, hidden_plots, metrics, plots, provenance
from mfv_utils.networks import models, receptive
from mfv_utils.runtime import session
from mfv_utils.facets import unit_facets
from mfv_utils.optimization import methods as mfv_methods

out, lap = session.start(seed, out_dir)
timings = lap.timings


runs = list(dict.fromkeys([method] + list(compare)))
mfv_methods.check_known(runs)
recipes = {name: mfv_methods.METHODS[name] for name in runs}
if not 1 <= units_per_layer <= stats_units:
    raise ValueError(f"need 1 <= units_per_layer <= stats_units, got {units_per_layer} and {stats_units}")
if not 1 <= shown_facets <= k:
    raise ValueError(f"need 1 <= shown_facets <= k, got {shown_facets} and k={k}")
net = models.load_model(model, weights, device=device)
judge_net = models.load_model(judge, device=device)
if layers is None:
    layers = (["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"] if net.name == "alexnet"
              else ["block1", "block2", "block3", "block4", "block5", "block6", "pool", "logits"])
layers = [net.check_layer(layer) for layer in layers]
depth = {layer: net.layers.index(layer) for layer in layers}
layers = sorted(layers, key=depth.get)
fields = {layer: receptive.receptive_field(net, layer) for layer in layers}
at = {layer: (facets.map_position(fields[layer].map_size, position[0]),
              facets.map_position(fields[layer].map_size, position[1])) for layer in layers}
for layer in layers:
    f = fields[layer]
    print(f"{layer:>8}: receptive field {'the whole image' if f.is_global else f'{f.size} px, jump {f.jump}'}"
          f" -> drawn at {f.visible_box(*at[layer])[2]} px")

# %% [markdown]
# ## Receptive fields and the pool
#
# The receptive field of a layer is computed from the architecture: every convolution and
# pooling up to it, with its kernel, stride, dilation and padding (TF "same" padding depends
# on the input size and is computed as the network computes it). A unit at `position` (the
# center by default) of a spatial layer sees the square printed above; where the field is
# wider than the image, the part outside is padding, so the figures draw the part inside
# (`visible_box`). A fully connected layer (and the globally pooled `pool`) sees the whole
# image.
#
# The **pool** replaces the paper's 50,000 validation images offline: the Imagenette
# validation images, the 1,300 labelled validation images, one sample per class and the
# authors' 300 (about 6,500 images, each with its ImageNet class). Every image is coded once
# at every layer's unit position (cached on disk by model, layer, position and the images'
# bytes).

# %%
pool_set = data.load_pool(pool, size=net.input_size)
columns = facets.layer_columns(net, pool_set.images, layers, cache_dir=".cache/codes", progress=True,
                                position=position)
print(f"pool: {len(pool_set)} images, {len(set(pool_set.classes[pool_set.classes >= 0]))} classes; "
      f"skipped {len(pool_set.skipped)}")
n_top = len(facets.top_indices(np.zeros(len(pool_set)), top_n))
k_eff = min(k, n_top)
m_eff = max(1, min(m, n_top // k_eff))
print(f"U = top {n_top} images per unit; k = {k_eff} facets of {m_eff} patches each")
lap("pool codes")

# %% [markdown]
# ## Which units (a stated rule, never a hand pick)
#
# In each layer, rank the channels by the mean activation of their top-n pool images (the
# units the pool drives hardest) and take the first `stats_units`; the first
# `units_per_layer` of those are drawn and optimized. For each unit, Algorithm 1 runs on U
# (codes L2-normalized, PCA to 50-D, t-SNE, k-means), and the `shown_facets` **largest**
# clusters are its facets in the figures (ties: the lower cluster index).
#
# **How many facets does a unit have?** The paper fixes k = 10 and leaves the question open.
# Here the data answers it: the k in 2..10 whose k-means clustering of the t-SNE embedding
# has the highest mean silhouette.

# %%
units = []
for layer in layers:
    ranked, strength = unit_facets.strongest(columns[layer], n_top, stats_units)
    box = fields[layer].visible_box(*at[layer])
    for rank, c in enumerate(ranked):
        u = unit_facets.find(columns[layer], c, pool_set.images, pool_set.classes, box, net.mean.flatten(),
                             n_top, k_eff, m_eff, shown_facets, seed=seed, perplexity=perplexity)
        units.append({"layer": layer, "depth": depth[layer], "rank": rank, "shown": rank < units_per_layer,
                      "strength": float(strength[c]), **u})
    print(f"{layer:>8}: units {[int(c) for c in ranked[:units_per_layer]]} shown; facet counts (silhouette) "
          f"{[u['k_data'] for u in units if u['layer'] == layer]}")
lap("facets")

# %% [markdown]
# ## Activation maximization of each shown unit from its facets' mean patches
#
# On a canvas of the receptive field's size: the network sees the canvas placed at the unit's
# field inside an otherwise neutral image (`receptive.Placed`), so the unit can only be driven
# by what its field holds. All shown units of a layer share the field (one position per layer)
# and run as one batch (one channel per image). The result is cut to the field's side around
# the canvas center. Two methods, each a recipe of `mfv_utils.optimization.methods`:
#
# - the figures' method (`method`), the recipe of the class units of notebook 01 (`facet`), with
#   its anchor at the layer that clustered this unit's patches: each image is pulled towards
#   its facet's centroid, a **column** of this layer at the unit's position (for `pool` and
#   `logits`, the whole vector), while its spectrum and colours follow its facet's real patches.
#   `facet_win` adds one constraint: the unit must end above its strongest real patch. A hidden
#   unit's activations are small (3-5 for a pooled feature against 12-19 for a logit), so the same
#   anchor weighs more against it and can hold it below every real patch; while an image is below
#   its target, the unit's term grows step by step until it wins (`objectives.OutFire`);
# - the paper's mean-initialized schedule (`paper`: pixel steps, jitter, TV), as in the paper.

# %%
if smoke:
    recipes = {name: mfv_methods.smoke(r) for name, r in recipes.items()}
elif iters_factor != 1.0:
    recipes = {name: mfv_methods.shorten(r, iters_factor) for name, r in recipes.items()}
seconds = {name: {} for name in recipes}
for layer in layers:
    shown = [u for u in units if u["layer"] == layer and u["shown"]]
    for name, recipe in recipes.items():
        t0 = time.perf_counter()
        v = unit_facets.visualize(recipe, net, layer, fields[layer], at[layer], shown, seed=seed, progress=interactive)
        for u, part in zip(shown, v["by_unit"]):
            u.setdefault("viz", {})[name] = part["images"]
            u.setdefault("act_end_by", {})[name] = part["act_end"]
            u["act_start"] = part["act_start"]
        seconds[name][layer] = round(time.perf_counter() - t0, 2)
        print(f"{layer:>8} {name:>10}: {len(v['images'])} images at {fields[layer].visible_box(*at[layer])[2]} px, "
              f"{mfv_methods.iterations(recipe)} iterations in {seconds[name][layer]:.1f} s; activation "
              f"{v['act_start'].mean():.2f} -> {v['act_end'].mean():.2f} "
              f"(top real image {np.mean([u['top_act_max'] for u in shown]):.2f})")
for u in units:
    if u["shown"]:
        u["visualizations"], u["act_end"] = u["viz"][method], u["act_end_by"][method]
lap("optimize")

# %% [markdown]
# ## The numbers behind each claim
#
# Every image measure uses one fixed embedding: the held-out judge's (EfficientNet-Lite2,
# never optimized) L2-normalized pooled features of the image (a patch is resized to the
# judge's input, as any image is).
#
# - **Facet diversity** of a unit: the mean pairwise cosine distance between its shown facets'
#   visualizations (`diversity_viz`), and the same between the facets' real mean patches
#   (`diversity_real`, for every unit of the statistics, no optimization needed). Per layer, the
#   mean over units; `spearman_depth_diversity` is Spearman's rho between layer depth and
#   that per-layer diversity of the visualizations (`spearman_depth_diversity_real`: of the
#   mean patches). The paper's claim holds if rho > 0.
# - **Amalgam or pure**: the entropy (bits) of the ImageNet classes among a unit's top images,
#   and their number. Class units should be purer (lower) than the hidden fully connected ones.
#   The pool over-represents the 10 Imagenette classes (~390 images each vs ~1-3 for the
#   others), which lowers every entropy; the comparison between layers is what counts. It
#   also favours the Imagenette classes among the class units the rule picks (they have the
#   most strongly activating images), and such a unit's top images are then nearly all of its
#   class: read the class units' purity as an upper bound.
# - **Facet fidelity** of the shown units (as in notebook 01, within U): `facet_identity`
#   (each visualization nearest the centroid of its own cluster's real patches among the shown
#   clusters), `diversity_ratio` (visualizations' diversity / the clusters' representative
#   patches'), `hf_ratio` (high-frequency share / the real patches').

# %%
for u in units:
    u["diversity_real"] = metrics.mean_pairwise_distance(metrics.judge_features(judge_net, u["mean_patches"]))
    if not u["shown"]:
        continue
    keep = np.isin(u["labels"], u["largest"])  # the drawn facets' images, labelled in drawing order
    real = receptive.crop_patches(pool_set.images[u["top"][keep]], fields[u["layer"]].visible_box(*at[u["layer"]]),
                                  net.mean.flatten())
    order = {cluster: j for j, cluster in enumerate(u["largest"])}
    u["fidelity_by"], u["diversity_viz_by"] = hidden.unit_fidelity(
        u, recipes, judge_net, real, np.array([order[c] for c in u["labels"][keep]]))
    u["fidelity"], u["diversity_viz"] = u["fidelity_by"][method], u["diversity_viz_by"][method]


shown_units = [u for u in units if u["shown"]]
div_viz = hidden.layer_means(units, layers, "diversity_viz", lambda u: u["shown"])
by_method = hidden.by_method(shown_units, layers, recipes)
div_real = hidden.layer_means(units, layers, "diversity_real")
k_by_layer = hidden.layer_means(units, layers, "k_data")
entropy_by_layer = hidden.layer_means(units, layers, "class_entropy")
d = [depth[layer] for layer in layers]


def rho(values):
    if len(layers) < 3:
        return None
    r = spearmanr(d, [values[layer] for layer in layers]).statistic
    return None if np.isnan(r) else round(float(r), 4)


spearman = {"viz": rho(div_viz), "real": rho(div_real), "k": rho(k_by_layer), "entropy": rho(entropy_by_layer)}
class_layer = net.logits_layer if net.logits_layer in layers else None
hidden_fc = [layer for layer in layers if fields[layer].is_global and layer != net.logits_layer]
purity = hidden.purity(entropy_by_layer, class_layer, hidden_fc)
for layer in layers:
    print(f"{layer:>8}: diversity viz {div_viz[layer]:.3f} real {div_real[layer]:.3f}  facets (silhouette) "
          f"{k_by_layer[layer]:.1f}  class entropy {entropy_by_layer[layer]:.2f} bits")
print("Spearman rho vs depth:", spearman, "\npurity:", purity)
# the fidelity issue's goals for hidden units, on the figures' method: facet identity from the
# third block (conv3 for AlexNet) up, natural high frequencies, and above the strongest real patch
first_deep = "block3" if "block3" in net.layers else "conv3"
deep = [u for u in shown_units if u["depth"] >= net.layers.index(first_deep)]


goals = {name: hidden.goals(name, shown_units, deep, first_deep) for name in recipes}
print(f"{'layer':>8} " + " ".join(f"{n + ' ' + c:>24}" for n in recipes for c in ("identity", "diversity", "hf")))
for layer in layers:
    print(f"{layer:>8} " + " ".join(f"{by_method[n][layer][c]:>24.3f}" for n in recipes
                                    for c in ("facet_identity", "diversity_viz", "hf_ratio")))
print("goals:", json.dumps(goals, indent=1))
lap("measure")

# %% [markdown]
# ## Fig. 6: four facets of example units in every layer, at their receptive-field sizes
#
# Two rows per layer (shallow at the top): the figures' method, then the paper's schedule from
# the same starts. The shown units side by side, each unit's facets (its largest clusters,
# largest first) at the true pixel size of the unit's field: a `block1` unit sees a few pixels,
# a `block5` unit the whole image. Fields smaller than 36 px are drawn a second time, magnified
# (x N, nearest neighbour), beside the true-size ones. The label under each unit gives its
# channel and its activation before -> after optimization.

# %%
rows = [{"label": f"{layer}, {name}\n"
                  + ("whole image" if fields[layer].is_global else f"field {fields[layer].size} px"),
         "side": fields[layer].visible_box(*at[layer])[2],
         "units": [(f"unit {u['channel']}: {u['act_start'].mean():.1f} -> {u['act_end_by'][name].mean():.1f}",
                    u["viz"][name]) for u in shown_units if u["layer"] == layer]}
        for layer in layers for name in recipes]
plots.publish(hidden_plots.fig6(rows), out / "fig6_hidden_facets.png", dpi=100)

# %% [markdown]
# ## Fig. S9: fc-like and class units, each facet beside real images of its cluster
#
# For the first `s9_units` units of the last hidden fully connected layer and of the class
# layer: each facet's visualization by the figures' method and by the paper's schedule, then 4
# random patches (seeded) of the 15 nearest its centroid. An amalgam unit's rows show unrelated
# things; a class unit's stay in one class.

# %%
s9_layers = [x for x in (hidden_fc[-1:] if hidden_fc else []) + ([class_layer] if class_layer else [])]
s9 = [(layer, u) for layer in s9_layers for u in [u for u in shown_units if u["layer"] == layer][:s9_units]]


def real_patches(layer, indices):
    return receptive.crop_patches(pool_set.images[indices], fields[layer].visible_box(*at[layer]), net.mean.flatten())


fig_s9 = hidden_plots.figS9(s9, recipes, real_patches, pool_set.classes,
                            {c.index: c.name for c in data.imagenet_classes()}, np.random.default_rng(seed))
if fig_s9 is not None:
    plots.publish(fig_s9, out / "figS9_fc_facets.png", dpi=60)

# %% [markdown]
# ## Files for the teaching explorer
#
# One small sheet per shown unit (`units/<layer>_<unit>.jpg`): a row per facet with its mean
# patch, its visualization by each method and 5 of its real patches, so the explorer
# (`mfv_utils.apps.widgets`) shows any unit at once.

# %%
(out / "units").mkdir(exist_ok=True)
sheet_columns = ["mean patch", *recipes] + ["real"] * 5
for u in shown_units:
    u["sheet"] = f"units/{u['layer']}_{u['channel']}.jpg"
    plots.contact_sheet([[u["mean_patches"][j], *(u["viz"][name][j] for name in recipes),
                          *real_patches(u["layer"], idx[:5])] for j, idx in enumerate(u["members"])]
                        ).save(out / u["sheet"], quality=88)

# %% [markdown]
# ## Facet diversity, class purity and facet count against depth
#
# Left: diversity of the facet visualizations (per unit as dots, per layer as the line) and
# of the real mean patches. Middle: the facet count the silhouette picks. Right: the class
# entropy of the top images (lower = purer).

# %%
diversity = {f"visualizations ({method})": (div_viz, "o-"), "real mean patches": (div_real, "s--"),
             **{f"visualizations ({name})": ({layer: by_method[name][layer]["diversity_viz"] for layer in layers}, "^:")
                for name in recipes if name != method}}
fig = hidden_plots.depth_trends(
    layers, diversity, [(u["layer"], u["diversity_viz"]) for u in shown_units], k_by_layer,
    [(u["layer"], u["k_data"]) for u in units], entropy_by_layer, spearman,
    f"{net.name}: {len(layers)} layers, {stats_units} units each (diversity of visualizations: "
    f"{units_per_layer} units), U = top {n_top} of {len(pool_set)} pool images")
plots.publish(fig, out / "diversity_vs_depth.png", dpi=80)
lap("plots")

# %% [markdown]
# ## metrics.json and the verdict
#
# The paper's claims, tested on this model: facet diversity grows with depth (rho > 0), and
# class units are purer than the hidden fully connected ones.

# %%
claims = {
    "diversity_grows_with_depth": None if spearman["viz"] is None else bool(spearman["viz"] > 0),
    "real_diversity_grows_with_depth": None if spearman["real"] is None else bool(spearman["real"] > 0),
    "class_units_purer_than_hidden_fc": purity["class_units_purer"],
}
unit_rows = [hidden.unit_row(u, recipes, pool_set.paths, sheet_columns, data.display_path) for u in units]
summary = {
    "model": net.name, "judge": judge_net.name, "method": method, "methods": list(recipes),
    "by_method": {name: {layer: {k_: round(v, 4) for k_, v in vals.items()} for layer, vals in by_layer.items()}
                  for name, by_layer in by_method.items()},
    "goals": goals, "pool": list(pool) if not isinstance(pool, str) else [pool],
    "pool_size": len(pool_set), "top_n": n_top, "k": k_eff, "m": m_eff, "shown_facets": shown_facets,
    "units_per_layer": units_per_layer, "stats_units": stats_units, "seed": seed, "smoke": smoke,
    "iters_factor": iters_factor,
    "layers": [{"layer": layer, "depth": depth[layer], "field": fields[layer].size, "jump": fields[layer].jump,
                "global": fields[layer].is_global, "drawn_px": fields[layer].visible_box(*at[layer])[2],
                "diversity_viz": round(div_viz[layer], 4), "diversity_real": round(div_real[layer], 4),
                "k_data_mean": round(k_by_layer[layer], 3), "class_entropy": round(entropy_by_layer[layer], 4),
                "units": [u["channel"] for u in units if u["layer"] == layer and u["shown"]]}
               for layer in layers],
    "spearman_depth_diversity": spearman["viz"], "spearman_depth_diversity_real": spearman["real"],
    "spearman_depth_k": spearman["k"], "spearman_depth_entropy": spearman["entropy"],
    "purity": purity, "claims": claims, "units": unit_rows,
    "figures": ["fig6_hidden_facets.png", "diversity_vs_depth.png"] + (["figS9_fc_facets.png"] if fig_s9 is not None else []),
    "skipped": pool_set.skipped, "seconds": seconds, "timings": timings,
    "provenance": provenance.provenance(net, pool_set.paths, judge_net),
}
(out / "metrics.json").write_text(json.dumps(summary, indent=2))
print(json.dumps({k_: summary[k_] for k_ in ("spearman_depth_diversity", "spearman_depth_diversity_real",
                                             "spearman_depth_k", "purity", "claims", "timings")}, indent=2))

# %% [markdown]
# ## Explorer (interactive only)
#
# Pick a layer and one of its drawn units: its facets (mean patch, each method's visualization,
# real patches) and activations, from this run's files (`mfv_utils.apps.widgets.hidden_explorer`;
# `make teach` serves it as a page).

# %%
if interactive:
    from IPython.display import display

    from mfv_utils.apps import widgets

    display(widgets.hidden_explorer(out))
