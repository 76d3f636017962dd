"""One optimization step: the network's speed levers, notebook 01's methods and the authors' loop, one process.

    python benchmarks/bench_step.py [--iters 7] [--steps 10] [--factor 0.06] [--no-compile] [--device auto]

On the 10 bell-pepper facet mean images (the authors' clusters), unit = the bell-pepper logit.

1. The bare network step (Lite0 forward + gradient to the input) at batch 10 and batch 1, ms per
   image, best of ``--iters``: today's eager module graph, then each lever of
   ``mfv_utils.networks.frozen`` (``fold_batchnorm``, ``static_padding``, ``fold_batchnorm +
   fuse_activation``: fusion needs the BatchNorm out of the way), then ``keep_freed_memory``
   (process-wide, so it comes after the arms without it), then all of them (the default) and the
   default with ``torch.compile``, whose first call (the compile) is timed apart, in a fresh
   process with an empty inductor cache and again in one that finds the cache.
   Speed-ups are against eager at the same batch (goal: >= 2x at batch 10).
2. With the default network: the default method ``facet`` (Fourier parametrization with the
   facet's real spectrum, colour projection, transforms, centroid anchor, Adam; timed as the difference of two runs so its one-time set-up is left
   out) against the bare step (goal <= 1.3x); the paper method (the authors' mean-initialized
   schedule, all four phases, shortened by ``--factor``, TV by the fused kernel); and the
   reference loop, what the authors' code does: the same schedule one image at a time, skimage's
   ``denoise_tv_bregman`` after each step, on the eager network.
"""
import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time

import torch
from skimage.restoration import denoise_tv_bregman

from mfv_utils.networks import frozen
from mfv_utils.optimization import methods, optimize, param, tv_kernel
from mfv_utils.data import load_image_set
from mfv_utils.networks.models import Unit, load_model

UNIT = Unit("logits", 945)


def timed(fn):
    t = time.perf_counter()
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - t


def bare(net, imgs):
    crop = imgs.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(optimize.objective(net, crop, UNIT).sum(), crop)
    return g


