"""An atlas built for a notebook (:func:`build`) and the paper's many-unit figures from its store: Fig. 5 / S2 (the largest facet of each unit),
Fig. S4 / S9 (a few facets per unit, each beside a real member). Notebooks 06 and 09 call these;
they read only the store's files, so a figure is redrawn from a store without recomputing a unit."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from mfv_utils.atlas.engine import run
from mfv_utils.atlas.site import write_site
from mfv_utils.atlas.tasks import MEMBER, Spec
from mfv_utils.evaluation import plots


def build(spec: Spec, units: list[int], store: str | Path, workers: int | None = None) -> tuple[dict, dict]:
    """Run the atlas of ``units`` into ``store`` (units already there are reused), write its site,
    say what was done; returns (the manifest, :func:`records` of the units that are done)."""
    manifest = run(spec, units, store, workers=workers, progress=False)
    last = manifest["runs"][-1]
    print(f"{len(last['computed'])} units computed, {last['reused']} reused from the store, "
          f"{len(last['failed'])} failed, in {last['seconds']:.0f} s ({last['workers']})")
    write_site(store)
    return manifest, records(store, units, manifest)


def records(store: str | Path, units, manifest: dict | None = None) -> dict[int, dict]:
    """``{unit: unit.json}`` for the asked units that are done in ``store`` (failed ones left out);
    ``manifest`` is the store's manifest when the caller has it in hand (else it is read)."""
    store = Path(store)
    manifest = manifest if manifest is not None else json.loads((store / "manifest.json").read_text())
    return {int(u): json.loads((store / "units" / str(u) / "unit.json").read_text()) for u in units
            if manifest["units"].get(str(u), {}).get("status") == "done"}


def thumb(store: str | Path, unit: int, name: str) -> torch.Tensor:
    """(3, H, W) uint8: one of a unit's thumbnails (``facet_<j>.jpg``, ``members_<j>.jpg``)."""
    image = Image.open(Path(store) / "units" / str(unit) / name).convert("RGB")
    return torch.from_numpy(np.array(image)).permute(2, 0, 1)


def facet_classes(record: dict) -> int:
    """How many different classes lead the unit's facets (each facet's most common class): the
    Fig. S9 measure of how multifaceted a hidden unit is."""
    return len({f["main_class"] for f in record["facets"] if f["main_class"]})


def largest_facets(store: str | Path, units: list[int], captions: list[str], title: str, ncols: int = 10):
    """Fig. 5 / S2: each unit's largest facet's visualization, ``ncols`` per row, captioned."""
    if not units:
        raise ValueError("no unit to draw: every asked unit failed or was left out")
    rows = [units[i:i + ncols] for i in range(0, len(units), ncols)]
    cells = [[thumb(store, u, "facet_0.jpg") for u in row] for row in rows]
    caps = [captions[i:i + ncols] for i in range(0, len(units), ncols)]
    fig = plots.image_table(cells, [""] * len(cells), [""] * ncols, cell=1.35, captions=caps)
    fig.subplots_adjust(top=1 - 0.45 / fig.get_figheight())
    fig.suptitle(title, y=1 - 0.1 / fig.get_figheight(), fontsize=10)
    return fig


def facets_beside_real(store: str | Path, units: list[int], labels: list[str], draw: int, title: str):
    """Fig. S4 / S9: per unit, its ``draw`` largest facets' visualizations, each followed by the
    real member nearest its facet's centroid (the first of the stored member strip)."""
    if not units:
        raise ValueError("no unit to draw: every asked unit failed or was left out")
    recs = records(store, units)
    cells = []
    for u in units:
        row = []
        for j in range(min(draw, recs[u]["drawn"])):
            members = thumb(store, u, f"members_{j}.jpg")
            row += [thumb(store, u, f"facet_{j}.jpg"), members[:, :, :MEMBER]]
        cells.append(row)
    fig = plots.image_table(cells, labels, [x for j in range(draw) for x in (f"facet {j}", "real")], cell=1.2)
    fig.subplots_adjust(top=1 - 0.7 / fig.get_figheight())
    fig.suptitle(title, y=1 - 0.1 / fig.get_figheight(), fontsize=10)
    return fig
