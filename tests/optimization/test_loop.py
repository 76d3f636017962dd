"""The one optimization loop: the paper's phases and a Fourier recipe are stages of it, and can
follow each other in one schedule."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from mfv_utils.networks.models import Unit
from mfv_utils.optimization import loop, methods, optimize


def _start(n=2, size=224):
    return optimize.noise_images(n, size, seed=3)


def test_phases_and_a_recipe_in_one_schedule(lite0):
    """A paper phase, then the figures' Fourier recipe without its data-driven pieces: the images
    flow from stage to stage, one history row per iteration, one snapshot per stage, the callback
    after every iteration; the same seed gives the same bytes."""
    schedule = (optimize.Phase(iters=3, window=0.0, step=(4.0, 4.0)), replace(methods.METHODS["fourier"], steps=4))

    def once(seed):
        calls, snaps = [], []
        ctx = loop.Context(lite0, lite0.unit(Unit("logits", 945)), _start(), seed=seed)
        res = loop.run(schedule, ctx, "mixed", progress=False, callback=lambda it, im, v: calls.append(it),
                       snapshots=snaps)
        return res, calls, snaps

    res, calls, snaps = once(0)
    assert res.images.shape == (2, 3, 224, 224) and res.history.shape == (2, 7)
    assert calls == list(range(1, 8)) and len(snaps) == 2
    assert not torch.equal(snaps[0], snaps[1])  # the recipe moved the phase's images on
    assert np.all(res.history[:, -1] > res.history[:, 0])  # the class logit rose over the schedule
    again, _, _ = once(0)
    assert torch.equal(again.images, res.images) and np.array_equal(again.history, res.history)


def test_the_entry_points_are_the_loop(lite0):
    """``methods.run`` and ``optimize.maximize`` are thin: their results are the loop's, bit for bit."""
    unit, start = Unit("logits", 945), _start(1)
    recipe = replace(methods.METHODS["fourier"], steps=3)
    direct = loop.run((recipe,), loop.Context(lite0, lite0.unit(unit), start.clone(), seed=1), "x", progress=False)
    assert torch.equal(methods.run(recipe, lite0, unit, start, seed=1, progress=False).images, direct.images)
    phases = optimize.shorten(optimize.MEAN_INIT, 0.02)
    direct = loop.run(phases, loop.Context(lite0, lite0.unit(unit), start.clone(), seed=1), "x", progress=False)
    assert torch.equal(optimize.maximize(lite0, unit, start, phases, seed=1, progress=False).images, direct.images)


def test_a_yielding_anchor_pulls_nothing_once_the_image_is_nearer_than_its_members(lite0):
    """``Anchor(..., ceiling="members")`` is ``weight * min(cos, c)``, c the median cosine of the
    facet's real images to its centroid. An image that starts at its centroid (cos 1, far above
    members as unlike it as a black and a white image) gets no pull from it: one step equals the
    step without any anchor, while the plain anchor's step differs."""
    from mfv_utils.optimization.objectives import Anchor, code

    start = _start(2)
    with torch.no_grad():
        centroids = code(lite0(start, lite0.code_layer))
    real = [torch.stack([torch.zeros(3, 224, 224), torch.full((3, 224, 224), 255.0)])] * 2
    base = replace(methods.METHODS["fourier"], steps=1)

    def step(anchors):
        ctx = loop.Context(lite0, lite0.unit(Unit("logits", 945)), start.clone(), seed=0, centroids=centroids,
                           real=real)
        return loop.run((replace(base, anchors=anchors),), ctx, "x", progress=False).images

    free = step(())
    assert torch.equal(step((Anchor("centroid", 400.0, ceiling="members"),)), free)
    assert not torch.equal(step((Anchor("centroid", 400.0),)), free)
    with pytest.raises(ValueError, match="ceiling"):
        Anchor("seed", 1.0, ceiling="members")


def test_out_fire_lets_the_unit_win_only_where_it_is_below_its_target(lite0):
    """``Method(out_fire=OutFire())``: with a target the image is always above, the multiplier
    stays 1 and the run equals the plain anchored run bit for bit; with a target far above, the
    unit's term grows every step and the logit ends higher than the anchor alone lets it. A run
    without targets, or a bad OutFire, is a one-line error."""
    from mfv_utils.optimization.objectives import Anchor, OutFire, code

    start = _start(2)
    with torch.no_grad():
        centroids = code(lite0(start, lite0.code_layer))
    anchored = replace(methods.METHODS["fourier"], steps=6, anchors=(Anchor("centroid", 400.0),))

    def run(recipe, targets):
        ctx = loop.Context(lite0, lite0.unit(Unit("logits", 945)), start.clone(), seed=0, centroids=centroids,
                           targets=targets)
        return loop.run((recipe,), ctx, "x", progress=False)

    plain = run(anchored, None)
    win = replace(anchored, out_fire=OutFire(growth=2.0))
    assert torch.equal(run(win, torch.full((2,), -1e6)).images, plain.images)
    pushed = run(win, torch.full((2,), 1e6))
    assert np.all(pushed.history[:, -1] > plain.history[:, -1])
    with pytest.raises(ValueError, match="strongest real activation"):
        run(win, None)
    with pytest.raises(ValueError, match="growth >= 1"):
        OutFire(growth=0.5)
