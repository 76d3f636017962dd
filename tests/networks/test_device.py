"""The device is threaded through: nothing mfv_utils computes is created on a device other than
the model's. Checked on the CPU by sending every tensor that mfv_utils creates *without naming
a device* to PyTorch's "meta" device: such a tensor (the bug that breaks a CUDA run) then meets
the model's real tensors and raises, exactly as a CPU tensor meets CUDA ones on a GPU."""
import sys

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._device import _device_constructors

from mfv_utils import facets
from mfv_utils.optimization import methods, optimize, param
from mfv_utils.evaluation import metrics
from mfv_utils.networks import models, receptive


class ImplicitDeviceIsMeta(TorchFunctionMode):
    """Inside this mode, a tensor factory called from mfv_utils code without ``device=`` makes a
    meta tensor; calls from torch, numpy glue or the test itself are left alone."""

    def __init__(self):
        super().__init__()
        self.caught = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in _device_constructors() and kwargs.get("device") is None:
            frame = sys._getframe(1)
            while frame is not None and frame.f_globals.get("__name__", "").startswith("torch"):
                frame = frame.f_back
            name = frame.f_globals.get("__name__", "") if frame is not None else ""
            if name.startswith("mfv_utils"):
                self.caught.append(f"{name}:{frame.f_lineno} {func.__name__}")
                kwargs["device"] = "meta"
        return func(*args, **kwargs)


def test_the_mode_catches_an_implicit_device():
    """The check itself can fail: a factory without device= in mfv_utils code is caught, and
    mixing its tensor with the model's raises."""
    mode = ImplicitDeviceIsMeta()
    with mode:
        made = param.freq_scale(8, 8, 1.0)  # device defaults to "cpu" explicitly: fine
        assert made.device.type == "cpu" and not mode.caught
        ns = {"__name__": "mfv_utils.fake", "torch": torch}
        exec("t = torch.zeros(3)", ns)  # what a forgotten device= looks like
    assert ns["t"].device.type == "meta" and mode.caught == ["mfv_utils.fake:1 zeros"]
    with pytest.raises((RuntimeError, NotImplementedError)):
        (torch.ones(3) + ns["t"]).numpy()


def test_optimization_metrics_and_codes_stay_on_the_models_device(lite0, bell_pepper):
    """Every method family (Fourier + anchors, MACO, the paper's pixel schedule with TV), a hidden
    unit through receptive.Placed, the fidelity measures, class evidence and cached codes run with
    no tensor created off the model's device, and hand back CPU results."""
    found = facets.reference_facets(np.zeros((150, 2)), bell_pepper.labels)
    means = found.mean_images(bell_pepper.images)[:3]
    labels = found.labels
    codes = metrics.unit_rows(facets.layer_codes(lite0, bell_pepper.images))
    cents = torch.tensor(metrics.cluster_centroids(codes, labels, 10)[:3], dtype=torch.float32)
    mags = torch.stack([param.mean_magnitude(torch.nn.functional.interpolate(
        bell_pepper.images[labels == j].float(), size=(224, 224))) for j in range(3)])
    real = [bell_pepper.images[labels == j].float() for j in range(3)]
    unit = models.Unit("logits", 945)
    mode = ImplicitDeviceIsMeta()
    with mode:
        runs = [methods.run(methods.smoke(methods.METHODS[name], 2), lite0, unit, means, centroids=cents,
                            magnitudes=mags, real=real, progress=False) for name in ("facet", "anchored", "maco")]
        runs.append(methods.run(optimize.shorten(optimize.MEAN_INIT, 0.01), lite0, unit, means, progress=False))
        field = receptive.receptive_field(lite0, "block3")
        placed = receptive.Placed(lite0, field.visible_box())
        patches = receptive.crop_patches(bell_pepper.images[:3], field.visible_box(), lite0.mean.flatten())
        runs.append(optimize.maximize(placed, models.Unit("block3", 5), patches,
                                      optimize.shorten(optimize.MEAN_INIT, 0.01), progress=False))
        # the figures' method on that hidden unit, anchored at its own layer (columns at its position)
        y, x = placed.unit(models.Unit("block3", 5)).y, placed.unit(models.Unit("block3", 5)).x
        with torch.no_grad():
            columns = placed(patches, "block3")[..., y, x]
        runs.append(methods.run(methods.smoke(methods.METHODS["facet"], 2), placed, models.Unit("block3", (5, 6, 7)),
                                patches, centroids=columns, real=[p[None] for p in patches], code_layer="block3",
                                progress=False))
        fid = metrics.fidelity(runs[0].images, means, bell_pepper.images[labels < 3], labels[labels < 3],
                               945, lite0, lite0)
        evidence = metrics.class_evidence(lite0, runs[0].images, 945)
        again = facets.layer_codes(lite0, runs[0].images)
    assert mode.caught == []
    for r in runs:
        assert r.images.device.type == "cpu" and np.isfinite(r.history).all()
    assert 0 <= fid["summary"]["facet_identity"] <= 1 and evidence.shape == (3, 7, 7)
    assert again.shape == (3, 1280)


def test_an_unavailable_device_is_a_one_line_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    for spec in ("cuda", "cuda:0"):
        with pytest.raises(ValueError, match=r"^device '.*' is not available: no CUDA GPU is visible") as e:
            models.resolve_device(spec)
        assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="unknown device 'gpu0'"):
        models.resolve_device("gpu0")
    assert models.resolve_device("auto") == torch.device("cpu") == models.resolve_device(None)
