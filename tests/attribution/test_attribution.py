"""Attribution by zennit (mfv_utils.attribution) on the real Lite0 and on AlexNet with random
weights saved to disk: the canonical form changes no output and is undone exactly, every module
that mixes values has a rule, LRP conserves relevance, DeconvNet is not the gradient, LRP's
regions beat a random order, and every misuse is a one-line error. The speed-ups are checked
against zennit as shipped: the one-node attachment gives its maps bit for bit, the stabilizer
and the fused quotient kernel its arithmetic bit for bit, the stacked rules its z+ and ZBox."""
import copy

import numpy as np
import pytest
import torch
import torchvision

from mfv_utils import attribution
from mfv_utils.networks import frozen, models
from mfv_utils.attribution import lrp_kernel, regions
from mfv_utils.data import load_image_set
from mfv_utils.networks.models import Unit, unit_activation


@pytest.fixture(scope="module")
def plain():
    return models.load_model("efficientnet_lite0", levers=frozen.EAGER, device="cpu")


@pytest.fixture(scope="module")
def attr_model():
    """Lite0 with the speed levers attribution may carry (notebook 05's network)."""
    return models.load_model("efficientnet_lite0", levers=attribution.LEVERS, device="cpu")


@pytest.fixture(scope="module")
def alexnet(tmp_path_factory):
    path = tmp_path_factory.mktemp("alexnet") / "alexnet_random.pth"
    torch.manual_seed(0)
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), path)
    return models.load_model("alexnet", path, levers=frozen.EAGER, device="cpu")


def _double(model):
    m = copy.deepcopy(model).double()
    return m


def _logits64(model, x):
    with torch.no_grad():
        return model(x)


@pytest.mark.parametrize("name", ["lite0", "alexnet"])
def test_canonical_form_keeps_outputs_and_is_undone_exactly(name, plain, alexnet, bell_pepper):
    """float64: the canonized model's logits equal the original's within 1e-6 relative (measured
    1e-15 on Lite0, 0 on AlexNet: the BatchNorm merge is exact up to rounding); afterwards every parameter and
    buffer is bitwise what it was, and no canonizer attribute is left on any module."""
    model = _double(plain if name == "lite0" else alexnet)
    x = bell_pepper.images[:4].double()
    before_state = {k: v.clone() for k, v in model.state_dict().items()}
    before_attrs = {n: dict(m.__dict__) for n, m in model.named_modules()}
    ref = _logits64(model, x)
    comp = attribution.composite("lrp", model)
    handles = attribution.canonizer(model).apply(model.stages)
    try:
        if name == "lite0":  # all 49 BatchNorms merged (zennit's leaf-walking merge finds 1), 9 residual sums
            assert len([h for h in handles if isinstance(h, attribution.TracedMergeBatchNorm)]) == 49
            assert sum(1 for m in model.modules() if type(m).__name__ == "Sum") == 9
        assert not any(getattr(m, "inplace", False) for m in model.modules())
        out = _logits64(model, x)
    finally:
        for h in handles:
            h.remove()
    moved = float((out - ref).abs().max() / ref.abs().max())
    assert moved < 1e-6, moved
    after_state = model.state_dict()
    assert before_state.keys() == after_state.keys()
    for k, v in before_state.items():
        assert torch.equal(v, after_state[k]), k
    assert {n: dict(m.__dict__) for n, m in model.named_modules()}.keys() == before_attrs.keys()
    for n, m in model.named_modules():
        assert m.__dict__.get("inplace") == before_attrs[n].get("inplace")
        assert m.__dict__.get("has_skip") == before_attrs[n].get("has_skip")
        assert "forward" not in m.__dict__ and "canonizer_sum" not in m._modules
    assert torch.equal(_logits64(model, x), ref)
    del comp


