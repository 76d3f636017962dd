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

from collections import Counter
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn as nn
from zennit.canonizers import AttributeCanonizer, CompositeCanonizer, MergeBatchNorm
from zennit.composites import DeconvNet, EpsilonGammaBox
from zennit.layer import Sum
from zennit.core import BasicHook, Composite, Hook, ParamMod, RemovableHandle, RemovableHandleList
from zennit.rules import Pass, ReLUDeconvNet, ZBox, ZPlus
from zennit.types import Convolution

from . import frozen
from .models import Model, Unit, unit_activation

try:
    from . import lrp_kernel
except ImportError:  # numba missing: torch computes the quotients, in more passes
    lrp_kernel = None

METHODS = ("lrp", "deconv", "gradient")
EPSILON = 1e-6  # zennit's default stabilizer
# the speed levers an attributed model may carry: all but the fused convolution + activation,
# which no rule could see (folded BatchNorms are what the canonizer's merge would make)
LEVERS = frozen.Levers(fuse_activation=False)
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


def stabilize(z: torch.Tensor, epsilon: float = EPSILON) -> torch.Tensor:
    """zennit's default stabilizer ``z + (1[z = 0] + sign z) epsilon`` (``zennit.core.stabilize``:
    ``z + epsilon`` where ``z >= 0``, -0 included, ``z - epsilon`` elsewhere), bit for bit, at
    about half its cost: ``|z| + epsilon`` with the sign of ``z + 0`` (which turns -0 into +0).
    Rounding is symmetric, so ``-(|z| + epsilon)`` is exactly ``z - epsilon`` for negative ``z``.
    Passed to zennit's rules as their ``stabilizer`` / ``epsilon``."""
    return torch.copysign(z.abs().add_(epsilon), z + 0.0)


def quotient(grad: torch.Tensor, z: torch.Tensor, epsilon: float = EPSILON) -> torch.Tensor:
    """``grad / stabilize(z)``: the relevance per unit of a layer's output. ``z`` must be a tensor
    the caller made and no graph saved (a convolution does not save its output): on the CPU the
    fused kernel of :mod:`.lrp_kernel` writes the quotient over it in one pass."""
    if lrp_kernel is not None:
        out = lrp_kernel.quotient_(grad, z, epsilon)
        if out is not None:
            return out
    return grad / stabilize(z, epsilon)


def _plain_forwards() -> frozenset:
    forwards = {nn.Conv1d.forward, nn.Conv2d.forward, nn.Conv3d.forward}
    try:
        from timm.layers import Conv2dSame  # pads by the kernel's size, then nn.Conv2d's forward
        forwards.add(Conv2dSame.forward)
    except ImportError:  # pragma: no cover - timm is a dependency
        pass
    return frozenset(forwards)


PLAIN_FORWARDS = _plain_forwards()


def _plain_conv(module) -> bool:
    """A convolution whose weight can take more input channels: not grouped, not transposed, and
    a forward known to use its weight as is (timm's ``StdConv2d`` standardizes it in its forward:
    stacked weights would be standardized together)."""
    return isinstance(module, nn.modules.conv._ConvNd) and not module.transposed and module.groups == 1 \
        and type(module).forward in PLAIN_FORWARDS


def _stacked(module, grad, parts, weights, epsilon):
    """Relevance of a rule whose passes are one convolution each, as one convolution: the inputs
    ``parts`` stacked along the channels, read by ``weights(param, name)`` (the passes' weights
    side by side, their biases summed). Its output is the passes' sum, so its gradient gives every
    pass's gradient at once: relevance = sum of part x its gradient. (zennit's rule up to float
    rounding: the passes' sum is taken inside the convolution.)"""
    c = parts[0].shape[1]
    xx = torch.cat(parts, 1).requires_grad_()
    with ParamMod(weights)(module) as stacked, torch.autograd.enable_grad():
        z = stacked.forward(xx)
    (g,) = torch.autograd.grad(z, xx, grad_outputs=quotient(grad, z.detach(), epsilon))
    relevance = g[:, :c] * xx[:, :c]
    for k in range(1, len(parts)):
        relevance.addcmul_(g[:, k * c:(k + 1) * c], xx[:, k * c:(k + 1) * c])
    return relevance


