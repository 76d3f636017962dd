"""One iteration of every method of notebook 04 vs the bare forward + input gradient, one process.

    python benchmarks/bench_methods.py [--batch 12] [--iters 6]

Each method runs its batch of classes (one class per image, as the notebook does) from its own
start; its time per iteration is the difference of a run with ``iters`` more iterations (per
phase) than the shortest one, and the shortest, divided by the difference in iterations, so one-time set-up (parametrization, anchors' references) is
left out. "bare" is Lite0's forward + backward to the input at the same batch: the floor of any
method. Printed: ms per iteration and the ratio to bare.
"""
import argparse
import time

import torch

from mfv_utils.optimization import methods, optimize
from mfv_utils.networks.models import Unit, load_model
from mfv_utils.optimization.priors import tv_denoise


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--iters", type=int, default=6)
    args = ap.parse_args()
    net = load_model()
    n = args.batch
    unit = Unit(net.logits_layer, tuple(range(0, 1000, 1000 // n))[:n])
    noise = optimize.noise_images(n, net.input_size, 0)
    means = torch.nn.functional.avg_pool2d(optimize.noise_images(n, net.input_size, 1), 9, 1, 4)  # smooth starts
    with torch.no_grad():
        cents = torch.nn.functional.normalize(net(means, "pool"), dim=1)
    tv_denoise(noise[:1], 0.4)  # compile / load the TV kernel outside the timings

    def bare():
        x = noise.clone().requires_grad_(True)
        torch.autograd.grad(optimize.objective(net, x, unit).sum(), x)

    bare()
    t_bare = min(timed(bare) for _ in range(args.iters))
    print(f"batch {n}, {torch.get_num_threads()} threads; bare forward + input gradient "
          f"{t_bare * 1e3:.0f} ms per iteration")
    print(f"{'method':>18} {'ms/iter':>8} {'x bare':>7}")
    for name, (start, recipe) in methods.COMPARISON.items():
        seeds = noise if start == "noise" else means

        def run(k):
            r = methods.shorten(recipe, k / methods.iterations(recipe))
            return timed(lambda: methods.run(r, net, unit, seeds, centroids=cents, progress=False)), \
                methods.iterations(r)

        lo = methods.iterations(methods.shorten(recipe, 1e-9))  # 2 per phase at least
        t_lo, i_lo = run(lo)
        t_hi, i_hi = run(lo + args.iters * (len(recipe) if isinstance(recipe, tuple) else 1))
        per = (t_hi - t_lo) / max(i_hi - i_lo, 1)
        print(f"{name:>18} {per * 1e3:8.0f} {per / t_bare:7.2f}")


if __name__ == "__main__":
    main()
