"""Activation maximization in pixel space with the priors of the paper and of earlier work.

The authors' recipe: jitter by center-biased crops of a larger canvas, a gradient step
normalized by its mean magnitude, clipping to 0..255 and TV denoising after every step.
Schedules are data: a list of :class:`Phase`, and each prior is a separate piece a phase
lists: post-step projections (:class:`TV`, :class:`Decay`, :class:`Blur`), differentiable
penalties subtracted from the objective (:class:`AlphaNorm`, :class:`TVPenalty`) and a random
transform before the network (:class:`mfv_utils.optimization.transforms.Robustness`, e.g. plain jitter).

All images are (B, 3, H, W) float tensors in 0..255; the B images (e.g. the k facets) are
optimized together in one batch, each from its own start image, each with its own jitter.
The optimization runs on the model's device; random draws come from CPU generators (the same
draws on every device) and the result comes back on the CPU.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from mfv_utils.optimization import loop, priors
from mfv_utils.optimization.loop import Result
from mfv_utils.networks.models import Model, Unit, pick_channel, unit_activation
from mfv_utils.optimization.priors import tv_denoise
from mfv_utils.optimization.transforms import Robustness

REFERENCE_SIZE = 227  # the authors' AlexNet input; margins are given at this size


@dataclass(frozen=True)
class TV:
    """Post-step: split-Bregman TV denoising with the phase's TV-weight ramp (the paper's prior)."""

    def __call__(self, images, phase, i, ramp):
        return tv_denoise(images, tv_weight(phase, i, ramp))


@dataclass(frozen=True)
class Decay:
    """Post-step: L2 decay towards mid-gray by ``rate`` per step (Simonyan et al. 2013)."""

    rate: float

    def __call__(self, images, phase, i, ramp):
        return priors.decay(images, self.rate)


@dataclass(frozen=True)
class Blur:
    """Post-step: Gaussian blur every ``every`` steps, sigma going linearly from ``sigma[0]`` to
    ``sigma[1]`` px over the phase (Yosinski et al. 2015; the decreasing radius of Fig. S3h)."""

    every: int = 4
    sigma: tuple[float, float] = (1.0, 0.5)

    def __call__(self, images, phase, i, ramp):
        if i % self.every:
            return images
        s0, s1 = self.sigma
        return priors.gaussian_blur(images, s0 + (s1 - s0) * i / max(phase.iters - 1, 1))


@dataclass(frozen=True)
class AlphaNorm:
    """Penalty ``weight * alpha_norm(x, alpha)`` (Mahendran & Vedaldi 2015)."""

    weight: float
    alpha: float = 6.0

    def __call__(self, images):
        return self.weight * priors.alpha_norm(images, self.alpha)


@dataclass(frozen=True)
class TVPenalty:
    """Penalty ``weight * tv_penalty(x, beta)``: TV as a loss term instead of a denoising step."""

    weight: float
    beta: float = 2.0

    def __call__(self, images):
        return self.weight * priors.tv_penalty(images, self.beta)


@dataclass(frozen=True)
class Phase:
    """One phase of a schedule (the authors call them octaves)."""

    iters: int
    scale: float | None = None  # upsample the canvas by this factor at the phase start
    window: float = 0.3  # crop offset std, as a fraction of (canvas - input)
    margin: int = 0  # zero the gradient within this many px of the crop border (at 227 px)
    step: tuple[float, float] = (1.0, 1.0)  # step size, linear over the phase
    tv: tuple[float, float] = (0.4, 0.4)  # TV weight (start, end); see tv_weight()
    objective: str = "logit"  # "logit": the unit's pre-softmax activation; "prob": softmax
    post: tuple = (TV(),)  # applied in order after each step (after the clip to 0..255)
    penalties: tuple = ()  # subtracted from the objective before the gradient is taken
    transform: Robustness | None = None  # random jitter/scale/rotation of the crop before the net

    def begin(self, ctx: "loop.Context") -> "_PhaseRun":
        """This phase as a stage of :func:`mfv_utils.optimization.loop.run`."""
        return _PhaseRun(self, ctx)


# The authors' mean-initialized schedule (act_max.tvd.mean.py, AlexNet at 227 px).
MEAN_INIT = (
    Phase(iters=190, scale=None, window=0.3, margin=0, step=(1.0, 2.0), tv=(0.4, 0.4)),
    Phase(iters=150, scale=1.2, window=0.3, margin=0, step=(1.0, 1.0), tv=(0.01, 2.0)),
    Phase(iters=20, scale=1.0, window=0.2, margin=50, step=(2.0, 2.0), tv=(0.1, 2.0)),
    Phase(iters=10, scale=None, window=0.3, margin=0, step=(2.0, 2.0), tv=(0.4, 2.0)),
)


# The authors' center-biased regularization (their code; Fig. 3 / S3i), from noise: a small
# TV weight (= strong smoothing) and the softmax probability first, then the canvas grows
# twice by 1.2 while the crops stay center-biased, so the object forms in the middle first.
CENTER_BIAS = (
    Phase(iters=190, scale=None, window=0.3, margin=0, step=(11.0, 11.0), tv=(0.001, 0.05), objective="prob"),
    Phase(iters=150, scale=1.2, window=0.3, margin=0, step=(6.0, 6.0), tv=(0.01, 0.08), objective="prob"),
    Phase(iters=150, scale=1.2, window=0.3, margin=0, step=(1.0, 1.0), tv=(0.01, 2.0)),
    Phase(iters=30, scale=1.0, window=0.1, margin=50, step=(3.0, 3.0), tv=(0.1, 2.0)),
    Phase(iters=10, scale=None, window=0.3, margin=0, step=(6.0, 3.0), tv=(0.01, 2.0)),
)
NOISE_GRAY, NOISE_SD = 175.0, 8.0  # the authors' start image: Gaussian noise around gray 175


def noise_images(n: int, size: int, seed: int = 0) -> torch.Tensor:
    """(n, 3, size, size) start images of Gaussian noise around gray 175, sd 8, clipped to 0..255."""
    gen = torch.Generator().manual_seed(seed)
    return (NOISE_GRAY + NOISE_SD * torch.randn(n, 3, size, size, generator=gen)).clamp_(0, 255)


def tv_weight(phase: Phase, i: int, ramp: str = "authors") -> float:
    """TV weight at iteration ``i`` of ``phase``.

    ``"authors"`` reproduces the authors' expression ``w0 - (w0 - w1 * i) / n``: by operator
    precedence it starts at ``w0 - w0/n`` and ends near ``w1`` plus ``w0 - w0/n`` offsets,
    e.g. phase 1 drifts 0.4 -> 0.8 although both ends say 0.4. ``"linear"`` is the plainly
    intended ramp ``w0 + (w1 - w0) * i / n``.
    """
    w0, w1 = phase.tv
    n = phase.iters
    if ramp == "authors":
        return w0 - (w0 - w1 * i) / n
    if ramp == "linear":
        return w0 + (w1 - w0) * i / n
    raise ValueError(f"unknown TV ramp {ramp!r}; use 'authors' or 'linear'")


def step_size(phase: Phase, i: int) -> float:
    s0, s1 = phase.step
    return s0 + (s1 - s0) * i / phase.iters


def shorten(schedule, factor: float) -> tuple[Phase, ...]:
    """The same schedule with each phase's iterations scaled by ``factor``. At least 2 per
    phase: with 1, the authors' TV ramp gives weight ``w0 - w0/1 = 0`` (no denoising limit)."""
    return tuple(replace(p, iters=max(2, math.ceil(p.iters * factor))) for p in schedule)


