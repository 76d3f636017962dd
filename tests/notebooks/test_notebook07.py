"""Notebook 07 (Fig. S4 by the paper's protocol: Algorithm 1 on each class's 50 official validation
images) executed for real in smoke mode through the CLI runner: 3 classes (two of Imagenette, one of
Imagewoof), four facets each, from the class's own images only."""
import json

from PIL import Image

from ..conftest import REPO, run_cli


def test_fig_s4_from_each_classs_own_validation_images(tmp_path):
    out = tmp_path / "out"
    proc = run_cli(REPO / "notebooks" / "07_validation_facets.py", "--smoke", "-p", "out_dir", str(out),
                   build=tmp_path / "build")
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = json.loads((out / "metrics.json").read_text())
    assert m["smoke"] and "50 official ILSVRC-2012 validation images" in m["protocol"]
    assert [c["class"] for c in m["classes"]] == ["tench", "English springer", "Shih-Tzu"]
    for c in m["classes"]:
        assert c["n_images"] == 50 and sum(c["facet_sizes"]) == 50 and len(c["facet_sizes"]) == 10
        # the four largest facets, largest first
        sizes = [c["facet_sizes"][j] for j in c["drawn"]]
        assert len(sizes) == 4 and sizes == sorted(sizes, reverse=True) and min(sizes) >= max(
            s for j, s in enumerate(c["facet_sizes"]) if j not in c["drawn"])
        # every image behind a facet is one of the class's own validation images
        assert all("ILSVRC2012_val_" in p for p in c["nearest_member"])
        # even 15 smoke steps drive the class logit up from every facet's mean image (measured:
        # +1.8 to +10.4 on these 12 facets)
        assert all(b > a for a, b in zip(c["act_start"], c["act_end"]))
        assert 0.0 <= c["facet_identity"] <= 1.0
    assert (out / "activations.png").is_file()
    fig = Image.open(out / "figS4_validation_facets.png")
    assert fig.width > 2 * fig.height  # 3 classes x (4 facets + 4 real members)


def test_a_local_imagenet_is_one_parameter(tmp_path, monkeypatch):
    """On a machine with ImageNet, ``source="imagenet-val"`` runs the same notebook on any class of
    it: here a local ImageNet in the official validation layout (flat files + Caffe's val.txt)
    holding one class's 50 images, copied from the shared data."""
    import shutil

    from mfv_utils import data

    root = tmp_path / "imagenet"
    (root / "val").mkdir(parents=True)
    tench = data.load_image_set("val50:tench", size=32)
    for p in tench.paths:
        shutil.copy(p, root / "val" / p.name)
    (root / "val" / "val.txt").write_text("".join(f"{p.name} 0\n" for p in tench.paths))
    monkeypatch.setenv(data.IMAGENET_ENV, str(root))
    out = tmp_path / "out"
    proc = run_cli(REPO / "notebooks" / "07_validation_facets.py", "--smoke", "-p", "out_dir", str(out),
                   "-p", "source", "imagenet-val", "-p", "classes", "['n01440764']", build=tmp_path / "build")
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = json.loads((out / "metrics.json").read_text())
    assert m["source"] == "imagenet-val" and [c["images"] for c in m["classes"]] == ["imagenet-val:n01440764"]
    (c,) = m["classes"]
    assert c["class"] == "tench" and c["n_images"] == 50 and len(c["drawn"]) == 4
    assert all("imagenet/val/ILSVRC2012_val_" in p for p in c["nearest_member"])  # from the local copy
