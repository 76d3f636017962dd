"""The speed levers of mfv_utils.networks.frozen: what they rewrite, and that the network computes the same."""
import dataclasses
import warnings

import pytest
import torch
import torch.nn as nn

from mfv_utils.networks import frozen, models
from mfv_utils.optimization import optimize
from mfv_utils.networks.models import Model, Unit


@pytest.fixture(scope="module")
def eager():
    return models.load_model(levers=frozen.EAGER)


def test_levers_rewrite_every_batchnorm_padding_and_activation(lite0, eager):
    """The default Lite0 has no BatchNorm left (49 folded), no dynamically padded depthwise
    convolution (4 rewritten), and every ReLU6 that reads a plain convolution is fused into it
    (the stem's reads a padded dense convolution, left as it was: 1 of 33 stays)."""
    count = lambda m, kind: sum(isinstance(x, kind) for x in m.stages.modules())  # noqa: E731
    assert count(eager, nn.BatchNorm2d) == 49 and count(lite0, nn.BatchNorm2d) == 0
    same = lambda m: [x for x in m.stages.modules() if type(x).__name__ == "Conv2dSame"]  # noqa: E731
    assert sum(x.groups > 1 for x in same(eager)) == 4 and sum(x.groups > 1 for x in same(lite0)) == 0
    assert count(lite0, frozen.ZeroLeadConv2d) == 4
    assert count(lite0, frozen.ConvAct) == 32
    loose = [x for x in lite0.stages.modules() if isinstance(x, nn.ReLU6)
             and not any(x is c.act for c in lite0.stages.modules() if isinstance(c, frozen.ConvAct))]
    assert len(loose) == 1 and not loose[0].inplace
    assert lite0.levers == frozen.DEFAULT and eager.levers == frozen.EAGER
    assert lite0.numerics == f"{frozen.DEFAULT.tag}@cpu" and eager.numerics == "eager@cpu"


def test_folded_logits_match_the_eager_network_on_real_images(lite0, eager, bell_pepper):
    """The issue's bar: logits within 1e-4 (relative to the largest) on the 150 real bell-pepper
    images. Measured: 8e-7; the rewrite is exact algebra, only float rounding differs."""
    with torch.no_grad():
        a, b = eager(bell_pepper.images), lite0(bell_pepper.images)
    assert float((a - b).abs().max() / a.abs().max()) < 1e-4
    assert torch.equal(a.argmax(1), b.argmax(1))


def test_input_gradients_match_the_eager_network(lite0, eager, bell_pepper):
    """The optimization's signal: the gradient of the bell-pepper logit with respect to the
    pixels of 10 real images. Measured: 3e-3 relative (L2), from ReLU6 clamps at a rounding
    boundary flipping; the bar sits 7x above it and far below a wrong rewrite (a shifted kernel
    gives ~1)."""
    x = bell_pepper.images[::15].float()
    grads = []
    for net in (eager, lite0):
        c = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(optimize.objective(net, c, Unit("logits", 945)).sum(), c)
        grads.append(g)
    assert float((grads[0] - grads[1]).norm() / grads[0].norm()) < 2e-2


def test_each_lever_alone_keeps_the_logits(eager, bell_pepper):
    """Every lever on its own (and fusion after folding, which it needs on Lite0) passes
    frozen.apply's own check and stays within 1e-4 of the eager network."""
    x = bell_pepper.images[:20]
    with torch.no_grad():
        ref = eager(x)
    for levers in (frozen.Levers(True, False, False, False), frozen.Levers(False, True, False, False),
                   frozen.Levers(True, False, True, False)):
        net = models.load_model(levers=levers)
        with torch.no_grad():
            out = net(x)
        assert float((out - ref).abs().max() / ref.abs().max()) < 1e-4, levers


