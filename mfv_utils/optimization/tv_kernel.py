"""The fused CPU kernel behind :func:`mfv_utils.optimization.priors.tv_denoise` (numba).

skimage's split-Bregman TV (``denoise_tv_bregman``, isotropic) sweeps each image row by row in
Gauss-Seidel order, so along a row every pixel waits for its left neighbour. The parallelism is
across images and channels instead: each (image, channel) pair is a *lane*, and ``LANES`` of them
sit side by side as the innermost axis, so one pixel's update is a few SIMD instructions for 16
lanes at once. Three choices let LLVM vectorize that lane loop with no runtime alias check:

- **one buffer per group of lanes**: the six fields of a pixel (u, dx - bx, dy - by, bx, by and
  the data f) lie next to each other, ``buf[row, col, field, lane]``, one 64-byte line per field, so every
  load and store of the update is the same base plus an offset;
- **compile-time strides**: the lane count, the field stride and the row stride are constants of
  the compiled kernel (one kernel per padded row width, :func:`kernel_for`, cached on disk), so
  LLVM sees every dependence distance as a constant and proves the lanes independent;
- **unsigned indices** (no negative-index wraparound, which makes addresses non-affine) and
  ``error_model="numpy"`` (no ZeroDivisionError branch in the loop).

Two more choices cut the memory traffic and the idle lanes:

- **fused sweeps**: ``fuse`` Gauss-Seidel sweeps advance together as a wavefront, sweep s one row
  behind sweep s-1, so one pass over memory does several sweeps while the rows it touches are in
  cache. Every pixel sees its updates in exactly the sequential order (sweep s at row r reads row
  r+1 after sweep s-1 wrote it, row r-1 after sweep s did);
- **groups on threads**: a thread pool runs the groups of lanes (the kernel releases the GIL), and
  a group stops once every image in it is done.

The squared change of every sweep is summed per lane and row, so the caller applies skimage's
stopping rule per image (RMS change over all pixels and channels <= eps).
"""
from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numba import njit, uint64

LANES = 16  # float32 lanes per group: two AVX2 vectors (8 lanes were not vectorized, 32 ran slower)
FIELDS = 6  # per pixel and lane: u, dx - bx, dy - by, bx, by, f * weight / norm (see below)
U, EX, EY, BX, BY, F = range(FIELDS)
# skimage's u-update is (lam * (4 neighbours + dx[c-1] - dx + dy[r-1] - dy - bx[c-1] + bx - by[r-1]
# + by) + weight * f) / norm with lam = 2 weight and norm = weight + 4 lam = 9 weight: d and b
# enter only as d - b, and the two factors are 2/9 and 1/9 whatever the weight.
LAM_NORM, F_NORM = 2.0 / 9.0, 1.0 / 9.0
COLS = 16  # padded row widths are rounded up to a multiple of this: few kernels to compile
FUSE = 8  # sweeps per pass over memory (4 ran 1.3x slower at batch 30: memory-bound)

# LLVM's fast-math flags minus "reassoc": the kernel's sums keep the order written below
FASTMATH = {"nnan", "ninf", "nsz", "arcp", "contract", "afn"}
_KERNELS: dict[int, object] = {}


