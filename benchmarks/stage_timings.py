"""Stage timings of full notebook runs, from their metrics.json, and the speed-up between two runs.

    python benchmarks/stage_timings.py [RUN ...]
    python benchmarks/stage_timings.py --compare BEFORE AFTER [BEFORE AFTER ...]

A RUN is a figure folder or its metrics.json (default: every ``figures/*/metrics.json``). Each
prints its stages in seconds and their total. ``--compare`` takes pairs of runs of the same
notebook and parameters (e.g. before and after a change, on one machine) and prints each
stage's ratio before / after and the total's; ``--total`` adds a line summing every pair.

A run made with ``iters_factor`` f < 1 (every optimization shortened to f of its iterations)
also gets a projected full-length total: its iteration-bound stages (``optimize``,
``progression``) divided by f, the other stages as measured.
"""
import argparse
import json
from pathlib import Path

ITERATION_STAGES = ("optimize", "progression")  # stages whose time grows with the iteration count


def load(run: str | Path) -> dict:
    p = Path(run)
    p = p / "metrics.json" if p.is_dir() else p
    m = json.loads(p.read_text())
    m["_name"] = p.parent.name
    return m


def full_length(m: dict) -> float:
    """The run's total, with its iteration-bound stages scaled to full length (iters_factor 1)."""
    f = m.get("iters_factor") or 1.0
    return sum(v / f if k in ITERATION_STAGES else v for k, v in m["timings"].items())


def describe(m: dict) -> str:
    device = m.get("provenance", {}).get("device", {})
    where = f"{device.get('type', 'cpu')}: {device.get('name', '?')}" if device else "device not recorded"
    return f"{m['_name']} (smoke={m.get('smoke')}, {where}, levers {m.get('provenance', {}).get('levers', 'eager')})"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="*")
    ap.add_argument("--compare", nargs="+", metavar="RUN", help="pairs: BEFORE AFTER [BEFORE AFTER ...]")
    ap.add_argument("--total", action="store_true", help="with --compare: the sum over every pair")
    args = ap.parse_args(argv)
    if args.compare:
        if len(args.compare) % 2:
            ap.error("--compare takes pairs of runs: BEFORE AFTER")
        sums = [0.0, 0.0]
        for before, after in zip(args.compare[::2], args.compare[1::2]):
            a, b = load(before), load(after)
            print(f"{describe(a)}\n  -> {describe(b)}")
            ta, tb = a["timings"], b["timings"]
            for stage in ta:
                if stage in tb:
                    ratio = ta[stage] / tb[stage] if tb[stage] > 0 else float("inf")
                    print(f"  {stage:>12}: {ta[stage]:8.1f} s -> {tb[stage]:8.1f} s  ({ratio:5.2f}x)")
            sa, sb = sum(ta.values()), sum(tb.values())
            print(f"  {'total':>12}: {sa:8.1f} s -> {sb:8.1f} s  ({sa / sb:5.2f}x)")
            fa, fb = full_length(a), full_length(b)
            if (fa, fb) != (sa, sb):
                print(f"  {'full length':>12}: {fa:8.1f} s -> {fb:8.1f} s  ({fa / fb:5.2f}x)  "
                      f"(projected: iters_factor {a.get('iters_factor')})")
            sums[0] += fa
            sums[1] += fb
        if args.total:
            print(f"all {len(args.compare) // 2} runs at full length: {sums[0]:.0f} s -> {sums[1]:.0f} s "
                  f"({sums[0] / sums[1]:.2f}x)")
        return
    runs = args.runs or sorted(str(p) for p in Path("figures").glob("*/metrics.json"))
    for run in runs:
        m = load(run)
        t = m["timings"]
        print(f"{describe(m)}: " + ", ".join(f"{k} {v:.1f}s" for k, v in t.items())
              + f"; total {sum(t.values()):.0f}s")


if __name__ == "__main__":
    main()
