"""ipywidgets explorers for teaching and reading, one per notebook, and the app that holds them.

Each explorer answers at once from a committed figure run (its ``metrics.json`` and the small
files the run writes for it) and computes live only when asked (the optimize button, another
image set). Bad input (an unknown set, a missing folder, k larger than the images) becomes a
one-line message in the page; the app keeps working.

- :func:`facets_explorer` (notebook 01): a run or an image set, k, m, the coding layer -> the
  t-SNE scatter; a facet -> its mean image, real members, visualization and numbers; "optimize"
  runs the figures' method on that facet (short-schedule option) with a progress bar.
- :func:`hidden_explorer` (notebook 02): layer and unit -> the unit's facets (mean patch, each
  method's visualization, real patches) and its activations.
- :func:`interpolation_explorer` (notebook 03): a pair of clusters and a position t -> the start
  blend and each method's result at t, with their snap scores.
- :func:`priors_explorer` (notebook 04): class and method -> the image beside the real one, and
  every measure of that cell.
- :func:`app`: the four in tabs.
"""
from __future__ import annotations

import json
from pathlib import Path

import ipywidgets as W
import matplotlib

matplotlib.use("Agg")  # the explorers draw into PNG bytes, never into a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from mfv_utils import data, facets
from mfv_utils.apps import parts
from mfv_utils.optimization import methods
from mfv_utils.evaluation import metrics, plots  # noqa: E402
from mfv_utils.networks.models import Model, Unit, load_model  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
FIGURES = REPO / "figures"
IMAGE_SETS = ("paper:bell_pepper", "paper:movie_theater", "imagenette:church", "samples")


