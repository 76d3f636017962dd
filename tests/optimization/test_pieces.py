"""The pieces the fidelity work added, each on inputs whose answer is known: the strict identity,
the goals as data, the colour projection, the sliced-Wasserstein colour term, the real-spectrum
prior, and anchors at a hidden unit's own layer."""
import numpy as np
import pytest
import torch

from mfv_utils.optimization import methods, objectives, param
from mfv_utils.evaluation import metrics
from mfv_utils.networks import models, receptive
from mfv_utils.optimization.objectives import ColourMatch


def test_strict_identity_asks_for_the_representative_not_the_centroid():
    """Cluster 0's representative (the member nearest its centroid) sits near cluster 1's
    centroid side: a facet shown between them is nearest centroid 0 but representative 1."""
    d = 8
    e = np.eye(d)
    real = np.stack([e[0] + 0.9 * e[1], e[0] + 0.1 * e[1], e[0] + 0.2 * e[1] + 0.5 * e[2],  # cluster 0
                     e[1] + 0.0 * e[0], e[1] + 0.05 * e[3], e[1] - 0.05 * e[3]])  # cluster 1
    labels = np.array([0, 0, 0, 1, 1, 1])
    reps = metrics.representatives(real, labels, 2)
    assert labels[reps].tolist() == [0, 1]
    facets = np.stack([e[0] + 0.05 * e[2], e[1]])
    assert metrics.facet_identity(facets, real, labels).tolist() == [True, True]
    assert metrics.facet_identity_strict(facets, real, labels).tolist() == [True, True]
    rep0 = metrics.unit_rows(real)[reps[0]]
    between = (rep0 + metrics.unit_rows(real)[reps[1]]) / 2 + 0.3 * e[1]  # nearer rep 1 than rep 0
    tricky = np.stack([between, e[1]])
    assert not metrics.facet_identity_strict(tricky, real, labels)[0]


def test_goals_are_data_with_counts_as_shares_of_k():
    s = {"k": 10, "facet_identity": 0.8, "facet_identity_strict": 0.6, "diversity_ratio": 0.71,
         "hf_ratio": 2.1, "color_distance": 0.55, "judge_top5": 9, "top1": 8}
    assert metrics.goals(s) == {"facet_identity": True, "facet_identity_strict": False, "diversity_ratio": True,
                                "hf_ratio": False, "color_distance": True, "judge_top5": True, "top1": False}


def test_colour_projection_gives_each_image_its_facets_colour_statistics(bell_pepper):
    real = [bell_pepper.images[:15], bell_pepper.images[75:90]]
    mean, std = param.colour_stats(real)
    assert mean.shape == std.shape == (2, 3) and (std > 0).all()
    par = param.ColourProjected(param.Fourier(1.2), mean, std)
    start = bell_pepper.images[[20, 100]].float()
    t = par.decorrelated(par.init(start), (227, 227))
    assert torch.allclose(t.mean(dim=(-2, -1)), mean, atol=1e-3)
    assert torch.allclose(t.std(dim=(-2, -1)), std, rtol=1e-3)
    img = par.image(par.init(start), (227, 227))
    assert img.shape == start.shape and 0 <= img.min() and img.max() <= 255


def test_sliced_wasserstein_is_small_for_the_facets_own_pixels_and_pulls_towards_them(bell_pepper):
    match = ColourMatch(1.0, directions=8, samples=2048)
    dirs = objectives.colour_directions(8)
    assert torch.allclose(dirs.norm(dim=0), torch.ones(8)) and torch.equal(dirs[:, :3], torch.eye(3))
    real = [bell_pepper.images[:15]]
    ref = objectives.colour_references(real, match, dirs)
    gen = torch.Generator().manual_seed(0)
    own = objectives.sliced_wasserstein(bell_pepper.images[3:4].float(), ref, dirs, gen)
    gray = objectives.sliced_wasserstein(torch.full((1, 3, 227, 227), 128.0), ref, dirs, gen)
    assert float(own) < 0.25 * float(gray)
    x = torch.full((1, 3, 64, 64), 128.0, requires_grad=True)
    opt = torch.optim.Adam([x], lr=5.0)
    for _ in range(60):
        loss = objectives.sliced_wasserstein(x, ref, dirs, gen).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(objectives.sliced_wasserstein(x.detach(), ref, dirs, gen)) < 0.5 * float(gray)


def test_real_spectrum_scale_keeps_the_step_size_of_the_decay_it_replaces(bell_pepper):
    real = [bell_pepper.images[:15], bell_pepper.images[75:90]]
    scale = param.real_scale(real, (224, 224), 1.2)
    assert scale.shape == (2, 3, 224, 113)
    ref = param.freq_scale(224, 224, 1.2)
    assert torch.allclose(scale.mean(dim=(-2, -1)), ref.mean().expand(2, 3), rtol=1e-4)
    # low frequencies dominate, as in any natural image: DC above the highest frequency by 10x
    assert (scale[..., 0, 0] > 10 * scale[..., 112, 112]).all()
    p = param.Fourier(1.2, scale)
    x = bell_pepper.images[:2].float()[..., :224, :224]
    assert (p.image(p.init(x), (224, 224)) - x.clamp(0.5, 254.5)).abs().max() < 0.05  # still invertible


