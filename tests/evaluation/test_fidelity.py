"""The facet-fidelity metrics on constructed inputs whose answers are known."""
import numpy as np
import pytest
import torch

from mfv_utils.evaluation import metrics


def _clusters(k=4, per=6, d=16, seed=0):
    """k well-separated clusters of unit vectors: features and labels."""
    rng = np.random.default_rng(seed)
    centers = np.eye(d)[:k] * 5
    feats = np.concatenate([centers[j] + rng.normal(0, 0.3, (per, d)) for j in range(k)])
    return feats, np.repeat(np.arange(k), per), centers


def test_facet_identity_counts_facets_nearest_their_own_cluster():
    real, labels, centers = _clusters()
    assert metrics.facet_identity(centers, real, labels).tolist() == [True] * 4
    swapped = centers[[1, 0, 2, 3]]  # facets 0 and 1 show each other's facet
    assert metrics.facet_identity(swapped, real, labels).tolist() == [False, False, True, True]
    same = np.repeat(centers[:1], 4, axis=0)  # every facet the same image: only facet 0 right
    assert metrics.facet_identity(same, real, labels).mean() == 0.25


def test_seed_identity():
    _, _, centers = _clusters()
    assert metrics.seed_identity(centers + 0.1, centers).all()
    assert not metrics.seed_identity(centers[::-1], centers).any()


def test_diversity_ratio_is_one_for_the_real_representatives_and_zero_for_copies():
    real, labels, _ = _clusters()
    reps = real[metrics.representatives(real, labels, 4)]
    assert metrics.diversity_ratio(reps, real, labels) == pytest.approx(1.0)
    assert metrics.diversity_ratio(np.repeat(reps[:1], 4, axis=0), real, labels) == pytest.approx(0.0)
    assert all(labels[i] == j for j, i in enumerate(metrics.representatives(real, labels, 4)))


def _smooth_and_noisy(n=3, size=224, seed=0):
    gen = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    smooth = (128 + 100 * torch.sin(xx / 30.0) * torch.cos(yy / 40.0)).expand(n, 3, size, size)
    noisy = smooth + torch.randn(n, 3, size, size, generator=gen) * 40
    return smooth.clone(), noisy.clamp(0, 255)


def test_hf_ratio_separates_noise_from_smooth_images():
    smooth, noisy = _smooth_and_noisy()
    assert metrics.hf_share(smooth).max() < 0.01 and metrics.hf_share(noisy).min() > 0.05
    assert metrics.hf_ratio(smooth, smooth) == pytest.approx(1.0)
    assert metrics.hf_ratio(noisy, smooth) > 10
    # the measure compares canvases of different sizes at one size
    big = torch.nn.functional.interpolate(noisy, size=(269, 269), mode="nearest")
    assert metrics.hf_ratio(big, smooth) > 5


def test_color_distance_zero_for_the_same_colours_one_for_disjoint():
    red = torch.zeros(2, 3, 32, 32)
    red[:, 0] = 220
    blue = torch.zeros(1, 3, 32, 32)
    blue[:, 2] = 220
    assert metrics.color_distance(red[0], red) == pytest.approx(0.0, abs=1e-9)
    assert metrics.color_distance(blue[0], red) == pytest.approx(1.0)
    half = red[0].clone()
    half[:, :16] = blue[0, :, :16]
    assert 0.2 < metrics.color_distance(half, red) < 0.8
    assert metrics.color_histogram(red).sum() == pytest.approx(1.0)


def test_topk_hits():
    assert metrics.topk_hits(np.array([0, 1, 4, 5, 900]), 1) == 1
    assert metrics.topk_hits(np.array([0, 1, 4, 5, 900]), 5) == 3
