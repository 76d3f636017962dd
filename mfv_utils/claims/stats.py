"""A measure over seeds: its mean, min-max and bootstrap 95 % interval, and on how many seeds its
goal (or claim) holds. Pure functions on lists of numbers."""
from __future__ import annotations

import numpy as np

BOOTSTRAP = 2000  # resamples of the seeds for the interval
CI = 0.95


def bootstrap_interval(values, resamples: int = BOOTSTRAP, level: float = CI, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (resampling the seeds); the same
    values give the same interval (a fixed generator)."""
    v = np.asarray(values, dtype=float)
    if len(v) == 1:
        return float(v[0]), float(v[0])
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(resamples, len(v)))].mean(1)
    tail = (1 - level) / 2 * 100
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def meets(value: float, low: float | None, high: float | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def verdict(holds: list[bool]) -> str:
    """``holds`` on every seed, ``does not hold`` on none, else ``mixed``."""
    return "holds" if all(holds) else "does not hold" if not any(holds) else "mixed"


def summarize(values, low: float | None = None, high: float | None = None, boolean: bool = False) -> dict:
    """The numbers of one measure over its seeds. A true / false measure is summarized as the
    share of seeds where it is true, and holds where true; a measure with a goal holds on a seed
    where its value meets the goal, and is ``met`` when its **mean** does."""
    v = [float(x) for x in values]
    lo, hi = bootstrap_interval(v)
    out = {"n_seeds": len(v), "values": [round(x, 4) for x in v], "mean": round(float(np.mean(v)), 4),
           "min": round(min(v), 4), "max": round(max(v), 4), "ci95": [round(lo, 4), round(hi, 4)]}
    if boolean:
        holds = [x >= 0.5 for x in v]
    elif low is not None or high is not None:
        holds = [meets(x, low, high) for x in v]
        out["goal"] = [low, high]
        out["met"] = meets(out["mean"], low, high)
        # how sure: the whole interval inside the goal, across its bound, or outside
        inside = [meets(b, low, high) for b in (lo, hi)]
        out["sure"] = "inside" if all(inside) else "outside" if not any(inside) else "across"
    else:
        return out
    out["holds_on"] = f"{sum(holds)}/{len(holds)}"
    out["verdict"] = verdict(holds)
    return out
