"""mfv_utils: Multifaceted Feature Visualization (Nguyen, Yosinski & Clune, 2016) for any model.

The public API (:mod:`mfv_utils.api`)::

    import mfv_utils as mfv
    net = mfv.load_model("efficientnet_lite0")            # or mfv.wrap(my_module, layers=[...])
    fs = mfv.find_facets(net, "logits:945", images="paper:bell_pepper", k=10)   # Algorithm 1
    viz = fs.visualize(method="facet")
    viz.save("out/bell_pepper"); viz.plot(); viz.score(judge="efficientnet_lite2")

The package, one job per subpackage (each module has one job inside it):

- ``networks``: frozen classifiers with named layers (built-in, timm / torchvision, any module),
  their speed levers and receptive fields;
- ``data``: the paper's images, Imagenette, ImageNet samples (hash-checked), class names;
- ``facets``: Algorithm 1, for a class and for any unit of a pool;
- ``optimization``: activation maximization as parametrizations, transforms, objectives, priors
  and methods;
- ``attribution``: LRP, DeconvNet and gradient maps of a unit (zennit), region perturbation;
- ``evaluation``: the measures, the figures' layouts, provenance;
- ``atlas``: every unit of a layer as Dask tasks into a store, and its static site;
- ``apps``: the teaching explorers and the server wrapper; ``runtime``: progress and sessions.

The commands: ``python -m mfv_utils.run`` (a notebook, headless), ``.reproduce`` (your run beside
the committed one), ``.teach`` (the teaching app), ``.lab`` (JupyterLab) and ``.atlas``.
"""
# Exported lazily (PEP 562): ``import mfv_utils.run`` or a Dask worker's ``mfv_utils.atlas`` does
# not pay for torch, openTSNE and matplotlib until a name below is used.
_EXPORTS = {
    "find_facets": "api", "wrap": "api", "parse_unit": "api", "FacetSet": "api", "Visualization": "api",
    "Score": "api", "load_model": "networks.models", "Model": "networks.model", "Unit": "networks.model",
    "METHODS": "optimization.methods", "COMPARISON": "optimization.methods", "Method": "optimization.methods",
    "tv_denoise": "optimization.priors",
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
