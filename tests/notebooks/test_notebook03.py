"""Notebook 03 (interpolation study) executed for real in smoke mode through the CLI runner:
one pair of the authors' bell-pepper clusters, 3 interpolants, both methods."""

import pytest
from PIL import Image

from ..conftest import REPO
from ..conftest import run_cli as run_notebook_cli

NB = REPO / "notebooks" / "03_interpolation_study.py"


def run_cli(*args, build):
    return run_notebook_cli(NB, *args, build=build, timeout=900)


def test_pairs_carry_similarities_labels_and_shares(smoke03):
    out, m = smoke03
    assert m["methods"] == ["paper", "facet"] and m["n_interpolants"] == 3
    assert len(m["pairs"]) == 2 * 2  # 2 pairs x 2 methods
    for r in m["pairs"]:
        assert r["clusters"][0] != r["clusters"][1]  # the two ends come from different clusters
        assert len(r["q"]) == len(r["label"]) == len(r["t"]) == 5 and r["t"][0] == 0 and r["t"][-1] == 1
        assert set(r["label"]) <= {"A", "B", "blend"}
        # q is +1 at the left end's own result and -1 at the right's, by construction
        assert r["q"][0] == pytest.approx(1, abs=1e-3) and r["q"][-1] == pytest.approx(-1, abs=1e-3)
        assert r["label"][0] == "A" and r["label"][-1] == "B"
        assert r["switch_point"] is None or 1 <= r["switch_point"] <= 4
        assert len(r["ends_keep_facet"]) == 2 and r["end_separation"] > 0
    for name in m["methods"]:
        assert 0 <= m["snap_share"][name] <= 1 and 0 <= m["endpoint_keep_share"][name] <= 1
        b = m["by_method"][name]
        assert b["snap_share"] + b["blend_share"] == pytest.approx(1)
        assert b["n_interior"] == 2 * 3
    # same pairs for both methods (the seeded rule does not depend on the method)
    assert [r["clusters"] for r in m["pairs"] if r["method"] == "paper"] == \
        [r["clusters"] for r in m["pairs"] if r["method"] == "facet"]


def test_the_series_starts_at_real_images_and_the_figure_has_its_rows(smoke03):
    out, m = smoke03
    fig = Image.open(out / m["figures"]["paper:bell_pepper"])
    w, h = fig.size
    assert 0.8 < w / h < 2.5  # 2 pairs x (start row + 2 method rows) = 6 rows, 5 columns
    ends = {e for r in m["pairs"] for e in r["ends"]}
    assert all(e.startswith("mfv-paper/") for e in ends)


def test_the_start_images_are_scored_as_the_baseline(smoke03):
    """The start images get the same score (q between the two real ends): +-1 at the ends by
    construction, one row per pair, and its snap share is what the verdict compares against."""
    out, m = smoke03
    assert len(m["start_pairs"]) == 2
    for r in m["start_pairs"]:
        assert r["q"][0] == pytest.approx(1, abs=1e-3) and r["q"][-1] == pytest.approx(-1, abs=1e-3)
        assert set(r["label"]) <= {"A", "B", "blend"}
    interior = [lab for r in m["start_pairs"] for lab in r["label"][1:-1]]
    assert m["start_snap_share"] == pytest.approx(sum(lab != "blend" for lab in interior) / len(interior), abs=1e-4)
    for name in m["methods"]:
        assert m["verdict"][name]["snaps_more_than_start"] == (m["snap_share"][name] > m["start_snap_share"])
    for r in m["pairs"]:  # every method's row carries its series' start q
        assert r["start_q"] == m["start_pairs"][r["pair"]]["q"]