def facets_explorer(figures: str | Path | list = FIGURES, model: Model | str = "efficientnet_lite0",
                    device: str = "auto", method: str = methods.DEFAULT, smoke_factor: float = 0.1,
                    seed: int = 0) -> W.VBox:
    """Notebook 01's explorer. Opens on the committed runs ``figures/01_*`` (or the run folders
    given as a list); "Embed + cluster" computes another image set (a name or a folder) or another
    k, m or layer live. The model (``model``: a name loaded on ``device``, or a loaded
    :class:`Model`) loads on first use."""
    runs = parts.runs("01_", figures)
    methods.check_known([method])
    run_box = W.Dropdown(options=[(r.name, str(r)) for r in runs], description="run")
    sets = W.Combobox(value=IMAGE_SETS[0], options=IMAGE_SETS, description="images", placeholder="name or folder",
                      ensure_option=False)
    k_box = W.IntSlider(value=10, min=2, max=20, description="k")
    m_box = W.IntSlider(value=15, min=1, max=50, description="m")
    layers = list(reversed(model.layers)) if isinstance(model, Model) else ["pool", "block7", "block6", "head", "logits"]
    layer_box = W.Dropdown(options=layers, value=model.code_layer if isinstance(model, Model) else "pool",
                           description="layer")
    embed_btn = W.Button(description="Embed + cluster", button_style="primary")
    facet_box = W.Dropdown(options=[], description="facet")
    fast = W.Checkbox(value=True, description=f"short schedule (x{smoke_factor})")
    opt_btn = W.Button(description="Optimize facet", disabled=True)
    progress = W.IntProgress(value=0, min=0, max=1, description="steps")
    status = W.HTML()
    scatter = W.Image(format="png", layout=W.Layout(width="480px"))
    mean_img, viz_img = (W.Image(format="png", layout=W.Layout(width="180px")) for _ in range(2))
    members = W.HBox([])
    numbers = W.HTML()
    result = W.Image(value=parts.blank(), format="png", layout=W.Layout(width="180px"))
    state: dict = {"model": model}

    def net() -> Model:
        if isinstance(state["model"], str):
            parts.show_ok(status, f"loading {state['model']} ...")
            state["model"] = load_model(state["model"], device=device)
        return state["model"]

    def draw_scatter():
        found = state["found"]
        fig, ax = plt.subplots(figsize=(6, 6))
        thumbs = state["set"].images if state.get("set") is not None and len(found.labels) <= 400 else None
        plots.facet_scatter(ax, found.embedding, found.labels, found.centroids, thumbs)
        scatter.value = parts.png(fig)
        facet_box.options = list(range(found.k))
        facet_box.value = None
        facet_box.value = 0

    def show_run(*_):
        """A committed run: everything from its files (no model, no computing)."""
        if not run_box.value:
            return
        try:
            run = Path(run_box.value)
            m = parts.load_run(run)
            ex = json.loads((run / "explorer.json").read_text())
            image_set = data.load_image_set(ex["images"])
            if len(image_set) != len(ex["labels"]):
                raise ValueError(f"{ex['images']} now has {len(image_set)} images, the run had {len(ex['labels'])}")
        except (OSError, ValueError, RuntimeError, KeyError) as e:
            parts.show_error(status, e)
            return
        emb, labels = np.array(ex["embedding"]), np.array(ex["labels"])
        k = int(labels.max()) + 1
        found = facets.Facets(emb, labels, np.stack([emb[labels == j].mean(0) for j in range(k)]),
                              [np.array(i) for i in ex["members"]])
        state.update(run=run, metrics=m, set=image_set, found=found, means=found.mean_images(image_set.images),
                     layer=m["layer"], centroids=None, strongest=None)
        draw_scatter()
        opt_btn.disabled = image_set.target is None
        ari = m["ari_vs_reference"]
        parts.show_ok(status, f"{run.name}: {len(image_set)} images, {k} facets, method {m['method']!r}"
                    + (f" (ARI vs the authors' clusters: {ari:.2f})" if ari is not None else ""))

    def on_embed(_=None):
        """Another image set, k, m or layer: Algorithm 1 live."""
        parts.show_ok(status, "coding and embedding ...")
        try:
            s = data.load_image_set(sets.value)
            if k_box.value > len(s):
                raise ValueError(f"k={k_box.value} facets need at least {k_box.value} images, "
                                 f"but {sets.value} has {len(s)}")
            model_ = net()
            codes = facets.layer_codes(model_, s.images, layer_box.value, cache_dir=REPO / ".cache/codes")
            _, found, best, _ = facets.cluster(codes, k_box.value, m_box.value, seed,
                                               perplexity=10.0 if len(s) <= 300 else 30.0)
        except (OSError, ValueError, RuntimeError) as e:
            parts.show_error(status, e)
            return
        state.update(run=None, metrics=None, set=s, found=found, means=found.mean_images(s.images),
                     layer=layer_box.value, strongest=None,
                     centroids=metrics.cluster_centroids(metrics.unit_rows(codes), found.labels, found.k))
        draw_scatter()
        opt_btn.disabled = s.target is None
        parts.show_ok(status, f"{sets.value}: {len(s)} images, {found.k} facets (silhouette suggests k={best})"
                      + ("" if s.target else
                                                                          " (no class: cannot optimize)"))

    def show_facet(*_):
        j = facet_box.value
        if j is None or "found" not in state:
            return
        found, s = state["found"], state["set"]
        mean_img.value = parts.image_bytes(Image.fromarray(plots.to_hwc(state["means"][j])))
        idx = np.flatnonzero(found.labels == j)[:4]
        members.children = [W.Image(value=parts.image_bytes(Image.fromarray(plots.to_hwc(s.images[i])).resize((96, 96))),
                                    format="png") for i in idx]
        run = state.get("run")
        if run is not None and (run / "facets" / f"facet_{j}.png").is_file():
            row = state["metrics"]["facets"][j]
            viz_img.value = (run / "facets" / f"facet_{j}.png").read_bytes()
            numbers.value = parts.table({"cluster size": row["size"],
                                    "class logit, mean image -> visualization":
                                        f"{row['init_activation']:.1f} -> {row['final_activation']:.1f}",
                                    "rank (0 = top-1)": row["final_rank"], "judge rank": row["judge_rank"],
                                    "nearest its own cluster (judge)": row["facet_identity"],
                                    "colour distance to its cluster": row["color_distance"]})
        else:
            viz_img.value = parts.blank()
            numbers.value = parts.table({"cluster size": int((found.labels == j).sum()),
                                    "visualization": "press 'Optimize facet'"})

    def on_optimize(_=None):
        s, j, found = state["set"], facet_box.value, state["found"]
        try:
            model_ = net()
            if state.get("centroids") is None:  # a committed run: the centroids from the cached codes
                codes = facets.layer_codes(model_, s.images, state["layer"], cache_dir=REPO / ".cache/codes")
                state["centroids"] = metrics.cluster_centroids(metrics.unit_rows(codes), found.labels, found.k)
            recipe = methods.METHODS[method]
            recipe = methods.shorten(recipe, smoke_factor) if fast.value else recipe
            progress.max, progress.value = methods.iterations(recipe), 0

            def tick(it, canvas, values):
                progress.value = it

            seeds = state["means"][j:j + 1]
            # a recipe with the out-fire constraint aims past the class's strongest real image
            # (computed once per image set: the class's forward pass over all its images)
            targets = None
            if getattr(recipe, "out_fire", None):
                if state.get("strongest") is None:
                    state["strongest"] = float(metrics.class_scores(model_, s.images.float(),
                                                                    s.target.index)["logit"].max())
                targets = [state["strongest"]]
            res = methods.run(recipe, model_, Unit(model_.logits_layer, s.target.index), seeds, seed=seed,
                              centroids=state["centroids"][j:j + 1], real=[s.images[found.labels == j]],
                              code_layer=state["layer"], progress=False, callback=tick, targets=targets)
        except (OSError, ValueError, RuntimeError) as e:
            parts.show_error(status, e)
            return
        state["result"] = res
        before = metrics.class_scores(model_, seeds, s.target.index)
        after = metrics.class_scores(model_, res.images, s.target.index)
        result.value = parts.image_bytes(Image.fromarray(plots.to_hwc(res.images[0])))
        parts.show_ok(status, f"facet {j}: class logit {before['logit'][0]:.1f} -> {after['logit'][0]:.1f}, "
                    f"p {before['prob'][0]:.2f} -> {after['prob'][0]:.2f}")

    run_box.observe(show_run, "value")
    facet_box.observe(show_facet, "value")
    embed_btn.on_click(on_embed)
    opt_btn.on_click(on_optimize)
    controls = W.HBox([W.VBox([run_box, W.HTML("<i>or compute live:</i>"), sets, k_box, m_box, layer_box, embed_btn]),
                       W.VBox([facet_box, fast, opt_btn, progress])])
    panel = W.VBox([W.HBox([W.VBox([W.HTML("mean image (the start)"), mean_img]),
                            W.VBox([W.HTML("visualization (committed run)"), viz_img]),
                            W.VBox([W.HTML("optimized here"), result])]),
                    W.HTML("real members"), members, numbers])
    app_ = W.VBox([W.HTML("<h3>Facets of a class neuron (notebook 01)</h3>"), controls, status,
                   W.HBox([scatter, panel])])
    app_.state = state  # for tests and curious users
    if runs:
        show_run()
    else:
        parts.show_error(status, f"no run of notebook 01 in {figures}: compute one live")
    return app_


