"""Data: the paper's images and ImageNet samples through pooch, image loading, class names.

Everything outside the model wrapper lives in 0..255 RGB pixel space. Images are loaded
as uint8 tensors of shape (N, 3, S, S): the shorter side is resized to ``size`` (PIL
bicubic with antialiasing) and the center S x S square is kept. The authors' facet images
are already 227 x 227, so at the default ``size=227`` they pass through untouched.

Downloads: two pooch registries (``registry/*.txt``: path and sha256 of every file) pin the
public URLs. The cache root is ``$MFV_DATA_DIR`` (else pooch's per-user cache); a source
lives in ``$MFV_DATA_DIR/<source>/``, the same layout as ``../shared/data``, so with
``MFV_DATA_DIR=../shared/data`` nothing is downloaded. Every file is hash-checked.
"""
from __future__ import annotations

import difflib
import os
import re
import warnings
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pooch
import torch
from PIL import Image, UnidentifiedImageError

from mfv_utils.data import imagenet

DATA_ENV = "MFV_DATA_DIR"
SOURCES = {
    # the paper authors' companion repository, pinned to one commit (MIT license)
    "mfv-paper": "https://raw.githubusercontent.com/Evolving-AI-Lab/mfv/"
    "b270b267c5765e211fdc1bfe25080cf961c14d3c/",
    # one ImageNet validation-style image per class
    "imagenet-samples": "https://raw.githubusercontent.com/EliSchwartz/imagenet-sample-images/"
    "bc69043e2862758a1906c6a24a792bb28c6bb2ff/",
    # Imagenette: whole ImageNet classes (church and French horn: train + val, ~1,350 each)
    "imagenette": "https://raw.githubusercontent.com/thunderInfy/imagenette/b850f030/",
    # Imagenette's 297 official ILSVRC-2012 validation images that the repository keeps under train/
    # (hashes apart from imagenette.txt, so imagenette:<class> stays what it was); same folder
    "imagenette-official-val": "https://raw.githubusercontent.com/thunderInfy/imagenette/b850f030/",
    # Imagewoof: ten dog classes, 250 images each, all 50 official validation images among them
    "imagewoof": "https://raw.githubusercontent.com/thunderInfy/imagewoof/6338aeea098965e0a0ebdf74404862fae9760fe3/",
    # 1,300 labelled ImageNet validation images (labels.txt: file, class index, wnid)
    "ilsvrc12-val-1300": "https://raw.githubusercontent.com/VeriSilicon/acuity-dataset/"
    "aded2e9f/ILSVRC2012_VAL_SET/data/",
}
FOLDERS = {"imagenette-official-val": "imagenette"}  # a source whose files sit in another source's folder
PAPER_CLASSES = {"bell_pepper": "n07720875", "movie_theater": "n03032252"}
IMAGENETTE_CLASSES = {
    "tench": "n01440764", "english_springer": "n02102040", "cassette_player": "n02979186",
    "chain_saw": "n03000684", "church": "n03028079", "french_horn": "n03394916",
    "garbage_truck": "n03417042", "gas_pump": "n03425413", "golf_ball": "n03445777",
    "parachute": "n03888257",
}
IMAGEWOOF_CLASSES = {
    "shih_tzu": "n02086240", "rhodesian_ridgeback": "n02087394", "beagle": "n02088364",
    "english_foxhound": "n02089973", "border_terrier": "n02093754", "australian_terrier": "n02096294",
    "golden_retriever": "n02099601", "old_english_sheepdog": "n02105641", "samoyed": "n02111889",
    "dingo": "n02115641",
}
# the 20 classes with all 50 official ILSVRC-2012 validation images here (the paper's Fig. S4 protocol)
VAL50_CLASSES = {**IMAGENETTE_CLASSES, **IMAGEWOOF_CLASSES}
MIN_SIDE = 16  # images smaller than this (either side) are skipped as unusable
WNID_RE = re.compile(r"^n\d{8}$")


# ----------------------------------------------------------------------------- downloads
def data_dir() -> Path:
    """The cache root: ``$MFV_DATA_DIR`` if set, else pooch's per-user cache for mfv."""
    return Path(os.environ.get(DATA_ENV) or pooch.os_cache("mfv"))


def display_path(path: str | Path) -> str:
    """A path relative to the data root when it lies inside it (machine-independent), else as is."""
    try:
        return Path(path).resolve().relative_to(data_dir().resolve()).as_posix()
    except ValueError:
        return str(path)


def registry(source: str) -> dict[str, str]:
    """``{relative path: sha256}`` for a source (a key of ``SOURCES``)."""
    if source not in SOURCES:
        raise ValueError(f"unknown data source {source!r}; known: {', '.join(SOURCES)}")
    text = (Path(__file__).parent / "registry" / f"{source}.txt").read_text()
    return dict(line.split(" ", 1) for line in text.splitlines() if line.strip())


