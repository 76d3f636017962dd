"""Notebook 08 (Fig. 5 / S2: the largest facet of each class that has its own images) executed for
real in smoke mode through the CLI runner: one class of each source (the authors' bell peppers,
Imagenette's tench, Imagewoof's Shih-Tzu), each facet from the class's own images only."""
import json

from PIL import Image

from ..conftest import REPO, run_cli


def test_fig5_from_each_classs_own_images(tmp_path):
    out = tmp_path / "out"
    proc = run_cli(REPO / "notebooks" / "08_largest_facets.py", "--smoke", "-p", "out_dir", str(out),
                   build=tmp_path / "build")
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = json.loads((out / "metrics.json").read_text())
    assert m["smoke"] and "own images" in m["protocol"]
    assert [c["images"] for c in m["classes"]] == ["paper:bell_pepper", "imagenette:tench", "imagewoof:shih_tzu"]
    assert [c["n_images"] for c in m["classes"]][0] == 150 and min(c["n_images"] for c in m["classes"]) >= 150
    for c in m["classes"]:
        # every image behind the facet is of the class (its WNID names the folder it came from)
        assert c["own_class_share"] == 1.0
        assert c["facet_size"] >= c["n_images"] / 10  # the largest of ten facets is at least the mean size
        assert c["act_end"] > c["act_start"]  # even 15 smoke steps drive the class logit up
        assert c["facet_identity"] in (0.0, 1.0) and 0.0 <= c["color_distance"] <= 1.0
    assert m["own_class_share_min"] == 1.0 and (out / "activations.png").is_file()
    fig = Image.open(out / "fig5_largest_facets.png")
    assert fig.height > fig.width / 3  # 2 rows (visualizations, real members) of 3 classes
