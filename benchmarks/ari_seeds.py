"""How much Algorithm 1's agreement with the authors' clusters depends on the seed.

    python benchmarks/ari_seeds.py [--seeds 8] [--perplexity 10]

For both paper classes: adjusted Rand index of our t-SNE + k-means clusters (Lite0 pooled
codes, k=10, m=15, as notebook 01) against the authors' clusters, for seeds 0..N-1.
"""
import argparse

import numpy as np

import mfv_utils as mfv
from mfv_utils import data
from mfv_utils.evaluation import metrics
from mfv_utils.networks import models


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--perplexity", type=float, default=10.0)
    args = ap.parse_args()
    net = models.load_model()
    for name in ("paper:bell_pepper", "paper:movie_theater"):
        s = data.load_image_set(name)
        unit = models.Unit(net.logits_layer, s.target.index)
        aris = [metrics.adjusted_rand(mfv.find_facets(net, unit, images=s, k=10, m=15, perplexity=args.perplexity,
                                                      seed=seed).labels, s.labels)
                for seed in range(args.seeds)]
        print(f"{name}: ARI per seed {np.round(aris, 3).tolist()}; mean {np.mean(aris):.3f}, "
              f"min {np.min(aris):.3f}, max {np.max(aris):.3f}")


if __name__ == "__main__":
    main()
