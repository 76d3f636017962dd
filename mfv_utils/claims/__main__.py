"""Every claim with its spread over seeds.

    python -m mfv_utils.claims [--seeds 5] [--smoke] [--out build/claims] [--json figures/claims.json]
                               [--png figures/claims.png] [--page docs/claims.md]

Runs each claim's notebook once per seed (the seed drives t-SNE, k-means and the optimization;
subsets stated per run in :mod:`mfv_utils.claims.spec`), each into its own content-keyed folder
under ``--out``: a killed pass reruns only what was unfinished. Then writes ``claims.json`` (every
measure's values, mean, min-max, bootstrap 95 % interval, goal met by the mean, on how many seeds it
holds), the table as a PNG, and the same table as Markdown between the markers of ``--page``.
``--only 01_ 05`` runs a subset of the runs (the table then has only their measures);
``--report-only`` rewrites the table of ``--page`` from an existing ``--json`` without running.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mfv_utils.claims import report, spec
from mfv_utils.claims.runner import run_all
from mfv_utils.runtime.files import atomic_write


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mfv_utils.claims", description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (at least 2)")
    ap.add_argument("--smoke", action="store_true", help="bell pepper only, short optimization (CI)")
    ap.add_argument("--out", default="build/claims", help="the runs' cache (resumable)")
    ap.add_argument("--json", default="figures/claims.json")
    ap.add_argument("--png", default="figures/claims.png")
    ap.add_argument("--page", default="docs/claims.md", help="a Markdown page with the claims markers")
    ap.add_argument("--only", nargs="+", default=None, metavar="RUN",
                    help="only the runs whose names start with these (e.g. 01_ 05); the table says which ran")
    ap.add_argument("--report-only", action="store_true", help="only regenerate --page's table from --json")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    try:
        page = Path(args.page)
        if args.report_only:
            claims = json.loads(Path(args.json).read_text())
        else:
            if args.seeds < 2:
                raise ValueError(f"--seeds {args.seeds}: a spread needs at least 2 seeds")
            seeds = list(range(args.seeds))
            runs, measures = spec.runs(args.smoke), spec.measures(args.smoke)
            if args.only:
                runs = [r for r in runs if r.name.startswith(tuple(args.only))]
                if not runs:
                    raise ValueError(f"--only {' '.join(args.only)} names no run; runs: "
                                     + ", ".join(r.name for r in spec.runs(args.smoke)))
                measures = [m for m in measures if m.run in {r.name for r in runs}]
            results = run_all(runs, seeds, Path(args.out).resolve(), smoke=args.smoke, progress=not args.quiet)
            claims = report.build(measures, runs, results, seeds, args.smoke)
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            atomic_write(Path(args.json), json.dumps(claims, indent=1) + "\n")
            report.png(claims, args.png)
        atomic_write(page, report.inject(page.read_text() if page.is_file() else "", report.markdown(claims)))
    except (ValueError, OSError) as e:
        print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    held = [m for m in claims["measures"] if "verdict" in m]
    print(f"{args.json}: {len(claims['measures'])} measures over seeds {claims['seeds']}; "
          + ", ".join(f"{v}: {sum(m['verdict'] == v for m in held)}" for v in ("holds", "mixed", "does not hold"))
          + f"; table in {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
