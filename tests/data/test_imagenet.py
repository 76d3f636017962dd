"""A local ImageNet (``$MFV_IMAGENET``) in each layout it is found in, built from the shared
official validation images of two classes: every layout gives the same images as ``val50:``."""
import shutil

import pytest
import torch

from mfv_utils import data

TENCH, BEAGLE = "n01440764", "n02088364"


@pytest.fixture(scope="module")
def val50():
    return {wnid: data.load_image_set(f"val50:{wnid}", size=64) for wnid in (TENCH, BEAGLE)}


def _copy(files, folder):
    folder.mkdir(parents=True, exist_ok=True)
    for p in files:
        shutil.copy(p, folder / p.name)


def _same(spec, expected):
    got = data.load_image_set(spec, size=64)
    assert got.target.wnid == expected.target.wnid and len(got) == 50
    assert [p.name for p in got.paths] == [p.name for p in expected.paths]
    assert torch.equal(got.images, expected.images)


@pytest.mark.parametrize("layout", ["train", "val-folders", "val-flat-index", "val-flat-kaggle"])
def test_every_layout_gives_the_class_official_images(val50, tmp_path, monkeypatch, layout):
    monkeypatch.setenv(data.IMAGENET_ENV, str(tmp_path))
    split = "train" if layout == "train" else "val"
    for wnid, s in val50.items():
        _copy(s.paths, tmp_path / split / (wnid if layout in ("train", "val-folders") else ""))
    index = {c.wnid: c.index for c in data.imagenet_classes()}
    if layout == "val-flat-index":  # Caffe's val.txt: <file> <class index>
        lines = [f"{p.name} {index[w]}" for w, s in val50.items() for p in s.paths]
        (tmp_path / "val" / "val.txt").write_text("\n".join(sorted(lines)) + "\n")
    elif layout == "val-flat-kaggle":  # LOC_val_solution.csv: ImageId,<wnid> <box> [<wnid> <box>...]
        lines = [f"{p.stem},{w} 10 20 100 120 {w} 1 2 30 40" for w, s in val50.items() for p in s.paths]
        (tmp_path / "LOC_val_solution.csv").write_text("ImageId,PredictionString\n" + "\n".join(lines) + "\n")
    for wnid, s in val50.items():
        _same(f"imagenet-{split}:{wnid}", s)
    _same(f"imagenet-{split}:beagle", val50[BEAGLE])  # by name too


def test_a_local_imagenet_feeds_the_public_api(val50, tmp_path, monkeypatch, lite0):
    """``images="imagenet-val:<class>"`` is all a user with ImageNet changes to run Algorithm 1
    by the paper's Fig. S4 protocol on any class."""
    import mfv_utils as mfv

    monkeypatch.setenv(data.IMAGENET_ENV, str(tmp_path))
    _copy(val50[TENCH].paths, tmp_path / "val" / TENCH)
    fs = mfv.find_facets(lite0, f"logits:{data.find_class(TENCH).index}", images="imagenet-val:tench", k=10, m=5)
    assert fs.source.name == "imagenet-val:tench" and len(fs.labels) == 50 and fs.k == 10


def test_a_local_imagenet_says_what_is_wrong(val50, tmp_path, monkeypatch):
    monkeypatch.delenv(data.IMAGENET_ENV, raising=False)
    with pytest.raises(ValueError, match="needs a local ImageNet: set MFV_IMAGENET"):
        data.load_image_set("imagenet-val:tench")
    monkeypatch.setenv(data.IMAGENET_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="is not a folder"):
        data.load_image_set("imagenet-train:tench")
    monkeypatch.setenv(data.IMAGENET_ENV, str(tmp_path))
    _copy(val50[TENCH].paths[:3], tmp_path / "train" / TENCH)
    with pytest.raises(ValueError, match=r"no images of n02088364 \(beagle\) in .*train/n02088364"):
        data.load_image_set("imagenet-train:beagle")
    _copy(val50[TENCH].paths[:3], tmp_path / "val")
    with pytest.raises(ValueError, match="no class folders and no labels file"):
        data.load_image_set("imagenet-val:tench")
    names = [p.name for p in val50[TENCH].paths[:3]]
    (tmp_path / "val" / "val.txt").write_text(f"{names[0]} 0\n{names[1]} 0\n{names[2]} tench\n")
    with pytest.raises(ValueError, match=r"val\.txt:3: no class .* in '.*tench'"):
        data.load_image_set("imagenet-val:tench")
    with pytest.raises(ValueError, match="unknown ImageNet class"):
        data.load_image_set("imagenet-val:no_such_class")
