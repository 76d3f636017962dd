"""The notebooks' shared start: seeding, output folders, the stage timer."""
import random
import time

import numpy as np
import torch

from mfv_utils.runtime import session


def test_start_seeds_every_generator_and_makes_the_folders(tmp_path):
    draws = []
    for _ in range(2):
        out, lap = session.start(3, tmp_path / "out", "facets", "means")
        draws.append((random.random(), float(np.random.rand()), float(torch.rand(1))))
    assert draws[0] == draws[1]
    assert out == tmp_path / "out" and (out / "facets").is_dir() and (out / "means").is_dir()


def test_laps_record_the_time_between_calls():
    lap = session.Laps()
    time.sleep(0.05)
    assert lap("a") is None  # nothing for a notebook cell to display
    first = lap.timings["a"]
    lap("b")
    assert list(lap.timings) == ["a", "b"] and first >= 0.05 and lap.timings["b"] < first