def padded_width(w: int) -> int:
    """Columns of a padded row for images ``w`` pixels wide: w + 2 border, rounded up to COLS."""
    return -(-(w + 2) // COLS) * COLS


def kernel_for(wp: int):
    """The compiled sweep kernel for rows of ``wp`` padded pixels (see :func:`padded_width`).

    The row stride is a closure constant, so each width is its own compiled function; numba keys
    its on-disk cache by the closure's values, so each width compiles once per machine."""
    if wp in _KERNELS:
        return _KERNELS[wp]
    pixel = FIELDS * LANES  # floats of one pixel (all fields, all lanes)
    row_len = wp * pixel  # floats of one row

    @njit(cache=True, nogil=True, fastmath=FASTMATH, boundscheck=False, error_model="numpy")
    def sweeps(buf, groups, h, w, weight, nsweeps, acc):  # pragma: no cover - compiled
        """``nsweeps`` Gauss-Seidel sweeps of split Bregman, in place, on the listed groups.

        buf: (G, (h + 2) * wp * FIELDS * LANES) float32, each group's padded fields; rows 1..h,
        columns 1..w are the image, row/column 0 and h+1/w+1 the fixed border. acc: (G, nsweeps,
        h, LANES) float32, zero on entry; gets each sweep's squared change per row and lane."""
        lam = np.float32(2.0 * weight)
        cl = np.float32(LAM_NORM)
        one = np.float32(1.0)
        row = uint64(row_len)
        pix = uint64(pixel)
        for g in groups:
            b = buf[g]
            for front in range(1, h + nsweeps):
                for s in range(nsweeps):
                    r = front - s
                    if r < 1 or r > h:
                        continue
                    a = acc[g, s, r - 1]
                    for c in range(1, w + 1):
                        at = uint64(r) * row + uint64(c) * pix
                        for lane in range(LANES):
                            i = at + uint64(lane)
                            uprev = b[i]
                            uright = b[i + pix]
                            udown = b[i + row]
                            # u: skimage's Gauss-Seidel step (lam * (neighbours + d - b terms)
                            # + weight * f) / norm. The left neighbour was written by the last
                            # column: it enters last, so the chain from column to column is
                            # one fused multiply-add (no reassociation: fastmath without it).
                            rest = (udown + b[i - row] + uright
                                    + (b[i - pix + uint64(EX * LANES)] - b[i + uint64(EX * LANES)])
                                    + (b[i - row + uint64(EY * LANES)] - b[i + uint64(EY * LANES)]))
                            unew = cl * b[i - pix] + (cl * rest + b[i + uint64(F * LANES)])
                            b[i] = unew
                            ch = unew - uprev
                            a[lane] += ch * ch
                            # d: shrinkage of grad u + b; b: Bregman update (skimage's order)
                            tx = uright - uprev + b[i + uint64(BX * LANES)]
                            ty = udown - uprev + b[i + uint64(BY * LANES)]
                            sl = math.sqrt(tx * tx + ty * ty) * lam
                            k = sl / (sl + one)
                            dxx = k * tx
                            dyy = k * ty
                            bxx = tx - dxx
                            byy = ty - dyy
                            b[i + uint64(EX * LANES)] = dxx - bxx
                            b[i + uint64(EY * LANES)] = dyy - byy
                            b[i + uint64(BX * LANES)] = bxx
                            b[i + uint64(BY * LANES)] = byy

    _KERNELS[wp] = sweeps
    return sweeps


_HELPERS = dict(cache=True, nogil=True, boundscheck=False)


@njit(**_HELPERS)
def _load(images, groups, buf):  # pragma: no cover - compiled (images: (N, C, H, W), any strides)
    """Write every field of every lane of the listed groups of a (G, H+2, WP, FIELDS, LANES)
    buffer, up to column W+1: lane ``k = image * C + channel`` gets u = the image inside skimage's
    fixed border (reflected at the top/left, replicated at the bottom/right), f = the image times
    F_NORM, d - b = b = 0; lanes past the batch are all zero."""
    n, c, h, w = images.shape
    zero = np.float32(0.0)
    fnorm = np.float32(F_NORM)
    for g in groups:
        lanes = min(LANES, n * c - g * LANES)
        for pr in range(h + 2):
            sr = 1 if pr == 0 else (h - 1 if pr == h + 1 else pr - 1)
            for pc in range(w + 2):
                sc = 1 if pc == 0 else (w - 1 if pc == w + 1 else pc - 1)
                corner = (pr == 0 or pr == h + 1) and (pc == 0 or pc == w + 1)
                inside = 0 < pr <= h and 0 < pc <= w
                for fd in range(FIELDS):
                    for lane in range(LANES):
                        buf[g, pr, pc, fd, lane] = zero
                if corner:
                    continue  # never read
                for lane in range(lanes):
                    k = g * LANES + lane
                    v = np.float32(images[k // c, k % c, sr, sc])
                    buf[g, pr, pc, U, lane] = v
                    if inside:
                        buf[g, pr, pc, F, lane] = v * fnorm


@njit(**_HELPERS)
def _read(buf, images, out):  # pragma: no cover - compiled (out: (N, C, H, W))
    """out[i] = u inside the border, for each image index i listed (lanes i * C + channel)."""
    c, h, w = out.shape[1], out.shape[2], out.shape[3]
    for i in images:
        for r in range(h):
            for col in range(w):
                for ch in range(c):  # an image's lanes mostly share one cache line
                    k = i * c + ch
                    out[i, ch, r, col] = buf[k // LANES, r + 1, col + 1, U, k % LANES]


def threads() -> int:
    """Threads the kernel runs on: numba's setting (``NUMBA_NUM_THREADS``, default the cores)."""
    return max(1, numba.get_num_threads())


_POOL: dict[int, ThreadPoolExecutor] = {}
_WORK = {"buf": np.empty(0, np.float32), "lock": threading.Lock()}


def _aligned(size: int) -> np.ndarray:
    """A float32 array of ``size`` starting on a 64-byte boundary: the kernel's 32-byte vectors
    then never straddle two cache lines (numpy's 16-byte alignment cost 10-15%)."""
    raw = np.empty(size + 16, np.float32)
    start = (-raw.ctypes.data % 64) // 4
    return raw[start:start + size]


def _workspace(shape: tuple) -> tuple[np.ndarray, bool]:
    """A 64-byte aligned float32 array of ``shape`` carved from one buffer kept between calls (a
    fresh 40 MB allocation costs more in page faults than the sweeps of a small batch); a
    concurrent call gets a fresh array. Returns (array, whether the shared buffer is held)."""
    size = int(np.prod(shape))
    if not _WORK["lock"].acquire(blocking=False):
        return _aligned(size).reshape(shape), False
    if _WORK["buf"].size < size:
        _WORK["buf"] = _aligned(size)
    return _WORK["buf"][:size].reshape(shape), True


def _parallel(fn, first, groups: np.ndarray, nthreads: int, *rest) -> None:
    """``fn(first, part, *rest)`` for ``groups`` cut into one contiguous part per thread."""
    parts = [p for p in np.array_split(groups, min(nthreads, len(groups))) if len(p)]
    if len(parts) == 1:
        fn(first, parts[0], *rest)
        return
    pool = _POOL.get(len(parts)) or _POOL.setdefault(
        len(parts), ThreadPoolExecutor(len(parts), thread_name_prefix="mfv-tv"))
    for job in [pool.submit(fn, first, p, *rest) for p in parts]:
        job.result()


def tv_bregman(images: np.ndarray, weight: float, max_iter: int = 100, eps: float = 1e-3,
               fuse: int = FUSE, nthreads: int | None = None, return_sweeps: bool = False):
    """Split-Bregman TV of (N, H, W, C) images (skimage's layout); see :func:`tv_bregman_nchw`."""
    out, sweeps = tv_bregman_nchw(np.asarray(images).transpose(0, 3, 1, 2), weight, max_iter, eps,
                                  fuse, nthreads)
    out = np.ascontiguousarray(out.transpose(0, 2, 3, 1))
    return (out, sweeps) if return_sweeps else out


def tv_bregman_nchw(images: np.ndarray, weight: float, max_iter: int = 100, eps: float = 1e-3,
                    fuse: int = FUSE, nthreads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Split-Bregman TV of (N, C, H, W) images (any strides, any float type; torch's layout, so
    :func:`mfv_utils.optimization.priors.tv_denoise` copies nothing): skimage's algorithm, border and
    stopping rule per image (an image stops after the first sweep whose RMS change over its
    pixels and channels is <= eps). Returns the float32 (N, C, H, W) results and, per image,
    the sweep whose change first met eps (or max_iter): skimage's sweep count.

    ``fuse`` sweeps run per pass over memory; an image that meets eps inside a pass keeps the
    (at most ``fuse - 1``) sweeps after it, each changing it by less than eps. A group of lanes
    stops once every image in it is done; a finished image in a group that goes on rides along,
    its output already saved. The result depends neither on the batch, nor on the lane an image
    sits in, nor on the thread count: lanes never mix. With ``fuse=1`` every image stops at
    exactly skimage's sweep."""
    if images.ndim != 4 or min(images.shape[2:]) < 2:
        raise ValueError(f"tv_bregman needs (N, C, H, W) images of at least 2x2 pixels, got shape "
                         f"{tuple(images.shape)}")
    n, c, h, w = images.shape
    out = np.empty((n, c, h, w), np.float32)
    sweeps = np.zeros(n, int)
    if n == 0 or max_iter < 1:  # no sweep: u is the image (skimage's start)
        out[...] = images
        return out, sweeps
    nthreads = threads() if nthreads is None else max(1, int(nthreads))
    wp = padded_width(w)
    kernel = kernel_for(wp)
    ngroups = -(-n * c // LANES)
    buf, held = _workspace((ngroups, h + 2, wp, FIELDS, LANES))
    try:
        _parallel(_load, images, np.arange(ngroups), nthreads, buf)
        _solve(kernel, buf, out, sweeps, weight, max_iter, eps, fuse, nthreads)
    finally:
        if held:
            _WORK["lock"].release()
    return out, sweeps


def _solve(kernel, buf, out, sweeps, weight, max_iter, eps, fuse, nthreads) -> None:
    """Run passes of ``fuse`` sweeps on the loaded buffer until every image has met eps (or
    max_iter); each image's result goes to ``out`` at the end of the pass where it is done, and
    the sweep at which it met eps (or max_iter) to ``sweeps``. The passes end at the same sweeps
    whatever the batch, so an image's result does not depend on the other images."""
    ngroups = buf.shape[0]
    n, c, h, w = out.shape
    flat = buf.reshape(ngroups, -1)
    group_of = np.arange(n * c).reshape(n, c) // LANES  # the group of each image's lanes
    done = np.zeros(n, bool)
    it, total = 0, h * w * c
    while not done.all():
        nsweeps = min(fuse, max_iter - it)
        acc = _aligned(ngroups * nsweeps * h * LANES).reshape(ngroups, nsweeps, h, LANES)
        acc[...] = 0
        _parallel(kernel, flat, np.unique(group_of[~done]), nthreads,
                  h, w, np.float32(weight), nsweeps, acc)
        it += nsweeps
        # per image and sweep: RMS change over its pixels and channels
        sq = acc.sum(2, dtype=np.float64).transpose(0, 2, 1).reshape(ngroups * LANES, nsweeps)
        rmse = np.sqrt(sq[: n * c].reshape(n, c, nsweeps).sum(1) / total)
        met = rmse <= eps
        finished = ~done & (met.any(1) | (it >= max_iter))
        if finished.any():
            sweeps[finished] = np.where(met.any(1), it - nsweeps + 1 + met.argmax(1), it)[finished]
            _parallel(_read, buf, np.flatnonzero(finished), nthreads, out)
            done |= finished


def warm_up(widths=(224,)) -> float:
    """Compile (or load from numba's disk cache) the kernels for images of these widths, for the
    C-contiguous float32 NCHW arrays that :func:`mfv_utils.optimization.priors.tv_denoise` passes; returns the
    seconds it took. The first call on a machine compiles (1-2 s, then about 0.5 s per width)."""
    t = time.perf_counter()
    for w in widths:
        tv_bregman_nchw(np.zeros((1, 1, 2, w), np.float32), 1.0, max_iter=1)
    return time.perf_counter() - t