def fetcher(source: str, base_url: str | None = None, root: Path | str | None = None) -> pooch.Pooch:
    """A pooch fetcher for ``source``; files land in ``<root or data_dir()>/<source>/``."""
    reg = registry(source)
    base = base_url or SOURCES[source]
    return pooch.create(
        path=Path(root or data_dir()) / FOLDERS.get(source, source),
        base_url=base,
        registry={name: f"sha256:{h}" for name, h in reg.items()},
        # URL-quote names (a few ImageNet class names contain apostrophes)
        urls={name: base + quote(name) for name in reg},
        retry_if_failed=1,
    )


def fetch(source: str, names: list[str], base_url: str | None = None, root=None) -> list[Path]:
    """Local paths of registry files, downloaded and hash-checked where missing or stale."""
    pup = fetcher(source, base_url, root)
    out = []
    for n in names:
        try:
            out.append(Path(pup.fetch(n, progressbar=False)))
        except (OSError, ValueError) as e:  # requests' errors are OSErrors; hash mismatch: ValueError
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise RuntimeError(f"cannot get {source}/{n} into {pup.abspath} from {pup.get_url(n)}: "
                               f"{reason}. Offline? Set {DATA_ENV} to a folder that holds "
                               f"{source}/ (e.g. ../shared/data)") from e
    return out


# ----------------------------------------------------------------------------- classes
@dataclass(frozen=True)
class ImageNetClass:
    index: int
    wnid: str
    names: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.names[0]


@lru_cache(maxsize=None)
def imagenet_classes() -> tuple[ImageNetClass, ...]:
    """The 1000 ImageNet classes in class-index order (from the authors' synset_words.txt)."""
    (path,) = fetch("mfv-paper", ["synset_words.txt"])
    out = []
    for i, line in enumerate(path.read_text().splitlines()):
        wnid, names = line.split(" ", 1)
        out.append(ImageNetClass(i, wnid, tuple(n.strip() for n in names.split(","))))
    return tuple(out)


def find_class(query: int | str) -> ImageNetClass:
    """Look up a class by index (945), WNID ('n07720875') or any of its names ('bell pepper')."""
    classes = imagenet_classes()
    if isinstance(query, (int, np.integer)) or (isinstance(query, str) and query.strip().isdigit()):
        i = int(query)
        if not 0 <= i < len(classes):
            raise ValueError(f"class index {i} out of range 0..{len(classes) - 1}")
        return classes[i]
    q = str(query).strip().lower().replace("_", " ")
    for c in classes:
        if q == c.wnid or q in (n.lower() for n in c.names):
            return c
    names = [n.lower() for c in classes for n in c.names]
    close = difflib.get_close_matches(q, names, n=5, cutoff=0.6)
    hint = f"; did you mean: {', '.join(close)}?" if close else ""
    raise ValueError(f"unknown ImageNet class {query!r}{hint}")


# ----------------------------------------------------------------------------- images
def read_image(path: str | Path, size: int = 227) -> torch.Tensor:
    """One image as a (3, size, size) uint8 tensor: any mode (L, CMYK, RGBA, P) -> RGB,
    shorter side resized to ``size``, center square kept. Raises ValueError if unusable."""
    try:
        with Image.open(path) as im:
            im.load()
            if min(im.size) < MIN_SIDE:
                raise ValueError(f"too small ({im.size[0]}x{im.size[1]} < {MIN_SIDE} px)")
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                rgba = im.convert("RGBA")  # composite onto white, not black
                im = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
            im = im.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise ValueError(f"not a readable image ({type(e).__name__}: {e})") from e
    w, h = im.size
    s = size / min(w, h)
    if (w, h) != (size, size):
        nw, nh = max(size, round(w * s)), max(size, round(h * s))
        im = im.resize((nw, nh), Image.BICUBIC, reducing_gap=None)
        left, top = (nw - size) // 2, (nh - size) // 2
        im = im.crop((left, top, left + size, top + size))
    return torch.from_numpy(np.array(im, dtype=np.uint8)).permute(2, 0, 1).contiguous()


class SkippedFileWarning(UserWarning):
    """An input file was skipped while loading an image set (one warning per file)."""


def _read_or_reason(path, size: int) -> torch.Tensor | str:
    try:
        return read_image(path, size)
    except ValueError as e:
        return str(e)


