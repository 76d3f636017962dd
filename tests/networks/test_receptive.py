"""Receptive fields from the architecture, patches at the border, and the model seen through
a window (Placed): checked against known AlexNet values and against the networks themselves."""
import numpy as np
import pytest
import torch
import torchvision

from mfv_utils import facets
from mfv_utils.evaluation import metrics
from mfv_utils.networks.models import Unit, load_model, unit_activation
from mfv_utils.networks.receptive import Placed, crop_patches, receptive_field


@pytest.fixture(scope="module")
def alexnet(tmp_path_factory):
    """torchvision's AlexNet architecture with a random state dict saved to disk (offline)."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("alexnet") / "random.pth"
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), path)
    return load_model("alexnet", weights=path)


def test_alexnet_fields_match_the_known_values(alexnet):
    """The classic AlexNet receptive fields at 227 px: conv1 11 (stride 4), conv2 51, conv3 99,
    conv4 131, conv5 163 (stride 16); fc6-fc8 see the whole image."""
    got = {layer: receptive_field(alexnet, layer) for layer in alexnet.layers}
    assert [got[f"conv{i}"].size for i in range(1, 6)] == [11, 51, 99, 131, 163]
    assert [got[f"conv{i}"].jump for i in range(1, 6)] == [4, 8, 16, 16, 16]
    assert [got[f"conv{i}"].map_size for i in range(1, 6)] == [56, 27, 13, 13, 13]
    assert all(got[f].is_global and got[f].box() == (0, 0, 227) for f in ("fc6", "fc7", "fc8"))
    assert got["conv1"].start == -2 and got["conv1"].box(0, 0) == (-2, -2, 11)  # padding 2


@pytest.mark.parametrize("layer", ["block1", "block2", "block3"])
def test_lite0_fields_are_exactly_where_the_gradient_reaches(lite0, layer):
    """The input gradient of a unit (summed over a few random images, so no ReLU6 path is
    dead in all of them) is non-zero exactly on its computed field, TF 'same' padding included,
    at the center and at a corner unit."""
    field = receptive_field(lite0, layer)
    torch.manual_seed(0)
    for pos in [(None, None), (0, field.map_size - 1)]:
        y, x = (field.map_size // 2 if p is None else p for p in pos)
        x_in = (torch.rand(4, 3, 224, 224) * 255).requires_grad_(True)
        act = lite0(x_in, layer)[:, :, y, x].sum()
        (g,) = torch.autograd.grad(act, x_in)
        rows = np.flatnonzero(g.abs().sum((0, 1, 3)).numpy() > 0)
        cols = np.flatnonzero(g.abs().sum((0, 1, 2)).numpy() > 0)
        top, left, side = field.box(y, x)
        assert (rows.min(), rows.max()) == (max(top, 0), min(top + side, 224) - 1), (layer, pos)
        assert (cols.min(), cols.max()) == (max(left, 0), min(left + side, 224) - 1), (layer, pos)


def test_patches_at_the_border_are_filled_with_the_mean_pixel():
    img = torch.arange(2 * 3 * 20 * 20, dtype=torch.float32).reshape(2, 3, 20, 20)
    fill = [1.0, 2.0, 3.0]
    inside = crop_patches(img, (4, 5, 6), fill)
    assert torch.equal(inside, img[..., 4:10, 5:11])
    corner = crop_patches(img, (-3, 16, 7), fill)  # 3 rows above the image, 3 columns past its right side
    assert corner.shape == (2, 3, 7, 7)
    assert torch.equal(corner[..., 3:, :4], img[..., 0:4, 16:20])
    for c, v in enumerate(fill):
        assert (corner[:, c, :3, :] == v).all() and (corner[:, c, :, 4:] == v).all()
    outside = crop_patches(img, (30, 30, 5), fill)
    assert (outside[:, 2] == 3.0).all()


def test_visible_box_holds_the_field_inside_the_image(lite0):
    """The drawn square: the field moved inside the image, never larger than the image."""
    for layer in ("block2", "block4", "block5", "head"):
        field = receptive_field(lite0, layer)
        for y, x in [(None, None), (0, 0), (field.map_size - 1, 0)]:
            top, left, side = field.box(y, x)
            vt, vl, vs = field.visible_box(y, x)
            assert vs == min(side, 224) and 0 <= vt <= 224 - vs and 0 <= vl <= 224 - vs
            assert vt <= max(top, 0) and min(top + side, 224) <= vt + vs
            assert vl <= max(left, 0) and min(left + side, 224) <= vl + vs


@pytest.mark.parametrize("layer,pos", [("block3", (None, None)), ("block3", (1, 26)), ("block4", (13, 0))])
def test_a_unit_sees_only_its_patch(lite0, bell_pepper, layer, pos):
    """A unit's activation on a whole image equals its activation through Placed on the image's
    patch of its field (the rest of the input neutral): the field is all it sees."""
    field = receptive_field(lite0, layer)
    y, x = (field.map_size // 2 if p is None else p for p in pos)
    img = torch.nn.functional.interpolate(bell_pepper.images[:3].float(), size=(224, 224), mode="bilinear",
                                          antialias=True, align_corners=False)
    box = field.box(y, x)
    patch = crop_patches(img, box, lite0.mean.flatten())
    unit = Unit(layer, 7, y, x)
    with torch.no_grad():
        whole = unit_activation(lite0(img, layer), unit)
        seen = unit_activation(Placed(lite0, box)(patch, layer), unit)
    assert torch.allclose(whole, seen, atol=1e-4 * whole.abs().max().item() + 1e-5)
    with torch.no_grad():  # and a unit next to it (one jump away) does see the rest of the image
        other = Unit(layer, 7, y, x - 4 if x >= 4 else x + 4)
        assert not torch.allclose(unit_activation(lite0(img, layer), other),
                                  unit_activation(Placed(lite0, box)(patch, layer), other), atol=1e-3)


def test_layer_columns_are_the_center_codes_and_are_cached(lite0, bell_pepper, tmp_path):
    imgs = bell_pepper.images[:6]
    cols = facets.layer_columns(lite0, imgs, ["block3", "pool"], batch_size=4, cache_dir=tmp_path, progress=False)
    with torch.no_grad():
        ref = lite0(imgs, "block3")[:, :, 14, 14]
    assert cols["block3"].shape == (6, 40) and np.allclose(cols["block3"], ref.numpy(), atol=1e-5)
    assert cols["pool"].shape == (6, 1280)
    assert len(list(tmp_path.glob("columns-*.npy"))) == 2
    again = facets.layer_columns(lite0, imgs, ["pool"], cache_dir=tmp_path, progress=False)
    assert np.array_equal(again["pool"], cols["pool"])


def test_top_indices_choose_k_and_class_entropy():
    a = np.array([0.1, 5.0, 3.0, 5.0, -1.0])
    assert facets.top_indices(a, 3).tolist() == [1, 3, 2]
    assert facets.top_indices(a, 0.4).tolist() == [1, 3]
    with pytest.raises(ValueError, match="top_n=9 selects 9 of 5"):
        facets.top_indices(a, 9)
    rng = np.random.default_rng(0)
    blobs = np.concatenate([rng.normal(c, 0.3, size=(30, 2)) for c in [(0, 0), (8, 0), (0, 8), (8, 8)]])
    k, scores = facets.choose_k(blobs, range(2, 8))
    assert k == 4 and set(scores) == set(range(2, 8))
    assert metrics.class_entropy(np.array([3, 3, 3, -1])) == 0.0
    assert metrics.class_entropy(np.array([1, 2, 3, 4])) == pytest.approx(2.0)


def test_field_map_sizes_match_the_network(lite0, alexnet):
    """The map size the walk computes is the layer's real output size (TF 'same' and plain padding)."""
    for net in (lite0, alexnet):
        x = torch.zeros(1, 3, net.input_size, net.input_size)
        for layer in net.layers:
            field, shape = receptive_field(net, layer), net(x, layer).shape
            assert field.map_size == (shape[-1] if len(shape) == 4 else 1), (net.name, layer)
    assert facets.map_position(28, 0.5) == 14 and facets.map_position(7, 1.0) == 6 and facets.map_position(7, 0) == 0
    with pytest.raises(ValueError, match="fraction of the map in 0..1"):
        facets.map_position(7, 1.5)


def test_a_residual_networks_field_follows_its_main_path():
    """ResNet-18's downsampling shortcuts run beside the main path: the fields are the published
    ones (99, 211, 435 px at layer2-4), and the map sizes those of the real layers."""
    import timm

    from mfv_utils.networks import any_model, receptive

    net = any_model.from_module(timm.create_model("resnet18", pretrained=False))
    fields = {layer: receptive.receptive_field(net, layer) for layer in ("layer2", "layer3", "layer4")}
    assert [(f.size, f.jump, f.map_size) for f in fields.values()] == [(99, 8, 28), (211, 16, 14), (435, 32, 7)]
