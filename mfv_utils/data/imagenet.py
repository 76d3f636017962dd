"""A local copy of ImageNet (ILSVRC-2012), where a user has one: which files belong to a class.

Nothing is downloaded: ``$MFV_IMAGENET`` names the folder that holds ``train/`` and/or ``val/``.
Two layouts, as ImageNet is found on disk:

- ``train/<wnid>/*.JPEG`` (the official training archive unpacked), and the same for
  ``val/<wnid>/`` (the validation images sorted into class folders, as torchvision's tools do);
- the official validation layout: every image flat in ``val/`` (``ILSVRC2012_val_00000001.JPEG``
  ...), with its labels in one file in ``val/`` or the root: ``LOC_val_solution.csv`` (the
  Kaggle release: ``ImageId,PredictionString`` whose first token is the WNID), or a text file
  ``val.txt`` / ``labels.txt`` / ``val_labels.txt`` of lines ``<file> <class>`` where the class is
  a WNID or the class index (0..999 in WNID order, Caffe's and torchvision's; a third column
  holding the WNID wins over the index).

Image sets ``imagenet-train:<class>`` and ``imagenet-val:<class>`` (:func:`mfv_utils.data.load_image_set`)
read these files.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

IMAGENET_ENV = "MFV_IMAGENET"
SPLITS = ("train", "val")
LABEL_FILES = ("LOC_val_solution.csv", "val.txt", "labels.txt", "val_labels.txt")
IMAGE_SUFFIXES = {".jpeg", ".jpg", ".png"}
_WNID = re.compile(r"^n\d{8}$")


def imagenet_root(spec: str = "imagenet-val:<class>") -> Path:
    """``$MFV_IMAGENET`` as a folder, or one line saying what to set."""
    root = os.environ.get(IMAGENET_ENV)
    if not root:
        raise ValueError(f"{spec} needs a local ImageNet: set {IMAGENET_ENV} to the folder that holds "
                         "train/<wnid>/ and/or val/ (docs/data-and-models.md)")
    path = Path(root).expanduser()
    if not path.is_dir():
        raise ValueError(f"{IMAGENET_ENV}={root} is not a folder")
    return path


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def label_file(root: Path) -> Path | None:
    """The validation labels file in ``val/`` or the root (the first of ``LABEL_FILES``), if any."""
    for folder in (root / "val", root):
        for name in LABEL_FILES:
            if (folder / name).is_file():
                return folder / name
    return None


def read_labels(path: Path, wnids: list[str]) -> dict[str, str]:
    """``{file stem: wnid}`` from a labels file (see the module docstring); ``wnids``: the 1000 in
    class-index order. A line that names no class is an error naming the file and the line."""
    out = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        tokens = [t for t in re.split(r"[,\s]+", line.strip()) if t]
        if not tokens or (n == 1 and tokens[0].lower() == "imageid"):
            continue
        wnid = next((t for t in tokens[1:] if _WNID.match(t)), None)
        if wnid is None and len(tokens) > 1 and tokens[1].isdigit() and int(tokens[1]) < len(wnids):
            wnid = wnids[int(tokens[1])]
        if wnid is None:
            raise ValueError(f"{path}:{n}: no class (a WNID or an index 0..{len(wnids) - 1}) in {line.strip()!r}")
        out[Path(tokens[0]).stem] = wnid
    return out


def class_files(root: Path, split: str, wnid: str, wnids: list[str]) -> tuple[list[Path], str]:
    """The image files of class ``wnid`` in ``split`` of a local ImageNet at ``root``, sorted by
    name, and where they were found (for messages). An empty list means the split has none."""
    if split not in SPLITS:
        raise ValueError(f"unknown ImageNet split {split!r}; use one of {SPLITS}")
    folder = root / split
    if (folder / wnid).is_dir():
        return _images(folder / wnid), str(folder / wnid)
    if split == "train" or not folder.is_dir():
        return [], str(folder / wnid)
    labels = label_file(root)
    if labels is None:
        raise ValueError(f"{folder} has no class folders and no labels file ({', '.join(LABEL_FILES)}): "
                         "cannot tell its images' classes")
    by_stem = read_labels(labels, wnids)
    return [p for p in _images(folder) if by_stem.get(p.stem) == wnid], f"{folder} (labels: {labels.name})"
