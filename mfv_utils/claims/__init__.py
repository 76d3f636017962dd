"""Every claim with its spread: ``python -m mfv_utils.claims`` reruns the notebooks behind the
README's claims over several seeds (:mod:`.spec` says which runs and measures, as data; :mod:`.runner`
runs them resumably; :mod:`.stats` summarizes a measure over seeds; :mod:`.report` writes
``claims.json`` and the generated table)."""
from .spec import Run, Measure, runs, measures
from .stats import bootstrap_interval, summarize, verdict
from .report import build, markdown, inject, generated, png
__all__ = ["Run", "Measure", "runs", "measures", "bootstrap_interval", "summarize", "verdict", "build",
           "markdown", "inject", "generated", "png"]
