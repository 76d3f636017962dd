"""One optimization step of notebook 01's methods vs the bare network and the authors' loop, one process.

    python benchmarks/bench_step.py [--batch 10] [--iters 10] [--factor 0.06]

On the 10 bell-pepper facet mean images (the authors' clusters), unit = the bell-pepper logit:

- bare: Lite0 forward + backward to the input at the batch size, and at batch 1 (the floor of
  any method, batched or not);
- the default method ``anchored`` (Fourier parametrization, transforms, anchors, Adam), timed
  as the difference of two runs so that its one-time set-up is left out;
- the paper method: the authors' mean-initialized schedule (all four phases, their TV weights,
  shortened by ``--factor``) on the whole batch, TV by the fused kernel;
- the reference loop, what the authors' code does: the same schedule one image at a time
  (batch 1), skimage's ``denoise_tv_bregman`` after each step (a post step swapped in as data).

Prints ms per image-step and the ratios the issue asks for: default step / bare (goal <= 1.5)
and reference loop / notebook 01's optimization per image-step (goal >= 3), for the default
and for the paper method, and the ceiling: reference / bare, the most any batched method can
gain when it costs nothing beyond the network's own forward and backward.
"""
import argparse
import dataclasses
import time

import torch
from skimage.restoration import denoise_tv_bregman

from mfv_utils import methods, optimize, param, tv_kernel
from mfv_utils.data import load_image_set
from mfv_utils.models import Unit, load_model


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


@dataclasses.dataclass(frozen=True)
class SkimageTV:
    """Post step: skimage's TV on each image, one at a time (the authors' code)."""

    def __call__(self, images, phase, i, ramp):
        w = optimize.tv_weight(phase, i, ramp)
        return torch.stack([torch.from_numpy(denoise_tv_bregman(
            im.permute(1, 2, 0).double().numpy(), weight=w, max_num_iter=100, eps=1e-3)).permute(2, 0, 1).float()
            for im in images])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--iters", type=int, default=10, help="steps of the default method")
    ap.add_argument("--factor", type=float, default=0.06, help="shortening of the paper schedule")
    args = ap.parse_args()
    net = load_model()
    s = load_image_set("paper:bell_pepper")
    x = torch.stack([s.images[s.labels == j].float().mean(0) for j in range(10)])[: args.batch]
    n = len(x)
    unit = Unit(net.logits_layer, 945)
    x224 = torch.nn.functional.interpolate(x, size=(224, 224), mode="bilinear", antialias=True)
    with torch.no_grad():
        cents = torch.nn.functional.normalize(net(x, "pool"), dim=1)
    mags = param.mean_magnitude(x224)[None].expand(n, -1, -1, -1)
    tv_kernel.warm_up((224, 269))  # compile / load the TV kernels outside the timings

    def bare(imgs):
        crop = imgs.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(optimize.objective(net, crop, unit).sum(), crop)
        return g

    bare(x224)
    t_bare = min(timed(lambda: bare(x224)) for _ in range(args.iters)) / n
    t_bare1 = min(timed(lambda: [bare(x224[b:b + 1]) for b in range(n)]) for _ in range(3)) / n

    def default(k):
        recipe = dataclasses.replace(methods.METHODS["anchored"], steps=k)
        return timed(lambda: methods.run(recipe, net, unit, x, centroids=cents, magnitudes=mags, progress=False))

    default(2)
    t_default = (default(args.iters + 2) - default(2)) / args.iters / n

    schedule = optimize.shorten(optimize.MEAN_INIT, args.factor)
    steps = sum(p.iters for p in schedule)
    t_paper = timed(lambda: optimize.maximize(net, unit, x, schedule, progress=False)) / steps / n
    reference = tuple(dataclasses.replace(p, post=(SkimageTV(),)) for p in schedule)
    t_ref = timed(lambda: [optimize.maximize(net, unit, x[b:b + 1], reference, progress=False)
                           for b in range(n)]) / steps / n

    print(f"batch {n}, {torch.get_num_threads()} threads; ms per image-step "
          f"(paper schedule: {steps} steps, phases {[p.iters for p in schedule]}):")
    print(f"  bare forward + input gradient, batch {n:2d}   {t_bare * 1e3:6.1f}")
    print(f"  bare forward + input gradient, batch  1   {t_bare1 * 1e3:6.1f}")
    print(f"  default method 'anchored'                 {t_default * 1e3:6.1f}  -> {t_default / t_bare:4.2f}x bare"
          f" (goal <= 1.5)")
    print(f"  paper method (fused TV kernel)            {t_paper * 1e3:6.1f}  -> {t_paper / t_bare:4.2f}x bare")
    print(f"  reference loop (batch 1, skimage TV)      {t_ref * 1e3:6.1f}")
    print(f"  reference / default = {t_ref / t_default:4.2f}x, reference / paper = {t_ref / t_paper:4.2f}x "
          f"(goal >= 3); ceiling reference / bare = {t_ref / t_bare:4.2f}x")


if __name__ == "__main__":
    main()