def load_images(paths, size: int = 227, skipped: list | None = None
                ) -> tuple[torch.Tensor, list[Path], list[int]]:
    """Read many images, skipping unusable ones with one :class:`SkippedFileWarning` each
    (``skipped <path>: <reason>``); if ``skipped`` is a list, ``{"path", "reason"}`` records
    are appended to it too. Files are decoded on as many threads as torch uses (PIL releases
    the GIL; one thread inside a one-thread atlas worker), the results kept in order.

    Returns (images (N, 3, size, size) uint8, kept paths, indices of kept paths)."""
    paths = list(paths)
    threads = max(1, min(torch.get_num_threads(), len(paths)))
    if threads > 1:
        with ThreadPoolExecutor(threads) as ex:
            read = list(ex.map(_read_or_reason, paths, [size] * len(paths), chunksize=16))
    else:
        read = [_read_or_reason(p, size) for p in paths]
    imgs, kept, idx = [], [], []
    for i, (p, r) in enumerate(zip(paths, read)):
        if isinstance(r, str):
            warnings.warn(f"skipped {display_path(p)}: {r}", SkippedFileWarning, stacklevel=2)
            if skipped is not None:
                skipped.append({"path": display_path(p), "reason": r})
            continue
        imgs.append(r)
        kept.append(Path(p))
        idx.append(i)
    if not imgs:
        raise ValueError(f"no readable images among {len(paths)} file(s)")
    return torch.stack(imgs), kept, idx


class LazyImages:
    """Images read from their files when indexed, for a process that needs a few of many (an
    atlas worker): ``lazy[idx]`` equals ``load_images(paths, size)[0][idx]`` for files that all
    read (an unreadable one raises its ValueError). The last ``keep`` decoded images are kept."""

    def __init__(self, paths, size: int = 227, keep: int = 512):
        self.paths, self.size, self.keep = [Path(p) for p in paths], int(size), int(keep)
        self._decoded: OrderedDict[int, torch.Tensor] = OrderedDict()

    def __len__(self) -> int:
        return len(self.paths)

    def _one(self, i: int) -> torch.Tensor:
        if i in self._decoded:
            self._decoded.move_to_end(i)
        else:
            self._decoded[i] = read_image(self.paths[i], self.size)
            if len(self._decoded) > self.keep:
                self._decoded.popitem(last=False)
        return self._decoded[i]

    def __getitem__(self, idx) -> torch.Tensor:
        if isinstance(idx, (int, np.integer)):
            return self._one(int(idx) % len(self))
        picked = np.arange(len(self))[idx] if isinstance(idx, slice) else np.asarray(idx)
        if picked.dtype == bool:
            picked = np.flatnonzero(picked)
        if picked.ndim != 1:
            raise IndexError(f"LazyImages takes an int, a slice or a 1-D index array, got shape {picked.shape}")
        if not len(picked):
            return torch.empty((0, 3, self.size, self.size), dtype=torch.uint8)
        return torch.stack([self._one(int(i) % len(self)) for i in picked])


@dataclass
class ImageSet:
    """A named set of images with optional reference cluster labels (the authors' facets)."""

    name: str
    images: torch.Tensor  # (N, 3, S, S) uint8, 0..255 RGB
    paths: list[Path]
    labels: np.ndarray | None = None  # reference cluster of each image, or None
    target: ImageNetClass | None = None  # the class the set depicts, if known
    skipped: list[dict] = field(default_factory=list)  # {"path", "reason"} of unusable files
    classes: np.ndarray | None = None  # ImageNet class index of each image (-1: unknown), pools

    def __len__(self) -> int:
        return len(self.paths)