class NonNegativeZPlus(BasicHook):
    """zennit's z+ rule (``ZPlus``: positive inputs x positive weights, plus negative inputs x
    negative weights with the bias zeroed), computed in fewer passes, with the same relevance:

    - where the layer's input has no negative entry the second pass is exactly zero, so it is
      skipped, and so are what are identities there: the input's clamp at 0 and the stabilizer's
      sign (the output is non-negative: zennit's stabilizer is ``z + eps``). The input is known
      to be non-negative when the layer is in ``nonnegative`` (ids of layers that read a ReLU's or
      ReLU6's output, found by tracing: :func:`relu_fed`), else when its minimum is >= 0;
    - elsewhere the two passes run as one convolution over [x+, x-] with weights [W+, W-]
      (:func:`_stacked`), or as zennit runs them where the convolution is grouped."""

    def __init__(self, epsilon: float = EPSILON, nonnegative: frozenset[int] = frozenset()):
        zplus = ZPlus(stabilizer=epsilon)
        self.epsilon, self.nonnegative = float(epsilon), nonnegative
        super().__init__(zplus.input_modifiers, zplus.param_modifiers, zplus.output_modifiers,
                         zplus.gradient_mapper, zplus.reducer)

    def backward(self, module, grad_input, grad_output):
        grad, x = grad_output[0], self.stored_tensors["input"][0].detach()
        if id(module) in self.nonnegative or bool(x.min() >= 0):
            x.requires_grad_()
            with ParamMod.ensure(self.param_modifiers[0])(module) as positive, torch.autograd.enable_grad():
                z = positive.forward(x)
            (g,) = torch.autograd.grad(z, x, grad_outputs=quotient(grad, z.detach(), self.epsilon))
            relevance = g.mul_(x)
        elif _plain_conv(module):
            relevance = _stacked(module, grad, [x.clamp(min=0), x.clamp(max=0)], _both_signs, self.epsilon)
        else:
            return _basic_backward(self, module, grad_input, grad_output)
        return tuple(relevance if original.shape == relevance.shape else None for original in grad_input)

    def copy(self):
        return self.__class__(self.epsilon, self.nonnegative)


def _both_signs(param: torch.Tensor, name: str) -> torch.Tensor:
    """z+'s two passes side by side: weight [W+, W-] along the input channels, bias b+ (+ 0)."""
    return torch.cat([param.clamp(min=0), param.clamp(max=0)], 1) if name == "weight" else param.clamp(min=0)


class StackedZBox(ZBox):
    """zennit's ZBox rule (the first layer, bounded by the pixel range ``low``..``high``: passes
    ``W x + b``, ``W+ low + b+`` and ``W- high + b-``, relevance ``x g - low g+ - high g-``) as one
    convolution over [x, low, high] with weights [W, -W+, -W-] (:func:`_stacked`; bias
    ``b - b+ - b- = 0``), where the convolution is plain; zennit's own passes elsewhere."""

    def __init__(self, low: torch.Tensor, high: torch.Tensor, epsilon: float = EPSILON):
        super().__init__(low, high, stabilizer=epsilon)
        self.low, self.high, self.epsilon = low, high, float(epsilon)

    def backward(self, module, grad_input, grad_output):
        grad, x = grad_output[0], self.stored_tensors["input"][0].detach()
        if not _plain_conv(module):
            return _basic_backward(self, module, grad_input, grad_output)
        parts = [x, *(torch.as_tensor(b).to(x).expand_as(x) for b in (self.low, self.high))]
        relevance = _stacked(module, grad, parts, _box_signs, self.epsilon)
        return tuple(relevance if original.shape == relevance.shape else None for original in grad_input)

    def copy(self):
        return self.__class__(self.low, self.high, self.epsilon)


def _box_signs(param: torch.Tensor, name: str) -> torch.Tensor:
    """ZBox's three passes side by side: weight [W, -W+, -W-], bias b - b+ - b- (= 0)."""
    if name == "weight":
        return torch.cat([param, -param.clamp(min=0), -param.clamp(max=0)], 1)
    return param - param.clamp(min=0) - param.clamp(max=0)


def relu_fed(model: Model) -> frozenset[int]:
    """ids of the convolutions whose input is a ReLU's or ReLU6's output at every call (traced on
    one forward pass; a convolution also called on anything else is left out)."""
    calls: Counter[int] = Counter()
    convs = [m for m in model.stages.modules() if isinstance(m, Convolution)]
    frozen._probe(model, [m.register_forward_pre_hook(lambda m, a: calls.update([id(m)])) for m in convs])
    fed = Counter(id(conv) for _, conv in frozen.producer_pairs(model, (nn.ReLU, nn.ReLU6), Convolution))
    return frozenset(k for k, n in fed.items() if n == calls[k])


class _RuleNode(torch.autograd.Function):
    """One autograd node from a module's input(s) to its output whose backward is a zennit rule.
    The output comes in a list, so it is not an input of the node: the node's output is not a view
    (a later in-place add, like torchvision's ``out += identity``, stays allowed)."""

    @staticmethod
    def forward(ctx, attached, module, stored, box, *inputs):
        ctx.attached, ctx.module, ctx.stored = attached, module, stored
        ctx.like = tuple(i.new_empty(()).expand(i.shape) for i in inputs)  # shapes, for the rule
        return box[0]

    @staticmethod
    def backward(ctx, grad):
        return (None, None, None, None, *ctx.attached.relevance(ctx.module, ctx.stored, ctx.like, grad))


