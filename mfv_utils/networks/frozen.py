"""A frozen network made cheaper to run, one lever at a time (each measured in ``benchmarks/bench_step.py``).

The models of :mod:`.models` never train: eval mode, no parameter gradients, one fixed input
size. So their modules can be rewritten for speed without changing what they compute beyond
float rounding. Each lever is a function ``lever(model) -> count`` that rewrites a
:class:`~mfv_utils.networks.models.Model`'s stages in place; :class:`Levers` says which run, as data.

- :func:`fold_batchnorm`: every BatchNorm that reads a convolution's output is folded into that
  convolution's weight and bias (timm's ``BatchNormAct2d`` keeps its activation).
- :func:`static_padding`: timm's TF "same" padding of a strided depthwise convolution pads
  ``(a, a + 1)`` at the model's fixed input size, a padded copy of the input (and of its
  gradient) at every call. The same convolution is a plain one whose kernel has one zero row
  and column in front, with symmetric padding ``a + 1``: :class:`ZeroLeadConv2d`.
- :func:`fuse_activation`: a convolution followed by ReLU / ReLU6 runs as one oneDNN kernel on
  the CPU (the clamp applied as the convolution writes its output), with the gradient masked by
  the output in its backward (:class:`ConvAct`); elsewhere, or in float64, it runs unfused.
- :func:`keep_freed_memory`: glibc hands every block above its mmap threshold (at most 32 MB)
  back to the system when it is freed, so each step page-faults its largest activations anew
  (a 48 MB copy costs 2.5x a warm one); this keeps freed memory in the process (Linux, glibc).
- ``compile``: ``torch.compile`` (inductor) of every stage. An option, off by default: on 2
  CPU cores it made the forward + input gradient slower (bench_step.py prints it).

Outputs stay within float rounding of the original: :func:`apply` checks the rewritten model
against the original on one input and raises if the logits moved by more than ``1e-4``
(relative), which a model whose convolution output also feeds another branch would do.
"""
from __future__ import annotations

import copy
import ctypes
import functools
import math
import os
import sys
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

CHECK_RTOL = 1e-4  # the most a lever may move the logits, relative to their largest magnitude


@dataclass(frozen=True)
class Levers:
    """Which speed levers a model is built with (``models.load_model(levers=...)``)."""

    fold_batchnorm: bool = True
    static_padding: bool = True
    fuse_activation: bool = True
    keep_freed_memory: bool = True
    compile: bool = False

    @property
    def tag(self) -> str:
        """A short name of the numerics, for cache keys and provenance: 'eager' when none is on."""
        on = [k for k, v in asdict(self).items() if v and k != "keep_freed_memory"]
        return "+".join(on) or "eager"


EAGER = Levers(False, False, False, False, False)  # the plain module graph (no rewrite)
DEFAULT = Levers()


# ----------------------------------------------------------------------------- tracing
def _parents(root: nn.Module) -> dict[int, tuple[nn.Module, str]]:
    """id(module) -> (its parent, its attribute name), for modules that sit in one place only."""
    seen: dict[int, list] = {}
    for parent in root.modules():
        for name, child in parent.named_children():
            seen.setdefault(id(child), []).append((parent, name))
    return {k: v[0] for k, v in seen.items() if len(v) == 1}


def producer_pairs(model, producers, consumers) -> list[tuple[nn.Module, nn.Module]]:
    """(producer, consumer) module pairs where, in one forward pass at the model's input size,
    the consumer's input *is* the producer's output tensor (kept alive, so ids are unique), not
    changed in place since (its version counter unchanged: ResNet's ``x += shortcut`` is not the
    convolution's output any more)."""
    made: dict[int, tuple[nn.Module, torch.Tensor, int]] = {}
    pairs = []

    def after(module, args, output):
        made[id(output)] = (module, output, output._version)

    def before(module, args):
        hit = made.get(id(args[0])) if args else None
        if hit is not None and hit[1] is args[0] and hit[2] == args[0]._version:
            pairs.append((hit[0], module))

    hooks = [m.register_forward_hook(after) for m in model.stages.modules() if isinstance(m, producers)]
    hooks += [m.register_forward_pre_hook(before) for m in model.stages.modules() if isinstance(m, consumers)]
    probe(model, hooks)
    return pairs


