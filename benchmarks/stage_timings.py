"""Stage timings of notebook 01's committed full runs (from their metrics.json).

    python benchmarks/stage_timings.py [figures/01_*/metrics.json ...]
"""
import json
import sys
from pathlib import Path

paths = [Path(p) for p in sys.argv[1:]] or sorted(Path("figures").glob("01_*/metrics.json"))
for p in paths:
    m = json.loads(p.read_text())
    t = m["timings"]
    total = sum(t.values())
    print(f"{p.parent.name} ({m['images']}, {m['iterations']} iterations, smoke={m['smoke']}): "
          + ", ".join(f"{k} {v:.1f}s" for k, v in t.items()) + f"; total {total:.0f}s")
