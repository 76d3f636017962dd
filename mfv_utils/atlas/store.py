"""The atlas store on disk: every file written atomically, a unit folder renamed into place."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file renamed into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_unit(out: Path, result: dict) -> None:
    """The unit's folder, written whole into a temporary folder and renamed into place."""
    units = out / "units"
    units.mkdir(parents=True, exist_ok=True)
    final = units / str(result["unit"])
    tmp = units / f".tmp-{result['unit']}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for name, blob in result["files"].items():
        (tmp / name).write_bytes(blob)
    if final.exists():
        old = units / f".old-{result['unit']}-{os.getpid()}"
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)


def stored_key(out: Path, unit: int) -> str | None:
    try:
        return json.loads((out / "units" / str(unit) / "unit.json").read_text())["key"]
    except (OSError, ValueError, KeyError):
        return None


def read_manifest(out: Path) -> dict | None:
    path = Path(out) / "manifest.json"
    return json.loads(path.read_text()) if path.is_file() else None