def probe(model, hooks) -> None:
    """One forward pass of the probe input with ``hooks`` registered, then removed."""
    try:
        with torch.no_grad():
            model(probe_input(model))
    finally:
        for h in hooks:
            h.remove()


def probe_input(model, n: int = 1) -> torch.Tensor:
    """A fixed 0..255 test image batch at the model's input size, on its device."""
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n, 3, model.input_size, model.input_size, generator=gen, device="cpu") * 255
    return x.to(model.mean.device)


# ----------------------------------------------------------------------------- the levers
def after_norm(bn: nn.Module) -> nn.Module:
    """What a BatchNorm does besides normalizing (timm's ``BatchNormAct2d``: dropout, activation),
    as one module: what is left of it once its normalization is folded away."""
    rest = [m for m in (getattr(bn, "drop", None), getattr(bn, "act", None))
            if m is not None and not isinstance(m, nn.Identity)]
    return rest[0] if len(rest) == 1 else nn.Sequential(*rest) if rest else nn.Identity()


def fold_batchnorm(model) -> int:
    """Fold every BatchNorm2d that reads a Conv2d's output into that convolution. The
    BatchNorm is replaced by what else it does (timm's ``BatchNormAct2d``: its activation)."""
    parents = _parents(model.stages)
    count = 0
    for conv, bn in producer_pairs(model, nn.Conv2d, nn.BatchNorm2d):
        if id(conv) not in parents or id(bn) not in parents or bn.track_running_stats is False:
            continue
        fused = fuse_conv_bn_eval(conv.eval(), bn.eval())
        setattr(*parents[id(conv)], fused)
        setattr(*parents[id(bn)], after_norm(bn))
        count += 1
    return count


