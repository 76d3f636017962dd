"""Attribution: which input pixels drive a unit (paper Sec. S3, Fig. S10), by zennit.

Three maps of a unit's activation over the network input, all from :mod:`zennit`:

- ``"lrp"``: Layer-wise Relevance Propagation (Bach et al. 2015), zennit's ``EpsilonGammaBox``
  composite with the z+ rule (alpha 1, beta 0) instead of gamma at the convolutions: ZBox at the
  first convolution (bounded by the pixel range, :class:`StackedZBox`), z+ at every other one
  (:class:`NonNegativeZPlus`: zennit's ``ZPlus``, at most 2 passes per layer against gamma's 5),
  epsilon at fully connected layers, the Norm rule at average pools and residual sums,
  activations and (merged) BatchNorms passed. The map is relevance: with the biases zeroed it
  sums to the unit's activation (conservation).
- ``"deconv"``: the DeconvNet of Zeiler & Fergus (2014): the backward pass with every ReLU /
  ReLU6 replaced by a ReLU of the incoming signal (zennit's ``DeconvNet`` composite, with ReLU6
  added to its layer map, which names only ``nn.ReLU``).
- ``"gradient"``: the plain input gradient (the baseline both are compared with).

zennit needs a model in a canonical form; :func:`canonizer` builds it for any of this project's
models (and any timm residual block) and every change is undone afterwards:

- every BatchNorm that reads a convolution's output is merged into it. The pairs are found by
  tracing a forward pass, because zennit's ``SequentialMergeBatchNorm`` walks leaf modules only and
  timm's ``BatchNormAct2d`` (which holds its activation as a child) is not a leaf: it would be
  silently left alone. The BatchNorm's ``eps`` is set to 0 too (zennit's merge leaves it, so the
  "identity" BatchNorm still divides by sqrt(1 + eps): 0.05 % off with TF's eps = 1e-3);
- every residual add of a timm block (``has_skip``) goes through a zennit ``Sum`` module, so the
  Norm rule splits relevance between the branch and the shortcut (as zennit's ``ResNetCanonizer``
  does for torchvision's ResNet);
- every in-place activation becomes out-of-place (in-place ops break backward hooks).

Use a model built with ``levers=LEVERS`` (or ``frozen.EAGER``): the default speed levers fuse
convolutions with their activation into one kernel that no rule can see; :func:`attributing`
finds such modules (and any module that would run without a rule) and refuses in one line.

Speed (``benchmarks/bench_attribution.py``: LRP about 2.6x one forward + input gradient of the
figures' network), every step checked against zennit as shipped: :func:`attributing` attaches
zennit's rules by :class:`SingleNode` (one autograd node per rule, no module graph, same maps
bit for bit); the two- and three-pass rules run as one convolution over stacked inputs
(:func:`_stacked`); the stabilized quotient is one fused pass (:mod:`.lrp_kernel`).
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
import torch.nn as nn
from zennit.composites import DeconvNet, EpsilonGammaBox
from zennit.rules import ReLUDeconvNet
from zennit.types import Convolution

from mfv_utils.networks import frozen
from mfv_utils.networks.models import Model, Unit, unit_activation

from mfv_utils.attribution.lrp_rules import (NO_RULE, NonNegativeZPlus, StackedZBox, canonizer, relu_fed,
                                         single_node, stabilize)

METHODS = ("lrp", "deconv", "gradient")
def composite(method: str, model: Model):
    """The zennit composite of ``method`` (``"lrp"`` or ``"deconv"``) with ``model``'s canonizer,
    its rules attached the way zennit attaches them (:func:`attributing` attaches them by
    :func:`single_node`); None for ``"gradient"``."""
    check_method(method)
    if method == "gradient":
        return None
    canonizers = [canonizer(model)]
    if method == "deconv":
        return DeconvNet(layer_map=[(nn.ReLU6, ReLUDeconvNet())], canonizers=canonizers)
    low, high = bounds(model)
    return EpsilonGammaBox(layer_map=[(Convolution, NonNegativeZPlus(nonnegative=relu_fed(model)))],
                           first_map=[(Convolution, StackedZBox(low, high))], low=low, high=high,
                           canonizers=canonizers, epsilon=stabilize, stabilizer=stabilize)


def bounds(model: Model) -> tuple[torch.Tensor, torch.Tensor]:
    """The lowest and highest normalized input of ``model`` (pixels 0 and 255), one input's shape:
    the box of the ZBox rule at the first convolution."""
    low = ((0.0 - model.mean) / model.std).amin().item()
    high = ((255.0 - model.mean) / model.std).amax().item()
    shape = (1, 3, model.input_size, model.input_size)
    return tuple(torch.full(shape, v, device=model.device, dtype=model.mean.dtype) for v in (low, high))


def check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; known: {', '.join(METHODS)}")
    return method


# ----------------------------------------------------------------------------- running
def rules(model: Model, comp) -> dict[str, str]:
    """module name -> the name of the zennit rule ``comp`` gives it (modules without one left out)."""
    if comp is None:
        return {}
    ctx, found = {}, {}
    for name, module in model.stages.named_modules():
        hook = comp.module_map(ctx, name, module)
        if hook is not None:
            found[name] = type(getattr(hook, "rule", hook)).__name__
    return found


def uncovered(model: Model, comp, method: str) -> dict[str, str]:
    """Modules that would make ``method``'s map wrong, with why: a module that runs but has no rule
    (and is not one that needs none), or a module with weights that never runs its own forward
    (its weights used inside another module's, e.g. a fused convolution + activation)."""
    ran: set[str] = set()
    names = dict(model.stages.named_modules())
    hooks = [m.register_forward_hook(lambda m, a, o, n=n: ran.add(n)) for n, m in names.items()]
    try:
        with torch.no_grad():
            model(frozen.probe_input(model))
    finally:
        for h in hooks:
            h.remove()
    have = rules(model, comp)
    # LRP needs a rule everywhere values mix; DeconvNet only changes the activations' backward
    needs = (lambda m: not isinstance(m, NO_RULE)) if method == "lrp" else \
        (lambda m: isinstance(m, (nn.ReLU, nn.ReLU6, nn.Hardtanh)))
    bad = {}
    for name, module in names.items():
        if not name:
            continue
        leaf = next(module.children(), None) is None
        if name in ran and leaf and needs(module) and name not in have:
            bad[name] = f"{type(module).__name__} has no rule"
        own = any(True for _ in module.parameters(recurse=False))
        if own and name not in ran:
            bad[name] = f"{type(module).__name__} never runs its own forward"
    return bad


@contextmanager
def attributing(model: Model, method: str):
    """Within the block ``model`` is canonized and hooked for ``method``; yields ``attribute(images,
    unit)`` (see :func:`attribute`). Refuses in one line when a module would escape the rules."""
    check_method(method)
    comp = composite(method, model)
    if comp is None:
        yield lambda images, unit: _maps(model, images, unit, relevance=False)
        return
    comp = single_node(comp)
    with comp.context(model.stages):
        bad = uncovered(model, comp, method)
        if bad:
            first = ", ".join(f"{n} ({why})" for n, why in list(bad.items())[:3])
            raise ValueError(f"zennit cannot attribute {model.name} by {method}: {len(bad)} modules escape "
                             f"its rules, e.g. {first}; build the model with levers=attribution.LEVERS")
        yield lambda images, unit: _maps(model, images, unit, relevance=method == "lrp")


def _maps(model: Model, images: torch.Tensor, unit: Unit, relevance: bool) -> torch.Tensor:
    h = model.preprocess(images).detach().requires_grad_(True)
    with torch.enable_grad():
        act = unit_activation(model.features_from_input(h, [unit.layer])[unit.layer], unit)
        # LRP starts from the unit's activation as its relevance; the gradient maps from 1
        (grad,) = torch.autograd.grad(act, h, grad_outputs=act.detach() if relevance else torch.ones_like(act))
    return grad.detach()


def attribute(model: Model, images: torch.Tensor, unit: Unit, method: str, batch_size: int = 10) -> torch.Tensor:
    """(B, 3, S, S) map of ``method`` for ``unit`` on 0..255 ``images`` at the network input size
    (S): LRP relevance, or the DeconvNet / plain gradient of the unit's activation w.r.t. the
    normalized input. Use :func:`attributing` to attribute many batches under one canonization."""
    unit = model.unit(unit)
    with attributing(model, method) as run:
        return torch.cat([run(images[i:i + batch_size], unit) for i in range(0, len(images), batch_size)]).cpu()


def heat(maps: torch.Tensor, method: str) -> np.ndarray:
    """(B, S, S) heat map of (B, 3, S, S) maps: LRP's relevance summed over colour channels (signed:
    evidence for and against); the DeconvNet's and gradient's absolute values summed (their sign
    says which way to change a pixel, not whether it is evidence)."""
    check_method(method)
    m = maps.float()
    return (m.sum(1) if method == "lrp" else m.abs().sum(1)).cpu().numpy()
