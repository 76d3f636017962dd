"""One optimization iteration vs the bare model forward + input gradient, same process.

    python benchmarks/bench_step.py [--batch 10] [--iters 10]

The iteration (crop, forward, gradient, step, clip, TV, write back) is timed through
``optimize.maximize`` on a one-phase schedule on the 1.2x canvas; the reference is the
Lite0 forward + backward to the input at the same batch. The issue's goal: <= 1.25x.
"""
import argparse
import time

import torch

from mfv_utils import optimize
from mfv_utils.data import load_image_set
from mfv_utils.models import Unit, load_model
from mfv_utils.priors import tv_denoise


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--iters", type=int, default=10)
    args = ap.parse_args()
    net = load_model()
    s = load_image_set("paper:bell_pepper")
    x = s.images[: args.batch].float()
    unit = Unit(net.logits_layer, 945)
    x224 = torch.nn.functional.interpolate(x, size=(224, 224), mode="bilinear", antialias=True)

    def bare():
        crop = x224.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(optimize.objective(net, crop, unit).sum(), crop)
        return g

    def tv_only():
        return tv_denoise(x224, 0.4)

    phase = (optimize.Phase(iters=args.iters, scale=1.2, window=0.3, step=(1, 1), tv=(0.4, 0.4)),)
    bare(), tv_only()  # warm up
    t = time.perf_counter()
    for _ in range(args.iters):
        bare()
    t_bare = (time.perf_counter() - t) / args.iters
    t = time.perf_counter()
    for _ in range(args.iters):
        tv_only()
    t_tv = (time.perf_counter() - t) / args.iters
    t = time.perf_counter()
    optimize.maximize(net, unit, x, phase, progress=False)
    t_step = (time.perf_counter() - t) / args.iters
    print(f"batch {args.batch}: forward+input gradient {t_bare * 1e3:.0f} ms, TV step {t_tv * 1e3:.0f} ms, "
          f"full iteration {t_step * 1e3:.0f} ms -> iteration / bare = {t_step / t_bare:.2f}x")


if __name__ == "__main__":
    main()
