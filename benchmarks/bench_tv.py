"""tv_denoise (batched torch) vs skimage's denoise_tv_bregman, per image, same process.

    python benchmarks/bench_tv.py [--batch 10] [--repeat 3]

Prints ms per image for both and the ratio (skimage / ours; the issue's goal: >= 20x at
batch 10), on real 227 x 227 images of the authors' bell-pepper set, at the TV weights the
schedule uses.
"""
import argparse
import time

import numpy as np
import torch
from skimage.restoration import denoise_tv_bregman

from mfv_utils import tv_denoise
from mfv_utils.data import load_image_set


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    imgs = load_image_set("paper:bell_pepper").images[: args.batch].float()
    arrays = [im.permute(1, 2, 0).double().numpy() for im in imgs]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, "
          f"{imgs.shape[-1]}x{imgs.shape[-2]} px")
    for w in (0.01, 0.4, 2.0):
        ours = best_of(lambda: tv_denoise(imgs, w), args.repeat) / args.batch
        ref = best_of(lambda: [denoise_tv_bregman(a, weight=w, max_num_iter=100, eps=1e-3) for a in arrays],
                      args.repeat) / args.batch
        print(f"weight {w:5.2f}: skimage {ref * 1e3:7.1f} ms/img, tv_denoise {ours * 1e3:7.1f} ms/img, "
              f"ratio {ref / ours:5.2f}x")


if __name__ == "__main__":
    main()