def test_alexnet_convolutions_fuse_with_their_relu(tmp_path):
    """AlexNet (random weights saved to disk; no BatchNorm, symmetric padding): the five
    convolutions fuse with their in-place ReLUs, fc6/fc7's ReLUs become out-of-place, logits
    and input gradients stay the same as the eager network's."""
    import torchvision

    torch.manual_seed(0)
    path = tmp_path / "alexnet.pth"
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), path)
    fast = models.load_model("alexnet", path)
    plain = models.load_model("alexnet", path, levers=frozen.EAGER)
    assert sum(isinstance(m, frozen.ConvAct) for m in fast.stages.modules()) == 5
    assert not any(getattr(m, "inplace", False) for m in fast.stages.modules())
    x = torch.rand(3, 3, 227, 227, generator=torch.Generator().manual_seed(1)) * 255
    grads, outs = [], []
    for net in (plain, fast):
        c = x.clone().requires_grad_(True)
        out = net(c, "fc8")
        (g,) = torch.autograd.grad(out[:, 3].sum(), c)
        grads.append(g)
        outs.append(out.detach())
    assert float((outs[0] - outs[1]).abs().max() / outs[0].abs().max()) < 1e-4
    assert float((grads[0] - grads[1]).norm() / grads[0].norm()) < 1e-3


class _Branch(nn.Module):
    """A convolution whose output feeds its BatchNorm *and* a skip: folding would change the skip."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        with torch.no_grad():
            self.bn.running_mean.fill_(5.0)
            self.bn.running_var.fill_(9.0)

    def forward(self, x):
        y = self.conv(x)
        return self.bn(y) + y


def test_apply_refuses_a_rewrite_that_changes_the_outputs():
    """frozen.apply checks the rewritten model against the original and says so in one line,
    leaving the model as it was."""
    stages = {"block": _Branch(), "pool": nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())}
    model = Model("toy", stages, 32, torch.full((3,), 127.0), torch.full((3,), 128.0), code_layer="pool")
    with pytest.raises(RuntimeError, match=r"changed toy's logits by .* load it with levers=frozen.EAGER"):
        frozen.apply(model, dataclasses.replace(frozen.DEFAULT, keep_freed_memory=False))
    assert isinstance(model.stages["block"].bn, nn.BatchNorm2d)  # restored


@pytest.fixture
def fresh_probe():
    """frozen.fused_conv_works is probed once per process: cleared before and after a test."""
    frozen.fused_conv_works.cache_clear()
    yield
    frozen.fused_conv_works.cache_clear()


def test_the_private_fused_op_is_probed_and_agrees_here(fresh_probe):
    """torch.ops.mkldnn._convolution_pointwise exists in the locked torch and matches the plain path."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", frozen.LeverOffWarning)
        assert frozen.fused_conv_works()


def test_a_missing_fused_op_leaves_the_lever_off_with_one_warning(fresh_probe, monkeypatch, eager, bell_pepper):
    """A torch without the private op: the model is built anyway, without ConvAct, its logits those
    of the eager network, and one one-line warning says why."""
    monkeypatch.setattr(frozen, "FUSED_OP", ("mkldnn", "_no_such_convolution"))
    with pytest.warns(frozen.LeverOffWarning) as caught:
        net = models.load_model()
    assert len(caught) == 1
    text = str(caught[0].message)
    assert "\n" not in text and "fuse_activation stays off" in text and "_no_such_convolution" in text
    assert not any(isinstance(m, frozen.ConvAct) for m in net.stages.modules())
    with torch.no_grad():
        a, b = eager(bell_pepper.images), net(bell_pepper.images)
    assert float((a - b).abs().max() / a.abs().max()) < 1e-4


def test_a_fused_op_with_wrong_gradients_is_refused(fresh_probe, monkeypatch):
    """An op that exists but whose input gradient disagrees with the plain path stays unused."""
    real = frozen._ConvActFunction.backward

    def off(ctx, grad):
        gx, *rest = real(ctx, grad)
        return (gx * 1.01, *rest)

    monkeypatch.setattr(frozen._ConvActFunction, "backward", staticmethod(off))
    with pytest.warns(frozen.LeverOffWarning, match="input gradient differs"):
        assert not frozen.fused_conv_works()
