"""Attribution of a batch of 10 images against one forward + input gradient, one process.

    python benchmarks/bench_attribution.py [--iters 5] [--layer logits --channel 945]

On the 10 bell-pepper images at 224 px, unit = the bell-pepper logit (or ``--layer/--channel``).
Best of ``--iters`` each, ms per image:

- the baseline: one forward + gradient to the input, on the figures' network (every speed lever
  on, ``frozen.DEFAULT``), on the network attribution runs on (``attribution.LEVERS``: all but
  the fused convolution + activation, which no rule could see) and on the plain module graph
  (``frozen.EAGER``);
- each attribution method of ``mfv_utils.attribution`` (``gradient``, ``deconv``, ``lrp``) on
  the ``attribution.LEVERS`` network inside one ``attributing`` block (the canonization done
  once, as notebook 05 does), the canonization + hooks set-up itself (once per block), and LRP
  on the plain module graph for comparison.

Goal (issue 20): LRP <= 3x the baseline, the fastest one (the figures' network). Ratios only:
machines here differ by 2x.
"""
import argparse
import json
import time

import torch

from mfv_utils import attribution
from mfv_utils.attribution import lrp_rules
from mfv_utils.networks import frozen
from mfv_utils.data import load_image_set
from mfv_utils.networks.models import Unit, load_model, unit_activation


def best(fn, iters):
    fn()
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--layer", default="logits")
    ap.add_argument("--channel", type=int, default=945)
    args = ap.parse_args()
    x = load_image_set("paper:bell_pepper", size=224).images[:10]
    unit = Unit(args.layer, args.channel)
    fast = load_model("efficientnet_lite0", device="cpu")
    attr = load_model("efficientnet_lite0", device="cpu", levers=attribution.LEVERS)
    plain = load_model("efficientnet_lite0", device="cpu", levers=frozen.EAGER)

    def step(model):
        def run():
            h = x.float().requires_grad_(True)
            act = unit_activation(model(h, unit.layer), unit)
            torch.autograd.grad(act.sum(), h)
        return run

    n = len(x)
    ms = {"forward + input gradient (levers)": best(step(fast), args.iters) * 1000 / n,
          "forward + input gradient (attribution levers)": best(step(attr), args.iters) * 1000 / n,
          "forward + input gradient (eager)": best(step(plain), args.iters) * 1000 / n}
    for method in attribution.METHODS:
        t = time.perf_counter()
        with attribution.attributing(attr, method) as attribute:
            setup = time.perf_counter() - t
            ms[method] = best(lambda: attribute(x, unit), args.iters) * 1000 / n
        ms[f"{method} set-up (once per block, ms)"] = setup * 1000
    with attribution.attributing(plain, "lrp") as attribute:
        ms["lrp (eager model)"] = best(lambda: attribute(x, unit), args.iters) * 1000 / n
    # does the fused numba quotient (attribution.lrp_kernel) pay? LRP with torch's quotient instead
    kernel, lrp_rules.lrp_kernel = lrp_rules.lrp_kernel, None
    try:
        with attribution.attributing(attr, "lrp") as attribute:
            ms["lrp (torch quotient, no lrp_kernel)"] = best(lambda: attribute(x, unit), args.iters) * 1000 / n
            plain_maps = attribute(x, unit)
    finally:
        lrp_rules.lrp_kernel = kernel
    with attribution.attributing(attr, "lrp") as attribute:
        kernel_maps = attribute(x, unit)
    same = float((kernel_maps - plain_maps).abs().max() / plain_maps.abs().max())
    base = ms["forward + input gradient (levers)"]
    print(f"batch {n}, {torch.get_num_threads()} threads, ms per image (best of {args.iters}):")
    for name, v in ms.items():
        ratio = "" if "set-up" in name else f"  {v / base:5.2f}x the levers baseline, " \
            f"{v / ms['forward + input gradient (eager)']:5.2f}x eager"
        print(f"  {name:>46}: {v:8.1f}{ratio}")
    print(json.dumps({"ms": {k: round(v, 2) for k, v in ms.items()},
                      "lrp_over_baseline": round(ms["lrp"] / base, 2),
                      "lrp_over_eager": round(ms["lrp"] / ms["forward + input gradient (eager)"], 2),
                      "goal_lrp_le_3x": ms["lrp"] / base <= 3,
                      "lrp_kernel_speedup": round(ms["lrp (torch quotient, no lrp_kernel)"] / ms["lrp"], 3),
                      "lrp_kernel_max_relative_difference": same}))


if __name__ == "__main__":
    main()
