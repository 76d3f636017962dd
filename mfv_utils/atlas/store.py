"""The atlas store on disk: every file written atomically, a unit folder renamed into place."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from mfv_utils.runtime.files import atomic_write  # noqa: F401  (re-exported: atlas.site writes through it)


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


def unit_files(record: dict) -> list[str]:
    """The image files a unit's ``unit.json`` stands on: every facet's members, the drawn facets'."""
    return ([f"members_{j}.jpg" for j in range(len(record["facets"]))]
            + [f"facet_{j}.jpg" for j in range(int(record["drawn"]))])


def check_unit(folder: Path) -> tuple[dict | None, str | None]:
    """``(record, None)`` for a whole unit folder, else ``(None, what is wrong)``: no or an unreadable
    ``unit.json`` (a truncated write), or an image it names missing or cut short (a JPEG ends
    with its EOI marker; a copy interrupted or a disk filled mid-write leaves it without one)."""
    try:
        record = json.loads((folder / "unit.json").read_text())
        names = unit_files(record)
        key = record["key"]
    except FileNotFoundError:
        return None, "no unit.json"
    except (OSError, ValueError, KeyError, TypeError) as e:
        return None, f"unreadable unit.json ({type(e).__name__})"
    for name in names:
        try:
            with open(folder / name, "rb") as f:
                f.seek(-2, os.SEEK_END)
                if f.read(2) != b"\xff\xd9":
                    return None, f"{name} is cut short"
        except FileNotFoundError:
            return None, f"{name} is missing"
        except OSError:
            return None, f"{name} is unreadable or empty"
    return (record if isinstance(key, str) else None), (None if isinstance(key, str) else "no key in unit.json")


def stored_key(out: Path, unit: int) -> str | None:
    """The key of a whole stored unit (None: absent or damaged, so the next run recomputes it)."""
    record, _ = check_unit(Path(out) / "units" / str(unit))
    return None if record is None else record["key"]


def read_manifest(out: Path) -> dict | None:
    path = Path(out) / "manifest.json"
    return json.loads(path.read_text()) if path.is_file() else None


def drawn_above(record: dict) -> list[bool]:
    """For each drawn facet of a ``unit.json``: does its visualization end above the unit's
    strongest real image? Read from the stored ``above_strongest_real`` (version 2 stores); a
    version-1 record, which has no such flag, is compared against its ``top_act_max``."""
    bar = record.get("strongest_real", record.get("top_act_max"))
    return [bool(f["above_strongest_real"]) if "above_strongest_real" in f else f["act_end"] > bar
            for f in record["facets"] if "act_end" in f]
