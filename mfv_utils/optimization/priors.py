"""Image priors: small pure functions over (B, 3, H, W) float tensors in 0..255.

`tv_denoise` is the authors' prior (split Bregman total-variation denoising after every
step). It runs the fused numba kernel of :mod:`.tv_kernel` (skimage's algorithm, border and
per-image stopping rule; about 10x skimage per image at batch 10 on 2 cores, see
``benchmarks/bench_tv.py``); where numba is missing it falls back to :func:`tv_denoise_torch`,
a plain vectorized torch version kept as the reference.
"""
from __future__ import annotations

import torch

try:
    from mfv_utils.optimization.tv_kernel import tv_bregman_nchw
except ImportError:  # numba missing: the torch reference does the job, slower
    tv_bregman_nchw = None


def _check(images: torch.Tensor, weight: float) -> None:
    if images.ndim != 4:
        raise ValueError(f"tv_denoise expects a (B, C, H, W) tensor, got shape {tuple(images.shape)}")
    if weight <= 0:
        raise ValueError(f"tv_denoise weight must be > 0, got {weight}")
    if images.shape[-2] < 2 or images.shape[-1] < 2:
        raise ValueError(f"tv_denoise needs images of at least 2x2 pixels, got "
                         f"{images.shape[-2]}x{images.shape[-1]}")


def tv_denoise(images: torch.Tensor, weight: float, max_iter: int = 100, eps: float = 1e-3) -> torch.Tensor:
    """Isotropic total-variation denoising by split Bregman of every image of a batch.

    Same meaning of ``weight`` as ``skimage.restoration.denoise_tv_bregman`` (the data
    fidelity term: *smaller* weight = *smoother* result), same ``max_iter`` and ``eps`` (an
    image stops when the root-mean-square change of one sweep falls below eps), the same
    border, channels sharing one stopping rule as skimage's for an (H, W, C) image.
    images: (B, C, H, W) float tensor, any range (0..255 here). Returns a new float32 tensor.
    """
    _check(images, weight)
    if tv_bregman_nchw is None or images.device.type != "cpu":  # the numba kernel is CPU-only
        return tv_denoise_torch(images, weight, max_iter, eps)
    return torch.from_numpy(tv_bregman_nchw(images.detach().numpy(), weight, max_iter, eps)[0])


def tv_denoise_torch(images: torch.Tensor, weight: float, max_iter: int = 100, eps: float = 1e-3) -> torch.Tensor:
    """Isotropic total-variation denoising by split Bregman, batched in torch (the reference).

    Same meaning of ``weight`` as ``skimage.restoration.denoise_tv_bregman`` (the data
    fidelity term: *smaller* weight = *smoother* result), same ``max_iter`` and ``eps``
    (stop when the root-mean-square change of an image in one sweep falls below eps), and
    the same boundary handling (fixed reflected/replicated border). Channels are
    denoised independently but share the stopping rule, as skimage does for an
    (H, W, 3) image without ``channel_axis``.

    skimage updates pixels in place row by row (Gauss-Seidel); this version updates them in
    red-black order (still Gauss-Seidel, but vectorizable; a plain Jacobi sweep diverges),
    which converges to the same minimizer (tests/optimization/test_priors.py measures the agreement).

    images: (B, C, H, W) float tensor, any range (0..255 here). Returns a new tensor.
    """
    _check(images, weight)
    f = images.detach()
    B, C, H, W = f.shape
    lam = 2.0 * weight
    norm = weight + 4.0 * lam
    out = f.clone()

    # Padded solution with skimage's fixed border: top/left reflect, bottom/right replicate.
    u = f.new_zeros(B, C, H + 2, W + 2)
    u[..., 1:-1, 1:-1] = f
    u[..., 0, 1:-1] = f[..., 1, :]
    u[..., 1:-1, 0] = f[..., :, 1]
    u[..., -1, 1:-1] = f[..., -1, :]
    u[..., 1:-1, -1] = f[..., :, -1]
    # d - b for x and y, zero-padded on the top/left (skimage reads index 0 as 0).
    ex = f.new_zeros(B, C, H + 1, W + 1)
    ey = f.new_zeros(B, C, H + 1, W + 1)
    bx = f.new_zeros(B, C, H, W)
    by = f.new_zeros(B, C, H, W)
    wf = weight * f
    live = torch.arange(B, device=f.device)

    red = (torch.arange(H, device=f.device)[:, None] + torch.arange(W, device=f.device)[None, :]) % 2 == 0
    for _ in range(max_iter):
        uc = u[..., 1:-1, 1:-1]
        uold = uc.clone()
        # shrinkage (d-subproblem) and Bregman update from the previous sweep's gradients,
        # exactly as skimage does per pixel (its forward differences read not-yet-updated u)
        tx = (u[..., 1:-1, 2:] - uc).add_(bx)
        ty = (u[..., 2:, 1:-1] - uc).add_(by)
        s = torch.hypot(tx, ty).mul_(lam)
        k = s.div_(s + 1.0)
        dx = tx * k
        dy = ty * k
        # the u-update reads d - b left/above from this sweep, at the pixel from the last one
        div = ex[..., 1:, 1:].neg()
        div -= ey[..., 1:, 1:]
        torch.sub(tx, dx, out=bx)
        torch.sub(ty, dy, out=by)
        torch.sub(dx, bx, out=ex[..., 1:, 1:])
        torch.sub(dy, by, out=ey[..., 1:, 1:])
        div += ex[..., 1:, :-1]
        div += ey[..., :-1, 1:]
        div.mul_(lam).add_(wf)
        # Gauss-Seidel for u in red-black order (vectorizable; skimage sweeps row by row)
        for mask in (red, ~red):
            acc = u[..., 2:, 1:-1] + u[..., :-2, 1:-1]
            acc += u[..., 1:-1, 2:]
            acc += u[..., 1:-1, :-2]
            acc.mul_(lam).add_(div).div_(norm)
            uc.copy_(torch.where(mask, acc, uc))
        change = (uc - uold).square_().flatten(1).mean(1).sqrt_()

        done = change <= eps
        if bool(done.any()):
            out[live[done]] = u[done][..., 1:-1, 1:-1]
            keep = ~done
            live, u, ex, ey, bx, by, wf = (t[keep] for t in (live, u, ex, ey, bx, by, wf))
            if live.numel() == 0:
                return out
    out[live] = u[..., 1:-1, 1:-1]
    return out


