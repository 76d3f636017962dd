import functools
import hashlib
import http.server
import shutil
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mfv_utils import data

from ..conftest import SHARED


def test_registries_pin_every_shared_file_hash():
    """Every source's registry equals the sums file the shared folder ships (one source, Imagenette's
    official validation images, shares Imagenette's folder and has its own sums file there)."""
    sums_file = {"imagenette-official-val": "SHA256SUMS.official-val"}
    for source in data.SOURCES:
        folder = SHARED / data.FOLDERS.get(source, source)
        sums = dict(reversed(line.split("  ", 1)) for line in
                    (folder / sums_file.get(source, "SHA256SUMS")).read_text().splitlines() if line)
        assert data.registry(source) == sums, source


def test_fetch_uses_the_cache_dir_without_downloading(monkeypatch):
    monkeypatch.setenv(data.DATA_ENV, str(SHARED))
    (path,) = data.fetch("imagenet-samples", ["n07720875_bell_pepper.JPEG"], base_url="http://127.0.0.1:9/")
    assert path == SHARED / "imagenet-samples" / "n07720875_bell_pepper.JPEG"


@pytest.fixture
def http_copy(tmp_path):
    """A real HTTP server on 127.0.0.1 serving a copy of a few files of the data."""
    served = tmp_path / "served"
    names = ["n07720875_bell_pepper.JPEG", "n03590841_jack-o'-lantern.JPEG", "n01440764_tench.JPEG"]
    served.mkdir()
    for n in names:
        shutil.copy(SHARED / "imagenet-samples" / n, served / n)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", served, names
    server.shutdown()
    server.server_close()