def test_anchors_of_a_hidden_unit_live_in_its_columns(lite0, bell_pepper):
    """A block3 unit through its field: the anchors compare columns of block3 at the unit's
    position (not the whole map), and the centroid anchor pulls the column towards the facet's."""
    field = receptive.receptive_field(lite0, "block3")
    box = field.visible_box()
    placed = receptive.Placed(lite0, box)
    unit = placed.unit(models.Unit("block3", 7, *(field.map_size // 2,) * 2))
    patches = receptive.crop_patches(bell_pepper.images[:6].float(), box, lite0.mean.flatten())
    with torch.no_grad():
        cols = objectives.code(placed(patches, "block3"), (unit.y, unit.x))
    assert cols.shape == (6, 40)  # block3 has 40 channels
    target = torch.nn.functional.normalize(cols[3:6].mean(0, keepdim=True), dim=1).expand(2, -1)
    recipe = methods.smoke(methods.METHODS["anchored"], 12)
    res = methods.run(recipe, placed, unit, patches[:2], centroids=target, real=[patches[3:6]] * 2,
                      code_layer="block3", progress=False)
    with torch.no_grad():
        before = objectives.cosine(cols[:2], target)
        after = objectives.cosine(objectives.code(placed(res.images, "block3"), (unit.y, unit.x)), target)
    assert (after > before).all()
    with pytest.raises(ValueError, match=r"cannot serve unit block3:7: 1 facet centroids for 2 images"):
        methods.run(recipe, placed, unit, patches[:2], centroids=target[:1], code_layer="block3", progress=False)
    with pytest.raises(ValueError, match=r"cannot serve unit block3:7: a centroid anchor needs"):
        methods.run(recipe, placed, unit, patches[:2], code_layer="block3", progress=False)


def _green_on_white(green_share: float, green, white, n: int = 1, size: int = 64) -> torch.Tensor:
    """Green on the left ``green_share`` of the image, white on the rest, with a little structure."""
    img = torch.empty(n, 3, size, size)
    cut = int(size * green_share)
    img[:, :, :, :cut] = torch.tensor(green)[:, None, None]
    img[:, :, :, cut:] = torch.tensor(white)[:, None, None]
    return img + torch.linspace(-6, 6, size)[None, None, :, None]


def test_grey_projection_keeps_a_white_background_white_where_the_mean_colour_projection_tints_it():
    """Real images: a saturated green pepper filling 80 % of the frame on white. The start: a
    pale, washed-out half-and-half image (what a mean image is). 'project' matches each chroma
    channel's mean and sd, about the image's mean colour, so the background comes out tinted (a
    colour no real image has); 'grey' scales chroma about grey and the background stays grey."""
    real = [_green_on_white(0.8, [40.0, 170.0, 30.0], [250.0, 250.0, 250.0], n=4)]
    start = _green_on_white(0.5, [115.0, 167.0, 110.0], [193.0, 192.0, 192.0])
    mean, std = param.colour_stats(real)
    chroma = {}
    for name, par in {"project": param.ColourProjected(param.Fourier(1.2), mean, std),
                      "grey": param.ColourProjected(param.Fourier(1.2), mean, std, chroma=param.chroma_rms(real))}.items():
        back = par.image(par.init(start), (64, 64))[0, :, 8:-8, -16:-4].flatten(1)  # the white half
        chroma[name] = float((back.max(0).values - back.min(0).values).mean())
    assert chroma["grey"] < 5 and chroma["project"] > 15, chroma  # measured: 1 and 22
    assert param.chroma_rms(real).shape == (1, 2, 2)


def test_grey_projection_still_gives_the_image_its_facets_colours(bell_pepper):
    """The luminance keeps the facet's mean and spread, and each chroma channel's RMS offset
    from grey, on each side, is the real images' (what 'grey' matches instead of mean and sd)."""
    real = [bell_pepper.images[:15], bell_pepper.images[75:90]]
    mean, std = param.colour_stats(real)
    target = param.chroma_rms(real)
    par = param.ColourProjected(param.Fourier(1.2), mean, std, chroma=target)
    t = par.decorrelated(par.init(bell_pepper.images[[20, 100]].float()), (227, 227))
    assert torch.allclose(t[:, 0].mean(dim=(-2, -1)), mean[:, 0], atol=1e-3)
    assert torch.allclose(t[:, 0].std(dim=(-2, -1)), std[:, 0], rtol=1e-3)
    off = t[:, 1:] - param.GREY_CHROMA[None, :, None, None] * t[:, :1]
    assert torch.allclose(param.sided_rms(off, (-2, -1)), target, rtol=1e-3)


def test_foreign_colours_finds_a_violet_border_no_real_image_has(bell_pepper):
    """A real image scores near 0 against its own set (its rarest colours fall under the floor);
    the same image with a violet top edge 16 px deep (at 224 px) scores about that edge's share
    of the border band (a quarter)."""
    real = bell_pepper.images[:15].float()
    own = metrics.foreign_colours(real[3], real)
    framed = real[3].clone()
    w = round(16 * framed.shape[-1] / 224)
    framed[:, :w] = torch.tensor([200.0, 90.0, 230.0])[:, None, None]  # a violet top edge
    share = metrics.foreign_colours(framed, real)
    assert own < 0.05 and share > 0.2, (own, share)  # measured: 0.02 and 0.28
    assert metrics.border_band(10, 10, 2).sum() == 100 - 36 and metrics.border_band(6, 9, 1).sum() == 54 - 28
    with pytest.raises(ValueError, match="at least 1 px"):
        metrics.border_band(10, 10, 0)
