"""The README's method tables, printed from the committed runs' metrics.json (never typed by hand).

    python benchmarks/tables.py [figures/01_*_tsne ...]

One markdown row per (run, method) of notebook 01's `metrics["methods"]`, the default method in
bold, and each run's goals (`metrics["goals"]`): which bars its default method meets. (Seconds
stay in metrics.json: the speed tables come from benchmarks/, measured alone.)
"""
import json
import sys
from pathlib import Path

COLUMNS = ("facet_identity", "above_real", "facet_identity_strict", "seed_identity", "diversity_ratio",
           "hf_ratio", "color_distance")


def fmt(v):
    return "-" if v is None else f"{v:.2f}" if isinstance(v, float) else str(v)


def table(runs):
    head = ["class", "method", *COLUMNS, "top-1", "judge top-5"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for run in runs:
        m = json.loads((Path(run) / "metrics.json").read_text())
        name = str(m["images"]).split(":")[-1].replace("_", " ")  # the image set (the label may differ)
        for r in m["methods"]:
            meth = f"**{r['method']}**" if r["method"] == m["method"] else r["method"]
            n = m["k"]
            cells = [name, meth, *(fmt(r.get(c)) for c in COLUMNS), f"{r.get('top1', '-')}/{n}",
                     f"{r.get('judge_top5', '-')}/{n}"]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def goals(runs):
    out = []
    for run in runs:
        m = json.loads((Path(run) / "metrics.json").read_text())
        g = m.get("goals", {})
        missed = [k for k, ok in g.items() if not ok]
        out.append(f"- `{run}`: {m['method']} meets {len(g) - len(missed)}/{len(g)} goals"
                   + (f"; misses {', '.join(missed)}" if missed else ""))
    return "\n".join(out)


if __name__ == "__main__":
    runs = sys.argv[1:] or sorted(str(p) for p in Path("figures").glob("01_*_tsne"))
    print(table(runs))
    print()
    print(goals(runs))