def per_image(net, x, iters):
    """Best-of-``iters`` ms per image of the bare step at len(x) images, and at batch 1."""
    bare(net, x)
    b10 = min(timed(lambda: bare(net, x)) for _ in range(iters)) / len(x)
    b1 = min(timed(lambda: [bare(net, x[b:b + 1]) for b in range(len(x))]) for _ in range(max(2, iters // 2))) / len(x)
    return b10 * 1e3, b1 * 1e3


@dataclasses.dataclass(frozen=True)
class SkimageTV:
    """Post step: skimage's TV on each image, one at a time (the authors' code)."""

    def __call__(self, images, phase, i, ramp):
        w = optimize.tv_weight(phase, i, ramp)
        return torch.stack([torch.from_numpy(denoise_tv_bregman(
            im.permute(1, 2, 0).double().numpy(), weight=w, max_num_iter=100, eps=1e-3)).permute(2, 0, 1).float()
            for im in images])


def compile_first_call(cache_dir: str, device: str) -> dict:
    """In a fresh process: build the default network with compile, time its first call (the
    compile, or the load from ``cache_dir``) and its steady step."""
    code = (
        "import dataclasses, json, sys, time, torch\n"
        f"sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})\n"
        "from bench_step import bare, timed\n"
        "from mfv_utils import frozen\nfrom mfv_utils.networks.models import load_model\n"
        f"net = load_model(device={device!r}, levers=dataclasses.replace(frozen.DEFAULT, compile=True))\n"
        "x = torch.rand(10, 3, 224, 224, generator=torch.Generator().manual_seed(0)) * 255\n"
        "first = timed(lambda: bare(net, x))\n"
        "steady = min(timed(lambda: bare(net, x)) for _ in range(5)) / 10\n"
        "print(json.dumps({'first_call_s': first, 'ms_per_image': steady * 1e3}))\n")
    env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=7, help="repetitions of each bare timing (best is kept)")
    ap.add_argument("--steps", type=int, default=10, help="steps of the default method")
    ap.add_argument("--factor", type=float, default=0.06, help="shortening of the paper schedule")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile arm (about 2 minutes)")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    s = load_image_set("paper:bell_pepper")
    x = torch.stack([s.images[s.labels == j].float().mean(0) for j in range(10)])
    x224 = torch.nn.functional.interpolate(x, size=(224, 224), mode="bilinear", antialias=True)
    no_mem = dataclasses.replace(frozen.EAGER)
    arms = [  # (label, levers); the ones without keep_freed_memory first: it is process-wide
        ("eager (today)", no_mem),
        ("fold_batchnorm", dataclasses.replace(no_mem, fold_batchnorm=True)),
        ("static_padding", dataclasses.replace(no_mem, static_padding=True)),
        ("fold_batchnorm + fuse_activation", dataclasses.replace(no_mem, fold_batchnorm=True, fuse_activation=True)),
        ("keep_freed_memory", dataclasses.replace(no_mem, keep_freed_memory=True)),
        ("all (the default)", frozen.DEFAULT),
    ]
    rows, nets = [], {}
    for label, levers in arms:
        net = load_model(device=args.device, levers=levers)
        xd = x224.to(net.device)
        rows.append((label, *per_image(net, xd, args.iters)))
        nets[label] = net
    eager10, eager1 = rows[0][1], rows[0][2]
    dev = nets["all (the default)"].device
    print(f"bare forward + input gradient, Lite0, {dev}, {torch.get_num_threads()} threads; ms per image "
          f"(speed-up vs eager at the same batch):")
    print(f"  {'':34s} {'batch 10':>16s} {'batch 1':>16s}")
    for label, b10, b1 in rows:
        print(f"  {label:34s} {b10:7.1f} ({eager10 / b10:4.2f}x) {b1:7.1f} ({eager1 / b1:4.2f}x)")
    if not args.no_compile:
        with tempfile.TemporaryDirectory() as cache:
            cold = compile_first_call(cache, str(dev))
            warm = compile_first_call(cache, str(dev))
        print(f"  {'all + torch.compile':34s} {warm['ms_per_image']:7.1f} ({eager10 / warm['ms_per_image']:4.2f}x)"
              f"   first call {cold['first_call_s']:.0f} s with an empty inductor cache, "
              f"{warm['first_call_s']:.0f} s from the cache (another process)")
    fast, eager = nets["all (the default)"], nets["eager (today)"]
    bare10 = rows[-1][1] / 1e3
    with torch.no_grad():
        cents = torch.nn.functional.normalize(fast(x, "pool"), dim=1)
    mags = param.mean_magnitude(x224)[None].expand(len(x), -1, -1, -1)
    real = [s.images[s.labels == j].float() for j in range(10)]
    tv_kernel.warm_up((224, 269))  # compile / load the TV kernels outside the timings

    def default(k):
        recipe = dataclasses.replace(methods.METHODS[methods.DEFAULT], steps=k)
        return timed(lambda: methods.run(recipe, fast, UNIT, x, centroids=cents, magnitudes=mags, real=real,
                                         progress=False))

    default(2)
    t_default = (default(args.steps + 2) - default(2)) / args.steps / len(x)
    schedule = optimize.shorten(optimize.MEAN_INIT, args.factor)
    steps = sum(p.iters for p in schedule)
    t_paper = timed(lambda: optimize.maximize(fast, UNIT, x, schedule, progress=False)) / steps / len(x)
    reference = tuple(dataclasses.replace(p, post=(SkimageTV(),)) for p in schedule)
    t_ref = timed(lambda: [optimize.maximize(eager, UNIT, x[b:b + 1], reference, progress=False)
                           for b in range(len(x))]) / steps / len(x)
    print(f"methods on the default network, batch {len(x)}; ms per image-step "
          f"(paper schedule: {steps} steps, phases {[p.iters for p in schedule]}):")
    print(f"  default method {methods.DEFAULT!r:26s} {t_default * 1e3:6.1f}  -> {t_default / bare10:4.2f}x bare"
          f" (goal <= 1.3)")
    print(f"  paper method (fused TV kernel)            {t_paper * 1e3:6.1f}  -> {t_paper / bare10:4.2f}x bare")
    print(f"  reference loop (eager, batch 1, skimage)  {t_ref * 1e3:6.1f}  -> {t_ref / t_default:4.2f}x the default "
          f"method, {t_ref / t_paper:4.2f}x the paper method")


if __name__ == "__main__":
    main()
