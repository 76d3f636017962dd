"""The pieces of notebook 04: the priors of earlier work, per-image targets, the center-biased
schedule and the evidence measures, each on constructed inputs whose answer is known."""
import numpy as np
import pytest
import torch

from mfv_utils.optimization import methods, optimize, priors
from mfv_utils.evaluation import metrics
from mfv_utils.networks import models


def test_decay_shrinks_the_distance_to_gray():
    x = torch.tensor([0.0, 127.5, 255.0]).view(1, 3, 1, 1)
    y = priors.decay(x, 0.1)
    assert torch.allclose(y.flatten(), torch.tensor([12.75, 127.5, 242.25]))


def test_gaussian_blur_keeps_constants_and_removes_fine_detail():
    flat = torch.full((1, 3, 32, 32), 80.0)
    assert torch.allclose(priors.gaussian_blur(flat, 1.5), flat)
    assert priors.gaussian_blur(flat, 0.0) is flat
    checker = ((torch.arange(64)[:, None] + torch.arange(64)[None, :]) % 2 * 255.0).expand(1, 3, 64, 64)
    blurred = priors.gaussian_blur(checker, 1.0)
    assert blurred.std() < 0.05 * checker.std()  # a 1-px checkerboard is nearly gone
    assert abs(blurred.mean() - checker.mean()) < 1.0


def test_alpha_norm_is_zero_at_gray_and_one_at_the_extremes():
    gray = torch.full((1, 3, 8, 8), priors.GRAY)
    ends = torch.zeros(1, 3, 8, 8)
    ends[..., ::2, :] = 255.0
    assert priors.alpha_norm(gray).item() == 0.0
    assert priors.alpha_norm(ends).item() == pytest.approx(1.0)


def test_tv_penalty_zero_when_flat_larger_for_finer_stripes():
    flat = torch.full((1, 3, 16, 16), 50.0)
    coarse = torch.zeros(1, 3, 16, 16)
    coarse[..., :, 8:] = 255.0  # one edge
    fine = torch.zeros(1, 3, 16, 16)
    fine[..., :, 1::2] = 255.0  # an edge between every column
    p = priors.tv_penalty(torch.cat([flat, coarse, fine]))
    assert p[0] < 1e-6 and p[1] < p[2]
    # differentiable: the gradient of the stripes' penalty is nonzero
    x = fine.clone().requires_grad_(True)
    priors.tv_penalty(x).sum().backward()
    assert x.grad.abs().sum() > 0


def test_center_share_and_count_peaks_on_constructed_maps():
    center = np.zeros((8, 8))
    center[3:5, 3:5] = 1.0
    uniform = np.ones((8, 8))
    two = np.zeros((9, 9))
    two[1, 1] = two[7, 7] = 1.0
    np.testing.assert_allclose(metrics.center_share(np.stack([center, uniform])), [1.0, 0.25])
    assert metrics.count_peaks(np.stack([center, uniform])).tolist() == [1, 1]
    assert metrics.count_peaks(two[None]).tolist() == [2]
    assert metrics.count_peaks(np.zeros((1, 5, 5))).tolist() == [0]
    # below-threshold bumps are not peaks; touching diagonals are one region
    bump = two.copy()
    bump[4, 1] = 0.4
    bump[6, 6] = 1.0
    assert metrics.count_peaks(bump[None], 0.5).tolist() == [2]


def test_class_evidence_averages_to_the_logit(lite0, bell_pepper):
    """The class activation map is exact for a pooled linear classifier: its mean over positions
    plus the bias is the logit (float32 rounding only)."""
    imgs = bell_pepper.images[:3].float()
    cam = metrics.class_evidence(lite0, imgs, 945, positive=False)
    logits = metrics.class_scores(lite0, imgs, 945)["logit"]
    bias = lite0.stages["logits"].bias[945].item()
    np.testing.assert_allclose(cam.mean((1, 2)) + bias, logits, atol=1e-3)
    assert cam.shape == (3, 7, 7)
    assert (metrics.class_evidence(lite0, imgs, [945, 0, 1]) >= 0).all()


