"""ipywidgets explorers for teaching: embed an image set, look at its facets, optimize one.

Only notebooks' interactive sections import this; nothing here runs headless."""
from __future__ import annotations

import ipywidgets as W
import matplotlib.pyplot as plt
from IPython.display import display

from . import data, facets, metrics, optimize, plots
from .models import Model, Unit, load_model

IMAGE_SETS = ("paper:bell_pepper", "paper:movie_theater", "samples")


def explorer(model: Model | str, default_images: str = "paper:bell_pepper", k: int = 10, m: int = 15,
             layer: str | None = None, seed: int = 0, smoke_factor: float = 0.1,
             perplexity: float = 10.0, device: str = "auto") -> W.VBox:
    """A small app: image set, k, m and layer -> t-SNE scatter with thumbnails and facet
    mean images; then pick a facet and optimize its class unit with a progress bar.
    ``model``: a loaded :class:`Model` (it runs on that model's device) or a model name,
    loaded on ``device`` (``"auto"``: CUDA when there is a GPU, else the CPU).

    Returns the widget; ``explorer(...).children`` exposes the controls (tests click them)."""
    if isinstance(model, str):
        model = load_model(model, device=device)
    sets = W.Combobox(value=default_images, options=IMAGE_SETS, description="images",
                      placeholder="name or folder")
    k_box = W.IntSlider(value=k, min=2, max=20, description="k")
    m_box = W.IntSlider(value=m, min=1, max=50, description="m")
    layer_box = W.Dropdown(options=model.layers, value=layer or model.code_layer, description="layer")
    embed_btn = W.Button(description="Embed + cluster", button_style="primary")
    facet_box = W.Dropdown(options=[], description="facet")
    fast = W.Checkbox(value=True, description=f"short schedule (x{smoke_factor})")
    opt_btn = W.Button(description="Optimize facet", disabled=True)
    progress = W.IntProgress(value=0, min=0, max=1, description="steps")
    status = W.HTML()
    plot_out, result_out = W.Output(), W.Output()
    state: dict = {}

    def on_embed(_=None):
        status.value = "coding and embedding..."
        try:
            s = data.load_image_set(sets.value)
            codes = facets.layer_codes(model, s.images, layer_box.value, cache_dir=".cache/codes")
            emb = facets.embed(codes, seed=seed, perplexity=perplexity)
            found = facets.find_facets(emb, k=k_box.value, m=m_box.value, seed=seed)
        except (ValueError, RuntimeError) as e:
            status.value = f"<b>error:</b> {e}"
            return
        state.update(set=s, found=found, means=found.mean_images(s.images))
        plot_out.clear_output(wait=True)
        with plot_out:
            fig, ax = plt.subplots(figsize=(7, 7))
            plots.facet_scatter(ax, emb, found.labels, found.centroids, s.images)
            plt.show()
            display(plots.image_grid(state["means"], [f"mean {j}" for j in range(found.k)]))
            plt.close("all")
        facet_box.options = list(range(found.k))
        facet_box.value = 0
        opt_btn.disabled = s.target is None
        ari = metrics.adjusted_rand(found.labels, s.labels)
        status.value = (f"{len(s)} images, {found.k} facets"
                        + (f", ARI vs authors {ari:.2f}" if ari is not None else "")
                        + ("" if s.target else " (no class: cannot optimize)"))

    def on_optimize(_=None):
        s, j = state["set"], facet_box.value
        schedule = optimize.shorten(optimize.MEAN_INIT, smoke_factor) if fast.value else optimize.MEAN_INIT
        progress.max, progress.value = sum(p.iters for p in schedule), 0

        def tick(it, canvas, values):
            progress.value = it
            progress.description = f"{float(values[0]):.1f}"

        res = optimize.maximize(model, Unit(model.logits_layer, s.target.index), state["means"][j:j + 1],
                                schedule, seed=seed, progress=False, callback=tick)
        state["result"] = res
        score = metrics.class_scores(model, res.images, s.target.index)
        result_out.clear_output(wait=True)
        with result_out:
            display(plots.image_pairs(state["means"][j:j + 1], res.images, "mean image", "visualization",
                                      [f"p={score['prob'][0]:.2f} rank {score['rank'][0]}"]))
            plt.close("all")

    embed_btn.on_click(on_embed)
    opt_btn.on_click(on_optimize)
    controls = W.HBox([W.VBox([sets, k_box, m_box, layer_box, embed_btn]),
                       W.VBox([facet_box, fast, opt_btn, progress, status])])
    app = W.VBox([controls, plot_out, result_out])
    app.state = state  # for tests and curious users
    return app


__all__ = ["explorer"]
