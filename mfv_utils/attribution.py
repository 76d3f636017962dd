"""Attribution: which input pixels drive a unit (paper Sec. S3, Fig. S10), by zennit.

Three maps of a unit's activation over the network input, all from :mod:`zennit`:

- ``"lrp"``: Layer-wise Relevance Propagation (Bach et al. 2015), zennit's ``EpsilonGammaBox``
  composite with the z+ rule (alpha 1, beta 0) instead of gamma at the convolutions: ZBox at the
  first convolution (bounded by the pixel range), z+ at every other one (:class:`NonNegativeZPlus`:
  zennit's ``ZPlus``, 2 passes per layer against gamma's 5), epsilon at fully connected layers, the Norm rule at average pools
  and residual sums, activations and (merged) BatchNorms passed. The map is relevance: with the
  biases zeroed it sums to the unit's activation (conservation).
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

Use a model built with ``levers=frozen.EAGER``: the speed levers fuse convolutions with their
activation into one kernel that no rule can see; :func:`attributing` finds such modules (and any
module that would run without a rule) and refuses in one line.
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
import torch.nn as nn
from zennit.canonizers import AttributeCanonizer, CompositeCanonizer, MergeBatchNorm
from zennit.composites import DeconvNet, EpsilonGammaBox
from zennit.layer import Sum
from zennit.core import BasicHook, ParamMod, Stabilizer
from zennit.rules import ReLUDeconvNet, ZPlus
from zennit.types import Convolution

from . import frozen
from .models import Model, Unit, unit_activation

METHODS = ("lrp", "deconv", "gradient")
# modules that need no rule: they move values without mixing them (their gradient is exact), or
# route them (max pooling: winner takes all, the convention of LRP and DeconvNet alike)
NO_RULE = (nn.Identity, nn.Flatten, nn.Dropout, nn.MaxPool2d, nn.Sequential, nn.ModuleDict)


# ----------------------------------------------------------------------------- canonizers
class TracedMergeBatchNorm(MergeBatchNorm):
    """Merge every BatchNorm2d into the convolution whose output it reads (found by tracing one
    forward pass of ``model``, so BatchNorms with children are merged too); eps set to 0."""

    def __init__(self, model: Model | None = None):
        super().__init__()
        self.model, self.eps = model, None

    def apply(self, root_module):
        instances = []
        for conv, bn in frozen.producer_pairs(self.model, nn.Conv2d, nn.BatchNorm2d):
            if bn.track_running_stats:
                instance = self.copy()
                instance.register((conv,), bn)
                instances.append(instance)
        return instances

    def register(self, linears, batch_norm):
        super().register(linears, batch_norm)
        self.eps, batch_norm.eps = batch_norm.eps, 0.0
        # the merged BatchNorm is the identity: run only what else it does (timm: drop, activation)
        batch_norm.forward = frozen.after_norm(batch_norm)

    def remove(self):
        super().remove()
        self.batch_norm.eps = self.eps
        del self.batch_norm.forward

    def copy(self):
        return self.__class__(self.model)


class RestoringAttributeCanonizer(AttributeCanonizer):
    """zennit's ``AttributeCanonizer`` that puts back instance attributes it overwrote (the
    original deletes them, which loses e.g. a module's own ``inplace`` or ``has_skip``)."""

    def register(self, module, attributes):
        self.saved = {k: module.__dict__[k] for k in attributes if k in module.__dict__}
        super().register(module, attributes)

    def remove(self):
        super().remove()
        for key, value in self.saved.items():
            setattr(self.module, key, value)

    def copy(self):
        return RestoringAttributeCanonizer(self.attribute_map)


class NonNegativeZPlus(BasicHook):
    """zennit's z+ rule (``ZPlus``: positive inputs x positive weights, plus negative inputs x
    negative weights with the bias zeroed), with the second pass skipped where the layer's input
    has no negative entry (after a ReLU / ReLU6): that pass is then exactly zero, so the relevance
    is the same from half the convolutions. In that case the one pass also skips what is an
    identity there: the input's clamp at 0 and its defensive copy, and the stabilizer's sign
    (the output is non-negative, so zennit's ``z + (1[z = 0] + sign z) eps`` is ``z + eps``)."""

    def __init__(self, stabilizer=1e-6):
        zplus, stabilize = ZPlus(stabilizer=stabilizer), Stabilizer.ensure(stabilizer)
        self.stabilizer = stabilizer
        self.epsilon = float(stabilizer) if isinstance(stabilizer, (int, float)) else None
        self.both = (zplus.input_modifiers, zplus.param_modifiers, zplus.output_modifiers)
        super().__init__(*self.both,
                         gradient_mapper=lambda grad, outputs: [grad / stabilize(sum(outputs))] * len(outputs),
                         reducer=lambda inputs, grads: sum(x * g for x, g in zip(inputs, grads)))

    def backward(self, module, grad_input, grad_output):
        x = self.stored_tensors["input"][0]
        if bool(x.min() < 0) or self.epsilon is None:
            return super().backward(module, grad_input, grad_output)
        x = x.detach().requires_grad_()
        with ParamMod.ensure(self.both[1][0])(module) as positive, torch.autograd.enable_grad():
            z = positive.forward(x)
        (g,) = torch.autograd.grad(z, x, grad_outputs=grad_output[0] / (z + self.epsilon),
                                   create_graph=grad_output[0].requires_grad)
        relevance = x * g
        return tuple(relevance if original.shape == relevance.shape else None for original in grad_input)

    def copy(self):
        return self.__class__(self.stabilizer)


def _out_of_place(name, module):
    return {"inplace": False} if getattr(module, "inplace", False) is True else None


def _summed_skip(name, module):
    """A timm block with a residual add (``has_skip``): the body runs with the skip off, then a
    zennit ``Sum`` adds the shortcut (timm's drop_path is the identity in eval)."""
    if not getattr(module, "has_skip", False) or not isinstance(getattr(module, "drop_path", None), nn.Module):
        return None
    body, summer = type(module).forward, Sum()

    def forward(x):
        return summer(torch.stack([body(module, x), x], dim=-1))

    return {"has_skip": False, "forward": forward, "canonizer_sum": summer}


def canonizer(model: Model) -> CompositeCanonizer:
    """The canonical form zennit needs for ``model`` (see the module docstring); undone on remove."""
    return CompositeCanonizer([TracedMergeBatchNorm(model), RestoringAttributeCanonizer(_summed_skip),
                               RestoringAttributeCanonizer(_out_of_place)])


def composite(method: str, model: Model):
    """The zennit composite of ``method`` (``"lrp"`` or ``"deconv"``) with ``model``'s canonizer;
    None for ``"gradient"``."""
    check_method(method)
    if method == "gradient":
        return None
    canonizers = [canonizer(model)]
    if method == "deconv":
        return DeconvNet(layer_map=[(nn.ReLU6, ReLUDeconvNet())], canonizers=canonizers)
    low, high = bounds(model)
    return EpsilonGammaBox(layer_map=[(Convolution, NonNegativeZPlus())], low=low, high=high, canonizers=canonizers)


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
            found[name] = type(hook).__name__
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
    with comp.context(model.stages):
        bad = uncovered(model, comp, method)
        if bad:
            first = ", ".join(f"{n} ({why})" for n, why in list(bad.items())[:3])
            raise ValueError(f"zennit cannot attribute {model.name} by {method}: {len(bad)} modules escape "
                             f"its rules, e.g. {first}; build the model with levers=frozen.EAGER")
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