def test_per_image_targets_pick_each_image_own_class(lite0, bell_pepper):
    imgs = bell_pepper.images[:2].float()
    both = metrics.class_scores(lite0, imgs, (945, 0))
    assert both["logit"][0] == pytest.approx(metrics.class_scores(lite0, imgs[:1], 945)["logit"][0], abs=1e-4)
    assert both["logit"][1] == pytest.approx(metrics.class_scores(lite0, imgs[1:], 0)["logit"][0], abs=1e-4)
    with pytest.raises(ValueError, match="unit 1000 out of range"):
        lite0.unit(models.Unit("logits", (945, 1000)))
    with pytest.raises(ValueError, match="3 channels given for a batch of 2"):
        models.unit_activation(torch.zeros(2, 10), models.Unit("logits", (1, 2, 3)))


def test_center_bias_is_the_authors_table_and_snapshots_each_phase(lite0):
    cb = optimize.CENTER_BIAS
    assert [p.iters for p in cb] == [190, 150, 150, 30, 10]
    assert [p.objective for p in cb] == ["prob", "prob", "logit", "logit", "logit"]
    assert [p.step for p in cb] == [(11, 11), (6, 6), (1, 1), (3, 3), (6, 3)]
    assert [p.tv for p in cb] == [(0.001, 0.05), (0.01, 0.08), (0.01, 2), (0.1, 2), (0.01, 2)]
    assert [p.margin for p in cb] == [0, 0, 0, 50, 0] and [p.window for p in cb] == [0.3, 0.3, 0.3, 0.1, 0.3]
    snaps = []
    res = optimize.maximize(lite0, models.Unit("logits", (653, 945)), optimize.noise_images(2, 224, 0),
                            optimize.shorten(cb, 0.01), progress=False, snapshots=snaps)
    assert [s.shape[-1] for s in snaps] == [224, 269, 323, 323, 323]  # the canvas grows twice by 1.2
    assert torch.equal(snaps[-1], res.images)


def test_noise_start_is_the_authors():
    x = optimize.noise_images(4, 64, seed=1)
    assert x.shape == (4, 3, 64, 64) and abs(x.mean().item() - 175) < 0.5 and abs(x.std().item() - 8) < 0.5
    assert torch.equal(x, optimize.noise_images(4, 64, seed=1))


@pytest.mark.parametrize("name", ["l2_decay", "alpha_norm", "blur", "tv_jitter", "tv_penalty_jitter"])
def test_every_prior_piece_raises_each_class_logit(lite0, name):
    """Each baseline of the comparison, 12 steps from noise with two classes in one batch: both
    logits rise. Smallest gain measured 5.1-18.0 over the five priors, seeds 0-1 x 1/2 threads
    (`python benchmarks/smoke_spread.py --notebook04 --seeds 2`); bar 0."""
    start, recipe = methods.COMPARISON[name]
    assert start == "noise"
    res = methods.run(methods.smoke(recipe, 12), lite0, models.Unit("logits", (945, 0)),
                      optimize.noise_images(2, 224, 0), progress=False)
    assert (res.history[:, -1] > res.history[:, 0]).all()


def test_pieces_change_the_result_as_they_should(lite0):
    """Against the same run without the prior: decay pulls towards gray, blur lowers the
    high-frequency share (same seed, same crops)."""
    unit = models.Unit("logits", 945)
    start = optimize.noise_images(1, 224, 0)
    base = optimize.Phase(iters=6, window=0.0, step=(2.0, 2.0), post=())
    plain = optimize.maximize(lite0, unit, start, (base,), progress=False).images
    decayed = optimize.maximize(lite0, unit, start, (optimize.Phase(**{**base.__dict__, "post": (optimize.Decay(0.2),)}),),
                                progress=False).images
    blurred = optimize.maximize(lite0, unit, start, (optimize.Phase(**{**base.__dict__, "post": (optimize.Blur(1, (1.5, 1.5)),)}),),
                                progress=False).images
    assert (decayed - priors.GRAY).abs().mean() < (plain - priors.GRAY).abs().mean()
    assert metrics.hf_share(blurred)[0] < 0.5 * metrics.hf_share(plain)[0]