# ------------------------------------------------------------------ the priors of earlier work
# Pure functions over (B, 3, H, W) 0..255 tensors; penalties return one number per image and are
# differentiable (subtracted from the objective), the others are applied after a step.
GRAY = 127.5  # images are penalized / decayed around mid-gray, not around black


def decay(images: torch.Tensor, rate: float) -> torch.Tensor:
    """L2 decay (Simonyan et al. 2013; Yosinski et al. 2015): shrink every pixel's distance from
    mid-gray by the factor ``1 - rate`` (one gradient step on ``rate/2 * ||x - gray||^2``)."""
    return GRAY + (images - GRAY) * (1.0 - rate)


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of every channel with standard deviation ``sigma`` pixels
    (kernel radius 3 sigma, reflected borders; sigma <= 0 returns the images unchanged)."""
    if sigma <= 0:
        return images
    radius = max(1, int(3 * sigma + 0.5))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32, device=images.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = (k / k.sum()).to(images.dtype)
    c = images.shape[1]
    x = torch.nn.functional.pad(images, (radius, radius, radius, radius), mode="reflect")
    x = torch.nn.functional.conv2d(x, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return torch.nn.functional.conv2d(x, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def alpha_norm(images: torch.Tensor, alpha: float = 6.0) -> torch.Tensor:
    """Per image, the mean of ``|x - gray| ** alpha`` with pixels scaled to -1..1 (Mahendran &
    Vedaldi 2015's alpha-norm, alpha = 6: it lets most pixels move and stops extreme ones)."""
    z = (images - GRAY) / GRAY
    return z.abs().pow(alpha).flatten(1).mean(1)


def tv_penalty(images: torch.Tensor, beta: float = 2.0) -> torch.Tensor:
    """Per image, the mean of ``((dx^2 + dy^2) ** (beta / 2))`` over pixels of 0..1 images, with
    forward differences (Mahendran & Vedaldi 2015's differentiable TV, beta = 2: the form of
    TV one adds to the loss, instead of denoising after each step as ``tv_denoise`` does)."""
    x = images / 255.0
    dx = x[..., :-1, 1:] - x[..., :-1, :-1]
    dy = x[..., 1:, :-1] - x[..., :-1, :-1]
    return (dx.square() + dy.square() + 1e-8).pow(beta / 2).flatten(1).mean(1)