class SingleNode(Hook):
    """A zennit rule attached through one autograd node instead of zennit's two.

    zennit's :class:`~zennit.core.Hook` puts an identity before and after the module and keeps the
    module's own graph between them: every backward pass first computes the module's ordinary
    gradient, then throws it away for the rule's, and every input is cloned on the way in (in case
    the module changes it in place). Here the module runs on its detached input (no graph inside
    it), and one node from its input to its output hands the output's gradient to the rule. The
    rule object and its arithmetic are zennit's (a :class:`~zennit.core.BasicHook` runs without
    its defensive clone of the stored input: an input changed in place, by the module or after
    it, is an error here). The maps are the same, bit for bit (tested). What the rule stored in
    the forward pass travels with each call's node, so a module called twice in one pass gets
    each call's own input back (zennit's rule keeps only the last).

    Limits: it carries only rules that never read the module's own gradient (the node has none to
    give: BasicHook rules, ``Pass``, ``ReLUDeconvNet``; :func:`single_node` leaves any other on
    zennit's attachment); modules that return anything but one tensor and a differentiable
    backward pass (``create_graph=True``: the relevance is not a function of the layers' inputs
    here) are refused in one line. ``Composite.inactive()`` applies to forward passes run inside it."""

    @staticmethod
    def carries(rule: Hook) -> bool:
        """Whether ``rule`` never reads the module's own gradient (only its shape)."""
        return isinstance(rule, BasicHook) or type(rule) in (Pass, ReLUDeconvNet)

    def __init__(self, rule: Hook):
        if not self.carries(rule):
            raise TypeError(f"{type(rule).__name__} may read the module's own gradient, which SingleNode does not "
                            f"compute; it carries BasicHook rules, Pass and ReLUDeconvNet")
        super().__init__()
        self.rule, self.pending = rule, None

    def copy(self):
        return SingleNode(self.rule.copy())

    def register(self, module):
        return RemovableHandleList([RemovableHandle(self), module.register_forward_pre_hook(self.pre_forward),
                                    module.register_forward_hook(self.post_forward)])

    def remove(self):
        self.rule.remove()
        super().remove()

    def pre_forward(self, module, input):
        self.pending = None
        if not (self.active and input and torch.is_grad_enabled() and isinstance(input[0], torch.Tensor)
                and input[0].requires_grad):
            return None
        if not all(isinstance(i, torch.Tensor) for i in input):
            raise TypeError(f"{type(module).__name__} takes a non-tensor argument; a rule can be attached only "
                            "to a module called with tensors")
        self.pending = (input, [i._version for i in input])
        return tuple(i.detach() for i in input)

    def post_forward(self, module, input, output):
        pending, self.pending = self.pending, None
        if pending is None:
            return None
        inputs, versions = pending
        if [i._version for i in inputs] != versions:
            raise RuntimeError(f"{type(module).__name__} changed its input in place; make it out-of-place "
                               "(attribution.canonizer does so for activations)")
        if not isinstance(output, torch.Tensor):
            raise TypeError(f"{type(module).__name__} returns a {type(output).__name__}; a rule can be attached "
                            "only to a module that returns one tensor")
        self.rule.forward(module, input, output)
        stored = dict(self.rule.stored_tensors)
        versions = [i._version for i in stored.get("input", ())]
        return _RuleNode.apply(self, module, (stored, versions), [output.detach()], *inputs)

    def relevance(self, module, stored, like, grad):
        stored, versions = stored
        if grad.requires_grad:
            raise RuntimeError("attribution's rules give no differentiable backward pass (create_graph=True); "
                               "use zennit's own attachment (Composite.context) for that")
        if [i._version for i in stored.get("input", ())] != versions:
            raise RuntimeError(f"the input of {type(module).__name__} was changed in place after its forward pass; "
                               "make that operation out-of-place (attribution.canonizer does so for activations)")
        self.rule.stored_tensors.update(stored)
        if type(self.rule).backward is BasicHook.backward:
            return _basic_backward(self.rule, module, like, (grad,))
        out = self.rule.backward(module, like, (grad,))
        return tuple(out) if out is not None else (None,) * len(like)


def _basic_backward(rule: BasicHook, module, grad_input, grad_output):
    """zennit's ``BasicHook.backward`` without the clone of the stored input (see SingleNode)."""
    original = rule.stored_tensors["input"][0].detach()
    inputs, outputs = [], []
    for in_mod, param_mod, out_mod in zip(rule.input_modifiers, rule.param_modifiers, rule.output_modifiers):
        x = in_mod(original)
        x = (x.detach() if x is original else x).requires_grad_()
        with ParamMod.ensure(param_mod)(module) as modified, torch.autograd.enable_grad():
            outputs.append(out_mod(modified.forward(x)))
        inputs.append(x)
    grads = torch.autograd.grad(outputs, inputs, grad_outputs=rule.gradient_mapper(grad_output[0], outputs))
    relevance = rule.reducer(inputs, grads)
    return tuple(relevance if like.shape == relevance.shape else None for like in grad_input)


def single_node(comp: Composite) -> Composite:
    """``comp`` (a zennit composite) with each of its rules attached by :class:`SingleNode`, where
    SingleNode can carry it (the others keep zennit's attachment)."""
    def module_map(ctx, name, module):
        rule = comp.module_map(ctx, name, module)
        return SingleNode(rule) if rule is not None and SingleNode.carries(rule) else rule

    return Composite(module_map=module_map, canonizers=comp.canonizers)


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
