"""mfv_utils: the thin shared package behind the mfv notebooks.

Modules, one job each: ``data`` (images, classes, downloads), ``models`` (frozen
classifiers with paper-style layers), ``facets`` (Algorithm 1), ``priors`` (TV and other
image priors), ``optimize`` (activation maximization schedules), ``metrics``, ``plots``,
``widgets`` (notebook explorers) and ``run`` (the papermill notebook runner).
"""
from .priors import tv_denoise

__all__ = ["tv_denoise"]
__version__ = "0.1.0"
