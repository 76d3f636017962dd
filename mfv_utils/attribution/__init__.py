"""Attribution: which input pixels drive a unit (paper Sec. S3, Fig. S10), by zennit.

:mod:`.maps` (LRP, DeconvNet, the gradient: one call per method), :mod:`.lrp_rules` (zennit's rules and
canonizers fitted to these networks), :mod:`.lrp_kernel` (the fused quotient, numba), :mod:`.regions`
(the region-perturbation test and the most relevant crop). The names of :mod:`.maps` and
:mod:`.lrp_rules` are re-exported here.
"""
from .lrp_rules import (EPSILON, LEVERS, NO_RULE, TracedMergeBatchNorm, RestoringAttributeCanonizer,
                        stabilize, quotient, PLAIN_FORWARDS, NonNegativeZPlus, StackedZBox, relu_fed,
                        SingleNode, single_node, canonizer)
from .maps import (METHODS, composite, bounds, check_method, rules, uncovered, attributing, attribute, heat)
__all__ = ["EPSILON", "LEVERS", "NO_RULE", "TracedMergeBatchNorm", "RestoringAttributeCanonizer", "stabilize",
           "quotient", "PLAIN_FORWARDS", "NonNegativeZPlus", "StackedZBox", "relu_fed", "SingleNode",
           "single_node", "canonizer", "METHODS", "composite", "bounds", "check_method", "rules", "uncovered",
           "attributing", "attribute", "heat"]