@pytest.mark.parametrize("name", ["lite0", "alexnet"])
@pytest.mark.parametrize("method", ["lrp", "deconv"])
def test_every_module_that_mixes_values_has_a_rule(name, method, plain, alexnet):
    model = plain if name == "lite0" else alexnet
    comp = attribution.composite(method, model)
    with comp.context(model.stages):
        assert attribution.uncovered(model, comp, method) == {}
        rules = attribution.rules(model, comp)
    acts = [n for n, m in model.stages.named_modules() if isinstance(m, (torch.nn.ReLU, torch.nn.ReLU6))]
    assert acts and all(n in rules for n in acts)
    if method == "deconv":  # ReLU6 included: zennit's DeconvNet alone maps only nn.ReLU
        assert {rules[n] for n in acts} == {"ReLUDeconvNet"}
    else:
        convs = [n for n, m in model.stages.named_modules() if isinstance(m, torch.nn.Conv2d)]
        assert all(n in rules for n in convs)
        assert rules[convs[0]] == "StackedZBox" and {rules[n] for n in convs[1:]} == {"NonNegativeZPlus"}


@pytest.mark.parametrize("name,layer", [("lite0", "logits"), ("lite0", "pool"), ("lite0-levers", "logits"),
                                        ("alexnet", "fc7")])
def test_lrp_conserves_relevance_with_biases_zeroed(name, layer, plain, attr_model, alexnet, bell_pepper):
    """With every bias (and BatchNorm shift) zeroed, the input relevance sums to the unit's
    activation: measured within 2e-3 relative on Lite0 (the epsilon / stabilizers absorb a
    little); tolerance 1e-2."""
    model = copy.deepcopy({"lite0": plain, "lite0-levers": attr_model, "alexnet": alexnet}[name])
    for m in model.modules():
        if isinstance(getattr(m, "bias", None), torch.nn.Parameter):
            m.bias.data.zero_()
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.zero_()
    x = bell_pepper.images[:6]
    with torch.no_grad():
        act = model(x, layer)
    channel = int(act.mean(0).argmax())  # a unit these images drive
    unit = Unit(layer, channel)
    relevance = attribution.attribute(model, x, unit, "lrp").sum((1, 2, 3))
    target = unit_activation(act, unit)
    assert (target > 0).all()
    np.testing.assert_allclose(relevance.numpy(), target.numpy(), rtol=1e-2)


def test_deconv_is_not_the_gradient_and_ignores_the_image_without_max_pooling(plain, alexnet, bell_pepper):
    """DeconvNet differs from the plain gradient (cosine of the maps measured below 0.01 on 3 images, bound 0.5);
    on Lite0, which has no max pooling, its map is the same for every image (the backward pass
    never reads the input); on AlexNet the max-pooling switches make it differ per image."""
    x = bell_pepper.images[:3]
    unit = Unit("logits", 945)
    deconv = attribution.attribute(plain, x, unit, "deconv").flatten(1)
    grad = attribution.attribute(plain, x, unit, "gradient").flatten(1)
    cos = torch.nn.functional.cosine_similarity(deconv, grad, dim=1)
    assert (cos.abs() < 0.5).all(), cos
    assert torch.allclose(deconv[0], deconv[1], rtol=1e-4, atol=1e-6)
    a = attribution.attribute(alexnet, x, Unit("fc8", 945), "deconv").flatten(1)
    assert not torch.allclose(a[0], a[1], rtol=1e-3, atol=1e-6)


