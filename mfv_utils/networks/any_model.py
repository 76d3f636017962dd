"""Any classifier as a :class:`~mfv_utils.networks.models.Model`: a timm or torchvision model by name with a
local weights file, or an ``nn.Module`` with a list of layer names.

A Model runs named stages in order, so a module is split at its **top-level children**: each
named layer ends a stage that holds it and every unnamed child since the previous one. That is
exactly the module's own forward only when its forward runs its children in order (timm's and
torchvision's ResNets, VGG, ConvNeXt, EfficientNets, MobileNets do; models with branches at the
top level do not): :func:`from_module` checks it on a probe input and refuses in one line if not.
Nothing is downloaded: weights come from a file, loaded with ``weights_only=True``.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from mfv_utils.networks.model import BUILT_IN, Model, load_state

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]) * 255
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]) * 255


def from_module(net: nn.Module, layers: list[str] | None = None, name: str | None = None, input_size: int = 224,
                mean: torch.Tensor = IMAGENET_MEAN, std: torch.Tensor = IMAGENET_STD,
                code_layer: str | None = None, weights_path: str | Path | None = None) -> Model:
    """``net`` split at its top-level children named in ``layers`` (default: every child; the last
    named layer is the logits, ``code_layer`` defaults to the one before it)."""
    children = dict(net.named_children())
    if not children:
        raise ValueError(f"{type(net).__name__} has no child modules to split into layers")
    layers = list(layers or children)
    unknown = [x for x in layers if x not in children]
    if unknown:
        raise ValueError(f"layers {unknown} are not top-level children of {type(net).__name__}; "
                         f"its children: {', '.join(children)}")
    order = list(children)
    if [order.index(x) for x in layers] != sorted(order.index(x) for x in layers):
        raise ValueError(f"layers must follow the order of {type(net).__name__}'s children: {', '.join(order)}")
    stages, start = {}, 0
    for layer in layers:
        end = order.index(layer) + 1
        parts = [children[c] for c in order[start:end]]
        stages[layer] = parts[0] if len(parts) == 1 else nn.Sequential(*parts)
        start = end
    if len(layers) < 2:
        raise ValueError("need at least two layers (a code layer and the logits)")
    model = Model(name or type(net).__name__.lower(), stages, input_size, mean.float(), std.float(),
                  code_layer=code_layer or layers[-2], weights_path=weights_path)
    model.check_layer(model.code_layer)
    net.eval()
    x = torch.rand(2, 3, input_size, input_size, generator=torch.Generator().manual_seed(0)) * 255
    with torch.no_grad():
        want = net(model.preprocess(x))
        got = model(x)
    if got.shape != want.shape or not torch.allclose(got, want, rtol=1e-4, atol=1e-5 * float(want.abs().max())):
        raise ValueError(f"{model.name}'s children run in order do not give its forward's output "
                         f"(its forward is not a sequence of its children); pass the layers of a module that is")
    return model


def _build(name: str) -> tuple[nn.Module, str]:
    import timm
    import torchvision

    if name in timm.list_models():
        return timm.create_model(name, pretrained=False), "timm"
    if name in torchvision.models.list_models():
        return torchvision.models.get_model(name, weights=None), "torchvision"
    raise ValueError(f"unknown model {name!r}; known: {', '.join(BUILT_IN)}, or any timm or torchvision "
                     f"classifier name with weights=<local state-dict file>")


def from_library(name: str, weights: str | Path | None) -> Model:
    """A timm (first) or torchvision model ``name`` with the state dict in ``weights`` (never downloaded)."""
    net, library = _build(name)
    if weights is None:
        raise ValueError(f"{name} is a {library} model: pass weights=<local state-dict file> "
                         f"(nothing is downloaded here)")
    load_state(net, weights, f"{library}'s {name}")
    size = 224
    config = getattr(net, "pretrained_cfg", None) or {}
    if "input_size" in config:
        size = int(config["input_size"][-1])
    mean = torch.tensor(config["mean"]) * 255 if "mean" in config else IMAGENET_MEAN
    std = torch.tensor(config["std"]) * 255 if "std" in config else IMAGENET_STD
    return from_module(net, None, name, size, mean, std, weights_path=weights)
