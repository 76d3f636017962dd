"""Image parametrizations: what the optimizer changes instead of raw pixels.

A parametrization is a pair of pure functions: ``init(images) -> params`` (exactly invertible,
so optimization can start from a facet's mean image) and ``image(params) -> images`` (0..255,
differentiable). Both work on (B, 3, H, W) batches.

- :class:`Fourier`: the Lucid/Lucent recipe. Pixels are ``sigmoid(C @ t)`` with ``C`` the
  decorrelated-colour matrix (ImageNet's colour covariance square root) and ``t`` the inverse
  orthonormal FFT of a spectrum scaled by ``1 / f**decay``; Adam on the spectrum then moves
  low frequencies far more than high ones (a prior towards natural 1/f images).
- :class:`Maco`: magnitude-constrained optimization (Fel et al. 2023): the same colour and
  FFT pipeline, but only the Fourier **phase** is optimized; the magnitude stays fixed (here
  the average magnitude spectrum of the facet's own real images).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

# Square root of ImageNet's RGB colour covariance (Lucid), columns scaled to unit max norm.
COLOR_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
COLOR = COLOR_SQRT / COLOR_SQRT.norm(dim=0).max()
MAGIC = 4.0  # Lucid's constant between the spectrum and the pre-sigmoid image
EDGE = 0.5 / 255  # pixels are kept this far inside 0..255 so the sigmoid stays invertible


def freq_scale(h: int, w: int, decay: float, device: torch.device | str = "cpu") -> torch.Tensor:
    """(h, w//2+1) spectrum scale ``1 / max(f, 1/max(h, w)) ** decay`` (f in cycles/px)."""
    fy = torch.fft.fftfreq(h, device=device)[:, None]
    fx = torch.fft.rfftfreq(w, device=device)[None, :]
    f = torch.sqrt(fx**2 + fy**2)
    return 1.0 / f.clamp_min(1.0 / max(h, w)) ** decay


def to_decorrelated(images: torch.Tensor) -> torch.Tensor:
    """0..255 images -> the pre-sigmoid decorrelated-colour space ``t`` (inverse of ``from_``)."""
    x = (images.float() / 255).clamp(EDGE, 1 - EDGE)
    logits = torch.log(x) - torch.log1p(-x)
    return torch.einsum("ij,bjhw->bihw", torch.linalg.inv(COLOR).to(x.device), logits)


def from_decorrelated(t: torch.Tensor) -> torch.Tensor:
    """Pre-sigmoid decorrelated colour ``t`` -> 0..255 images."""
    return torch.sigmoid(torch.einsum("ij,bjhw->bihw", COLOR.to(t.device), t)) * 255


@dataclass(frozen=True)
class Fourier:
    """Spectrum parametrization with decorrelated colour; ``decay`` sets the 1/f^decay scaling."""

    decay: float = 1.5

    def init(self, images: torch.Tensor) -> torch.Tensor:
        h, w = images.shape[-2:]
        spec = torch.fft.rfft2(to_decorrelated(images) * MAGIC, norm="ortho") / freq_scale(h, w, self.decay, images.device)
        return torch.view_as_real(spec).contiguous()  # (B, 3, h, w//2+1, 2) real tensor

    def image(self, params: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        spec = torch.view_as_complex(params) * freq_scale(*size, self.decay, params.device)
        return from_decorrelated(torch.fft.irfft2(spec, s=size, norm="ortho") / MAGIC)


@dataclass(frozen=True)
class Maco:
    """Phase-only parametrization: the magnitude spectrum is fixed (per image in the batch)."""

    magnitude: torch.Tensor  # (B, 3, h, w//2+1), e.g. :func:`mean_magnitude` of real images

    def init(self, images: torch.Tensor) -> torch.Tensor:
        return torch.angle(torch.fft.rfft2(to_decorrelated(images) * MAGIC, norm="ortho")).contiguous()

    def decorrelated(self, phase: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """The pre-sigmoid decorrelated-colour image of a phase (its magnitude is the fixed one)."""
        return torch.fft.irfft2(torch.polar(self.magnitude, phase), s=size, norm="ortho") / MAGIC

    def image(self, phase: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return from_decorrelated(self.decorrelated(phase, size))


def mean_magnitude(images: torch.Tensor) -> torch.Tensor:
    """(3, h, w//2+1) mean Fourier magnitude of 0..255 images in the decorrelated space."""
    return torch.fft.rfft2(to_decorrelated(images) * MAGIC, norm="ortho").abs().mean(0)
