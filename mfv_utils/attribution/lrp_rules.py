"""zennit, made to fit this project's networks and made fast: the canonizers (BatchNorms merged by
tracing, residual sums, out-of-place activations), the z+ and ZBox rules over stacked inputs, and
rules attached as one autograd node each (:class:`SingleNode`). :mod:`.maps` composes them."""
from __future__ import annotations

from collections import Counter

import torch
import torch.nn as nn
from zennit.canonizers import AttributeCanonizer, CompositeCanonizer, MergeBatchNorm
from zennit.layer import Sum
from zennit.core import BasicHook, Composite, Hook, ParamMod, RemovableHandle, RemovableHandleList
from zennit.rules import Pass, ReLUDeconvNet, ZBox, ZPlus
from zennit.types import Convolution

from mfv_utils.networks import frozen
from mfv_utils.networks.models import Model

try:
    from mfv_utils.attribution import lrp_kernel
except ImportError:  # numba missing: torch computes the quotients, in more passes
    lrp_kernel = None

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
    frozen.probe(model, [m.register_forward_pre_hook(lambda m, a: calls.update([id(m)])) for m in convs])
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