def objective(model: Model, x: torch.Tensor, unit: Unit, kind: str = "logit") -> torch.Tensor:
    """Per-image objective (B,) for 0..255 images ``x``: the unit's activation, or for
    ``kind="prob"`` the softmax probability of the class ``unit.channel`` at the logits."""
    act = model(x, unit.layer)
    if kind == "logit":
        return unit_activation(act, unit)
    if kind == "prob":
        if unit.layer != model.logits_layer:
            raise ValueError("the 'prob' objective needs a unit of the logits layer")
        return pick_channel(act.softmax(1), unit.channel)
    raise ValueError(f"unknown objective {kind!r}; use 'logit' or 'prob'")


def _offsets(rng: np.random.Generator, n: int, slack: int, window: float) -> np.ndarray:
    """Crop offsets ~ N(slack/2, window*slack), clipped to the canvas (the authors' jitter)."""
    if slack <= 0:
        return np.zeros(n, dtype=int)
    o = rng.normal(slack / 2.0, slack * window, size=n)
    return np.clip(o, 0, slack).astype(int)


def maximize(model: Model, unit: Unit, start: torch.Tensor, schedule=MEAN_INIT, seed: int = 0,
             tv_ramp: str = "authors", progress: bool = True, callback=None,
             snapshots: list | None = None) -> Result:
    """Maximize ``unit`` from each start image in ``start`` (B, 3, H, W), 0..255.

    Start images are resized to the model's input size; the canvas is upsampled when a
    phase says so and the output is the canvas. Each iteration takes an input-size crop per
    image (offset drawn around the canvas center), steps along the normalized gradient of
    the objective (masked to the central region when the phase has a margin), clips to
    0..255, TV-denoises the crop and writes it back. ``callback(it, canvas, values)``, if
    given, is called after each iteration (e.g. to update a widget); ``snapshots``, if given,
    receives a copy of the canvases at the end of every phase (the paper's Fig. 3 progression).
    A phase's ``transform`` (jitter) acts on the crop before the network, its ``penalties`` are
    subtracted from the objective and its ``post`` steps replace TV as the phase lists them.
    The phases are stages of :func:`mfv_utils.optimization.loop.run`.
    """
    unit = model.unit(unit)
    size = model.input_size
    canvas = start.detach().to(model.device, torch.float32)
    if canvas.shape[-2:] != (size, size):
        canvas = F.interpolate(canvas, size=(size, size), mode="bilinear", antialias=True,
                               align_corners=False)
    ctx = loop.Context(model, unit, canvas.clamp(0, 255).contiguous(), seed=seed, tv_ramp=tv_ramp)
    return loop.run(schedule, ctx, f"maximize {unit.layer}:{unit.channel}", progress, callback, snapshots)


