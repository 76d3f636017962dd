"""Pools: large, varied sets of real images with their ImageNet classes, in which a hidden unit's
top-activating images are looked for."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mfv_utils.data.sources import ImageSet, fetch, imagenet_classes, load_images, registry

# A pool is a large, varied set of real images in which a hidden unit's top-activating images
# are looked for (the paper: the 50,000 ImageNet validation images). Every part knows the
# ImageNet class of its images where it can (for the amalgam-vs-pure measure).
DEFAULT_POOL = ("imagenette:val", "ilsvrc12-val-1300", "samples", "paper")


def _labelled_folder(folder: Path, size: int, skipped: list) -> tuple[torch.Tensor, list[Path], np.ndarray]:
    """Any folder of images. Classes from ``labels.txt`` (``<file> <class index> ...`` per
    line: an ImageNet validation folder) or from WNID-named subfolders, else -1."""
    labels_file = folder / "labels.txt"
    index = {}
    if labels_file.is_file():
        for line in labels_file.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[1].lstrip("-").isdigit():
                index[parts[0]] = int(parts[1])
    files = sorted(f for f in folder.rglob("*") if f.is_file() and not f.name.startswith(".")
                   and f != labels_file)
    if not files:
        raise ValueError(f"no files in pool folder {folder}")
    images, kept, _ = load_images(files, size, skipped)
    by_wnid = {c.wnid: c.index for c in imagenet_classes()}
    classes = [index.get(f.name, next((by_wnid[q] for q in f.relative_to(folder).parts[:-1] if q in by_wnid), -1))
               for f in kept]
    return images, kept, np.array(classes, dtype=int)


def load_pool(parts=DEFAULT_POOL, size: int = 224, base_url: str | None = None) -> ImageSet:
    """The images of every part, with their ImageNet classes (``ImageSet.classes``). Parts:
    ``imagenette:val`` (3,925 images of 10 classes), ``imagewoof`` (2,500 images of 10 dog classes,
    less any ILSVRC validation image an earlier part holds), ``ilsvrc12-val-1300`` (labelled validation
    images, ``labels.txt``), ``samples`` (one per class), ``paper`` (the authors' 300), or a
    folder (classes from its ``labels.txt`` or WNID subfolders, else unknown = -1)."""
    if isinstance(parts, str):
        parts = [parts]
    if not parts:
        raise ValueError("the pool needs at least one part")
    by_wnid = {c.wnid: c.index for c in imagenet_classes()}
    all_images, all_paths, all_classes, skipped = [], [], [], []
    for part in parts:
        if part == "imagenette:val":
            names = sorted(n for n in registry("imagenette") if n.startswith("val/"))
            source, cls_of = "imagenette", lambda n: by_wnid[n.split("/")[1]]
        elif part == "imagewoof":
            # an ILSVRC validation image an earlier part holds already (the same photo, another
            # encoding) is not taken twice
            seen = {p.name for p in all_paths if p.name.startswith("ILSVRC2012_val_")}
            names = sorted(n for n in registry("imagewoof") if n.rsplit("/", 1)[-1] not in seen)
            source, cls_of = "imagewoof", lambda n: by_wnid[n.split("/")[1]]
        elif part == "ilsvrc12-val-1300":
            names = sorted(n for n in registry(part) if n != "labels.txt")
            (labels_path,) = fetch(part, ["labels.txt"], base_url)
            table = dict(line.split()[:2] for line in labels_path.read_text().splitlines() if line.strip())
            source, cls_of = part, lambda n, t=table: int(t[n])
        elif part == "samples":
            names = sorted(registry("imagenet-samples"))
            source, cls_of = "imagenet-samples", lambda n: by_wnid[n.split("_", 1)[0]]
        elif part == "paper":
            names = sorted(n for n in registry("mfv-paper") if n.startswith("mean_images/") and n.count("/") == 3)
            source, cls_of = "mfv-paper", lambda n: by_wnid[n.split("/")[1]]
        else:
            folder = Path(part).expanduser()
            if not folder.is_dir():
                raise ValueError(f"unknown pool part {part!r}; use imagenette:val, imagewoof, ilsvrc12-val-1300, "
                                 "samples, paper or an existing folder")
            images, kept, classes = _labelled_folder(folder, size, skipped)
            all_images.append(images), all_paths.extend(kept), all_classes.append(classes)
            continue
        images, kept, idx = load_images(fetch(source, names, base_url), size, skipped)
        all_images.append(images)
        all_paths.extend(kept)
        all_classes.append(np.array([cls_of(names[i]) for i in idx], dtype=int))
    return ImageSet("pool:" + "+".join(map(str, parts)), torch.cat(all_images), all_paths,
                    skipped=skipped, classes=np.concatenate(all_classes))
