"""The core types of a network: :class:`Unit` (a neuron), :class:`Model` (a frozen classifier split
into named stages, in 0..255 pixel space), picking a unit's activation, loading a state dict safely
and choosing a device. :mod:`.models` builds the built-in models; :mod:`.any_model` wraps any other."""
from __future__ import annotations

import numbers

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from mfv_utils.networks import frozen

# Lite1 (240 px) and Lite2 (260 px) are the held-out *judges* of the fidelity metrics: they
# measure images and never enter a loss or a choice made inside the optimization.
LITE_SIZES = {"efficientnet_lite0": 224, "efficientnet_lite1": 240, "efficientnet_lite2": 260}
BUILT_IN = (*LITE_SIZES, "alexnet")
MODELS = BUILT_IN  # the built-in names; load_model also takes timm / torchvision names (mfv_utils.networks.any_model)


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

