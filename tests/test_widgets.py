"""The explorer is driven headless: build it, press its buttons, check what it computed."""
import ipywidgets as W


def _all(widget, cls):
    stack, found = [widget], []
    while stack:
        w = stack.pop()
        if isinstance(w, cls):
            found.append(w)
        stack.extend(getattr(w, "children", ()))
    return found


def _find(widget, cls, description):
    (w,) = [w for w in _all(widget, cls) if w.description == description]
    return w


def test_explorer_embeds_and_optimizes_a_facet(lite0):
    from mfv_utils import widgets

    app = widgets.explorer(lite0, "paper:bell_pepper", k=4, m=5, smoke_factor=0.01)
    opt = _find(app, W.Button, "Optimize facet")
    assert opt.disabled  # nothing to optimize before the embedding
    _find(app, W.Button, "Embed + cluster").click()
    found = app.state["found"]
    assert found.k == 4 and all(len(i) == 5 for i in found.members)
    assert not opt.disabled
    _find(app, W.Dropdown, "facet").value = 2
    opt.click()
    res = app.state["result"]
    assert res.images.shape == (1, 3, 269, 269)
    assert res.history[0, -1] > res.history[0, 0]
    (bar,) = _all(app, W.IntProgress)
    assert bar.value == bar.max == res.history.shape[1]


def test_explorer_reports_bad_input_instead_of_raising(lite0):
    from mfv_utils import widgets

    app = widgets.explorer(lite0, "paper:bell_pepper")
    _find(app, W.Combobox, "images").value = "/no/such/folder"
    _find(app, W.Button, "Embed + cluster").click()
    (status,) = _all(app, W.HTML)
    assert "error" in status.value and "neither a known name" in status.value
    assert "found" not in app.state