# ----------------------------------------------------------------------------- notebook 02
def hidden_explorer(run: str | Path = FIGURES / "02_hidden_layer_facets") -> W.VBox:
    """Notebook 02's explorer: a layer and one of its drawn units -> its facets and numbers."""
    run = Path(run)
    try:
        m = parts.load_run(run)
    except (OSError, ValueError) as e:
        return parts.empty_app("Hidden-unit facets (notebook 02)", str(e))
    shown = [u for u in m["units"] if u.get("shown") and u.get("sheet")]
    layers = list(dict.fromkeys(u["layer"] for u in shown))
    layer_box = W.Dropdown(options=layers, description="layer")
    unit_box = W.Dropdown(options=[], description="unit")
    sheet = W.Image(format="jpeg")
    numbers, status = W.HTML(), W.HTML()

    def on_layer(*_):
        unit_box.options = [u["channel"] for u in shown if u["layer"] == layer_box.value]
        unit_box.value = unit_box.options[0] if unit_box.options else None

    def on_unit(*_):
        u = next((u for u in shown if u["layer"] == layer_box.value and u["channel"] == unit_box.value), None)
        if u is None:
            return
        path = run / u["sheet"]
        if not path.is_file():
            parts.show_error(status, f"{path} is missing: rerun notebook 02")
            return
        sheet.value = path.read_bytes()
        cols = u["sheet_columns"]
        info = {"columns": ", ".join(c for c in cols if c != "real") + f", then {cols.count('real')} real patches",
                "facet sizes (largest clusters)": u["facet_sizes"], "strongest real patch": u["top_act_max"],
                "activation, mean patch": [round(a, 2) for a in u["act_start"]]}
        for name, b in u.get("by_method", {}).items():
            info[f"activation, {name}"] = [round(a, 2) for a in b["act_end"]]
            info[f"{name}: facet identity / hf ratio"] = (f"{b['fidelity']['facet_identity']:.2f} / "
                                                          f"{b['fidelity']['hf_ratio']:.2f}")
        info["facets the silhouette picks"] = u["k_data"]
        info["class entropy of top images (bits)"] = u["class_entropy"]
        numbers.value = parts.table(info)
        parts.show_ok(status, f"{u['layer']} unit {u['channel']}")

    layer_box.observe(on_layer, "value")
    unit_box.observe(on_unit, "value")
    on_layer()
    on_unit()
    return W.VBox([W.HTML("<h3>Hidden-unit facets (notebook 02)</h3>"), W.HBox([layer_box, unit_box]), status,
                   W.HBox([sheet, numbers])])