def same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TF "same" padding ``(before, after)`` of one axis of ``size`` pixels (timm's pad_same)."""
    total = max((math.ceil(size / stride) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


class ZeroLeadConv2d(nn.Conv2d):
    """A convolution with TF "same" padding ``(a, a + 1)`` written as a plain one: its kernel has
    ``zero_lead`` zero rows and columns in front and the padding is symmetric ``a + 1``. For
    :mod:`.receptive` the kernel is ``kernel_size - zero_lead`` wide, padded ``a`` before."""

    zero_lead = 1

    @classmethod
    def from_same(cls, conv: nn.Conv2d, before: int) -> "ZeroLeadConv2d":
        k = conv.kernel_size[0]
        new = cls(conv.in_channels, conv.out_channels, k + 1, conv.stride, before + 1, conv.dilation,
                  conv.groups, conv.bias is not None, device=conv.weight.device)
        with torch.no_grad():
            new.weight.zero_()
            new.weight[..., 1:, 1:] = conv.weight
            if conv.bias is not None:
                new.bias.copy_(conv.bias)
        return new


def static_padding(model) -> int:
    """Rewrite timm's dynamically padded depthwise convolutions (``Conv2dSame``, groups > 1)
    whose padding at the model's input size is ``(a, a + 1)`` as :class:`ZeroLeadConv2d`.
    (A dense one, such as the stem, is faster with its padded copy: it has 3 channels.)"""
    sizes: dict[int, tuple[int, int]] = {}
    same = [m for m in model.stages.modules() if type(m).__name__ == "Conv2dSame" and m.groups > 1]
    hooks = [m.register_forward_pre_hook(lambda mod, args: sizes.__setitem__(id(mod), tuple(args[0].shape[-2:])))
             for m in same]
    probe(model, hooks)
    parents = _parents(model.stages)
    count = 0
    for m in same:
        if id(m) not in sizes or id(m) not in parents or m.dilation != (1, 1):
            continue
        (h, w), k, s = sizes[id(m)], m.kernel_size, m.stride
        pads = {same_pads(h, k[0], s[0]), same_pads(w, k[1], s[1])}
        if k[0] != k[1] or s[0] != s[1] or len(pads) != 1:
            continue
        a, b = pads.pop()
        if b == a + 1:
            setattr(*parents[id(m)], ZeroLeadConv2d.from_same(m, a))
            count += 1
    return count


# oneDNN's fused convolution + activation is a private op of torch (no stable API): it is looked up
# by name, and checked on a probe before any model uses it (fused_conv_works).
FUSED_OP = ("mkldnn", "_convolution_pointwise")


class LeverOffWarning(UserWarning):
    """A speed lever stays off on this installation (the model runs its plain path)."""


def fused_conv(x, weight, bias, conf, attr, scalars):
    """``attr(conv(x))`` by oneDNN's fused kernel (:data:`FUSED_OP`)."""
    namespace, name = FUSED_OP
    return getattr(getattr(torch.ops, namespace), name)(x, weight, bias, *conf, attr, scalars, "")


@functools.lru_cache(maxsize=None)
def fused_conv_works() -> bool:
    """Whether the fused op exists here and agrees with the plain path (forward and input gradient,
    ReLU and ReLU6, a strided and a grouped convolution, to float32 rounding) on a probe. Otherwise
    :func:`fuse_activation` stays off, with one :class:`LeverOffWarning` naming the reason."""
    if not torch.backends.mkldnn.is_available():
        return False
    gen = torch.Generator().manual_seed(0)
    try:
        for act in (nn.ReLU(), nn.ReLU6()):
            for conv in (nn.Conv2d(4, 8, 3, stride=1, padding=1), nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8)):
                conv = conv.requires_grad_(False).eval()
                with torch.no_grad():
                    conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen))
                    conv.bias.copy_(torch.randn(conv.bias.shape, generator=gen))
                x = torch.randn(2, conv.in_channels, 11, 11, generator=gen) * 3
                fused, plain = ConvAct(conv, act), nn.Sequential(conv, act)
                outs, grads = [], []
                for net in (fused, plain):
                    xi = x.clone().requires_grad_(True)
                    y = net(xi)
                    (y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
                    outs.append(y.detach())
                    grads.append(xi.grad)
                for a, b, what in ((*outs, "forward"), (*grads, "input gradient")):
                    if a.shape != b.shape or (a - b).abs().max() > 1e-4 * b.abs().max().clamp_min(1e-6):
                        raise ValueError(f"its {what} differs from the plain path on a probe")
    except Exception as e:  # noqa: BLE001 - any failure of a private op means: do not use it
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        warnings.warn(f"fuse_activation stays off: torch.ops.{'.'.join(FUSED_OP)} in torch {torch.__version__}: "
                      f"{reason} (the model runs convolution and activation apart: same outputs, slower)",
                      LeverOffWarning, stacklevel=3)
        return False
    return True


class _ConvActFunction(torch.autograd.Function):
    """oneDNN's convolution with its activation fused; backward: the input's gradient only."""

    @staticmethod
    def forward(ctx, x, weight, bias, conf, attr, scalars):
        y = fused_conv(x, weight, bias, conf, attr, scalars)
        ctx.save_for_backward(x, weight, y)
        ctx.conf, ctx.attr, ctx.scalars = conf, attr, scalars
        return y

    @staticmethod
    def backward(ctx, grad):
        x, weight, y = ctx.saved_tensors
        padding, stride, dilation, groups = ctx.conf
        if ctx.attr == "relu":
            grad = torch.ops.aten.threshold_backward(grad, y, 0.0)
        else:
            grad = torch.ops.aten.hardtanh_backward(grad, y, *ctx.scalars)
        gx = torch.ops.aten.convolution_backward(grad, x, weight, None, stride, padding, dilation, False,
                                                 [0, 0], groups, [True, False, False])[0]
        return gx, None, None, None, None, None


class ConvAct(nn.Module):
    """``act(conv(x))`` for a frozen convolution and a ReLU or ReLU6, fused on the CPU in float32;
    the same two modules one after the other elsewhere. ``conv`` stays a child (receptive fields)."""

    def __init__(self, conv: nn.Conv2d, act: nn.Module):
        super().__init__()
        self.conv, self.act = conv, act
        if isinstance(act, nn.ReLU):
            self.attr, self.scalars = "relu", []
        else:
            self.attr, self.scalars = "hardtanh", [float(act.min_val), float(act.max_val)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.conv
        if x.device.type != "cpu" or x.dtype != torch.float32 or c.weight.requires_grad:
            return self.act(c(x))
        conf = (list(c.padding), list(c.stride), list(c.dilation), c.groups)
        if torch.is_grad_enabled() and x.requires_grad:
            return _ConvActFunction.apply(x, c.weight, c.bias, conf, self.attr, self.scalars)
        return fused_conv(x, c.weight, c.bias, conf, self.attr, self.scalars)


def fuse_activation(model) -> int:
    """Fuse every plain convolution (``nn.Conv2d`` or :class:`ZeroLeadConv2d`, zero padding)
    with the ReLU / ReLU6 that reads its output into one :class:`ConvAct`; every remaining
    in-place activation becomes out-of-place (on the CPU an in-place clamp is a clamp plus a copy)."""
    for m in model.stages.modules():
        if isinstance(m, (nn.ReLU, nn.Hardtanh)):
            m.inplace = False
    if not fused_conv_works():
        return 0
    parents = _parents(model.stages)
    count = 0
    for conv, act in producer_pairs(model, nn.Conv2d, (nn.ReLU, nn.ReLU6)):
        plain = type(conv) in (nn.Conv2d, ZeroLeadConv2d) and conv.padding_mode == "zeros" \
            and not isinstance(conv.padding, str)
        if not plain or id(conv) not in parents or id(act) not in parents:
            continue
        setattr(*parents[id(conv)], ConvAct(conv, act))
        setattr(*parents[id(act)], nn.Identity())
        count += 1
    return count


def keep_freed_memory(trim: int = 1 << 30) -> bool:
    """Ask glibc's malloc never to map blocks of their own (``M_MMAP_MAX = 0``) and to keep up to
    ``trim`` bytes of freed memory (``M_TRIM_THRESHOLD``): large activations then reuse warm
    pages instead of faulting in fresh ones at every step. Process-wide; True if it took."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_max = -1, -4
    return bool(libc.mallopt(m_mmap_max, 0)) and bool(libc.mallopt(m_trim_threshold, trim))


def compile_stages(model) -> int:
    """``torch.compile`` (inductor) every stage; inductor's cache (``TORCHINDUCTOR_CACHE_DIR``,
    default ``.cache/inductor``) keeps the compiled code for later processes."""
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(Path(".cache/inductor").resolve()))
    for name in model.layers:
        model.stages[name] = torch.compile(model.stages[name], dynamic=False)
    return len(model.layers)


def apply(model, levers: Levers = DEFAULT) -> dict[str, int]:
    """Rewrite ``model`` (a frozen :class:`~mfv_utils.networks.models.Model`) with ``levers``, check its
    logits against the original's on :func:`probe_input`, and return what each lever changed."""
    reference = copy.deepcopy(model.stages) if levers != EAGER else None
    x = probe_input(model, 2)
    if reference is not None:
        with torch.no_grad():
            before = model(x)
    done = {}
    if levers.fold_batchnorm:
        done["fold_batchnorm"] = fold_batchnorm(model)
    if levers.static_padding:
        done["static_padding"] = static_padding(model)
    if levers.fuse_activation:
        done["fuse_activation"] = fuse_activation(model)
    if levers.keep_freed_memory:
        done["keep_freed_memory"] = int(keep_freed_memory())
    model.to(memory_format=torch.channels_last).requires_grad_(False).eval()
    if reference is not None:
        with torch.no_grad():
            after = model(x)
        moved = float((after - before).abs().max() / before.abs().max().clamp_min(1e-12))
        if not moved <= CHECK_RTOL:
            model.stages = reference
            raise RuntimeError(f"speed levers {levers.tag} changed {model.name}'s logits by {moved:.2e} "
                               f"(relative; limit {CHECK_RTOL:g}); load it with levers=frozen.EAGER")
    if levers.compile:
        done["compile"] = compile_stages(model)
    model.levers = levers
    return done
