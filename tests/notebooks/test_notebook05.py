"""Notebook 05 (Fig. S10: Deconvolution vs LRP on the units of Fig. S9) executed for real in
smoke mode through the CLI runner: the authors' 300 images as the pool, one unit of pool and
one of logits (notebook 02's rule), two facets of two images each."""
import numpy as np
from PIL import Image

from ..conftest import REPO, run_cli

NB = REPO / "notebooks" / "05_hidden_unit_attribution.py"


def test_units_maps_and_figures(smoke05):
    out, m = smoke05
    assert m["pool_size"] == 300 and m["top_n"] == 40 and m["k"] == 4
    assert [u["layer"] for u in m["units"]] == ["pool", "logits"]
    for u in m["units"]:
        assert len(u["images"]) == 2 and all(len(i) == 2 for i in u["images"])
        assert set(u["aopc"]) == {"lrp", "deconv", "gradient", "random"}
        assert set(u["shared_detail"]) == {"relevant crops", "whole images", "random crops"}
        sd = u["shared_detail"]
        assert u["shared_detail_holds"] == (sd["relevant crops"] > max(sd["whole images"], sd["random crops"]))
        assert max(u["act_end"]) > max(u["act_start"])  # the visualization drove the unit up
        fig = Image.open(out / f"figS10_{u['layer']}_{u['channel']}.png")
        # 4 rows (images, LRP, Deconv, gradient) of 2 facets x (viz + 2 images) = 6 columns: wider than tall
        assert fig.width > 1.3 * fig.height
        px = np.asarray(fig.convert("RGB"), dtype=float)
        assert px.std() > 20  # pictures, not a blank canvas
    for name in m["figures"]:
        assert (out / name).is_file()
    assert {"perturbation_curves.png", "relevant_crops.png"} <= set(m["figures"])


def test_claims_follow_from_the_per_unit_numbers(smoke05):
    out, m = smoke05
    c = m["claims"]
    wins = sum(u["aopc"]["lrp"] > u["aopc"]["deconv"] for u in m["units"])
    assert c["lrp_localizes_better_than_deconv"]["units"] == f"{wins}/{len(m['units'])}"
    assert c["lrp_localizes_better_than_deconv"]["holds"] == (wins > len(m["units"]) / 2)
    shared = sum(u["shared_detail_holds"] for u in m["units"])
    assert c["one_detail_shared_across_facets"]["holds"] == (shared > len(m["units"]) / 2)
    mean = c["lrp_localizes_better_than_deconv"]["mean_aopc"]
    for name, value in mean.items():
        assert abs(value - np.mean([u["aopc"][name] for u in m["units"]])) < 1e-3
    assert m["steps"] == 20 and m["fill"] == "noise"  # smoke: 20 regions of 16 px


def test_a_unit_out_of_range_and_a_spatial_layer_are_one_line_errors(tmp_path):
    for args, words in [(["-p", "units", '["pool:5000"]'], "out of range"),
                        (["-p", "layers", '["block4"]'], "is spatial")]:
        proc = run_cli(NB, "--smoke", "-p", "pool", '["paper"]', *args, "-p", "out_dir", str(tmp_path / "o"),
                       build=tmp_path / "b", timeout=600)
        assert proc.returncode != 0
        assert words in proc.stderr, proc.stderr[-2000:]
