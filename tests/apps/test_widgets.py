"""The explorers driven headless on the smoke runs' files: build each, change its controls, check
what it shows (bytes of its images, its numbers), and that bad input is a message, not a raise.
(tests/apps/test_browser.py opens the same explorers in a real browser.)"""
import html

import ipywidgets as W
import pytest

from mfv_utils.apps import widgets


def _all(widget, cls):
    """Every widget of a kind, in the order the page shows them (depth first, left to right)."""
    found = [widget] if isinstance(widget, cls) else []
    for child in getattr(widget, "children", ()):
        found += _all(child, cls)
    return found


def _find(widget, cls, description):
    (w,) = [w for w in _all(widget, cls) if w.description == description]
    return w


def _images(app):
    return [w.value for w in _all(app, W.Image)]


def _status(app):
    """The explorer's status line (its HTML, unescaped)."""
    return html.unescape([h.value for h in _all(app, W.HTML) if "mfv-status" in h.value or "mfv-error" in h.value][0])


def test_facets_explorer_answers_from_the_run_and_optimizes_live(smoke_run, lite0, tmp_path, bell_pepper):
    out, _, _ = smoke_run
    app = widgets.facets_explorer([out], model=lite0, smoke_factor=0.1)
    assert "10 facets" in _status(app) and app.state["found"].k == 10
    before = _images(app)
    assert all(before[:3])  # scatter, mean image and the run's visualization of facet 0
    _find(app, W.Dropdown, "facet").value = 3
    after = _images(app)
    assert after[0] == before[0] and after[1:3] != before[1:3]  # same scatter, facet 3's images
    opt = _find(app, W.Button, "Optimize facet")
    opt.click()
    res = app.state["result"]  # the figures' method (facet), 15 of its 150 steps
    assert res.images.shape == (1, 3, 224, 224) and res.history.shape == (1, 15)
    (bar,) = _all(app, W.IntProgress)
    assert bar.value == bar.max == 15
    status = _status(app)
    before_logit, after_logit = (float(v) for v in status.split("class logit ")[1].split(",")[0].split(" -> "))
    assert after_logit > before_logit
    # bad input: a missing folder, then too few images for k; a message each, and the app goes on
    _find(app, W.Combobox, "images").value = str(tmp_path / "nope")
    _find(app, W.Button, "Embed + cluster").click()
    assert "mfv-error" in _status(app) and "neither a known name" in _status(app)
    few = tmp_path / "few"
    few.mkdir()
    for p in bell_pepper.paths[:3]:
        (few / p.name).write_bytes(p.read_bytes())
    _find(app, W.Combobox, "images").value = str(few)
    _find(app, W.IntSlider, "k").value = 4
    _find(app, W.Button, "Embed + cluster").click()
    assert "k=4 facets need at least 4 images" in _status(app)
    _find(app, W.Dropdown, "facet").value = 5
    assert _images(app)[1] != after[1]  # still answering
    # Algorithm 1 live on the whole class (the same chain as mfv.find_facets): k facets and the k
    # the silhouette suggests, and a new scatter
    scatter = _images(app)[0]
    _find(app, W.Combobox, "images").value = "paper:bell_pepper"
    _find(app, W.IntSlider, "k").value = 6
    _find(app, W.Button, "Embed + cluster").click()
    assert "6 facets (silhouette suggests k=" in _status(app) and app.state["found"].k == 6
    assert _images(app)[0] != scatter


def test_hidden_explorer_shows_each_unit(smoke02):
    out, m = smoke02
    app = widgets.hidden_explorer(out)
    layer, unit = _find(app, W.Dropdown, "layer"), _find(app, W.Dropdown, "unit")
    assert list(layer.options) == ["block2", "block4", "pool", "logits"]
    first = _images(app)[0]
    assert first and "activation, paper" in app.children[-1].children[1].value
    layer.value = "pool"
    assert list(unit.options) == [u["channel"] for u in m["units"] if u["layer"] == "pool" and u["shown"]]
    assert _images(app)[0] != first


def test_interpolation_explorer_slides_along_a_series(smoke03):
    out, m = smoke03
    app = widgets.interpolation_explorer(out)
    t = _find(app, W.IntSlider, "position")
    assert t.max == m["n_interpolants"] + 1
    start = _images(app)
    assert len(start) == 1 + len(m["methods"]) and all(start)
    t.value = 2
    assert _images(app) != start
    numbers = [h.value for h in _all(app, W.HTML) if "mfv-numbers" in h.value][0]
    assert "facet: q" in numbers and "paper: q" in numbers and "start: q" in numbers


def test_priors_explorer_shows_each_cell_with_its_measures(smoke04):
    out, m = smoke04
    app = widgets.priors_explorer(out)
    method = _find(app, W.Dropdown, "method")
    real, image = _images(app)
    method.value = "tv"
    assert _images(app)[0] == real and _images(app)[1] != image
    numbers = [h.value for h in _all(app, W.HTML) if "mfv-numbers" in h.value][0]
    cell = next(r for r in m["results"] if r["method"] == "tv" and r["class"] == "bell pepper")
    assert f"<b>{cell['hf_ratio']}</b>" in numbers


@pytest.mark.parametrize("make", [widgets.hidden_explorer, widgets.interpolation_explorer, widgets.priors_explorer])
def test_a_missing_run_is_a_message(make, tmp_path):
    app = make(tmp_path / "nothing")
    assert "mfv-error" in _status(app) and "metrics.json missing" in _status(app)
