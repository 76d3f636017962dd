"""Your run beside the committed one: ``python -m mfv_utils.reproduce YOURS [COMMITTED]``.

``make run`` writes notebook 01's folder under ``build/`` (never over the committed
``figures/``) and ends with this table: each headline number of your ``metrics.json`` beside the
committed folder's, the difference, and whether it lies within the spread between machines that
the *Reproducibility* part of docs/tests.md states (the clusters the same; a share of facets within
one facet in ten; a count of facets within one; the judge's top-1 within four, as church moved
7 -> 3). A number without a stated spread is shown, not judged. Exit code 0 either way: a
difference is information, not an error; a missing or unreadable ``metrics.json`` is a one-line
error (exit 2).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# measure -> the largest difference the README states as within the spread between machines
# (None: no spread stated, shown only); shares and counts are of the k facets
SPREAD = {"facet_identity": 0.1, "facet_identity_strict": 0.1, "seed_identity": 0.1,
          "diversity_ratio": None, "hf_ratio": None, "color_distance": None,
          "top1": 1, "top5": 1, "judge_top1": 4, "judge_top5": 1}


def read(folder: str | Path) -> dict:
    path = Path(folder) / "metrics.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"no metrics.json in {folder} (run the notebook first)") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e.msg} at line {e.lineno})") from None


def rows(yours: dict, committed: dict) -> list[dict]:
    """One row per headline number: measure, yours, committed, difference, verdict."""
    out = [{"measure": "cluster_sizes", "yours": yours.get("cluster_sizes"), "committed": committed.get("cluster_sizes"),
            "difference": None,
            "verdict": "same clusters" if yours.get("cluster_sizes") == committed.get("cluster_sizes") else
            "other clusters (t-SNE / k-means moved: within the stated spread across CPUs)"}]
    for key, spread in SPREAD.items():
        a, b = yours.get("fidelity", {}).get(key), committed.get("fidelity", {}).get(key)
        if a is None or b is None:
            continue
        diff = round(a - b, 4)
        verdict = ("no spread stated" if spread is None else
                   "within the spread" if abs(diff) <= spread + 1e-9 else f"OUTSIDE the spread (+-{spread})")
        out.append({"measure": key, "yours": a, "committed": b, "difference": diff, "verdict": verdict})
    met = [sum(d.get("goals", {}).values()) for d in (yours, committed)]
    goals = len(committed.get("goals", {}))
    out.append({"measure": "goals met", "yours": f"{met[0]}/{goals}", "committed": f"{met[1]}/{goals}",
                "difference": met[0] - met[1],
                "verdict": "within the spread" if abs(met[0] - met[1]) <= 1 else "OUTSIDE the spread (+-1 goal)"})
    return out


def table(yours: dict, committed: dict) -> str:
    lines = []
    if yours.get("smoke") != committed.get("smoke"):
        lines.append(f"note: yours is {'a smoke' if yours.get('smoke') else 'a full'} run, the committed one "
                     f"{'a smoke' if committed.get('smoke') else 'a full'} run: their numbers are not comparable")
    for key in ("model", "images", "method", "k", "seed"):
        if yours.get(key) != committed.get(key):
            lines.append(f"note: the runs differ in {key} ({yours.get(key)!r} vs {committed.get(key)!r}): "
                         f"not a reproduction of the same run")
    lines.append(f"{'measure':<22} {'yours':>16} {'committed':>16} {'difference':>10}  verdict")
    for r in rows(yours, committed):
        diff = "" if r["difference"] is None else f"{r['difference']:+g}"
        lines.append(f"{r['measure']:<22} {str(r['yours']):>16} {str(r['committed']):>16} {diff:>10}  {r['verdict']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mfv_utils.reproduce", description=__doc__.splitlines()[0])
    ap.add_argument("yours", help="the folder of your run (make run: build/01_bell_pepper_tsne)")
    ap.add_argument("committed", nargs="?", default=str(REPO / "figures" / "01_bell_pepper_tsne"))
    args = ap.parse_args(argv)
    try:
        yours, committed = read(args.yours), read(args.committed)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"your run ({args.yours}) beside the committed one ({args.committed}):")
    print(table(yours, committed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