class _PhaseRun:
    """One phase in progress: its canvas (upsampled at the start when the phase says so), the
    central mask of its margin, and one normalized gradient step per iteration."""

    def __init__(self, phase: Phase, ctx: loop.Context):
        self.phase, self.ctx = phase, ctx
        canvas = ctx.images
        if phase.scale is not None and phase.scale != 1.0:
            side = round(canvas.shape[-1] * phase.scale)
            canvas = F.interpolate(canvas, size=(side, side), mode="bicubic", align_corners=False).clamp(0, 255)
        self.canvas, self.size = canvas, ctx.model.input_size
        margin = round(phase.margin * self.size / REFERENCE_SIZE)
        self.mask = None
        if margin:
            self.mask = torch.zeros(1, 1, self.size, self.size, device=canvas.device)
            self.mask[..., margin:self.size - margin, margin:self.size - margin] = 1

    def step(self, i: int):
        phase, ctx, canvas, size = self.phase, self.ctx, self.canvas, self.size
        batch = len(canvas)
        oy = _offsets(ctx.rng, batch, canvas.shape[-2] - size, phase.window)
        ox = _offsets(ctx.rng, batch, canvas.shape[-1] - size, phase.window)
        crop = torch.stack([canvas[b, :, oy[b]:oy[b] + size, ox[b]:ox[b] + size]
                            for b in range(batch)]).requires_grad_(True)
        seen = phase.transform(crop, ctx.gen) if phase.transform is not None else crop
        values = objective(ctx.model, seen, ctx.unit, phase.objective)
        loss = values
        for penalty in phase.penalties:
            loss = loss - penalty(crop)
        (grad,) = torch.autograd.grad(loss.sum(), crop)
        if self.mask is not None:
            grad = grad * self.mask
        scale = step_size(phase, i) / grad.abs().mean(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)
        with torch.no_grad():
            new = (crop + scale * grad).clamp_(0, 255)
            for post in phase.post:
                new = post(new, phase, i, ctx.tv_ramp)
            for b in range(batch):
                canvas[b, :, oy[b]:oy[b] + size, ox[b]:ox[b] + size] = new[b]
        return values, canvas

    def finish(self) -> torch.Tensor:
        return self.canvas
