"""What every notebook does first: seed every generator, make its output folder, time its stages."""
from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np
import torch


class Laps:
    """``lap(stage)`` records the seconds since the previous call (or since creation) under
    ``stage`` in ``lap.timings``: the ``timings`` block of every ``metrics.json``."""

    def __init__(self):
        self.timings: dict[str, float] = {}
        self._tic = time.perf_counter()

    def __call__(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = round(now - self._tic, 3)
        self._tic = now  # returns nothing: a notebook cell ending in lap(...) shows no stray number


def start(seed: int, out_dir: str | Path, *subfolders: str) -> tuple[Path, Laps]:
    """Seed Python's, numpy's and torch's global generators with ``seed``, create ``out_dir``
    (and its ``subfolders``), and start the stage timer. Returns (output folder, timer)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for sub in subfolders:
        (out / sub).mkdir(parents=True, exist_ok=True)
    return out, Laps()
