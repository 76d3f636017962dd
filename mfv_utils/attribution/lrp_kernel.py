"""The fused CPU kernel behind LRP's stabilized quotient (:mod:`.attribution`, numba).

Every LRP rule of :mod:`.attribution` divides the relevance arriving at a layer's output by the
layer's (modified) output ``z``, stabilized the way zennit stabilizes it (``z + epsilon`` where
``z >= 0``, -0 included, ``z - epsilon`` elsewhere). In torch that is 3 to 6 passes over the
layer's widest tensor (an expanded MobileNet block: 96 channels at 112 x 112), each a memory
round trip that costs more than the convolution beside it. :func:`quotient_` makes it one pass,
written over ``z`` (which the rules own), with IEEE arithmetic in the same order: the result is
bit for bit the torch one (tested). Threads: the caller's torch thread count, one slice each.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from numba import njit

_POOL: dict[int, ThreadPoolExecutor] = {}
if hasattr(os, "register_at_fork"):  # a forked child has none of the parent's threads
    os.register_at_fork(after_in_child=_POOL.clear)


@njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")
def _quotient(grad, z, epsilon, lo, hi):  # pragma: no cover - compiled
    """z[i] = grad[i] / (z[i] + epsilon if z[i] >= 0 else z[i] - epsilon) for lo <= i < hi.

    Written so that LLVM vectorizes it (each measured 3-5x slower otherwise): the loop runs over
    slices from 0 (an index loop from ``lo`` stayed scalar), and the sign is arithmetic,
    ``-epsilon + [z >= 0] * 2 epsilon`` (exactly +-epsilon; the 0/1 factor in float32, so a
    float32 tensor is never computed in float64), not a branch."""
    two, neg = epsilon + epsilon, -epsilon
    g, out = grad[lo:hi], z[lo:hi]
    for i in range(out.size):
        d = out[i]
        out[i] = g[i] / (d + (neg + np.float32(d >= 0) * two))


def _flat(t: torch.Tensor) -> np.ndarray | None:
    """A 1-D numpy view of every element of ``t`` in memory order, or None when ``t`` is not a
    dense CPU float tensor (in some order of its dimensions, e.g. channels-last)."""
    if t.device.type != "cpu" or t.dtype not in (torch.float32, torch.float64) or t.requires_grad:
        return None
    order = sorted(range(t.ndim), key=lambda d: (-t.stride(d), d))
    p = t.permute(order)
    return p.view(-1).numpy() if p.is_contiguous() else None


def quotient_(grad: torch.Tensor, z: torch.Tensor, epsilon: float) -> torch.Tensor | None:
    """``z`` overwritten with ``grad / stabilize(z)`` (see the module docstring), in one pass;
    None (nothing written) when the two do not share one dense CPU layout and dtype."""
    if grad.shape != z.shape or grad.stride() != z.stride() or grad.dtype != z.dtype:
        return None
    g, out = _flat(grad), _flat(z)
    if g is None or out is None or np.may_share_memory(g, out):
        return None
    eps = out.dtype.type(epsilon)
    n, k = out.size, max(1, min(torch.get_num_threads(), out.size // 65536))
    if k == 1:
        _quotient(g, out, eps, 0, n)
    else:
        pool = _POOL.get(k) or _POOL.setdefault(k, ThreadPoolExecutor(k))
        bounds = [n * i // k for i in range(k + 1)]
        for f in [pool.submit(_quotient, g, out, eps, lo, hi) for lo, hi in zip(bounds, bounds[1:])]:
            f.result()
    # written behind autograd's back: count it as an in-place write, so a graph that saved z fails loudly
    torch.autograd.graph.increment_version(z)
    return z