def load_image_set(spec: str | Path, size: int = 227, base_url: str | None = None) -> ImageSet:
    """Load an image set by name.

    - ``paper:bell_pepper`` / ``paper:movie_theater`` (or ``paper:<wnid>``): the authors'
      150 facet images, with their 10 clusters as reference labels;
    - ``imagewoof:<class>`` (``beagle``, ``samoyed``, ...): the 250 Imagewoof images of a dog class;
    - ``val50:<class>``: the 50 official ILSVRC-2012 validation images of one of the 20 classes that
      have them here (Imagenette's ten and Imagewoof's ten): the paper's Fig. S4 protocol;
    - ``imagenet-val:<class>`` / ``imagenet-train:<class>``: a class's images in a local ImageNet
      (``$MFV_IMAGENET``; :mod:`.imagenet`): its 50 official validation images (the paper's Fig. S4)
      or its ~1,300 training images (the paper's Algorithm 1); a class by name, WNID or index;
    - ``samples``: one ImageNet image per class (1000);
    - ``imagenette:<class>`` (``church``, ``french_horn``, ``tench``, ... or the WNID): every
      Imagenette image of that class (train + val: ~1,350 for church and French horn, the
      paper's whole-class setting; ~390 validation images for the other eight);
    - a folder (searched recursively). If its name is a WNID (an ImageNet-style class
      folder, e.g. ``train/n07720875``) the set's target is that class.
    """
    spec = str(spec)
    skipped: list[dict] = []
    if spec.startswith("paper:"):
        key = spec.split(":", 1)[1]
        wnid = PAPER_CLASSES.get(key, key)
        if wnid not in PAPER_CLASSES.values():
            raise ValueError(f"unknown paper image set {spec!r}; known: "
                             + ", ".join(f"paper:{k}" for k in PAPER_CLASSES))
        names = sorted(n for n in registry("mfv-paper") if n.startswith(f"mean_images/{wnid}/")
                       and n.count("/") == 3)
        paths = fetch("mfv-paper", names, base_url)
        images, kept, idx = load_images(paths, size, skipped)
        labels = np.array([int(names[i].split("/")[2]) for i in idx])
        return ImageSet(spec, images, kept, labels, find_class(wnid), skipped)
    if spec.startswith("imagenette:"):
        key = spec.split(":", 1)[1].strip().lower().replace(" ", "_")
        wnid = IMAGENETTE_CLASSES.get(key, key)
        if wnid not in IMAGENETTE_CLASSES.values():
            raise ValueError(f"unknown Imagenette class {spec!r}; known: "
                             + ", ".join(f"imagenette:{k}" for k in IMAGENETTE_CLASSES))
        names = sorted(n for n in registry("imagenette") if n.split("/")[1] == wnid)
        images, kept, _ = load_images(fetch("imagenette", names, base_url), size, skipped)
        return ImageSet(spec, images, kept, None, find_class(wnid), skipped)
    if spec.startswith(("imagewoof:", "val50:")):
        kind, key = spec.split(":", 1)
        key = key.strip().lower().replace(" ", "_").replace("-", "_")
        table = IMAGEWOOF_CLASSES if kind == "imagewoof" else VAL50_CLASSES
        wnid = table.get(key, key)
        if wnid not in table.values():
            raise ValueError(f"unknown class {spec!r}; known: " + ", ".join(f"{kind}:{k}" for k in table))
        images, kept = _class_files(wnid, official_val=kind == "val50", size=size, base_url=base_url,
                                    skipped=skipped)
        return ImageSet(spec, images, kept, None, find_class(wnid), skipped)
    if spec.startswith(("imagenet-val:", "imagenet-train:")):
        split = spec.split(":", 1)[0].split("-")[1]
        target = find_class(spec.split(":", 1)[1])
        files, where = imagenet.class_files(imagenet.imagenet_root(spec), split, target.wnid,
                                            [c.wnid for c in imagenet_classes()])
        if not files:
            raise ValueError(f"no images of {target.wnid} ({target.name}) in {where}")
        images, kept, _ = load_images(files, size, skipped)
        return ImageSet(spec, images, kept, None, target, skipped)
    if spec == "samples":
        names = sorted(registry("imagenet-samples"))
        images, kept, _ = load_images(fetch("imagenet-samples", names, base_url), size, skipped)
        return ImageSet(spec, images, kept, skipped=skipped)
    folder = Path(spec).expanduser()
    if not folder.is_dir():
        raise ValueError(f"image set {spec!r} is neither a known name (paper:bell_pepper, "
                         "paper:movie_theater, imagenette:church, imagewoof:beagle, val50:church, imagenet-val:<class>, "
                         "imagenet-train:<class>, samples) "
                         "nor an existing folder")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise ValueError(f"no files in folder {folder}")
    images, kept, _ = load_images(files, size, skipped)
    target = find_class(folder.name) if WNID_RE.match(folder.name) else None
    return ImageSet(str(folder), images, kept, None, target, skipped)


def _class_files(wnid: str, official_val: bool, size: int, base_url, skipped: list):
    """Every image of an Imagewoof class, or the 50 official validation images of one of the 20
    classes that have them (``ILSVRC2012_val_*``, under ``train/`` or ``val/`` of their source)."""
    sources = (("imagewoof",) if wnid in IMAGEWOOF_CLASSES.values()
               else ("imagenette", "imagenette-official-val"))
    images, kept = [], []
    for source in sources:
        names = sorted(n for n in registry(source) if n.split("/")[1] == wnid
                       and (not official_val or n.split("/")[-1].startswith("ILSVRC2012_val_")))
        if names:
            im, k, _ = load_images(fetch(source, names, base_url), size, skipped)
            images.append(im), kept.extend(k)
    order = np.argsort([p.name for p in kept], kind="stable")  # by file name, whatever the folder
    return torch.cat(images)[torch.from_numpy(order)], [kept[i] for i in order]


def paper_mean_images(cls: str = "bell_pepper", size: int = 227) -> torch.Tensor:
    """The authors' own mean images ``mean_<k>.jpg`` (their MFV seeds), (10, 3, S, S) uint8."""
    wnid = PAPER_CLASSES.get(cls, cls)
    names = [f"mean_images/{wnid}/mean_{k}.jpg" for k in range(10)]
    return torch.stack([read_image(p, size) for p in fetch("mfv-paper", names)])
