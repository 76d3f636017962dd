"""mfv_utils: Multifaceted Feature Visualization (Nguyen, Yosinski & Clune, 2016) for any model.

The public API (:mod:`mfv_utils.api`)::

    import mfv_utils as mfv
    net = mfv.load_model("efficientnet_lite0")            # or mfv.wrap(my_module, layers=[...])
    fs = mfv.find_facets(net, "logits:945", images="paper:bell_pepper", k=10)   # Algorithm 1
    viz = fs.visualize(method="facet")
    viz.save("out/bell_pepper"); viz.plot(); viz.score(judge="efficientnet_lite2")

The modules behind it, one job each: ``data`` (images, classes, downloads), ``models`` and
``any_model`` (frozen classifiers with named layers), ``facets`` (Algorithm 1), ``methods``,
``optimize``, ``param``, ``objectives``, ``transforms``, ``priors`` (activation maximization),
``metrics``, ``plots``, ``widgets`` / ``teach`` / ``lab`` (teaching), ``atlas`` and ``run``.
"""
# Exported lazily (PEP 562): ``import mfv_utils.run`` or a Dask worker's ``mfv_utils.atlas`` does
# not pay for torch, openTSNE and matplotlib until a name below is used.
_EXPORTS = {
    "find_facets": "api", "wrap": "api", "parse_unit": "api", "FacetSet": "api", "Visualization": "api",
    "Score": "api", "load_model": "models", "Model": "models", "Unit": "models",
    "METHODS": "methods", "COMPARISON": "methods", "Method": "methods", "tv_denoise": "priors",
}
__all__ = sorted(_EXPORTS)
__version__ = "0.2.0"


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mfv_utils' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_EXPORTS])