def test_lrp_order_removes_the_evidence_faster_than_a_random_order(lite0, plain):
    """Region perturbation on the bell-pepper unit's own top image: AOPC of the LRP order is
    above the random order's (measured LRP 5.3-6.0 vs random 1.9-4.1 over 3 noise seeds x 6 random
    orders, the same with 1 and 2 threads; the test takes the best of 3 random orders)."""
    images = load_image_set("paper:bell_pepper", size=224).images  # the perturbation runs at the input size
    with torch.no_grad():
        top = int(lite0(images)[:, 945].argmax())
    x = images[top:top + 1]
    unit = Unit("logits", 945)
    heat = attribution.heat(attribution.attribute(plain, x, unit, "lrp"), "lrp")
    lrp = regions.aopc(regions.perturbation_curve(lite0, x, unit, regions.most_relevant_first(heat, 16), 16, 20))
    rand = [regions.aopc(regions.perturbation_curve(lite0, x, unit, regions.random_order(1, 196, s), 16, 20))
            for s in range(3)]
    print("AOPC lrp", lrp, "random", rand)
    assert lrp[0] > max(r[0] for r in rand)


def test_misuse_is_a_one_line_error(lite0, plain, bell_pepper):
    x = bell_pepper.images[:1]
    cases = [
        (lambda: attribution.attribute(plain, x, Unit("pool", 5000), "lrp"), "out of range"),
        (lambda: attribution.attribute(plain, x, Unit("fc6", 0), "lrp"), "unknown layer"),
        (lambda: attribution.attribute(plain, x, Unit("pool", 0), "smoothgrad"), "unknown attribution method"),
        # the speed levers fuse convolutions with their activation: no rule could see them
        (lambda: attribution.attribute(lite0, x, Unit("pool", 0), "lrp"), "zennit cannot attribute"),
    ]
    for call, words in cases:
        with pytest.raises(ValueError) as err:
            call()
        assert words in str(err.value) and "\n" not in str(err.value), str(err.value)
    # a refused model is left as it was
    with torch.no_grad():
        assert torch.isfinite(lite0(x)).all()


@pytest.mark.parametrize("name", ["lite0", "lite0-levers", "alexnet"])
def test_our_rules_give_zennits_z_plus_and_zbox_relevance(name, plain, attr_model, alexnet, bell_pepper):
    """NonNegativeZPlus (z+'s second pass skipped where it is exactly zero, or both passes as one
    stacked convolution), StackedZBox (ZBox's three passes as one), the one-node attachment, the
    stabilizer and the fused quotient kernel together: the maps of zennit's own EpsilonGammaBox
    with ZPlus, as shipped, up to float rounding (measured 1.4-2.5e-7 of the largest entry; bound
    1e-6 of it plus 1e-4 relative)."""
    from zennit.composites import EpsilonGammaBox
    from zennit.rules import ZPlus
    from zennit.types import Convolution

    model = {"lite0": plain, "lite0-levers": attr_model, "alexnet": alexnet}[name]
    x, unit = bell_pepper.images[:2], model.unit(Unit("fc8" if name == "alexnet" else "logits", 945))
    ours = attribution.attribute(model, x, unit, "lrp")
    low, high = attribution.bounds(model)
    theirs_comp = EpsilonGammaBox(layer_map=[(Convolution, ZPlus())], low=low, high=high,
                                  canonizers=[attribution.canonizer(model)])
    with theirs_comp.context(model.stages):
        theirs = attribution.maps._maps(model, x, unit, relevance=True).cpu()
    assert torch.allclose(ours, theirs, rtol=1e-4, atol=1e-6 * float(theirs.abs().max()))


@pytest.mark.parametrize("name", ["lite0-levers", "alexnet"])
@pytest.mark.parametrize("method", ["lrp", "deconv"])
def test_one_node_attachment_gives_zennits_attachment_bit_for_bit(name, method, attr_model, alexnet, bell_pepper):
    """attributing() attaches each rule by one autograd node (SingleNode: no module graph, no
    ordinary gradient thrown away, no clones); zennit's own attachment of the same composite
    gives the same maps, bit for bit."""
    model = attr_model if name == "lite0-levers" else alexnet
    x, unit = bell_pepper.images[:2], model.unit(Unit("fc8" if name == "alexnet" else "logits", 945))
    with attribution.composite(method, model).context(model.stages):
        stock = attribution.maps._maps(model, x, unit, relevance=method == "lrp").cpu()
    with attribution.attributing(model, method) as run:
        hooks = [getattr(h, "__self__", None) for m in model.stages.modules() for h in m._forward_pre_hooks.values()]
        assert any(isinstance(h, attribution.SingleNode) for h in hooks)  # attributing attaches by one node
        ours = run(x, unit).cpu()
    assert torch.equal(ours, stock)


