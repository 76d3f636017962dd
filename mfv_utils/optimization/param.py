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
    """Spectrum parametrization with decorrelated colour; ``decay`` sets the 1/f^decay scaling,
    unless ``scale`` gives one (B, 3, h, w//2+1) per image (e.g. :func:`real_scale`: the
    spectrum of the facet's own real images as the prior instead of 1/f)."""

    decay: float = 1.5
    scale: torch.Tensor | None = None

    def _scale(self, h: int, w: int, device) -> torch.Tensor:
        return freq_scale(h, w, self.decay, device) if self.scale is None else self.scale.to(device)

    def init(self, images: torch.Tensor) -> torch.Tensor:
        h, w = images.shape[-2:]
        spec = torch.fft.rfft2(to_decorrelated(images) * MAGIC, norm="ortho") / self._scale(h, w, images.device)
        return torch.view_as_real(spec).contiguous()  # (B, 3, h, w//2+1, 2) real tensor

    def decorrelated(self, params: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """The pre-sigmoid decorrelated-colour image of the parameters."""
        spec = torch.view_as_complex(params) * self._scale(*size, params.device)
        return torch.fft.irfft2(spec, s=size, norm="ortho") / MAGIC

    def image(self, params: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return from_decorrelated(self.decorrelated(params, size))


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


def resized(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """0..255 images as float32 at ``size`` (bilinear, antialiased; untouched when already there)."""
    x = images.float()
    if x.shape[-2:] != size:
        x = torch.nn.functional.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
    return x


def real_scale(images: list[torch.Tensor], size: tuple[int, int], decay: float) -> torch.Tensor:
    """(B, 3, h, w//2+1): per batch image, the mean magnitude spectrum of its facet's real
    images (``images[b]``: (N, 3, H, W) 0..255, resized to ``size``), scaled to the mean of the
    1/f^decay scale it replaces, so Adam's step size keeps its meaning."""
    ref = freq_scale(*size, decay, images[0].device)
    out = []
    for real in images:
        mag = mean_magnitude(resized(real, size)).clamp_min(1e-6)
        out.append(mag / mag.mean(dim=(-2, -1), keepdim=True) * ref.mean())
    return torch.stack(out)


def colour_stats(images: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per batch image, the mean and standard deviation (B, 3) of each decorrelated colour
    channel (pre-sigmoid) over every pixel of its facet's real images (``images[b]``: (N, 3, H, W))."""
    stats = [to_decorrelated(real).transpose(0, 1).flatten(1) for real in images]
    return torch.stack([t.mean(1) for t in stats]), torch.stack([t.std(1) for t in stats])


@dataclass(frozen=True)
class ColourProjected:
    """A parametrization whose images always have their facet's colour statistics: the base's
    pre-sigmoid decorrelated image is standardized per channel and given the real images' mean
    and standard deviation (:func:`colour_stats`) before the sigmoid. A projection, not an
    inverse: the start is the mean image with the real images' colour statistics.

    With ``chroma`` (:func:`chroma_rms`), the two chroma channels are instead scaled about
    **grey**: each pixel's offset from the grey of its luminance, on each side, to the real
    images' RMS offset. Scaled about the image's mean colour, a pale background less green than
    the green pepper in front of it comes out magenta, the complementary halo along the border of
    the bell pepper's facets (a mean image's channels are stretched 4-9x); about grey it stays
    grey, at some cost in colour distance (``benchmarks/recipes.py --recipes facet facet_grey``)."""

    base: Fourier | Maco
    mean: torch.Tensor  # (B, 3)
    std: torch.Tensor  # (B, 3)
    chroma: torch.Tensor | None = None  # (B, 2, 2) :func:`chroma_rms`: chroma scaled about grey

    def init(self, images: torch.Tensor) -> torch.Tensor:
        return self.base.init(images)

    def decorrelated(self, params: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        t = self.base.decorrelated(params, size)
        mu = t.mean(dim=(-2, -1), keepdim=True)
        sd = t.std(dim=(-2, -1), keepdim=True).clamp_min(1e-6)
        out = (t - mu) / sd * self.std.to(t.device)[..., None, None] + self.mean.to(t.device)[..., None, None]
        if self.chroma is None:
            return out
        # chroma about grey: each pixel's offset from the grey of its luminance, scaled to the
        # real images' RMS offset. About the image's mean colour instead, a white background,
        # less green than a green pepper, is stretched into magenta (its complementary halo).
        grey = GREY_CHROMA.to(t.device)[None, :, None, None]
        off = t[:, 1:] - grey * t[:, :1]
        gain = self.chroma.to(t.device) / sided_rms(off, (-2, -1)).clamp_min(1e-3)  # (B, 2, 2)
        off = torch.where(off > 0, off * gain[..., 0, None, None], off * gain[..., 1, None, None])
        return torch.cat([out[:, :1], grey * out[:, :1] + off], 1)

    def image(self, params: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return from_decorrelated(self.decorrelated(params, size))


# ------------------------------------------------- chroma about grey (no complementary halos, issue 31)
_GREY = torch.linalg.inv(COLOR) @ torch.ones(3)
# the two chroma channels' values of a grey pixel per unit of luminance: a pixel of equal R, G, B
# logits ``l`` has decorrelated colour ``l * inv(COLOR) @ 1``, not zero chroma
GREY_CHROMA = _GREY[1:] / _GREY[0]


def sided_rms(off: torch.Tensor, dim) -> torch.Tensor:
    """(..., 2, ...) the root mean square of the positive and of the negative part of ``off``
    over ``dim`` (each over all the pixels, so that together they give the whole RMS); a new
    axis of size 2 (positive, negative) at the end."""
    return torch.stack([off.clamp_min(0).pow(2).mean(dim).sqrt(), off.clamp_max(0).pow(2).mean(dim).sqrt()], -1)


def chroma_rms(images: list[torch.Tensor]) -> torch.Tensor:
    """(B, 2, 2): per batch image, for the two chroma channels, the root mean square of the
    offset from grey (``GREY_CHROMA``) on its positive and on its negative side, over every
    pixel of its facet's real images (``images[b]``: (N, 3, H, W))."""
    out = []
    for real in images:
        t = to_decorrelated(real).transpose(0, 1).flatten(1)
        out.append(sided_rms(t[1:] - GREY_CHROMA.to(t.device)[:, None] * t[:1], 1))
    return torch.stack(out)
