"""Evaluation: the numbers behind the figures (:mod:`.metrics`), the figures in the paper's
layouts (:mod:`.plots`) and what produced a result (:mod:`.provenance`).
"""
