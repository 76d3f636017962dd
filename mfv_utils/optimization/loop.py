"""The one optimization loop: every method is a sequence of stages run by :func:`run`.

A stage is data that says how it optimizes (``iters`` and ``begin(ctx)``): the paper's pixel-space
phases (:class:`mfv_utils.optimization.optimize.Phase`: crops of a canvas, normalized gradient steps,
TV and other post-steps) and the Fourier recipes (:class:`mfv_utils.optimization.methods.Method`:
a parametrization, transforms, objective terms and Adam). ``begin`` returns the stage's
:class:`Runner`; the loop drives it: the progress bar, the objective's history, the caller's
``callback`` after every iteration and ``snapshots`` after every stage are written once, here. The
images flow from stage to stage through ``ctx.images`` (a schedule of phases grows its canvas
from phase to phase the same way).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np
import torch

from mfv_utils.networks.models import Model, Unit
from mfv_utils.runtime.progress import bar as progress_bar


@dataclass
class Result:
    images: torch.Tensor  # (B, 3, H, W) final images (a phase schedule: its final canvases), 0..255
    history: np.ndarray  # (B, T) the objective of every image at every iteration


@dataclass
class Context:
    """What every stage of one run shares: the network and unit, the images so far (on the
    model's device, 0..255), the seed and its generators (the same draws on every device), and
    what data-driven pieces need (each facet's centroid and real images)."""

    model: Model
    unit: Unit
    images: torch.Tensor
    seed: int = 0
    rng: np.random.Generator = None  # numpy draws (the paper's crop offsets)
    gen: torch.Generator = None  # torch draws on the CPU (transforms, colour directions)
    centroids: torch.Tensor | None = None  # (B, D) each image's facet centroid at code_layer
    magnitudes: torch.Tensor | None = None  # (B, 3, h, w//2+1) fixed spectra (maco)
    real: list[torch.Tensor] | None = None  # per image, its facet's real images
    code_layer: str | None = None
    tv_ramp: str = "authors"
    targets: torch.Tensor | None = None  # (B,) the activation each image should out-fire (OutFire)

    def __post_init__(self):
        self.rng = np.random.default_rng(self.seed) if self.rng is None else self.rng
        self.gen = torch.Generator().manual_seed(self.seed) if self.gen is None else self.gen


class Runner(Protocol):
    """One stage in progress."""

    def step(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Iteration ``i`` of the stage: (the objective per image (B,), the images to show)."""

    def finish(self) -> torch.Tensor:
        """The stage's final images (B, 3, H, W) on the model's device."""


class Stage(Protocol):
    iters: int

    def begin(self, ctx: Context) -> Runner:
        ...


def run(stages: Sequence[Stage], ctx: Context, label: str, progress: bool = True, callback=None,
        snapshots: list | None = None) -> Result:
    """Run ``stages`` in order from ``ctx.images``. ``callback(it, images, values)``, if given,
    runs after every iteration (a widget's live view); ``snapshots``, if given, receives a CPU
    copy of the images at the end of every stage (the paper's Fig. 3 progression)."""
    bar = progress_bar(sum(s.iters for s in stages), label, progress)
    history, it = [], 0
    for stage in stages:
        runner = stage.begin(ctx)
        for i in range(stage.iters):
            values, shown = runner.step(i)
            history.append(values.detach().cpu().numpy())
            it += 1
            bar.update(1)
            if callback is not None:
                callback(it, shown, values.detach())
        ctx.images = runner.finish()
        if snapshots is not None:
            snapshots.append(ctx.images.to("cpu", copy=True))
    bar.close()
    return Result(ctx.images.cpu(), np.stack(history, axis=1) if history else np.zeros((len(ctx.images), 0)))
