"""Receptive fields, computed from the architecture, and the image patches a unit sees.

For a spatial layer, the unit at ``(y, x)`` sees a square of input pixels: its receptive
field. :func:`receptive_field` walks the convolutions and poolings of every stage up to the
layer, in order, with their kernel sizes, strides, dilations and paddings (TF "same" padding,
which depends on the input size, included), and returns the field's side, the step between
neighbouring units (jump) and where the field of unit 0 starts. A fully connected (or
globally pooled) layer sees the whole image.

:func:`crop_patches` cuts the field out of images at the network's input size; where the field
reaches past the border, the patch is filled with the model's mean pixel (what the network's
zero padding shows the unit). :class:`Placed` is the model seen through that window: its input
is the patch, placed at the field in an otherwise neutral image, so activation maximization
of a hidden unit runs on a canvas of the field's size.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from mfv_utils.networks.frozen import same_pads
from mfv_utils.networks.models import Model


@dataclass(frozen=True)
class Field:
    """Receptive field of the units of one layer, in input pixels (at ``input_size``)."""

    size: int  # side of the field (the whole input for a global layer)
    jump: int  # input pixels between neighbouring units
    start: int  # first input row/column of the field of unit 0 (negative: in the padding)
    map_size: int  # units per side of the layer (1 for a global layer)
    input_size: int
    is_global: bool = False

    def box(self, y: int | None = None, x: int | None = None) -> tuple[int, int, int]:
        """``(top, left, side)`` of the field of unit ``(y, x)`` (default the center unit)."""
        if self.is_global:
            return 0, 0, self.input_size
        y = self.map_size // 2 if y is None else y
        x = self.map_size // 2 if x is None else x
        if not (0 <= y < self.map_size and 0 <= x < self.map_size):
            raise ValueError(f"position ({y}, {x}) outside the {self.map_size}x{self.map_size} map")
        return self.start + y * self.jump, self.start + x * self.jump, self.size

    def visible_box(self, y: int | None = None, x: int | None = None) -> tuple[int, int, int]:
        """The square of side ``min(size, input_size)`` inside the image that holds every
        image pixel of the field of unit ``(y, x)``: the field moved inside the border (a
        field wider than the image becomes the whole image). What the figures draw."""
        top, left, _ = self.box(y, x)
        side = min(self.size, self.input_size)
        limit = self.input_size - side
        return min(max(top, 0), limit), min(max(left, 0), limit), side


def _pair(v) -> int:
    v = v if isinstance(v, (tuple, list)) else (v, v)
    if v[0] != v[1]:
        raise ValueError(f"only square kernels, strides and paddings are supported, got {tuple(v)}")
    return int(v[0])


def _is_same_padded(module: nn.Module) -> bool:
    # timm's Conv2dSame / MaxPool2dSame pad dynamically ("same", TF style) at run time
    return type(module).__name__.endswith("Same")


SHORTCUTS = ("downsample", "shortcut", "skip")  # residual branches of timm / torchvision blocks


def _main_path(stage: nn.Module):
    """The stage's modules in order, without a residual block's shortcut branch: the shortcut
    runs beside the block's main path, whose field and stride it shares or lies inside."""
    skipped = set()
    for name, module in stage.named_modules():
        if any(name == s or name.startswith(s + ".") for s in skipped):
            continue
        if name.rsplit(".", 1)[-1] in SHORTCUTS:
            skipped.add(name)
            continue
        yield module


def receptive_field(model: Model, layer: str) -> Field:
    """The receptive field of ``layer``'s units, from the modules of every stage up to it."""
    model.check_layer(layer)
    n, jump, size, start = model.input_size, 1, 1, 0
    for name in model.layers[: model.layers.index(layer) + 1]:
        for module in _main_path(model.stages[name]):
            if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.Linear, nn.Flatten)):
                return Field(model.input_size, model.input_size, 0, 1, model.input_size, is_global=True)
            if not isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
                continue
            k, s = _pair(module.kernel_size), _pair(module.stride)
            d = _pair(getattr(module, "dilation", 1))
            ceil = bool(getattr(module, "ceil_mode", False))
            if _is_same_padded(module):
                left, right = same_pads(n, k, s, d)
                total = left + right
            else:
                left = _pair(module.padding)
                total = 2 * left
                lead = getattr(module, "zero_lead", 0)  # frozen.ZeroLeadConv2d: zero taps in front
                k, left, total = k - lead, left - lead, total - lead
            span = n + total - d * (k - 1) - 1
            n = (math.ceil(span / s) if ceil else span // s) + 1
            start -= left * jump
            size += (k - 1) * d * jump
            jump *= s
    with torch.no_grad():
        shape = model(torch.zeros(1, 3, model.input_size, model.input_size, device=model.device), layer).shape
    if len(shape) == 4 and shape[-1] != n:
        raise ValueError(f"cannot derive the receptive field of {model.name}'s layer {layer!r} from its modules "
                         f"(they give a {n}-unit map, the layer has {shape[-1]}): its stages branch in a way "
                         f"mfv does not follow")
    return Field(size, jump, start, n, model.input_size)


def crop_patches(images: torch.Tensor, box: tuple[int, int, int], fill) -> torch.Tensor:
    """(N, 3, side, side) patches at ``box = (top, left, side)`` of (N, 3, H, W) images; pixels
    of the box outside the image take ``fill`` (a number or one value per channel)."""
    top, left, side = box
    h, w = images.shape[-2:]
    out = torch.empty(len(images), images.shape[1], side, side, dtype=torch.float32, device=images.device)
    out[:] = torch.as_tensor(fill, dtype=torch.float32, device=images.device).reshape(1, -1, 1, 1)
    y0, y1, x0, x1 = max(top, 0), min(top + side, h), max(left, 0), min(left + side, w)
    if y0 < y1 and x0 < x1:
        out[..., y0 - top:y1 - top, x0 - left:x1 - left] = images[..., y0:y1, x0:x1].float()
    return out


class Placed(Model):
    """``model`` seen through a window: its input (0..255, at ``box``'s side) is placed at
    ``box = (top, left, side)`` in an image of the model's input size that is neutral (the
    mean pixel, i.e. the network's zero) elsewhere. Shares the model's frozen stages."""

    def __init__(self, model: Model, box: tuple[int, int, int]):
        nn.Module.__init__(self)
        self.name, self.weights_path, self.levers = model.name, model.weights_path, model.levers
        self.stages, self.layers = model.stages, model.layers
        self.logits_layer, self.code_layer = model.logits_layer, model.code_layer
        self.register_buffer("mean", model.mean)
        self.register_buffer("std", model.std)
        self.full_size = model.input_size
        self.box = tuple(int(v) for v in box)
        self.input_size = self.box[2]

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, torch.float32)
        side = self.input_size
        if x.shape[-2:] != (side, side):
            x = F.interpolate(x, size=(side, side), mode="bilinear", antialias=True, align_corners=False)
        top, left, _ = self.box
        s = self.full_size
        # zero padding of the normalized patch = the mean pixel; negative padding crops the
        # parts of the box that lie outside the image
        x = F.pad((x - self.mean) / self.std, (left, s - left - side, top, s - top - side))
        return x.contiguous(memory_format=torch.channels_last)
