"""Notebook 02 (hidden-layer facets) executed for real in smoke mode through the CLI runner:
the authors' 300 images as the pool, four layers (two spatial, pooled features, logits), one
unit per layer drawn, two facets each."""

from PIL import Image

from ..conftest import REPO
from ..conftest import run_cli as run_notebook_cli

NB = REPO / "notebooks" / "02_hidden_layer_facets.py"


def run_cli(*args, build):
    return run_notebook_cli(NB, *args, build=build, timeout=900)


def test_layers_units_and_facets(smoke02):
    out, m = smoke02
    assert m["pool_size"] == 300 and m["top_n"] == 40 and m["k"] == 4 and m["m"] == 10
    assert [x["layer"] for x in m["layers"]] == ["block2", "block4", "pool", "logits"]
    # drawn at the receptive-field size computed from the architecture (Lite0: 19 and 147 px)
    assert [x["drawn_px"] for x in m["layers"]] == [19, 147, 224, 224]
    assert [x["global"] for x in m["layers"]] == [False, False, True, True]
    for layer in m["layers"]:
        units = [u for u in m["units"] if u["layer"] == layer["layer"]]
        assert len(units) == 2 and [u["rank"] for u in units] == [0, 1]
        assert units[0]["strength"] >= units[1]["strength"]  # the stated rule: strongest first
        assert [u["shown"] for u in units] == [True, False] and layer["units"] == [units[0]["channel"]]
    for u in m["units"]:
        assert len(u["facet_sizes"]) == 2 and u["facet_sizes"][0] >= u["facet_sizes"][1]  # the largest clusters
        assert 2 <= u["k_data"] <= 10 and str(u["k_data"]) in u["silhouettes"]
        assert u["silhouettes"][str(u["k_data"])] == max(u["silhouettes"].values())
        assert 0 <= u["class_entropy"] <= 5.33  # log2(40): at most 40 different classes
        assert 0 <= u["diversity_real"] <= 2
        if u["shown"]:
            assert len(u["act_start"]) == len(u["act_end"]) == 2
            assert set(u["fidelity"]) == {"facet_identity", "diversity_ratio", "hf_ratio", "above_strongest_real"}
            assert set(u["by_method"]) == {m["method"], "paper"}  # the paper's schedule beside the method
            assert u["by_method"][m["method"]]["fidelity"] == u["fidelity"]
            assert u["fidelity"]["above_strongest_real"] == (min(u["act_end"]) > u["top_act_max"])


def test_depth_statistics_purity_and_claims(smoke02):
    out, m = smoke02
    shown = [u for u in m["units"] if u["shown"]]
    for name in m["methods"]:  # the goals follow from the per-unit numbers
        g = m["goals"][name]
        deep = [u["by_method"][name]["fidelity"]["facet_identity"] for u in shown if u["depth"] >= 3]
        assert abs(g["facet_identity_from_block3"] - sum(deep) / len(deep)) < 1e-9
        hf = [0.5 <= u["by_method"][name]["fidelity"]["hf_ratio"] <= 3 for u in shown]
        assert abs(g["hf_ratio_within_0.5_3_share"] - sum(hf) / len(hf)) < 1e-9
        assert g["met"]["facet_identity"] == (g["facet_identity_from_block3"] >= 0.6)
    for key in ("spearman_depth_diversity", "spearman_depth_diversity_real", "spearman_depth_k"):
        assert m[key] is None or -1 <= m[key] <= 1
    p = m["purity"]
    assert p["class_layer"] == "logits" and p["hidden_fc_layers"] == ["pool"]
    assert p["class_units_purer"] == (p["class_units_entropy"] < p["hidden_fc_entropy"])
    assert m["claims"]["class_units_purer_than_hidden_fc"] == p["class_units_purer"]
    assert m["claims"]["diversity_grows_with_depth"] == (m["spearman_depth_diversity"] > 0)
    assert all(u.startswith("mfv-paper/") for x in m["units"] for u in x["top_images"])


def test_figures_draw_every_layer_at_its_field_size(smoke02):
    out, m = smoke02
    fig6 = Image.open(out / "fig6_hidden_facets.png")
    # one row per layer and method (2), each as tall as the layer's drawn field plus a label line
    # (28 px); a field under 36 px is also drawn magnified by the smallest integer reaching 36 (19 px: x2)
    assert fig6.size[1] == 2 * sum(x["drawn_px"] * (-(-36 // x["drawn_px"]) if x["drawn_px"] < 36 else 1) + 28
                                   for x in m["layers"]) + 10
    s9 = Image.open(out / "figS9_fc_facets.png")
    # 2 layers x 1 unit x 2 facets = 4 rows; 2 visualizations and 4 real images = 6 columns (1.3 in, 60 dpi)
    assert s9.size == (round(6 * 1.3 * 60), round((4 * 1.3 + 0.6) * 60))
    assert set(m["figures"]) == {"fig6_hidden_facets.png", "diversity_vs_depth.png", "figS9_fc_facets.png"}


def test_unknown_layer_is_one_clear_line(tmp_path):
    proc = run_cli("--smoke", "-p", "layers", '["block2", "conv9"]', "-p", "pool", '["paper"]',
                   "-p", "out_dir", str(tmp_path / "out"), build=tmp_path / "build")
    assert proc.returncode != 0
    assert "unknown layer 'conv9' for efficientnet_lite0" in proc.stderr