def test_an_input_changed_in_place_after_its_layer_ran_is_a_one_line_error():
    """zennit clones every input in case a later operation changes it; the one-node attachment
    does not, and refuses instead of attributing from changed values."""
    from zennit.composites import EpsilonPlus

    class Changes(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3)

        def forward(self, x):
            y = self.conv(x)
            x.mul_(2)  # the convolution's input, after the convolution read it
            return y.sum()

    net = Changes()
    x = torch.rand(1, 3, 8, 8, requires_grad=True) * 1
    with attribution.single_node(EpsilonPlus()).context(net):
        out = net(x)
        with pytest.raises(RuntimeError) as err:
            out.backward()
    assert "changed in place" in str(err.value) and "\n" not in str(err.value)


def test_a_module_called_twice_gets_each_calls_own_input_back():
    """A layer used twice in one forward pass: each call's node carries its own stored input, so
    the epsilon rule's relevance equals the hand-computed one (within 1e-6; zennit's own attachment
    keeps only the last call's input: 0.14 off here). A module returning a tuple is refused."""
    from zennit.composites import EpsilonPlus
    from zennit.core import stabilize

    class Twice(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(8, 8, bias=False)

        def forward(self, x):
            return self.lin(torch.relu(self.lin(x)))[:, 0]

    torch.manual_seed(0)
    net, x = Twice(), torch.rand(3, 8)
    w = net.lin.weight.detach()
    a1 = x @ w.T
    h1 = torch.relu(a1)
    a2 = h1 @ w.T
    r2 = torch.zeros_like(a2)
    r2[:, 0] = a2[:, 0]
    want = x * ((h1 * ((r2 / stabilize(a2)) @ w) / stabilize(a1)) @ w)
    h = x.clone().requires_grad_()
    with attribution.single_node(EpsilonPlus()).context(net):
        y = net(h)
        (got,) = torch.autograd.grad(y, h, y.detach())
    assert torch.allclose(got, want, rtol=1e-6, atol=1e-9)

    class Pair(torch.nn.Linear):
        def forward(self, x):
            return super().forward(x), x

    with attribution.single_node(EpsilonPlus()).context(Pair(8, 8)) as pair:
        with pytest.raises(TypeError) as err:
            pair(x.clone().requires_grad_())
    assert "returns a tuple" in str(err.value) and "\n" not in str(err.value)


def _bits(t):
    return t.view(torch.int32 if t.dtype == torch.float32 else torch.int64)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_stabilizer_is_zennits_bit_for_bit(dtype):
    """z + eps where z >= 0 (-0 included), z - eps elsewhere: the same bits as zennit's."""
    from zennit.core import stabilize

    z = torch.tensor([0.0, -0.0, 1e-7, -1e-7, 1e-6, -1e-6, 5e-7, -5e-7, 3.0, -3.0, 1e30, -1e-40], dtype=dtype)
    z = torch.cat([z, torch.randn(10_000, generator=torch.Generator().manual_seed(0), dtype=dtype)])
    assert torch.equal(_bits(attribution.stabilize(z.clone())), _bits(stabilize(z)))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("threads", [1, 3])
def test_the_fused_quotient_kernel_is_torchs_arithmetic_bit_for_bit(dtype, layout, threads):
    """lrp_kernel.quotient_ writes grad / stabilize(z) over z in one pass, in slices on threads:
    the same bits as torch's; a pair of tensors that do not share one layout is refused (None)
    and left unwritten."""
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(4, 25, 43, 47, generator=gen, dtype=dtype)  # 202,100 values: 3 uneven slices on 3 threads
    z[0, 0, 0, :6] = torch.tensor([0.0, -0.0, 1e-7, -1e-7, 1e-6, -1e-6], dtype=dtype)
    z, grad = (t.contiguous(memory_format=layout) for t in (z, torch.randn(z.shape, generator=gen, dtype=dtype)))
    want = grad / attribution.stabilize(z.clone())
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        got = lrp_kernel.quotient_(grad, z.clone(), 1e-6)
    finally:
        torch.set_num_threads(before)
    assert got is not None and torch.equal(_bits(got), _bits(want))
    other = grad.contiguous(memory_format=torch.channels_last if layout == torch.contiguous_format
                            else torch.contiguous_format)
    kept = z.clone()
    assert lrp_kernel.quotient_(other, kept, 1e-6) is None and torch.equal(_bits(kept), _bits(z))


def test_the_attribution_levers_give_the_plain_graphs_maps(plain, attr_model, bell_pepper):
    """notebook 05 attributes on attribution.LEVERS (BatchNorms folded, static padding): LRP and
    Deconv maps within 1e-4 of the plain module graph's largest entry (measured 3e-6), the
    gradient within 3e-2 (measured 3e-3: rounding moves a few ReLU6 gates at 0 and 6)."""
    x, unit = bell_pepper.images[:3], Unit("logits", 945)
    for method, tol in [("lrp", 1e-4), ("deconv", 1e-4), ("gradient", 3e-2)]:
        a = attribution.attribute(plain, x, unit, method)
        b = attribution.attribute(attr_model, x, unit, method)
        assert float((a - b).abs().max() / a.abs().max()) < tol, method


def _toy(stages: dict, size: int = 16) -> models.Model:
    """A small frozen models.Model from ``stages`` (mean 0, std 1: the input stays 0..255)."""
    torch.manual_seed(0)
    return models.Model("toy", stages, size, torch.zeros(3), torch.ones(3), code_layer=list(stages)[0])


class _Head(torch.nn.Sequential):
    def __init__(self, channels: int):
        super().__init__(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(channels, 4))


def test_stacked_passes_only_for_convolutions_that_use_their_weight_as_is(bell_pepper):
    """timm's StdConv2d standardizes its weight in its forward: stacking [W+, W-] would standardize
    the two together (a map 100 % off). Such convolutions run zennit's own passes: our rules give
    zennit's ZPlus / ZBox maps on a StdConv2d net as on a plain one (float rounding apart)."""
    from timm.layers import StdConv2d
    from zennit.composites import EpsilonGammaBox
    from zennit.rules import ZPlus
    from zennit.types import Convolution

    for conv in (torch.nn.Conv2d, StdConv2d):
        model = _toy({"body": torch.nn.Sequential(conv(3, 8, 3), conv(8, 8, 3), torch.nn.ReLU(), conv(8, 8, 3)),
                      "logits": _Head(8)})
        x, unit = bell_pepper.images[:2], model.unit(Unit("logits", 1))
        assert attribution.lrp_rules._plain_conv(model.stages["body"][1]) == (conv is torch.nn.Conv2d)
        ours = attribution.attribute(model, x, unit, "lrp")
        low, high = attribution.bounds(model)
        with EpsilonGammaBox(layer_map=[(Convolution, ZPlus())], low=low, high=high).context(model.stages):
            theirs = attribution.maps._maps(model, x, unit, relevance=True)
        assert torch.allclose(ours, theirs, rtol=1e-4, atol=1e-6 * float(theirs.abs().max())), conv.__name__


def test_a_convolution_fed_by_a_relu_on_only_one_of_its_calls_keeps_z_plus_second_pass(bell_pepper):
    """relu_fed lists a convolution only if every call reads a ReLU's output: one called on a
    signed input and then on a ReLU's output is left out, so its first call keeps z+'s second
    pass (the same map as with no traced set at all, where each call checks its input)."""

    class Shared(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.stem, self.conv = torch.nn.Conv2d(3, 6, 3, padding=1), torch.nn.Conv2d(6, 6, 3, padding=1)
            self.relu = torch.nn.ReLU()

        def forward(self, x):
            return self.conv(self.relu(self.conv(self.stem(x))))

    model = _toy({"body": Shared(), "logits": _Head(6)})
    body = model.stages["body"]
    fed = attribution.relu_fed(model)
    assert id(body.conv) not in fed
    with torch.no_grad():
        assert body.stem(model.preprocess(bell_pepper.images[:2])).min() < 0  # the first call's input is signed
    x, unit = bell_pepper.images[:2], model.unit(Unit("logits", 0))
    ours = attribution.attribute(model, x, unit, "lrp")
    low, high = attribution.bounds(model)
    from zennit.composites import EpsilonGammaBox
    from zennit.types import Convolution
    untraced = EpsilonGammaBox(layer_map=[(Convolution, attribution.NonNegativeZPlus())],
                               first_map=[(Convolution, attribution.StackedZBox(low, high))], low=low, high=high,
                               epsilon=attribution.stabilize, stabilizer=attribution.stabilize)
    with attribution.single_node(untraced).context(model.stages):
        want = attribution.maps._maps(model, x, unit, relevance=True)
    assert torch.equal(ours, want)
    # a convolution every call of which reads a ReLU is listed
    relu_only = _toy({"body": torch.nn.Sequential(torch.nn.Conv2d(3, 6, 3), torch.nn.ReLU(), torch.nn.Conv2d(6, 6, 3)),
                      "logits": _Head(6)})
    assert attribution.relu_fed(relu_only) == {id(relu_only.stages["body"][2])}


def test_an_in_place_residual_add_after_a_rule_still_runs_and_rules_zennit_keeps_stay_zennits(bell_pepper):
    """torchvision's blocks add the shortcut in place onto a rule's output (``out += identity``):
    the node's output is not a view, so that works and gives zennit's map bit for bit. A rule
    that reads the module's own gradient (guided backprop's) keeps zennit's attachment."""
    from zennit.composites import EpsilonPlus, GuidedBackprop

    class Residual(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.stem, self.conv = torch.nn.Conv2d(3, 6, 3, padding=1), torch.nn.Conv2d(6, 6, 3, padding=1)
            self.relu1, self.relu2 = torch.nn.ReLU(), torch.nn.ReLU()

        def forward(self, x):
            x = self.relu1(self.stem(x))
            out = self.conv(x)
            out += x
            return self.relu2(out)

    model = _toy({"body": Residual(), "logits": _Head(6)})
    x, unit = bell_pepper.images[:2], model.unit(Unit("logits", 0))
    for comp in (EpsilonPlus, GuidedBackprop):
        with comp().context(model.stages):
            stock = attribution.maps._maps(model, x, unit, relevance=True)
        with attribution.single_node(comp()).context(model.stages):
            ours = attribution.maps._maps(model, x, unit, relevance=True)
        assert torch.equal(ours, stock), comp.__name__


def test_a_differentiable_backward_and_a_module_changing_its_own_input_are_one_line_errors():
    from zennit.composites import EpsilonPlus

    net = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU(inplace=True), torch.nn.Linear(8, 1))
    x = torch.rand(2, 8, requires_grad=True)
    with attribution.single_node(EpsilonPlus()).context(net):
        with pytest.raises(RuntimeError) as err:  # the ReLU (Pass rule) clamps its own input in place
            net(x)
    assert "changed its input in place" in str(err.value) and "\n" not in str(err.value)
    net[1].inplace = False
    with attribution.single_node(EpsilonPlus()).context(net):
        y = net(x).sum()
        with pytest.raises(RuntimeError) as err:
            torch.autograd.grad(y, x, create_graph=True)
    assert "differentiable" in str(err.value) and "\n" not in str(err.value)
