"""Provenance: what produced a result (library versions, model weights, input images).

Every notebook writes ``provenance(...)`` into its ``metrics.json`` so a figure can be traced
to the exact environment (``requirements/lock.txt``), weights file and image set behind it.
"""
from __future__ import annotations

import hashlib
import platform
from functools import lru_cache
from importlib import metadata
from pathlib import Path

PACKAGES = ("torch", "torchvision", "timm", "numpy", "scikit-learn", "openTSNE", "numba",
            "scikit-image", "matplotlib", "pillow")


@lru_cache(maxsize=None)
def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes (cached per path for the process)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def versions(packages=PACKAGES) -> dict[str, str]:
    """Python's and the installed packages' versions (``None`` for one not installed)."""
    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def images_sha256(paths) -> str:
    """One hash for an image set: sha256 of the sorted list of its files' sha256 hashes, so it
    does not depend on where the files lie or in which order they were listed."""
    return hashlib.sha256("\n".join(sorted(file_sha256(p) for p in paths)).encode()).hexdigest()


def device_info(device) -> dict:
    """What ran the networks: the device type and name (GPU or CPU model), and torch's threads."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = platform.processor() or platform.machine()
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
    return {"type": device.type, "name": name, "threads": torch.get_num_threads()}


def provenance(model=None, image_paths=None, judge=None) -> dict:
    """The provenance block of a ``metrics.json``: versions, device, weights, speed levers
    (they change rounding) and input hashes."""
    out: dict = {"versions": versions()}
    if model is not None:
        out["device"] = device_info(model.device)
        out["levers"] = model.levers.tag
    for key, net in (("model", model), ("judge", judge)):
        if net is not None:
            path = getattr(net, "weights_path", None)
            out[f"{key}_weights"] = {
                "model": net.name,
                "file": path.name if path else None,
                "sha256": file_sha256(path) if path and path.is_file() else None,
            }
    if image_paths is not None:
        out["images"] = {"n": len(image_paths), "sha256": images_sha256(image_paths)}
    return out
