"""Activation maximization: parametrizations (:mod:`.param`), transformation robustness
(:mod:`.transforms`), objective terms (:mod:`.objectives`), image priors (:mod:`.priors`, with the fused
TV kernel :mod:`.tv_kernel`), the paper's pixel-space loop (:mod:`.optimize`) and the methods as data
with their loop (:mod:`.methods`).
"""