# ----------------------------------------------------------------------------- notebook 03
def interpolation_explorer(run: str | Path = FIGURES / "03_interpolation_study") -> W.VBox:
    """Notebook 03's explorer: a pair of clusters and a position t -> the start blend and each
    method's result there, with the snap score q (+1: like the left end, -1: like the right)."""
    run = Path(run)
    try:
        m = parts.load_run(run)
    except (OSError, ValueError) as e:
        return parts.empty_app("Snap or blend (notebook 03)", str(e))
    series = [r for r in m["start_pairs"] if r.get("sheet")]
    pick = W.Dropdown(options=[(f"{r['images']} pair {r['pair']}", i) for i, r in enumerate(series)],
                      description="series")
    t_box = W.IntSlider(value=0, min=0, max=m["n_interpolants"] + 1, description="position")
    tiles = W.HBox([])
    numbers, status = W.HTML(), W.HTML()

    def show(*_):
        if pick.value is None:
            return
        s = series[pick.value]
        path = run / s["sheet"]
        if not path.is_file():
            parts.show_error(status, f"{path} is missing: rerun notebook 03")
            return
        t = t_box.value
        tiles.children = [W.VBox([W.HTML(name), W.Image(value=parts.tile(path, i, t, 112), format="png",
                                                        layout=W.Layout(width="200px"))])
                          for i, name in enumerate(s["sheet_rows"])]
        info = {"t": f"{t / (m['n_interpolants'] + 1):.2f}", "start: q": f"{s['q'][t]:+.2f} ({s['label'][t]})"}
        for r in m["pairs"]:
            if r["images"] == s["images"] and r["pair"] == s["pair"]:
                info[f"{r['method']}: q"] = f"{r['q'][t]:+.2f} ({r['label'][t]})" + (
                    ", nearest a third cluster" if r["neither"][t] else "")
        numbers.value = parts.table(info)
        parts.show_ok(status, f"{s['images']} pair {s['pair']}, position {t}")

    pick.observe(show, "value")
    t_box.observe(show, "value")
    show()
    return W.VBox([W.HTML("<h3>Snap or blend (notebook 03)</h3>"), W.HBox([pick, t_box]), status, tiles, numbers])


# ----------------------------------------------------------------------------- notebook 04
def priors_explorer(run: str | Path = FIGURES / "04_prior_comparison") -> W.VBox:
    """Notebook 04's explorer: a class and a method -> the image beside the real one, with every
    measure of that cell and the method's means over the classes."""
    run = Path(run)
    try:
        m = parts.load_run(run)
        sheet = m["cells_sheet"]
    except (OSError, ValueError, KeyError) as e:
        return parts.empty_app("Image priors compared (notebook 04)", str(e))
    class_box = W.Dropdown(options=[(name, i) for i, name in enumerate(sheet["rows"])], description="class")
    method_box = W.Dropdown(options=sheet["columns"][1:], description="method")
    real_img, img = (W.Image(format="png", layout=W.Layout(width="224px")) for _ in range(2))
    numbers, status = W.HTML(), W.HTML()

    def show(*_):
        path = run / sheet["file"]
        if not path.is_file():
            parts.show_error(status, f"{path} is missing: rerun notebook 04")
            return
        i, name = class_box.value, method_box.value
        real_img.value = parts.tile(path, i, 0, 112)
        img.value = parts.tile(path, i, sheet["columns"].index(name), 112)
        cell = next(r for r in m["results"] if r["method"] == name and r["class"] == sheet["rows"][i])
        mean = next(r for r in m["per_method"] if r["method"] == name)
        numbers.value = parts.table({key: cell[key] for key in ("start", "prob", "rank", "judge_prob", "judge_rank",
                                                           "hf_ratio", "color_distance", "center_share", "n_peaks")}
                               | {"method over all classes: judge top-5": mean["judge_top5"]})
        parts.show_ok(status, f"{sheet['rows'][i]} by {name}")

    class_box.observe(show, "value")
    method_box.observe(show, "value")
    show()
    return W.VBox([W.HTML("<h3>Image priors compared (notebook 04)</h3>"), W.HBox([class_box, method_box]), status,
                   W.HBox([W.VBox([W.HTML("real image"), real_img]), W.VBox([W.HTML("method"), img]), numbers])])


def app(figures: str | Path = FIGURES, **facets_kwargs) -> W.Tab:
    """The teaching app: the four explorers in tabs."""
    figures = Path(figures)
    tab = W.Tab(children=[facets_explorer(figures, **facets_kwargs),
                          hidden_explorer(figures / "02_hidden_layer_facets"),
                          interpolation_explorer(figures / "03_interpolation_study"),
                          priors_explorer(figures / "04_prior_comparison")])
    for i, title in enumerate(["01 facets", "02 hidden units", "03 snap or blend", "04 priors"]):
        tab.set_title(i, title)
    return tab


explorer = facets_explorer  # the name notebook 01 used before

__all__ = ["facets_explorer", "hidden_explorer", "interpolation_explorer", "priors_explorer", "app", "explorer"]