def test_download_path_gets_good_files_and_rejects_a_corrupted_one(http_copy, tmp_path):
    url, served, names = http_copy
    cache = tmp_path / "cache"
    paths = data.fetch("imagenet-samples", names[:2], base_url=url, root=cache)
    reg = data.registry("imagenet-samples")
    for name, path in zip(names, paths):
        assert path == cache / "imagenet-samples" / name  # the apostrophe name arrives too
        assert hashlib.sha256(path.read_bytes()).hexdigest() == reg[name]
    # corrupt the served copy: the download must be rejected and nothing left in the cache
    blob = bytearray((served / names[2]).read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (served / names[2]).write_bytes(bytes(blob))
    with pytest.raises(RuntimeError, match="does not match the known hash"):
        data.fetch("imagenet-samples", [names[2]], base_url=url, root=cache)
    assert not (cache / "imagenet-samples" / names[2]).exists()


def test_offline_download_failure_is_one_clear_error(tmp_path):
    with pytest.raises(RuntimeError, match="MFV_DATA_DIR"):
        data.fetch("mfv-paper", ["synset_words.txt"], base_url="http://127.0.0.1:9/", root=tmp_path)


def test_classes_look_up_by_index_wnid_and_name():
    assert len(data.imagenet_classes()) == 1000
    assert data.find_class("bell pepper").index == 945
    assert data.find_class("n07720875").index == 945
    assert data.find_class(945).wnid == "n07720875"
    assert data.find_class("movie theater").index == 498
    with pytest.raises(ValueError, match="did you mean: bell pepper"):
        data.find_class("bell peper")
    with pytest.raises(ValueError, match="out of range"):
        data.find_class(1000)


def test_paper_set_has_the_authors_ten_clusters(bell_pepper):
    assert bell_pepper.images.shape == (150, 3, 227, 227)
    assert bell_pepper.images.dtype == torch.uint8
    assert np.bincount(bell_pepper.labels).tolist() == [15] * 10
    assert bell_pepper.target.index == 945


def test_paper_grayscale_images_become_rgb(bell_pepper, movie_theater):
    gray = [p for s in (bell_pepper, movie_theater) for p in s.paths if Image.open(p).mode == "L"]
    assert len(gray) == 6  # real bad input in the authors' data
    s = bell_pepper if gray[0] in bell_pepper.paths else movie_theater
    img = s.images[s.paths.index(gray[0])]
    assert torch.equal(img[0], img[1]) and torch.equal(img[1], img[2])


def test_imagenette_sets_are_whole_classes():
    church = data.load_image_set("imagenette:church", size=32)
    assert church.target.index == 497 and church.labels is None and not church.skipped
    # the paper's setting: ~1,300 images of one class, not the authors' pre-selected 150
    assert len(church) == sum(1 for n in data.registry("imagenette") if "/n03028079/" in n) > 1300
    tench = data.load_image_set("imagenette:n01440764", size=32)
    assert tench.target.name == "tench" and 350 < len(tench) < 420
    with pytest.raises(ValueError, match="known: imagenette:tench"):
        data.load_image_set("imagenette:zebra")


def test_samples_set_is_the_1000_classes():
    s = data.load_image_set("samples", size=64)
    assert s.images.shape == (1000, 3, 64, 64)
    assert s.paths[945].name == "n07720875_bell_pepper.JPEG"


def _bad_folder(root: Path) -> Path:
    folder = root / "n07720875"
    (folder / "sub").mkdir(parents=True)
    rgb = np.random.default_rng(0).integers(0, 255, (60, 80, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(folder / "rgb.jpg")
    Image.fromarray(rgb[..., 0]).save(folder / "gray.png")
    Image.fromarray(rgb).convert("CMYK").save(folder / "sub" / "cmyk.jpg")
    rgba = np.concatenate([rgb, np.zeros((60, 80, 1), np.uint8)], axis=2)  # fully transparent
    Image.fromarray(rgba, "RGBA").save(folder / "rgba.png")
    Image.fromarray(rgb[:8, :8]).save(folder / "tiny.png")
    (folder / "notes.txt").write_text("not an image")
    (folder / "fake.jpg").write_bytes(b"\xff\xd8 this is not a jpeg")
    good = (folder / "rgb.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(good[:40])
    return folder


def test_folder_loading_skips_bad_files_with_one_warning_each(tmp_path):
    folder = _bad_folder(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = data.load_image_set(folder, size=32)
    assert all(w.category is data.SkippedFileWarning for w in caught)
    msgs = sorted(str(w.message) for w in caught)
    bad = ["fake.jpg", "notes.txt", "tiny.png", "truncated.jpg"]
    assert len(msgs) == 4
    for name, msg in zip(bad, msgs):
        assert msg.startswith("skipped ") and name in msg
    assert "too small (8x8 < 16 px)" in msgs[2] and "not a readable image" in msgs[1]
    assert sorted(Path(r["path"]).name for r in s.skipped) == bad
    assert all(r["reason"] for r in s.skipped)
    assert sorted(p.name for p in s.paths) == ["cmyk.jpg", "gray.png", "rgb.jpg", "rgba.png"]
    assert s.images.shape == (4, 3, 32, 32)
    assert s.target.index == 945  # an ImageNet-style class folder
    rgba = s.images[[p.name for p in s.paths].index("rgba.png")]
    assert int(rgba.min()) == 255  # transparent pixels composite onto white


def test_threaded_reading_keeps_order_warnings_and_bytes_of_one_thread(tmp_path):
    """load_images decodes on torch's thread count: 1 and 2 threads give the same tensor, kept
    paths, indices and warnings in file order."""
    folder = _bad_folder(tmp_path)
    files = sorted(p for p in folder.rglob("*") if p.is_file()) * 3  # enough for several chunks
    results = []
    before = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                images, kept, idx = data.load_images(files, size=32)
            results.append((images, kept, idx, [str(w.message) for w in caught]))
    finally:
        torch.set_num_threads(before)
    (a, ka, ia, wa), (b, kb, ib, wb) = results
    assert torch.equal(a, b) and ka == kb and ia == ib and wa == wb
    assert len(wa) == 3 * 4 and [Path(m.split()[1].rstrip(":")).name for m in wa[:4]] == ["fake.jpg", "notes.txt", "tiny.png",
                                                                             "truncated.jpg"]


def test_lazy_images_read_what_load_images_gives(tmp_path):
    """LazyImages (an atlas worker's pool) equals the loaded tensor under every index form and
    keeps at most ``keep`` decoded images; an unreadable file raises its one-line reason."""
    folder = _bad_folder(tmp_path)
    good = sorted(p for p in folder.rglob("*") if p.suffix in (".jpg", ".png") and p.name not in
                  ("fake.jpg", "truncated.jpg", "tiny.png"))
    images, kept, _ = data.load_images(good, size=32)
    lazy = data.LazyImages(kept, size=32, keep=2)
    assert len(lazy) == len(kept) == 4
    assert torch.equal(lazy[np.array([3, 0, 3])], images[[3, 0, 3]])
    assert torch.equal(lazy[1], images[1]) and torch.equal(lazy[-1], images[-1])
    assert torch.equal(lazy[1:3], images[1:3]) and torch.equal(lazy[[True, False, True, False]], images[[0, 2]])
    assert lazy[np.array([], dtype=int)].shape == (0, 3, 32, 32)
    assert len(lazy._decoded) == 2
    broken = data.LazyImages([folder / "fake.jpg"], size=32)
    with pytest.raises(ValueError, match="not a readable image"):
        broken[0]


def test_empty_and_missing_folders_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="no files in folder"):
        data.load_image_set(tmp_path)
    (tmp_path / "junk.txt").write_text("x")
    with pytest.raises(ValueError, match="no readable images"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data.load_image_set(tmp_path)
    with pytest.raises(ValueError, match="neither a known name"):
        data.load_image_set(tmp_path / "nope")
    with pytest.raises(ValueError, match="known: paper:bell_pepper"):
        data.load_image_set("paper:zebra")


def test_resize_keeps_the_center_square(tmp_path):
    img = np.zeros((100, 300, 3), np.uint8)
    img[:, 100:200] = 255  # white center third
    Image.fromarray(img).save(tmp_path / "wide.png")
    out = data.read_image(tmp_path / "wide.png", size=50)
    assert out.shape == (3, 50, 50)
    assert out.float().mean() > 240  # the crop is the white center


def test_pools_know_the_class_of_every_image(tmp_path):
    """The named parts carry their ImageNet classes (labels.txt, WNID folders, file names);
    a folder gets them from its own labels.txt or WNID subfolders, -1 where neither says,
    and a bad file is skipped with a warning naming it."""
    val = SHARED / "ilsvrc12-val-1300"
    lines = (val / "labels.txt").read_text().splitlines()[:3]
    folder = tmp_path / "pool"
    (folder / "n07720875").mkdir(parents=True)
    for line in lines:
        shutil.copy(val / line.split()[0], folder / line.split()[0])
    (folder / "labels.txt").write_text("\n".join(lines[:2]) + "\n")  # the third image is not listed
    pepper = sorted((SHARED / "mfv-paper" / "mean_images" / "n07720875" / "0").glob("*.JPEG"))[0]
    shutil.copy(pepper, folder / "n07720875" / "p.JPEG")
    (folder / "n07720875" / "broken.JPEG").write_bytes(b"not an image")
    with pytest.warns(data.SkippedFileWarning, match="broken.JPEG"):
        pool = data.load_pool([str(folder), "samples"], size=64)
    assert pool.images.shape == (4 + 1000, 3, 64, 64) and len(pool.skipped) == 1
    by_name = {p.name: c for p, c in zip(pool.paths, pool.classes)}
    assert [by_name[x.split()[0]] for x in lines] == [int(lines[0].split()[1]), int(lines[1].split()[1]), -1]
    assert by_name["p.JPEG"] == 945  # bell pepper, from its WNID folder
    assert pool.classes[4:].tolist() == list(range(1000))  # one sample per class, in class order
    with pytest.raises(ValueError, match="unknown pool part 'nowhere'"):
        data.load_pool(["nowhere"])


def test_the_20_classes_with_50_validation_images_each():
    """val50:<class> (the paper's Fig. S4 protocol): all 50 official ILSVRC-2012 validation images of
    each of Imagenette's and Imagewoof's ten classes, wherever their source keeps them, hash-checked
    through the registries (Imagenette's 297 under train/ in a registry of their own, so that
    imagenette:<class> is the set it always was)."""
    from mfv_utils import data

    assert len(data.VAL50_CLASSES) == 20
    for name, wnid in data.VAL50_CLASSES.items():
        s = data.load_image_set(f"val50:{name}", size=32)
        assert len(s) == 50 and s.target.wnid == wnid and not s.skipped, name
        assert all(p.name.startswith("ILSVRC2012_val_") and p.parent.name == wnid for p in s.paths), name
        assert len({p.name for p in s.paths}) == 50
    extra = set(data.registry("imagenette-official-val"))
    tench = data.load_image_set("imagenette:tench", size=32)
    assert not {data.display_path(p).split("/", 1)[1] for p in tench.paths} & extra
    assert len(data.load_image_set("imagewoof:beagle", size=32)) == 250
    with pytest.raises(ValueError, match="unknown class 'val50:bell_pepper'; known: val50:tench"):
        data.load_image_set("val50:bell_pepper")


def test_the_new_registries_match_the_shared_folders_sums():
    from mfv_utils import data

    for source, sums in (("imagewoof", "imagewoof/SHA256SUMS"),
                         ("imagenette-official-val", "imagenette/SHA256SUMS.official-val")):
        listed = dict(reversed(line.split()) for line in (SHARED / sums).read_text().splitlines() if line)
        assert data.registry(source) == listed
