"""The fused CPU kernel behind :func:`mfv_utils.priors.tv_denoise` (numba).

skimage's split-Bregman TV (``denoise_tv_bregman``, isotropic) sweeps each image row by row
in Gauss-Seidel order. Here the same per-pixel update runs over many *lanes* at once: the
innermost axis holds every channel of every image of a group, so one pixel's update is a
few SIMD instructions for the whole batch. Two more things make it fast:

- **fused sweeps**: ``nsweeps`` Gauss-Seidel sweeps advance together as a wavefront, sweep s
  one row behind sweep s-1, so each pass over memory does several sweeps while the rows it
  touches are still in cache. The order of updates each pixel sees is exactly the sequential
  one (sweep s at row r reads row r+1 after sweep s-1 wrote it, row r-1 after sweep s did).
- **groups**: the batch is split into one group per thread (``prange``).

The squared change of every sweep is summed per lane, so the caller applies skimage's stopping
rule per image (RMS change over all pixels and channels <= eps).
"""
from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange


@njit(cache=True, fastmath=True, parallel=True, boundscheck=False)
def fused_sweeps(f, u, dx, dy, bx, by, weight, nsweeps, acc):  # pragma: no cover - compiled
    """Run ``nsweeps`` Gauss-Seidel sweeps of split Bregman in place.

    f: (G, H, W, L) data; u: (G, H+2, W+2, L) padded solution; dx, dy, bx, by: (G, H+2, W+2, L);
    acc: (G, nsweeps, L) float64, incremented by each sweep's squared change per lane."""
    G, H, W, L = f.shape
    lam = np.float32(2.0 * weight)
    wt = np.float32(weight)
    norm = np.float32(weight + 4.0 * 2.0 * weight)
    one = np.float32(1.0)
    for g in prange(G):
        for ro in range(1, H + nsweeps):
            for s in range(nsweeps):
                r = ro - s
                if r < 1 or r > H:
                    continue
                for c in range(1, W + 1):
                    for lane in range(L):
                        uprev = u[g, r, c, lane]
                        ux = u[g, r, c + 1, lane] - uprev
                        uy = u[g, r + 1, c, lane] - uprev
                        bxx = bx[g, r, c, lane]
                        byy = by[g, r, c, lane]
                        unew = (lam * (u[g, r + 1, c, lane] + u[g, r - 1, c, lane]
                                       + u[g, r, c + 1, lane] + u[g, r, c - 1, lane]
                                       + dx[g, r, c - 1, lane] - dx[g, r, c, lane]
                                       + dy[g, r - 1, c, lane] - dy[g, r, c, lane]
                                       - bx[g, r, c - 1, lane] + bxx
                                       - by[g, r - 1, c, lane] + byy)
                                + wt * f[g, r - 1, c - 1, lane]) / norm
                        u[g, r, c, lane] = unew
                        ch = unew - uprev
                        acc[g, s, lane] += ch * ch
                        tx = ux + bxx
                        ty = uy + byy
                        sl = math.sqrt(tx * tx + ty * ty) * lam
                        k = sl / (sl + one)
                        dxx = k * tx
                        dyy = k * ty
                        dx[g, r, c, lane] = dxx
                        dy[g, r, c, lane] = dyy
                        bx[g, r, c, lane] = bxx + ux - dxx
                        by[g, r, c, lane] = byy + uy - dyy


def _pack(a: np.ndarray, groups: int, per: int) -> np.ndarray:
    """(N, H, W, C) per-image arrays -> (G, H, W, C * per) lanes (channel-major, image-minor),
    padding the batch with zero images up to G * per."""
    n, h, w, c = a.shape
    if n < groups * per:
        a = np.concatenate([a, np.zeros((groups * per - n, h, w, c), a.dtype)])
    return np.ascontiguousarray(a.reshape(groups, per, h, w, c).transpose(0, 2, 3, 4, 1)
                                .reshape(groups, h, w, c * per))


def _unpack(a: np.ndarray, n: int, channels: int) -> np.ndarray:
    g, h, w, lanes = a.shape
    per = lanes // channels
    return a.reshape(g, h, w, channels, per).transpose(0, 4, 1, 2, 3).reshape(g * per, h, w, channels)[:n]


def _layout(n: int) -> tuple[int, int]:
    groups = max(1, min(n, numba.get_num_threads()))
    return groups, -(-n // groups)


def tv_bregman(images: np.ndarray, weight: float, max_iter: int = 100, eps: float = 1e-3,
               fuse: int = 4) -> np.ndarray:
    """Split-Bregman TV of (N, H, W, C) float32 images, skimage's algorithm and stopping rule per
    image; an image that meets ``eps`` inside a fused pass keeps the (at most ``fuse - 1``) sweeps
    after it, changes each below eps. Images that are done leave the batch when that frees lanes."""
    n, h, w, c = images.shape
    out = np.empty_like(images)
    f = np.ascontiguousarray(images, dtype=np.float32)
    u = np.zeros((n, h + 2, w + 2, c), np.float32)
    u[:, 1:-1, 1:-1] = f
    u[:, 0, 1:-1] = f[:, 1]  # skimage's border: reflect at the top/left,
    u[:, 1:-1, 0] = f[:, :, 1]
    u[:, -1, 1:-1] = f[:, -1]  # replicate at the bottom/right
    u[:, 1:-1, -1] = f[:, :, -1]
    state = [u] + [np.zeros_like(u) for _ in range(4)]  # u, dx, dy, bx, by per image
    live = np.arange(n)  # original index of each image still in the batch
    groups, per = _layout(n)
    packed = [_pack(a, groups, per) for a in [f] + state]
    done_at = np.full(n, -1)
    it = 0
    total = h * w * c
    while it < max_iter and len(live):
        sweeps = min(fuse, max_iter - it)
        acc = np.zeros((groups, sweeps, c * per), np.float64)
        fused_sweeps(*packed, np.float32(weight), sweeps, acc)
        it += sweeps
        # per image and sweep: RMS change over its pixels and channels
        sq = acc.reshape(groups, sweeps, c, per).sum(2).transpose(0, 2, 1).reshape(groups * per, sweeps)
        rmse = np.sqrt(sq[: len(live)] / total)
        finished = (rmse <= eps).any(1) | (done_at[live] >= 0) | (it >= max_iter)
        if not finished.any():
            continue
        u_now = _unpack(packed[1], len(live), c)
        for i in np.flatnonzero(finished & (done_at[live] < 0)):
            out[live[i]] = u_now[i, 1:-1, 1:-1]
            done_at[live[i]] = it
        keep = ~finished
        new_groups, new_per = _layout(int(keep.sum())) if keep.any() else (0, 0)
        if not keep.any():
            break
        if new_groups * new_per < groups * per:  # repack only when that frees lanes;
            per_image = [_unpack(a, len(live), c)[keep] for a in packed]  # else finished
            live = live[keep]  # images ride along, their output already saved
            groups, per = new_groups, new_per
            packed = [_pack(a, groups, per) for a in per_image]
    return out
